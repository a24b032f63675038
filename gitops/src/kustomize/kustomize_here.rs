//! A kustomization built here, without starting kustomize, when what kustomize would build is certain; anything
//! else goes to the real kustomize ([`crate::flux::flux_build`], the walk's builds). Starting `kubectl kustomize` costs
//! ~0.06 s of CPU, ~0.15 s once a strategic-merge patch makes it load its OpenAPI schema; the cluster-template layout
//! (`ks.yaml` + `app/` with `components`, a `configMapGenerator` without hash, a namespace directory with
//! `namespace:` and a component) is a few hundred of them.
//!
//! What kustomize v5.7.1 (kubectl v1.35) does, read in kubernetes-sigs/kustomize `api/internal/target/kusttarget.go`
//! (`AccumulateTarget`: resources, then components, then generators, then transformers; a component is accumulated
//! into its parent's resources, `accumulateComponents`/`accumulateDirectory` with `isComponent`), and checked case
//! by case against kubectl (`tests/kustomize_here.rs`, and the lint-wide comparison in `xtask/tests/lint_speed_cli.rs`):
//!
//! - `resources`: a file's documents (read as kustomize reads them: [`crate::yaml`] models go-yaml v3 and the JSON
//!   round trip), or a directory's kustomization built on its own (its transformers apply to its objects only);
//! - `components`: a directory whose kustomization is a `Component`; its resources and generated objects join the
//!   parent's, and its transformers apply to everything the parent has accumulated so far;
//! - `configMapGenerator` with `files` (`key=path` or `path`), `options.labels`/`annotations`, and the name hash
//!   disabled (`generatorOptions.disableNameSuffixHash` or the generator's own): `apiVersion: v1`, `kind: ConfigMap`,
//!   `metadata.name` and the labels/annotations (the generator's over `generatorOptions`'), `data` the files' text;
//! - `patches`: as Flux's are applied ([`super::flux_patch`]), to the kustomization's accumulated objects;
//! - `namespace` (Flux's `targetNamespace`): `api/filters/namespace/namespace.go` (`metaNamespaceHack`: every object's
//!   `metadata.namespace` is set unless `Gvk.IsClusterScoped()`, which knows only the built-in schema's kinds, so CRDs,
//!   a `ClusterIssuer` too, get the namespace) and `api/internal/konfig/builtinpluginconsts/namespace.go` (the
//!   `metadata/name` of kind `Namespace`, kept for apiVersion `v1` only by `removeUnneededMetaFieldSpecs`: a
//!   component's `namespace.yaml` named `not-used` comes out named after the target), at api v0.20.1.
//!
//! Built here only when all of this holds, else kustomize builds it (the reason is logged at debug level): every
//! kustomization has only the keys above (and `apiVersion`, `kind`, `metadata`, `buildMetadata: [originAnnotations]`);
//! every reference is a local path inside the repository with no symlink on the way; every document is an object with
//! a kind (not a `…List`) and a name; no two objects share an id; a namespace is applied only to objects of a Flux
//! kind, of a group kustomize's schema does not know, or of the core kinds listed in [`NAMESPACED`] (whose only
//! namespace field is `metadata.namespace`), and to a `v1` Namespace; a patch that selects by name or namespace (or
//! has no target) never meets an object renamed before it (kustomize also matches an object's earlier ids).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use super::flux_patch::Declined;
use crate::objects::object::Object;

/// One object built here: its value, and the file it came from relative to the directory built (as kustomize's
/// `config.kubernetes.io/origin` annotation names it; `None` for a generated object).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Res {
    pub value: Value,
    pub origin: Option<PathBuf>,
}

/// What a build here gives: the objects, and the kustomization files it read (relative to the repository root).
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Built {
    pub objects: Vec<Res>,
    pub kustomizations: Vec<PathBuf>,
}

/// Core and `apps`/`batch` kinds whose namespace kustomize sets only at `metadata.namespace`
/// (api/konfig/builtinpluginconsts/namespace.go lists no other field for them).
const NAMESPACED: [(&str, &str); 11] = [
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("", "PersistentVolumeClaim"),
    ("", "Pod"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

const KUSTOMIZATION_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The most kustomizations and files one build here reads, and how deep they nest (more goes to kustomize, which
/// has the sandbox's bounds); the bytes read are bounded as the sandbox bounds them
/// ([`super::sandbox::MAX_SANDBOX_BYTES`]).
const MAX_READS: usize = 2_000;
const MAX_DEPTH: usize = 20;

fn declined<T>(why: impl Into<String>) -> Result<T, Declined> {
    Err(Declined(why.into()))
}

/// Build the directory `start` (relative to `root`, the repository root, canonical) with the kustomization `kus`
/// (the one on disk, or the one a Flux Kustomization's spec was written into), or say why kustomize must. `docs`:
/// the parses of this load.
pub fn build(
    root: &Path,
    start: &Path,
    kus: &Map<String, Value>,
    docs: &DocCache,
) -> Result<Built, Declined> {
    build_recorded(root, start, kus, docs).map(|(built, _)| built)
}

/// [`build`], and what it asked of the file system.
fn build_recorded(
    root: &Path,
    start: &Path,
    kus: &Map<String, Value>,
    docs: &DocCache,
) -> Result<(Built, Vec<Probe>), Declined> {
    let mut b = Builder::new(root, start, docs)?;
    let start_dir = b.start.clone();
    let out = b.kustomization(&start_dir, kus, None, 0)?;
    unique(&out.objects)?;
    let objects = out
        .objects
        .into_iter()
        .map(|o| Res {
            origin: o.file.map(|f| relative(&start_dir, &f)),
            value: o.value,
        })
        .collect();
    let built = Built {
        objects,
        kustomizations: b.kustomizations,
    };
    Ok((built, b.probes))
}

/// One question a build here asked of the file system (paths relative to the repository root), with its answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
enum Probe {
    /// `symlink_metadata` succeeded
    Exists(PathBuf, bool),
    /// a directory, through symlinks
    IsDir(PathBuf, bool),
    /// a file read (no symlink on the way), by the SHA-256 of its bytes
    Read(PathBuf, String),
}

fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

impl Probe {
    /// Whether the file system under `root` answers as it did.
    fn holds(&self, root: &Path) -> bool {
        match self {
            Probe::Exists(p, was) => root.join(p).symlink_metadata().is_ok() == *was,
            Probe::IsDir(p, was) => root.join(p).is_dir() == *was,
            Probe::Read(p, hash) => {
                let full = root.join(p);
                matches!(full.canonicalize(), Ok(real) if real == full)
                    && crate::files::read_bytes(&full).is_ok_and(|b| content_hash(&b) == *hash)
            }
        }
    }
}

/// A build here as the cache keeps it: the questions it asked and the result their answers gave.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedBuild {
    probes: Vec<Probe>,
    built: Built,
}

impl CachedBuild {
    /// An entry's text read: through `Value`'s own parser, which is built optimised with serde_json even in the dev
    /// profile (a derived `Deserialize` is compiled here, unoptimised there: a warm run reads hundreds of entries).
    fn read(text: &str) -> Option<CachedBuild> {
        let mut v: Value = text.parse().ok()?;
        let probes: Vec<Probe> = serde_json::from_value(v["probes"].take()).ok()?;
        let built = &mut v["built"];
        let objects = built["objects"]
            .as_array_mut()?
            .iter_mut()
            .map(|o| {
                let origin = match o["origin"].take() {
                    Value::Null => None,
                    Value::String(s) => Some(PathBuf::from(s)),
                    _ => return None,
                };
                Some(Res {
                    value: o["value"].take(),
                    origin,
                })
            })
            .collect::<Option<Vec<Res>>>()?;
        let kustomizations: Vec<PathBuf> =
            serde_json::from_value(built["kustomizations"].take()).ok()?;
        Some(CachedBuild {
            probes,
            built: Built {
                objects,
                kustomizations,
            },
        })
    }
}

/// [`build`], through the build cache in `$HEADLAMP_E2E_CACHE/kustomize-here` when it is on
/// ([`super::build_cache::enabled`]): an entry is keyed by this program (its path, size and modification time: the
/// builder is its code), the directory built and the kustomization, and holds the file-system questions the build
/// asked (existence, directory or not, each file read by the SHA-256 of its bytes) with the result; it is used only
/// when every question gets the same answer again, so a changed, added or removed file the build looked at builds
/// again. Only builds that succeeded are kept (a declined one goes to kustomize, whose own cache is
/// [`super::build_cache`]).
pub fn build_cached(
    root: &Path,
    start: &Path,
    kus: &Map<String, Value>,
    docs: &DocCache,
) -> Result<Built, Declined> {
    let cache = super::build_cache::enabled()
        .then(|| {
            crate::chart::cache_root()
                .map(|d| crate::chart::RenderCache::new(d.join("kustomize-here")))
        })
        .flatten();
    build_cached_in(cache.as_ref(), root, start, kus, docs)
}

/// [`build_cached`] with the cache `cache` (none: built).
fn build_cached_in(
    cache: Option<&crate::chart::RenderCache>,
    root: &Path,
    start: &Path,
    kus: &Map<String, Value>,
    docs: &DocCache,
) -> Result<Built, Declined> {
    let Some((cache, key)) = cache.and_then(|c| Some((c, cache_key(start, kus)?))) else {
        return build(root, start, kus, docs);
    };
    if let Some(entry) = cache.get(&key).and_then(|text| CachedBuild::read(&text))
        && entry.probes.iter().all(|p| docs.holds(p, root))
    {
        return Ok(entry.built);
    }
    let (built, probes) = build_recorded(root, start, kus, docs)?;
    let entry = CachedBuild { probes, built };
    if let Ok(text) = serde_json::to_string(&entry) {
        cache.put(&key, &text);
    }
    Ok(entry.built)
}

/// The cache key of a build of `start` with `kus` by this program; `None` when the program cannot be looked at.
fn cache_key(start: &Path, kus: &Map<String, Value>) -> Option<String> {
    use sha2::Digest;
    let mut h = super::build_cache::program_key(b"headlamp-e2e kustomize build here v1\0")?;
    h.update(start.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    h.update(serde_json::to_string(kus).ok()?.as_bytes());
    Some(hex::encode(h.finalize()))
}

/// Build the directory `start` (relative to `root`) with the kustomization file it holds.
pub fn build_dir(root: &Path, start: &Path, docs: &DocCache) -> Result<Built, Declined> {
    let mut b = Builder::new(root, start, docs)?;
    let dir = b.start.clone();
    let kus = b.load(&dir)?;
    let mut built = build(root, start, &kus, docs)?;
    built.kustomizations.insert(0, b.kustomizations.remove(0));
    Ok(built)
}

/// An object while it is built: the file it came from (relative to the repository root), and whether a
/// transformer has changed its name or namespace since it was read.
struct Item {
    value: Value,
    file: Option<PathBuf>,
    renamed: bool,
}

#[derive(Default)]
struct Acc {
    objects: Vec<Item>,
}

/// The documents of the files builds here have parsed, by path (relative to the repository root), with the text
/// they were parsed from: a file is parsed again only when its text differs (a component that hundreds of apps name is
/// parsed once per load). Shared by the builds of one load (they run on several threads).
///
/// It also keeps the answer to each question a cached build asks of the file system ([`Probe`]), once per load: the
/// builds of 350 apps that name one component ask about its files 350 times (issue 22: checking the cached builds'
/// questions was the most of a warm build's time).
#[derive(Default)]
pub struct DocCache(
    std::sync::Mutex<BTreeMap<PathBuf, Parsed>>,
    std::sync::Mutex<std::collections::HashMap<Probe, bool>>,
);

/// A file's text and its documents.
type Parsed = (String, std::sync::Arc<Vec<Value>>);

impl DocCache {
    /// [`Probe::holds`], asked once per load.
    fn holds(&self, probe: &Probe, root: &Path) -> bool {
        if let Ok(answers) = self.1.lock()
            && let Some(answer) = answers.get(probe)
        {
            return *answer;
        }
        let answer = probe.holds(root);
        if let Ok(mut answers) = self.1.lock() {
            answers.insert(probe.clone(), answer);
        }
        answer
    }

    fn parse(&self, file: &Path, text: &str) -> Result<std::sync::Arc<Vec<Value>>, Declined> {
        if let Ok(cache) = self.0.lock()
            && let Some((t, docs)) = cache.get(file)
            && t == text
        {
            return Ok(docs.clone());
        }
        let docs = std::sync::Arc::new(
            crate::yaml::parse_documents(text)
                .or_else(|e| declined(format!("{}: {e}", file.display())))?,
        );
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(file.to_path_buf(), (text.to_string(), docs.clone()));
        }
        Ok(docs)
    }
}

struct Builder<'a> {
    root: &'a Path,
    docs: &'a DocCache,
    start: PathBuf,
    reads: usize,
    bytes: u64,
    kustomizations: Vec<PathBuf>,
    /// The text of each resource file read (relative to the root), for patches that need it.
    texts: BTreeMap<PathBuf, String>,
    /// What the build asked of the file system, in order, with the answers: the same answers give the same build
    /// ([`build_cached`]).
    probes: Vec<Probe>,
}

impl<'a> Builder<'a> {
    fn new(root: &'a Path, start: &Path, docs: &'a DocCache) -> Result<Builder<'a>, Declined> {
        Ok(Builder {
            root,
            docs,
            start: normal(start)?,
            reads: 0,
            bytes: 0,
            kustomizations: Vec::new(),
            texts: BTreeMap::new(),
            probes: Vec::new(),
        })
    }

    /// Whether `rel` exists (a file, a directory or a symlink), recorded.
    fn exists(&mut self, rel: &Path) -> bool {
        let answer = self.root.join(rel).symlink_metadata().is_ok();
        self.probes.push(Probe::Exists(rel.to_path_buf(), answer));
        answer
    }

    /// Whether `rel` is a directory (followed through symlinks), recorded.
    fn is_dir(&mut self, rel: &Path) -> bool {
        let answer = self.root.join(rel).is_dir();
        self.probes.push(Probe::IsDir(rel.to_path_buf(), answer));
        answer
    }

    fn read(&mut self, rel: &Path) -> Result<String, Declined> {
        self.reads += 1;
        if self.reads > MAX_READS {
            return declined(format!("more than {MAX_READS} files"));
        }
        let full = self.root.join(rel);
        // no symlink on the way: the path is what kustomize reads
        match full.canonicalize() {
            Ok(real) if real == full => {}
            _ => return declined(format!("{} is a symlink or missing", rel.display())),
        }
        let text = crate::files::read_text(&full)
            .or_else(|e| declined(format!("{}: {e}", rel.display())))?;
        self.probes.push(Probe::Read(
            rel.to_path_buf(),
            content_hash(text.as_bytes()),
        ));
        // the sandbox's bound on what one build reads (a file named many times counts each time)
        self.bytes += text.len() as u64;
        if self.bytes > super::sandbox::MAX_SANDBOX_BYTES {
            return declined(format!(
                "the files the build reads hold more than {} MiB",
                super::sandbox::MAX_SANDBOX_BYTES >> 20
            ));
        }
        Ok(text)
    }

    /// The kustomization file of `dir`: its name and its mapping.
    fn load(&mut self, dir: &Path) -> Result<Map<String, Value>, Declined> {
        let present: Vec<&str> = KUSTOMIZATION_NAMES
            .iter()
            .copied()
            .filter(|n| self.exists(&dir.join(n)))
            .collect();
        let [name] = present[..] else {
            return declined(format!(
                "{} has {} kustomization files",
                dir.display(),
                present.len()
            ));
        };
        let file = dir.join(name);
        let text = self.read(&file)?;
        let docs = self.docs.parse(&file, &text)?;
        let [Value::Object(map)] = &docs[..] else {
            return declined(format!("{} is not one mapping", file.display()));
        };
        self.kustomizations.push(file);
        Ok(map.clone())
    }

    /// Build the kustomization `kus` of `dir`. A component (`into`: the parent's accumulated objects) adds to and
    /// transforms those; a kustomization starts its own.
    fn kustomization(
        &mut self,
        dir: &Path,
        kus: &Map<String, Value>,
        into: Option<Acc>,
        depth: usize,
    ) -> Result<Acc, Declined> {
        if depth > MAX_DEPTH {
            return declined("kustomizations nested too deep");
        }
        let component = into.is_some();
        let kind = kus
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("Kustomization");
        match (component, kind) {
            (false, "Kustomization") | (true, "Component") => {}
            _ => return declined(format!("{} is a {kind} here", dir.display())),
        }
        for k in kus.keys() {
            let known = [
                "apiVersion",
                "kind",
                "metadata",
                "resources",
                "components",
                "namespace",
                "configMapGenerator",
                "generatorOptions",
                "patches",
                "buildMetadata",
            ];
            if !known.contains(&k.as_str()) {
                return declined(format!("{}: {k}", dir.display()));
            }
        }
        if let Some(m) = kus.get("buildMetadata")
            && m.as_array()
                .is_none_or(|l| l.iter().any(|v| v != "originAnnotations"))
        {
            return declined("buildMetadata other than originAnnotations");
        }
        let mut acc = into.unwrap_or_default();
        for r in strings(kus, "resources")? {
            let p = self.local(dir, &r)?;
            if self.is_dir(&p) {
                let sub = self.load(&p)?;
                let built = self.kustomization(&p, &sub, None, depth + 1)?;
                acc.objects.extend(built.objects);
            } else {
                let text = self.read(&p)?;
                let docs = self.docs.parse(&p, &text)?;
                self.texts.insert(p.clone(), text);
                for d in docs.iter().cloned() {
                    check_object(&d, &p)?;
                    acc.objects.push(Item {
                        value: d,
                        file: Some(p.clone()),
                        renamed: false,
                    });
                }
            }
        }
        unique_items(&acc.objects)?;
        for c in strings(kus, "components")? {
            let p = self.local(dir, &c)?;
            if !self.is_dir(&p) {
                return declined(format!("component {c} is not a directory"));
            }
            let ckus = self.load(&p)?;
            acc = self.kustomization(&p, &ckus, Some(acc), depth + 1)?;
        }
        self.generate(dir, kus, &mut acc)?;
        unique_items(&acc.objects)?;
        if let Some(patches) = kus.get("patches") {
            patch(patches, &mut acc, &self.texts)?;
        }
        if let Some(ns) = kus.get("namespace") {
            let Some(ns) = ns.as_str() else {
                return declined("namespace is not a string");
            };
            if !ns.is_empty() {
                namespace(ns, &mut acc)?;
            }
        }
        unique_items(&acc.objects)?;
        Ok(acc)
    }

    /// `p` relative to `dir`, as a path relative to the root: local, inside the root.
    fn local(&mut self, dir: &Path, p: &str) -> Result<PathBuf, Declined> {
        if p.is_empty() || super::sandbox::is_remote(p) || Path::new(p).is_absolute() {
            return declined(format!("the reference {p:?}"));
        }
        let joined = normal(&dir.join(p))?;
        if !self.exists(&joined) {
            return declined(format!("{p:?} does not exist"));
        }
        Ok(joined)
    }

    fn generate(
        &mut self,
        dir: &Path,
        kus: &Map<String, Value>,
        acc: &mut Acc,
    ) -> Result<(), Declined> {
        let Some(gens) = kus.get("configMapGenerator") else {
            return Ok(());
        };
        let Some(gens) = gens.as_array() else {
            return declined("configMapGenerator is not a list");
        };
        let options = kus.get("generatorOptions").cloned().unwrap_or(Value::Null);
        if !options.is_null() && !options.is_object() {
            return declined("generatorOptions is not a mapping");
        }
        only_keys(
            &options,
            &["disableNameSuffixHash", "labels", "annotations"],
        )?;
        for g in gens {
            only_keys(g, &["name", "files", "options", "behavior"])?;
            if !g["behavior"].is_null() && g["behavior"] != "create" {
                return declined("a generator behavior other than create");
            }
            let own = &g["options"];
            only_keys(own, &["disableNameSuffixHash", "labels", "annotations"])?;
            let no_hash = own["disableNameSuffixHash"]
                .as_bool()
                .or_else(|| options["disableNameSuffixHash"].as_bool())
                .unwrap_or(false);
            if !no_hash {
                return declined("a generated name with kustomize's hash suffix");
            }
            let Some(name) = g["name"].as_str().filter(|n| !n.is_empty()) else {
                return declined("a generator without a name");
            };
            let mut data = Map::new();
            for f in g["files"].as_array().into_iter().flatten() {
                let Some(f) = f.as_str() else {
                    return declined("a generator file that is not a string");
                };
                let (key, path) = match f.split_once('=') {
                    Some((k, p)) => (k.to_string(), p),
                    None => (
                        Path::new(f)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        f,
                    ),
                };
                let valid = !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
                if !valid || data.contains_key(&key) {
                    return declined(format!("the generator key {key:?}"));
                }
                let p = self.local(dir, path)?;
                let text = self.read(&p)?;
                data.insert(key, text.into());
            }
            if !g["files"].is_array() {
                return declined("a generator without files");
            }
            let mut meta = Map::new();
            meta.insert("name".into(), name.into());
            for field in ["labels", "annotations"] {
                let mut merged = Map::new();
                for from in [&options[field], &own[field]] {
                    if from.is_null() {
                        continue;
                    }
                    let Some(m) = from.as_object() else {
                        return declined(format!("generator {field} is not a mapping"));
                    };
                    for (k, v) in m {
                        let Some(v) = v.as_str() else {
                            return declined(format!("generator {field} value is not a string"));
                        };
                        merged.insert(k.clone(), v.into());
                    }
                }
                if !merged.is_empty() {
                    meta.insert(field.into(), Value::Object(merged));
                }
            }
            let mut cm = Map::new();
            cm.insert("apiVersion".into(), "v1".into());
            cm.insert("kind".into(), "ConfigMap".into());
            cm.insert("metadata".into(), Value::Object(meta));
            if !data.is_empty() {
                cm.insert("data".into(), Value::Object(data));
            }
            acc.objects.push(Item {
                value: Value::Object(cm),
                file: None,
                renamed: false,
            });
        }
        Ok(())
    }
}

/// Apply a kustomization's `patches` as [`super::flux_patch`] applies Flux's, or decline. `texts`: the resource
/// files' text (a strategic-merge patch needs the text its object was read from).
fn patch(
    patches: &Value,
    acc: &mut Acc,
    texts: &BTreeMap<PathBuf, String>,
) -> Result<(), Declined> {
    let Some(list) = patches.as_array() else {
        return declined("patches is not a list");
    };
    if list.is_empty() {
        return Ok(());
    }
    if list
        .iter()
        .any(|p| p.get("path").is_some() || p.get("options").is_some())
    {
        return declined("a patch from a file, or with options");
    }
    let spec = serde_json::json!({ "patches": patches });
    let plan = super::flux_patch::plan(&spec)?;
    if plan.needs_original_ids() && acc.objects.iter().any(|o| o.renamed) {
        return declined("a patch that selects by id, after a transformer renamed an object");
    }
    // each object named by its index, so that the result maps back to it
    let mut objects: Vec<Object> = acc
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| Object::plain(o.value.clone(), format!("{i}")))
        .collect();
    plan.apply_with(&mut objects, |o| {
        let i: usize = o.file.to_str()?.parse().ok()?;
        texts.get(acc.objects.get(i)?.file.as_ref()?).cloned()
    })?;
    if objects.len() != acc.objects.len() {
        return declined("a patch deleted an object");
    }
    for (item, o) in acc.objects.iter_mut().zip(objects) {
        item.value = o.value;
    }
    Ok(())
}

/// kustomize's namespace transformer, on the objects it is certain for.
fn namespace(ns: &str, acc: &mut Acc) -> Result<(), Declined> {
    for o in &mut acc.objects {
        let api = o.value["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = o.value["kind"].as_str().unwrap_or("").to_string();
        let group = api.rsplit_once('/').map_or("", |(g, _)| g);
        if kind == "Namespace" && api == "v1" {
            if o.value["metadata"]["name"] != ns {
                o.value["metadata"]["name"] = ns.into();
                o.renamed = true;
            }
            continue;
        }
        let custom = group.ends_with(".toolkit.fluxcd.io")
            || (group.contains('.') && !group.ends_with("k8s.io") && !group.ends_with(".k8s.io"));
        let known = NAMESPACED.contains(&(group, kind.as_str()));
        if !custom && !known {
            return declined(format!(
                "the namespace transformer on {api} {kind} (kustomize's schema decides its scope and fields)"
            ));
        }
        if o.value["metadata"]["namespace"] != ns {
            o.value["metadata"]["namespace"] = ns.into();
            o.renamed = true;
        }
    }
    Ok(())
}

fn check_object(d: &Value, file: &Path) -> Result<(), Declined> {
    let kind = d["kind"].as_str().unwrap_or("");
    let name = d["metadata"]["name"].as_str().unwrap_or("");
    if !d.is_object() || kind.is_empty() || name.is_empty() || d["apiVersion"].as_str().is_none() {
        return declined(format!(
            "{}: a document without apiVersion, kind or name",
            file.display()
        ));
    }
    if kind.ends_with("List") {
        return declined(format!("{}: a {kind}", file.display()));
    }
    if !d["metadata"].is_object()
        || (!d["metadata"]["namespace"].is_null() && !d["metadata"]["namespace"].is_string())
    {
        return declined(format!("{}: odd metadata", file.display()));
    }
    Ok(())
}

fn id(v: &Value) -> (String, String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut ns = s(&v["metadata"]["namespace"]);
    if ns.is_empty() {
        ns = "default".into();
    }
    (
        s(&v["apiVersion"]),
        s(&v["kind"]),
        ns,
        s(&v["metadata"]["name"]),
    )
}

fn unique_items(items: &[Item]) -> Result<(), Declined> {
    let mut seen = BTreeSet::new();
    for i in items {
        if !seen.insert(id(&i.value)) {
            return declined("two objects with one id (kustomize refuses it)");
        }
    }
    Ok(())
}

fn unique(items: &[Item]) -> Result<(), Declined> {
    unique_items(items)
}

fn only_keys(v: &Value, allowed: &[&str]) -> Result<(), Declined> {
    match v {
        Value::Null => Ok(()),
        Value::Object(m) => match m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => declined(format!("the generator field {k}")),
            None => Ok(()),
        },
        _ => declined("a generator field that is not a mapping"),
    }
}

fn strings(kus: &Map<String, Value>, key: &str) -> Result<Vec<String>, Declined> {
    match kus.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(l)) => l
            .iter()
            .map(|v| match v.as_str() {
                Some(s) => Ok(s.to_string()),
                None => declined(format!("{key} holds a value that is not a string")),
            })
            .collect(),
        Some(_) => declined(format!("{key} is not a list")),
    }
}

/// `p` lexically normalised, relative, never above its start.
fn normal(p: &Path) -> Result<PathBuf, Declined> {
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if out.pop().is_none() {
                    return declined(format!("{} leaves the repository", p.display()));
                }
            }
            _ => return declined(format!("{} is not relative", p.display())),
        }
    }
    Ok(out.iter().collect())
}

/// `to` (a file relative to the root) relative to the directory `from` (relative to the root), with `..` as
/// kustomize writes an origin outside the directory built (`../../components/volsync/pvc.yaml`).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// The ids of a build, for tests: `Kind/namespace/name`.
pub fn ids(objects: &[Res]) -> BTreeMap<String, Value> {
    objects
        .iter()
        .map(|o| {
            let (_, kind, ns, name) = id(&o.value);
            (format!("{kind}/{ns}/{name}"), o.value.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_beyond_the_bounds_is_left_to_kustomize() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let docs = DocCache::default();
        // kustomizations nested deeper than MAX_DEPTH
        for i in 0..=MAX_DEPTH + 1 {
            let dir = root.join(format!("deep/{}", "d/".repeat(i)));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("kustomization.yaml"), "resources: [d]\n").unwrap();
        }
        let why = build_dir(&root, Path::new("deep"), &docs).unwrap_err();
        assert!(why.0.contains("too deep"), "{why:?}");
        // more reads than MAX_READS (one small file, named under many keys)
        std::fs::create_dir_all(root.join("many")).unwrap();
        std::fs::write(root.join("many/v.txt"), "x").unwrap();
        let files: Vec<String> = (0..=MAX_READS).map(|i| format!("k{i}=v.txt")).collect();
        let kus: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "configMapGenerator": [{"name": "c", "files": files}],
            "generatorOptions": {"disableNameSuffixHash": true},
        }))
        .unwrap();
        let why = build(&root, Path::new("many"), &kus, &docs).unwrap_err();
        assert!(why.0.contains("more than"), "{why:?}");
    }

    #[test]
    fn a_cached_build_is_used_only_while_every_file_it_looked_at_answers_the_same() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        // the cluster-template shape: an app directory with its release and a component shared by all apps
        write(
            "apps/a/app/kustomization.yaml",
            "resources: [./helmrelease.yaml]\ncomponents: [../../../components/common]\n",
        );
        write(
            "apps/a/app/helmrelease.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a}\nspec: {values: {replicas: 1}}\n",
        );
        write(
            "components/common/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [./namespace.yaml]\n",
        );
        write(
            "components/common/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
        );
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = crate::chart::RenderCache::new(cache_dir.path());
        let start = Path::new("apps/a/app");
        let kus = |ns: &str| -> Map<String, Value> {
            serde_json::from_value(serde_json::json!({
                "resources": ["./helmrelease.yaml"],
                "components": ["../../../components/common"],
                "namespace": ns,
            }))
            .unwrap()
        };
        let fresh = |k: &Map<String, Value>| build(&root, start, k, &DocCache::default());
        let cached = |k: &Map<String, Value>| {
            let docs = DocCache::default();
            let built = build_cached_in(Some(&cache), &root, start, k, &docs);
            // a build from the cache parses nothing
            let parsed = !docs.0.lock().unwrap().is_empty();
            (built, parsed)
        };
        let first = cached(&kus("a"));
        assert!(first.1, "the first build is built");
        assert_eq!(
            first.0.as_ref().unwrap(),
            fresh(&kus("a")).as_ref().unwrap()
        );
        let again = cached(&kus("a"));
        assert!(!again.1, "the second is the cache's");
        assert_eq!(again.0.unwrap(), first.0.unwrap());
        // another kustomization (a Flux targetNamespace written into it) is another entry
        let other = cached(&kus("b"));
        assert!(other.1);
        assert_eq!(other.0.unwrap(), fresh(&kus("b")).unwrap());
        // one load asks each question of the file system once: the builds of two apps naming one component (here, the
        // same directory with two namespaces) answer its questions from the first
        let docs = DocCache::default();
        build_cached_in(Some(&cache), &root, start, &kus("a"), &docs).unwrap();
        let asked = docs.1.lock().unwrap().len();
        assert!(asked > 0, "the cached build's questions are answered");
        build_cached_in(Some(&cache), &root, start, &kus("b"), &docs).unwrap();
        assert_eq!(docs.1.lock().unwrap().len(), asked, "and not asked again");
        assert!(docs.0.lock().unwrap().is_empty(), "both from the cache");
        // a file the build read, changed (the shared component): built again, with the change
        write(
            "components/common/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {x: y}}\n",
        );
        let changed = cached(&kus("a"));
        assert!(changed.1);
        let changed = changed.0.unwrap();
        assert_eq!(changed, fresh(&kus("a")).unwrap());
        assert!(
            changed
                .objects
                .iter()
                .any(|o| o.value["metadata"]["labels"]["x"] == "y")
        );
        // a file the build only looked for, added (a second kustomization file, which kustomize refuses): not the
        // cache's answer
        assert!(!cached(&kus("a")).1);
        write("components/common/kustomization.yml", "resources: []\n");
        let (refused, _) = cached(&kus("a"));
        assert!(refused.unwrap_err().0.contains("kustomization files"));
        // a resource replaced by a symlink to the same text: read through a symlink, which kustomize-here declines
        std::fs::remove_file(root.join("components/common/kustomization.yml")).unwrap();
        assert!(cached(&kus("a")).0.is_ok());
        std::fs::rename(
            root.join("apps/a/app/helmrelease.yaml"),
            root.join("apps/a/hr.yaml"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            root.join("apps/a/hr.yaml"),
            root.join("apps/a/app/helmrelease.yaml"),
        )
        .unwrap();
        assert!(cached(&kus("a")).0.unwrap_err().0.contains("symlink"));
    }

    #[test]
    fn origins_are_relative_to_the_directory_built() {
        assert_eq!(
            relative(
                Path::new("k/apps/a/app"),
                Path::new("k/components/v/pvc.yaml")
            ),
            PathBuf::from("../../../components/v/pvc.yaml")
        );
        assert_eq!(
            relative(Path::new("k/apps/a/app"), Path::new("k/apps/a/app/hr.yaml")),
            PathBuf::from("hr.yaml")
        );
        assert!(normal(Path::new("a/../../b")).is_err());
        assert_eq!(
            normal(Path::new("a/./b/../c")).unwrap(),
            PathBuf::from("a/c")
        );
    }

    #[test]
    fn the_namespace_renames_a_namespace_and_declines_what_kustomize_decides() {
        let item = |v: Value| Item {
            value: v,
            file: None,
            renamed: false,
        };
        let mut acc = Acc {
            objects: vec![
                item(
                    serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "not-used"}}),
                ),
                item(
                    serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "x"}}),
                ),
                item(
                    serde_json::json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "a", "namespace": "b"}}),
                ),
            ],
        };
        namespace("media", &mut acc).unwrap();
        assert_eq!(acc.objects[0].value["metadata"]["name"], "media");
        assert_eq!(acc.objects[1].value["metadata"]["namespace"], "media");
        assert_eq!(acc.objects[2].value["metadata"]["namespace"], "media");
        assert!(acc.objects.iter().all(|o| o.renamed));
        for (api, kind) in [
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            ("rbac.authorization.k8s.io/v1", "ClusterRole"),
            (
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
            ),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("v1", "PersistentVolume"),
        ] {
            let mut acc = Acc {
                objects: vec![item(
                    serde_json::json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}),
                )],
            };
            assert!(namespace("media", &mut acc).is_err(), "{kind}");
        }
    }
}
