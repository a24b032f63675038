//! Where each finding is in the repository the user edits: its file's line and column ([`Finding::line`]).
//!
//! Findings name a file (relative to the GitOps root), an object id and a path; [`locate`] reads that file again
//! (bounded as the loader reads it: [`crate::files::read_bytes`], inside the GitOps root only) with the YAML reader's
//! positions ([`crate::yaml::parse_documents_with_positions`]) and places the finding:
//!
//! - a HelmRelease value (`image.tag` on a `HelmRelease`): the key under `spec.values`; a value that is not written
//!   there came from `spec.valuesFrom`, so it is the key inside the ConfigMap's `data.<valuesKey>` block (a literal
//!   `|` block: its lines are the file's lines), else that data key's line;
//! - a field of a plain manifest: the field's key, or the deepest key above it that is written (the object's first
//!   line when none is: a missing label);
//! - an object a chart rendered (the HelmRelease's file, an object id the file does not contain): the value at the
//!   finding's path under `spec.values` when the user wrote it, else the HelmRelease's `spec.values` line, else its
//!   `spec.chart` (`spec.chartRef`) line: the chart's default is changed there;
//! - an object kustomize built: the loader names its source file (kustomize's `config.kubernetes.io/origin`
//!   annotation, [`crate::gitops::flux_build`]); it is found there by kind and name (one object of that kind when a
//!   `namePrefix` renamed it), else the file's first object (a Kustomization file).
//!
//! A finding whose file cannot be read again (gone, outside the root, not YAML) keeps no position.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::finding::Finding;
use crate::rules::input::LintInput;
use crate::rules::{manifest_fields, values_from};
use crate::yaml::{Pos, Positions};

/// The documents of one file with their positions, and its text (for block scalars).
struct Parsed {
    docs: Vec<(Value, Positions)>,
    text: String,
}

/// Files read again, by path relative to the GitOps root (`None`: not readable).
struct Files<'a> {
    root: &'a Path,
    real_root: Option<PathBuf>,
    /// Shared, not copied: a finding's object and its positions are borrowed from here (copying them for each of
    /// 700 findings was a quarter of placing them, issue 22).
    cache: HashMap<String, Option<Arc<Parsed>>>,
    /// The kustomization files below the root that have patches, found once ([`Files::patching`]).
    patching: Option<Vec<String>>,
    /// What each of those may patch ([`Files::may_patch`]), summarised once per run: shared by the threads that place
    /// findings (the first that needs it reads the tree's kustomizations, the others wait for it).
    selectors: Arc<OnceLock<Vec<Selects>>>,
}

/// Which objects a kustomization's patches may select: every one (`all`: a `patchesStrategicMerge` entry, or a patch
/// without a target, names its object inside the patch), else those the targets match.
struct Selects {
    /// The kustomization file.
    file: String,
    all: bool,
    targets: Vec<Value>,
}

impl<'a> Files<'a> {
    #[cfg(test)]
    fn new(root: &'a Path) -> Self {
        Files::sharing(root, Arc::default())
    }

    /// [`Files::new`], sharing the summary of what the kustomizations patch with the other threads.
    fn sharing(root: &'a Path, selectors: Arc<OnceLock<Vec<Selects>>>) -> Self {
        Files {
            root,
            real_root: root.canonicalize().ok(),
            cache: HashMap::new(),
            patching: None,
            selectors,
        }
    }

    /// The kustomization files below the root (hidden directories left out, bounded) whose `patches` or
    /// `patchesStrategicMerge` are not empty.
    fn patching(&mut self) -> Vec<String> {
        if let Some(k) = &self.patching {
            return k.clone();
        }
        let mut found = Vec::new();
        let mut dirs = vec![PathBuf::new()];
        let mut visited = 0;
        while let Some(rel) = dirs.pop() {
            visited += 1;
            if visited > MAX_DIRS {
                break;
            }
            let Ok(entries) = std::fs::read_dir(self.root.join(&rel)) else {
                continue;
            };
            let mut names: Vec<(String, bool)> = entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let dir = e.file_type().ok()?.is_dir();
                    Some((e.file_name().to_str()?.to_string(), dir))
                })
                .filter(|(n, _)| !n.starts_with('.'))
                .collect();
            names.sort();
            for (name, is_dir) in names {
                if is_dir {
                    dirs.push(rel.join(&name));
                } else if ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                    .contains(&name.as_str())
                {
                    found.push(rel.join(&name).display().to_string());
                }
            }
        }
        // a kustomization whose text does not say `patches` (nor escapes a character: a key may be written
        // `"p\u0061tches"`) has none: not parsed (a repository of hundreds of app directories, most without)
        found.retain(|k| {
            self.raw(k).is_some_and(|b| {
                crate::yaml::decode_text(&b)
                    .is_ok_and(|t| t.contains("patches") || t.contains('\\'))
            })
        });
        found.retain(|k| {
            self.get(k)
                .as_deref()
                .and_then(|p| p.docs.first())
                .is_some_and(|(v, _)| {
                    ["patches", "patchesStrategicMerge"]
                        .iter()
                        .any(|f| v[*f].as_array().is_some_and(|a| !a.is_empty()))
                })
        });
        found.sort();
        self.patching = Some(found.clone());
        found
    }

    /// The kustomizations of [`Files::patching`] whose patches may select object `kind`/`name` (a repository of
    /// hundreds of app directories: each app's patches name its own release). Summarised once per run, not looked up
    /// and read again for each finding: that was most of placing 700 findings in a debug build (issue 22).
    fn may_patch(&mut self, kind: &str, name: &str) -> Vec<String> {
        let shared = Arc::clone(&self.selectors);
        let selectors = shared.get_or_init(|| {
            let patching = self.patching();
            patching
                .iter()
                .map(|k| {
                    let parsed = self.get(k);
                    let kv = parsed
                        .as_deref()
                        .and_then(|p| p.docs.first())
                        .map(|(v, _)| v);
                    let psm = kv.is_some_and(|kv| {
                        kv["patchesStrategicMerge"]
                            .as_array()
                            .is_some_and(|l| !l.is_empty())
                    });
                    let patches: Vec<&Value> = kv
                        .and_then(|kv| kv["patches"].as_array())
                        .into_iter()
                        .flatten()
                        .collect();
                    let target = |p: &Value| p.get("target").filter(|t| t.is_object()).cloned();
                    Selects {
                        file: k.clone(),
                        all: psm || patches.iter().any(|p| target(p).is_none()),
                        targets: patches.iter().filter_map(|p| target(p)).collect(),
                    }
                })
                .collect()
        });
        selectors
            .iter()
            .filter(|s| s.all || s.targets.iter().any(|t| target_matches(t, kind, name)))
            .map(|s| s.file.clone())
            .collect()
    }

    fn get(&mut self, rel: &str) -> Option<Arc<Parsed>> {
        if !self.cache.contains_key(rel) {
            let parsed = self.read(rel).map(Arc::new);
            self.cache.insert(rel.to_string(), parsed);
        }
        self.cache.get(rel).and_then(Option::clone)
    }

    /// `rel` read and parsed, when it is a relative path to a file inside the root.
    fn read(&self, rel: &str) -> Option<Parsed> {
        let bytes = self.raw(rel)?;
        let text = crate::yaml::decode_text(&bytes).ok()?.into_owned();
        let docs = crate::yaml::parse_documents_with_positions(&text).ok()?;
        Some(Parsed { docs, text })
    }

    /// The bytes of `rel`, when it is a relative path to a file inside the root.
    fn raw(&self, rel: &str) -> Option<Vec<u8>> {
        let p = Path::new(rel);
        if rel.is_empty()
            || !p
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return None;
        }
        let full = self.root.join(p).canonicalize().ok()?;
        if !full.starts_with(self.real_root.as_ref()?) {
            return None;
        }
        crate::files::read_bytes(&full).ok()
    }
}

/// `Kind/namespace/name` or `Kind/name` as (kind, namespace, name).
fn split_id(id: &str) -> Option<(&str, Option<&str>, &str)> {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        [kind, name] => Some((kind, None, name)),
        [kind, ns, name] => Some((kind, Some(ns), name)),
        _ => None,
    }
}

/// The document of `docs` that is object `id`: by kind, name and namespace, else kind and name (kustomize set the
/// namespace), else (`loose`) the one object of that kind (a `namePrefix` renamed it).
fn find_doc(docs: &[(Value, Positions)], id: &str, loose: bool) -> Option<usize> {
    let (kind, ns, name) = split_id(id)?;
    let of_kind: Vec<usize> = (0..docs.len())
        .filter(|i| docs[*i].0["kind"] == kind)
        .collect();
    let named = |i: &&usize| docs[**i].0["metadata"]["name"] == name;
    of_kind
        .iter()
        .filter(named)
        .find(|i| docs[**i].0["metadata"]["namespace"].as_str() == ns)
        .or_else(|| of_kind.iter().find(named))
        .or_else(|| (loose && of_kind.len() == 1).then(|| &of_kind[0]))
        .copied()
}

/// Top-level fields of an object: a path starting with one is a field path, any other path on a HelmRelease is a
/// values path.
const OBJECT_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

fn is_values_path(path: &str) -> bool {
    let first = path.split(['.', '[']).next().unwrap_or("");
    !path.is_empty() && !OBJECT_FIELDS.contains(&first)
}

/// Files read and parsed ahead, on threads of their own, while the releases are prepared and the rules run
/// ([`preparse`]): placing findings then starts with them parsed. Where a finding is placed does not change; only
/// when its file is parsed does.
pub struct Preparsed {
    parsing: Vec<std::thread::JoinHandle<HashMap<String, Option<Arc<Parsed>>>>>,
    selectors: Arc<OnceLock<Vec<Selects>>>,
}

impl Preparsed {
    /// The files parsed (each thread's), when every thread ended.
    fn seed(self) -> Option<Seed> {
        let mut parsed = HashMap::new();
        for h in self.parsing {
            parsed.extend(h.join().ok()?);
        }
        Some((parsed, self.selectors))
    }
}

/// What [`preparse`] hands over: the parsed files and the summary of what the kustomizations patch.
type Seed = (
    HashMap<String, Option<Arc<Parsed>>>,
    Arc<OnceLock<Vec<Selects>>>,
);

/// Start parsing `files` (relative to the GitOps root `root`, as findings name them) and summarising the
/// kustomizations that patch, on threads of their own (one per core, as [`locate`]): the files the findings of a
/// tree are most likely in (its HelmReleases' and those of the loader's findings). `None` when there are none, or a
/// thread cannot start (nothing is lost: placing parses them then).
pub fn preparse(root: PathBuf, files: Vec<String>) -> Option<Preparsed> {
    if files.is_empty() {
        return None;
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_WORKERS);
    let selectors: Arc<OnceLock<Vec<Selects>>> = Arc::default();
    let root = Arc::new(root);
    // in runs of neighbouring files (a HelmRelease's file and its ks.yaml alternate in the sorted list: taking every
    // other one gave one thread all the big files)
    let run = files.len().div_ceil(workers).max(1);
    let parsing = (0..workers)
        .map(|i| {
            let mine: Vec<String> = files.iter().skip(i * run).take(run).cloned().collect();
            let (root, selectors) = (Arc::clone(&root), Arc::clone(&selectors));
            std::thread::Builder::new()
                .name("lint-positions".into())
                .spawn(move || {
                    let mut parsed = Files::sharing(&root, selectors);
                    for f in &mine {
                        parsed.get(f);
                    }
                    if i == 0 {
                        parsed.may_patch("", "");
                    }
                    parsed.cache
                })
                .ok()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Preparsed { parsing, selectors })
}

/// Place every finding of `findings` (see the module documentation).
///
/// Many findings (a repository of 350 releases whose chart is not at hand has one on each) are placed on one
/// thread per core, each finding's file on one of them (a file is parsed once); where a finding is placed does not
/// depend on the thread, each reads the same files.
pub fn locate(input: &LintInput, findings: &mut [Finding]) {
    locate_preparsed(input, findings, None);
}

/// [`locate`], starting from the files [`preparse`] read.
pub fn locate_preparsed(input: &LintInput, findings: &mut [Finding], ahead: Option<Preparsed>) {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_WORKERS);
    // nothing to place (a clean tree): the files parsed ahead are not waited for
    if findings.iter().all(|f| f.line.is_some()) {
        return;
    }
    let seed = ahead.and_then(Preparsed::seed);
    locate_with(input, findings, workers, seed);
}

/// [`locate`] on at most `workers` threads, each starting with the files of `seed`.
fn locate_with(input: &LintInput, findings: &mut [Finding], workers: usize, seed: Option<Seed>) {
    let (parsed, selectors) = seed.unwrap_or_default();
    let seeded = |files: &mut Files<'_>| {
        files
            .cache
            .extend(parsed.iter().map(|(k, v)| (k.clone(), v.clone())));
    };
    let todo: Vec<&mut Finding> = findings.iter_mut().filter(|f| f.line.is_none()).collect();
    if workers < 2 || todo.len() < PARALLEL_FROM {
        let mut files = Files::sharing(&input.root, selectors);
        seeded(&mut files);
        for f in todo {
            place(input, &mut files, f);
        }
        free_later(files.cache);
        free_later(parsed);
        return;
    }
    let mut groups: Vec<Vec<&mut Finding>> = (0..workers).map(|_| Vec::new()).collect();
    for f in todo {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let at =
            BuildHasherDefault::<DefaultHasher>::default().hash_one(&f.file) as usize % workers;
        groups[at].push(f);
    }
    std::thread::scope(|s| {
        for group in groups {
            let selectors = Arc::clone(&selectors);
            let mut files = Files::sharing(&input.root, selectors);
            seeded(&mut files);
            s.spawn(move || {
                for f in group {
                    place(input, &mut files, f);
                }
                free_later(files.cache);
            });
        }
    });
    // the files parsed ahead are freed last by whichever holds them: not on this thread (the report waits for it)
    free_later(parsed);
}

/// The files' parses freed on a thread of their own (as lint frees its input): hundreds of parsed files are freed
/// while the report is written, or by the exit.
fn free_later(cache: HashMap<String, Option<Arc<Parsed>>>) {
    if cache.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("lint-free".into())
        .spawn(move || drop(cache));
}

/// At most this many threads place findings ([`locate`]).
const MAX_WORKERS: usize = 4;
/// Fewer findings than this are placed on the calling thread.
const PARALLEL_FROM: usize = 64;

/// `f` given the line and column where it is written (and the file, when that is another one).
fn place(input: &LintInput, files: &mut Files<'_>, f: &mut Finding) {
    if let Some((file, pos)) = position(input, files, f) {
        // a value from a valuesFrom source is where that source is written
        if let Some(file) = file {
            f.file = file;
        }
        f.line = Some(u32::try_from(pos.line).unwrap_or(u32::MAX));
        f.column = Some(u32::try_from(pos.column).unwrap_or(u32::MAX));
    }
}

/// A position in the finding's own file (`None`), or in another file (the object's source, a valuesFrom source).
type Placed = (Option<String>, Pos);

/// One document of a parsed file, shared with [`Files`] (not copied).
#[derive(Clone)]
struct Doc {
    parsed: Arc<Parsed>,
    at: usize,
}

impl Doc {
    fn value(&self) -> &Value {
        &self.parsed.docs[self.at].0
    }

    fn pos(&self) -> &Positions {
        &self.parsed.docs[self.at].1
    }
}

/// An object's document, and the file it is in when that is not the finding's file.
type Found = (Option<String>, Doc);

fn position(input: &LintInput, files: &mut Files<'_>, f: &Finding) -> Option<Placed> {
    // the object in the finding's file, else in the resources of the kustomization that built it
    if let Some((file, doc)) = object_doc(files, &f.file, &f.object) {
        let (value, pos) = (doc.value(), doc.pos());
        // a field an overlay's patch sets: in that patch
        let field = if value["kind"] == "HelmRelease" && is_values_path(&f.path) {
            format!("spec.values.{}", f.path)
        } else {
            f.path.clone()
        };
        let source = file.clone().unwrap_or_else(|| f.file.clone());
        if let Some(placed) = patched_preferring(files, &source, &f.object, &field, &f.message) {
            return Some(placed);
        }
        if value["kind"] == "HelmRelease" && is_values_path(&f.path) {
            // the namespace the tree gives it (a Flux Kustomization's targetNamespace), not only the file's
            let ns = split_id(&f.object)
                .and_then(|(_, ns, _)| ns)
                .unwrap_or("default");
            let (placed, found) = written_value(input, files, &file, &doc, ns, &f.path);
            if found {
                return Some(placed);
            }
            return Some((file, pos.nearest(&format!("spec.values.{}", f.path)).0));
        }
        return Some((file, pos.nearest(&f.path).0));
    }
    // an object a chart rendered: its HelmRelease
    let release = input.releases.iter().find(|r| {
        r.object.file_display() == f.file && r.rendered.iter().any(|o| o.id() == f.object)
    });
    if let Some(r) = release
        && let Some((file, hr)) = object_doc(files, &f.file, &r.object.id())
    {
        let source = file.clone().unwrap_or_else(|| f.file.clone());
        let id = r.object.id();
        let patched_value = |files: &mut Files<'_>, path: &str| {
            patched(files, &source, &id, &format!("spec.values.{path}"))
        };
        if is_values_path(&f.path) {
            if let Some(placed) = patched_value(files, &f.path) {
                return Some(placed);
            }
            let ns = r.object.namespace().unwrap_or("default");
            let (placed, found) = written_value(input, files, &file, &hr, ns, &f.path);
            if found {
                return Some(placed);
            }
        } else {
            // a value the rule names as the cause (the image a pinned tag runs)
            let ns = r.object.namespace().unwrap_or("default");
            for cause in RENDERED_CAUSES
                .iter()
                .filter(|(rule, _)| *rule == f.rule)
                .flat_map(|(_, paths)| paths.iter())
            {
                if let Some(placed) = patched_value(files, cause) {
                    return Some(placed);
                }
                let (placed, found) = written_value(input, files, &file, &hr, ns, cause);
                if found {
                    return Some(placed);
                }
            }
            // a field of the rendered object whose last keys the user wrote in the values
            // (`…containers[0].securityContext.readOnlyRootFileSystem` from `securityContext.readOnlyRootFileSystem`)
            let ns = r.object.namespace().unwrap_or("default");
            for tail in value_tails(&f.path) {
                if let Some(placed) = patched_value(files, &tail) {
                    return Some(placed);
                }
                let (placed, found) = written_value(input, files, &file, &hr, ns, &tail);
                if found {
                    return Some(placed);
                }
            }
            // an unknown field the user's values carry into the object (app-template's
            // `controllers.main.pod.securityContext.…`): the values path its fix names
            if f.rule == manifest_fields::RULE
                && let Some(obj) = r.rendered.iter().find(|o| o.id() == f.object)
            {
                let key = f.path.rsplit('.').next().unwrap_or("");
                let key = key.split('[').next().unwrap_or(key);
                if let Some(p) =
                    manifest_fields::values_paths_of(&r.values, &obj.value, &f.path, key).first()
                {
                    if let Some(placed) = patched_value(files, p) {
                        return Some(placed);
                    }
                    let (placed, found) = written_value(input, files, &file, &hr, ns, p);
                    if found {
                        return Some(placed);
                    }
                }
            }
        }
        let p = hr.pos();
        return Some((
            file,
            p.get("spec.values")
                .or_else(|| p.get("spec.chart"))
                .or_else(|| p.get("spec.chartRef"))
                .unwrap_or_else(|| p.start()),
        ));
    }
    // no object of this file: a path of the file's first document (a kustomization), else its start
    let parsed = files.get(&f.file)?;
    let first = parsed.docs.first()?;
    Some((
        None,
        if f.object.is_empty() {
            first.1.nearest(&f.path).0
        } else {
            first.1.start()
        },
    ))
}

/// Object `id` in `file`; else, when a kustomization built it (`file` is that kustomization, its directory or a
/// file beside it), in the resources that kustomization lists, followed through the kustomizations of directories
/// it lists.
fn object_doc(files: &mut Files<'_>, file: &str, id: &str) -> Option<Found> {
    if id.is_empty() {
        return None;
    }
    if let Some(parsed) = files.get(file)
        && let Some(at) = find_doc(&parsed.docs, id, true)
    {
        return Some((None, Doc { parsed, at }));
    }
    for k in kustomization_of(file) {
        if files.get(&k).is_none() {
            continue;
        }
        let mut seen = Vec::new();
        let source = source_of(files, &k, id, &mut seen)?;
        let parsed = files.get(&source)?;
        let at = find_doc(&parsed.docs, id, false)?;
        return Some(((source != file).then_some(source), Doc { parsed, at }));
    }
    None
}

/// Most directories walked to find the kustomizations that patch.
const MAX_DIRS: usize = 4096;

/// Most kustomizations followed to find one object's source.
const MAX_KUSTOMIZATIONS: usize = 64;

/// The file among the resources of kustomization `kfile` (and the kustomizations of the directories it lists) that
/// holds object `id` by kind and name.
fn source_of(
    files: &mut Files<'_>,
    kfile: &str,
    id: &str,
    seen: &mut Vec<String>,
) -> Option<String> {
    if seen.len() >= MAX_KUSTOMIZATIONS || seen.iter().any(|s| s == kfile) {
        return None;
    }
    seen.push(kfile.to_string());
    let dir = Path::new(kfile)
        .parent()
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let resources: Vec<String> = files.get(kfile)?.docs.first()?.0["resources"]
        .as_array()?
        .iter()
        .filter_map(|r| r.as_str())
        .map(|r| crate::gitops::normalise(&dir.join(r)).display().to_string())
        .collect();
    for r in resources {
        if let Some(parsed) = files.get(&r) {
            if find_doc(&parsed.docs, id, false).is_some() {
                return Some(r);
            }
            continue;
        }
        for k in kustomization_of(&format!("{r}/")) {
            if files.get(&k).is_some() {
                if let Some(found) = source_of(files, &k, id, seen) {
                    return Some(found);
                }
                break;
            }
        }
    }
    None
}

/// Where `field` of object `id` (whose source is `file`) is set by a patch of a kustomization that builds it from
/// `file`: a `patches` entry (`path:` a file, or an inline `patch:` block) or `patchesStrategicMerge` entry whose
/// target (kind and name: kustomize's `target` selector, else the patch's own kind and name) is the object, and that
/// writes the field — a strategic-merge patch by its key, a JSON 6902 patch by the operation whose `path` is the
/// field. kustomize applies a kustomization's `patchesStrategicMerge` first, then its `patches`, one transformer per
/// entry in order (kubernetes-sigs/kustomize kustomize/v5.7.1, api/internal/target/kusttarget_configplugin.go
/// `configureBuiltinTransformers`: `PatchStrategicMergeTransformer`, then `PatchTransformer` per `Patches` entry), so
/// the last that writes it wins.
fn patched(files: &mut Files<'_>, file: &str, id: &str, field: &str) -> Option<Placed> {
    patched_preferring(files, file, id, field, "")
}

/// [`patched`], choosing among sibling overlays: two kustomizations that build the object from the same base file
/// (`apps/staging`, `apps/production`) each patch it, and the finding is about one of the objects they build. The
/// overlay whose patch line holds a value the finding's `message` quotes (`` `>=1.0.0` ``) is that one; without such a
/// sign, the first overlay (a place that does write the field, which the base does not).
fn patched_preferring(
    files: &mut Files<'_>,
    file: &str,
    id: &str,
    field: &str,
    message: &str,
) -> Option<Placed> {
    // a strategic-merge patch always writes the object's identity and its top-level keys: they say which object
    // it patches, not what it sets
    if !field.contains('.') || ["metadata.name", "metadata.namespace"].contains(&field) {
        return None;
    }
    let (kind, _, name) = split_id(id)?;
    // per kustomization: the last of its patches that writes the field, and the kustomizations its build reads
    let mut overlays: Vec<(Placed, String, Vec<String>)> = Vec::new();
    for k in files.may_patch(kind, name) {
        let mut placed = None;
        let mut seen = Vec::new();
        if source_of(files, &k, id, &mut seen).as_deref() != Some(file) {
            continue;
        }
        let Some(parsed) = files.get(&k) else {
            continue;
        };
        let Some((kv, kpos)) = parsed.docs.first() else {
            continue;
        };
        let text = &parsed.text;
        let dir = Path::new(&k)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        // in kustomize's order: patchesStrategicMerge, then patches
        let mut entries: Vec<(String, Option<&Value>, &Value)> = Vec::new();
        for (i, p) in kv["patchesStrategicMerge"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            entries.push((format!("patchesStrategicMerge[{i}]"), None, p));
        }
        for (i, p) in kv["patches"].as_array().into_iter().flatten().enumerate() {
            entries.push((format!("patches[{i}]"), p.get("target"), p));
        }
        for (at, target, p) in entries {
            if let Some(t) = target.filter(|t| t.is_object())
                && !target_matches(t, kind, name)
            {
                continue;
            }
            let targeted = target.is_some_and(Value::is_object);
            let (path_entry, inline) = match p {
                Value::String(s) if s.contains('\n') => (None, Some((s.as_str(), at.clone()))),
                Value::String(s) => (Some(s.as_str()), None),
                _ => (
                    p["path"].as_str(),
                    p["patch"].as_str().map(|s| (s, format!("{at}.patch"))),
                ),
            };
            if let Some(rel) = path_entry {
                let rel = crate::gitops::normalise(&dir.join(rel))
                    .display()
                    .to_string();
                let Some(patch) = files.get(&rel) else {
                    continue;
                };
                if let Some(pos) = in_patch(&patch.docs, kind, name, field, targeted) {
                    placed = Some((Some(rel), pos));
                }
            } else if let Some((body, key)) = inline {
                let Some(key_line) = kpos.get(&key).map(|p| p.line) else {
                    continue;
                };
                let Ok(docs) = crate::yaml::parse_documents_with_positions(body) else {
                    continue;
                };
                if in_patch(&docs, kind, name, field, targeted).is_some()
                    && let Some(pos) = in_literal_block(text, key_line, field)
                        .or_else(|| in_literal_block(text, key_line, &json_op_value(&docs, field)?))
                {
                    placed = Some((Some(k.clone()), pos));
                }
            }
        }
        if let Some(p) = placed {
            overlays.push((p, k.clone(), seen));
        }
    }
    // an overlay built on another that patches too is applied after it: its patch is what the object ends with
    let later: Vec<bool> = overlays
        .iter()
        .map(|(_, k, _)| {
            overlays
                .iter()
                .any(|(_, other, seen)| other != k && seen.contains(k))
        })
        .collect();
    let mut overlays: Vec<Placed> = overlays
        .into_iter()
        .zip(later)
        .filter(|(_, superseded)| !superseded)
        .map(|((p, _, _), _)| p)
        .collect();
    if overlays.len() > 1 && !message.is_empty() {
        let mut quoted = |placed: &Placed| {
            let (rel, pos) = placed;
            let line = rel.as_deref().and_then(|r| files.get(r)).and_then(|p| {
                p.text
                    .lines()
                    .nth(pos.line.saturating_sub(1))
                    .map(str::to_string)
            });
            line.and_then(|l| {
                let v = l.split_once(':')?.1.trim().trim_matches(['"', '\'']);
                (!v.is_empty()).then(|| message.contains(&format!("`{v}`")))
            })
            .unwrap_or(false)
        };
        let signed: Vec<usize> = (0..overlays.len())
            .filter(|i| quoted(&overlays[*i]))
            .collect();
        if let [i] = signed[..] {
            return Some(overlays.swap_remove(i));
        }
    }
    overlays.into_iter().next()
}

/// A kustomize target selector's kind and name (anchored regular expressions, kustomize/v5.7.1
/// api/types/selector.go `SelectorRegex`) against the object's; the other fields (group, version, namespace,
/// label and annotation selectors) are not read.
fn target_matches(t: &Value, kind: &str, name: &str) -> bool {
    let matches = |pattern: Option<&str>, value: &str| match pattern.filter(|p| !p.is_empty()) {
        None => true,
        // a pattern of letters, digits, `-` and `_` only matches itself (no regex to compile: this runs for every
        // finding and every patching kustomization)
        Some(p)
            if p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            p == value
        }
        Some(p) => {
            regex::Regex::new(&format!("^(?:{p})$")).map_or(p == value, |r| r.is_match(value))
        }
    };
    matches(t["kind"].as_str(), kind) && matches(t["name"].as_str(), name)
}

/// `field` in a patch file's documents: a strategic-merge patch of this object (its kind and name, or any document
/// when a target selects the object) that writes the key, or a JSON 6902 operation list with an operation on it.
fn in_patch(
    docs: &[(Value, Positions)],
    kind: &str,
    name: &str,
    field: &str,
    targeted: bool,
) -> Option<Pos> {
    for (v, pos) in docs {
        if v.is_array() {
            if let Some(p) = json_op_value(std::slice::from_ref(&(v.clone(), pos.clone())), field) {
                return pos.get(&p);
            }
            continue;
        }
        let this = v["kind"] == kind && v["metadata"]["name"] == name;
        if (this || targeted)
            && let Some(at) = pos.get(field)
        {
            return Some(at);
        }
    }
    None
}

/// In a JSON 6902 operation list, the path of the `value` of the last operation whose `path` is `field` (or a
/// parent of it): `[2].value`.
fn json_op_value(docs: &[(Value, Positions)], field: &str) -> Option<String> {
    let (v, _) = docs.first()?;
    let pointer = format!(
        "/{}",
        field
            .replace("].", "/")
            .replace(['[', '.'], "/")
            .trim_end_matches(']')
    );
    let ops = v.as_array()?;
    ops.iter()
        .enumerate()
        .rev()
        .find(|(_, op)| {
            op["path"].as_str().is_some_and(|p| {
                p == pointer || pointer.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
            }) && op.get("value").is_some()
        })
        .map(|(i, _)| format!("[{i}].value"))
}

/// Values that cause a rule's finding on a rendered object, when the user wrote them: `image-flag-unsupported` is
/// the image a pinned `image.tag` runs (its fix is to remove that tag).
const RENDERED_CAUSES: &[(&str, &[&str])] = &[("image-flag-unsupported", &["image.tag", "image"])];

/// The last keys of a field path, longest first, two keys at least and no index: the values a chart commonly copies
/// into the object as they are (`securityContext.readOnlyRootFilesystem`). One key alone (`image`) is too common a
/// word to name the value it came from.
fn value_tails(path: &str) -> Vec<String> {
    let keys: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    for start in 1..keys.len().saturating_sub(1) {
        let tail = &keys[start..];
        if tail.iter().any(|k| k.contains('[') || k.is_empty()) {
            continue;
        }
        out.push(tail.join("."));
    }
    out
}

/// The value at `path` where it is written: `spec.values` wins over every `valuesFrom` source, a later source over an
/// earlier one (helm-controller's merge order). `false` with the `spec.values` line (or the object's) when no source
/// writes it.
fn written_value(
    input: &LintInput,
    files: &mut Files<'_>,
    hr_file: &Option<String>,
    hr: &Doc,
    ns: &str,
    path: &str,
) -> (Placed, bool) {
    let (value, pos) = (hr.value(), hr.pos());
    if let Some(at) = pos.get(&format!("spec.values.{path}")) {
        return ((hr_file.clone(), at), true);
    }
    let refs = value["spec"]["valuesFrom"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for r in refs.iter().rev() {
        let kind = r["kind"].as_str().unwrap_or("");
        let name = r["name"].as_str().unwrap_or("");
        let key = r["valuesKey"].as_str().unwrap_or("values.yaml");
        let target = r["targetPath"].as_str().filter(|t| !t.is_empty());
        if target.is_some_and(|t| t != path) {
            continue;
        }
        // the HelmRelease is read again from its file, where a generated ConfigMap has its generator's name; the
        // built one may carry kustomize's hash suffix (and the built HelmRelease names it so, by nameReference)
        let Some(source) = input.objects.iter().find(|o| {
            o.is("", kind)
                && (o.name() == name || is_hashed_name(o.name(), name))
                && o.namespace().unwrap_or("default") == ns
        }) else {
            continue;
        };
        let (file, id) = (source.file_display(), source.id());
        let Some((moved, cm)) = object_doc(files, &file, &id) else {
            // a ConfigMap a configMapGenerator made: the file its key comes from
            if let Some(placed) = generated(files, &file, name, key, path, target.is_some()) {
                return (placed, true);
            }
            continue;
        };
        let file = moved.unwrap_or(file);
        let cm = cm.pos();
        let Some(node) = cm.node(&format!("data.{key}")).cloned() else {
            continue;
        };
        let key_at = (Some(file.clone()), node.at.unwrap_or_else(|| cm.start()));
        if target.is_some() {
            return (key_at, true);
        }
        if kind == "ConfigMap" {
            let block = node.at.and_then(|k| {
                files
                    .get(&file)
                    .and_then(|parsed| in_literal_block(&parsed.text, k.line, path))
            });
            if let Some(at) = block {
                return ((Some(file), at), true);
            }
        }
        // the source's values hold the path: its data key
        let text = match kind {
            "Secret" => source.value["stringData"][key]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    let b = values_from::decode_base64(source.value["data"][key].as_str()?).ok()?;
                    String::from_utf8(b).ok()
                }),
            _ => source.value["data"][key].as_str().map(str::to_string),
        };
        let holds = text
            .and_then(|t| crate::yaml::parse_documents_with_positions(&t).ok())
            .is_some_and(|d| d.first().is_some_and(|(_, p)| p.get(path).is_some()));
        if holds {
            return (key_at, true);
        }
    }
    (
        (
            hr_file.clone(),
            pos.get("spec.values").unwrap_or_else(|| pos.start()),
        ),
        false,
    )
}

/// `built` is `name` with the suffix kustomize's generators append unless `disableNameSuffixHash`: `-` and ten
/// characters of a hex SHA-256 with `0 1 3 a e` written `g h k m t` (kubernetes-sigs/kustomize kustomize/v5.7.1,
/// api/hasher/hasher.go `Encode`; plugin/builtin/hashtransformer/HashTransformer.go names it `%s-%s`).
fn is_hashed_name(built: &str, name: &str) -> bool {
    built
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|h| h.len() == 10 && h.chars().all(|c| "bcdfghkmt2456789".contains(c)))
}

/// The kustomization files of `file`'s directory (or of `file`, a directory).
fn kustomization_of(file: &str) -> Vec<String> {
    let p = Path::new(file);
    let dir = if ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .any(|n| p.file_name().is_some_and(|f| f == *n))
    {
        return vec![file.to_string()];
    } else if p.extension().is_some() {
        p.parent().unwrap_or(Path::new(""))
    } else {
        p
    };
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| dir.join(n).display().to_string())
        .collect()
}

/// `path` in the file a `configMapGenerator` of the kustomization at `file` reads key `key` of ConfigMap `name`
/// from (`files: [key=path]` or `[path]`, the key then the file's name); with a `targetPath` (`targeted`), the line
/// of that `files` or `literals` entry in the kustomization.
fn generated(
    files: &mut Files<'_>,
    file: &str,
    name: &str,
    key: &str,
    path: &str,
    targeted: bool,
) -> Option<Placed> {
    for kfile in kustomization_of(file) {
        let Some(parsed) = files.get(&kfile) else {
            continue;
        };
        let Some((k, kpos)) = parsed.docs.first() else {
            continue;
        };
        let dir = Path::new(&kfile)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let Some(gens) = k["configMapGenerator"].as_array() else {
            continue;
        };
        for (gi, g) in gens.iter().enumerate() {
            if g["name"] != name {
                continue;
            }
            for (fi, entry) in g["files"].as_array().into_iter().flatten().enumerate() {
                let Some(entry) = entry.as_str() else {
                    continue;
                };
                let (k_name, source) = match entry.split_once('=') {
                    Some((k, s)) => (k.to_string(), s),
                    None => (
                        Path::new(entry)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        entry,
                    ),
                };
                if k_name != key {
                    continue;
                }
                let entry_at = kpos.get(&format!("configMapGenerator[{gi}].files[{fi}]"));
                if targeted {
                    return entry_at.map(|at| (Some(kfile.clone()), at));
                }
                let source = crate::gitops::normalise(&dir.join(source))
                    .display()
                    .to_string();
                let values = files.get(&source)?;
                let at = values.docs.first().and_then(|(_, p)| p.get(path))?;
                return Some((Some(source), at));
            }
            for (li, lit) in g["literals"].as_array().into_iter().flatten().enumerate() {
                if targeted
                    && lit
                        .as_str()
                        .and_then(|l| l.split_once('='))
                        .is_some_and(|(k, _)| k == key)
                {
                    let at = kpos.get(&format!("configMapGenerator[{gi}].literals[{li}]"))?;
                    return Some((Some(kfile.clone()), at));
                }
            }
        }
    }
    None
}

/// `path` inside a literal block scalar (`key: |`) whose key is on line `key_line`: the block's lines are the file's
/// lines after the key's, indented by the block's indentation.
fn in_literal_block(text: &str, key_line: usize, path: &str) -> Option<Pos> {
    let lines: Vec<&str> = text.lines().collect();
    let head = lines.get(key_line.checked_sub(1)?)?.trim_end();
    let indicator = head.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    if !indicator.ends_with('|') {
        return None;
    }
    // the block: the following lines while they are blank or indented deeper than its first non-blank line
    let after = &lines[key_line..];
    let first = after.iter().find(|l| !l.trim().is_empty())?;
    let indent = first.len() - first.trim_start_matches(' ').len();
    if indent == 0 {
        return None;
    }
    let block: Vec<&str> = after
        .iter()
        .take_while(|l| l.trim().is_empty() || l.starts_with(&" ".repeat(indent)))
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect();
    let docs = crate::yaml::parse_documents_with_positions(&block.join("\n")).ok()?;
    let at = docs.first()?.1.get(path)?;
    Some(Pos {
        line: key_line + at.line,
        column: indent + at.column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::Object;
    use crate::rules::input::Release;

    #[test]
    fn values_paths_and_field_paths() {
        assert!(is_values_path("image.tag"));
        assert!(is_values_path("extraVolumes"));
        assert!(!is_values_path("spec.values"));
        assert!(!is_values_path("metadata.labels"));
        assert!(!is_values_path(""));
    }

    /// Issue 19: a field an overlay patches is placed in the patch: an inline strategic-merge `patch:` block, a
    /// JSON 6902 operation list (its `value`), the last patch that writes it; a patch that targets another object,
    /// or does not write the field, is not.
    #[test]
    fn sibling_overlays_each_patch_and_the_finding_quotes_its_value() {
        // fluxcd/flux2-kustomize-helm-example 4f1a5b1: apps/staging and apps/production build apps/base/podinfo
        // and each patches spec.chart.spec.version with its own range
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(root, "apps/base/hr.yaml", HR);
        write(
            root,
            "apps/base/kustomization.yaml",
            "resources:\n  - hr.yaml\n",
        );
        let range = |r: &str| {
            format!(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\nspec:\n  chart:\n    spec:\n      version: \"{r}\"\n"
            )
        };
        for (env, r) in [("production", ">=0.41.0"), ("staging", ">=0.41.0-alpha")] {
            write(
                root,
                &format!("apps/{env}/kustomization.yaml"),
                "resources:\n  - ../base\npatches:\n  - path: values.yaml\n    target:\n      kind: HelmRelease\n",
            );
            write(root, &format!("apps/{env}/values.yaml"), &range(r));
        }
        let mut files = Files::new(root);
        let at = |files: &mut Files<'_>, message: &str| {
            patched_preferring(
                files,
                "apps/base/hr.yaml",
                "HelmRelease/headlamp/headlamp",
                "spec.chart.spec.version",
                message,
            )
            .map(|(f, p)| (f.unwrap(), p.line))
        };
        let production = at(&mut files, "chart headlamp version `>=0.41.0` is a range");
        assert_eq!(
            production,
            Some(("apps/production/values.yaml".to_string(), 8))
        );
        let staging = at(
            &mut files,
            "chart headlamp version `>=0.41.0-alpha` is a range",
        );
        assert_eq!(staging, Some(("apps/staging/values.yaml".to_string(), 8)));
        // no sign in the message: one of the overlays (each writes the field; the base does not)
        let any = at(&mut files, "something else").map(|(f, _)| f);
        assert!(any.is_some_and(|f| f.ends_with("/values.yaml") && !f.contains("base")));
    }

    #[test]
    fn an_overlay_on_a_patching_overlay_is_where_the_value_ends() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(root, "base/hr.yaml", HR);
        write(root, "base/kustomization.yaml", "resources:\n  - hr.yaml\n");
        let patch = |n: u32| {
            format!(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\nspec:\n  values:\n    replicaCount: {n}\n"
            )
        };
        // a/ patches the base; z/ builds on a/ and patches again: z/ is applied last (a/ sorts first, z/ last, and
        // the winner must not depend on that order: b/ below sorts before z/ too)
        write(
            root,
            "a/kustomization.yaml",
            "resources:\n  - ../base\npatches:\n  - path: p.yaml\n",
        );
        write(root, "a/p.yaml", &patch(2));
        write(
            root,
            "b/kustomization.yaml",
            "resources:\n  - ../z\npatches:\n  - path: p.yaml\n",
        );
        write(root, "b/p.yaml", &patch(4));
        write(
            root,
            "z/kustomization.yaml",
            "resources:\n  - ../a\npatches:\n  - path: p.yaml\n",
        );
        write(root, "z/p.yaml", &patch(3));
        let mut files = Files::new(root);
        let placed = patched(
            &mut files,
            "base/hr.yaml",
            "HelmRelease/headlamp/headlamp",
            "spec.values.replicaCount",
        )
        .map(|(f, _)| f.unwrap());
        // b/ builds on z/, which builds on a/: b/'s patch is the one the object ends with
        assert_eq!(placed.as_deref(), Some("b/p.yaml"));
    }

    #[test]
    fn patches_win_over_patches_strategic_merge_as_kustomize_applies_them() {
        // kustomize runs patchesStrategicMerge before patches, whatever their order in the file: the value the
        // object ends with is the `patches` entry's, so the finding goes there
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(root, "base/hr.yaml", HR);
        write(root, "base/kustomization.yaml", "resources:\n  - hr.yaml\n");
        write(
            root,
            "prod/kustomization.yaml",
            "resources:\n  - ../base\npatches:\n  - path: late.yaml\npatchesStrategicMerge:\n  - early.yaml\n",
        );
        let patch = |n: u32| {
            format!(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\nspec:\n  values:\n    replicaCount: {n}\n"
            )
        };
        write(root, "prod/late.yaml", &patch(2));
        write(root, "prod/early.yaml", &patch(3));
        let mut files = Files::new(root);
        let placed = patched(
            &mut files,
            "base/hr.yaml",
            "HelmRelease/headlamp/headlamp",
            "spec.values.replicaCount",
        )
        .map(|(f, p)| (f.unwrap(), p.line));
        assert_eq!(placed, Some(("prod/late.yaml".to_string(), 7)));
    }

    #[test]
    fn a_field_an_overlay_patches_is_placed_in_the_patch() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(root, "base/hr.yaml", HR);
        write(root, "base/kustomization.yaml", "resources:\n  - hr.yaml\n");
        write(
            root,
            "prod/kustomization.yaml",
            "resources:\n  - ../base\npatches:\n  - patch: |\n      apiVersion: helm.toolkit.fluxcd.io/v2\n      kind: HelmRelease\n      metadata:\n        name: headlamp\n      spec:\n        values:\n          replicaCount: 2\n  - path: ops.yaml\n    target:\n      kind: HelmRelease\n      name: head.*\n  - path: other.yaml\n    target:\n      kind: HelmRelease\n      name: other\n",
        );
        write(
            root,
            "prod/ops.yaml",
            "- op: replace\n  path: /spec/values/image/tag\n  value: v0.2.0\n",
        );
        write(
            root,
            "prod/other.yaml",
            "- op: add\n  path: /spec/values/replicaCount\n  value: 3\n",
        );
        let mut files = Files::new(root);
        let hr = "HelmRelease/headlamp/headlamp";
        let at = |files: &mut Files<'_>, field: &str| {
            patched(files, "base/hr.yaml", hr, field).map(|(f, p)| (f.unwrap(), p.line, p.column))
        };
        assert_eq!(
            at(&mut files, "spec.values.replicaCount"),
            Some(("prod/kustomization.yaml".to_string(), 11, 11))
        );
        assert_eq!(
            at(&mut files, "spec.values.image.tag"),
            Some(("prod/ops.yaml".to_string(), 3, 3))
        );
        // what names the patched object, not what the patch sets
        assert_eq!(at(&mut files, "metadata.name"), None);
        assert_eq!(at(&mut files, "spec"), None);
        // written by no patch (the base has it): not placed here
        assert_eq!(at(&mut files, "spec.valuesFrom[0].name"), None);
        // another object's file: no kustomization builds it from there
        assert_eq!(
            patched(
                &mut files,
                "base/other.yaml",
                hr,
                "spec.values.replicaCount"
            ),
            None
        );
        assert!(target_matches(
            &serde_json::json!({"kind": "HelmRelease"}),
            "HelmRelease",
            "x"
        ));
        assert!(!target_matches(
            &serde_json::json!({"kind": "Helm"}),
            "HelmRelease",
            "x"
        ));
    }

    #[test]
    fn a_generated_name_with_kustomizes_hash_suffix() {
        assert!(is_hashed_name("demo-values-6f2k9bm7tc", "demo-values"));
        assert!(!is_hashed_name("demo-values", "demo-values"));
        // not kustomize's alphabet (`a`, `0`), wrong length, another name
        assert!(!is_hashed_name("demo-values-6f2k9bm7ta", "demo-values"));
        assert!(!is_hashed_name("demo-values-6f2k9bm7t", "demo-values"));
        assert!(!is_hashed_name(
            "demo-values-other-6f2k9bm7tc",
            "demo-values"
        ));
    }

    /// Issue 19: an unknown field of a chart-rendered object that the user's values carry there (app-template 2.4.0
    /// renders `controllers.main.pod.securityContext` into the pod's securityContext) is placed at that value's line,
    /// the values path its fix names; one the values do not hold stays at the `spec.values` line.
    #[test]
    fn an_unknown_field_from_the_values_is_placed_at_the_value() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let text = "\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  chart:
    spec:
      chart: app-template
      version: 2.4.0
  values:
    controllers:
      main:
        pod:
          securityContext:
            allowPrivilegeEscalation: false
";
        write(root, "apps/web.yaml", text);
        let hr = Object::plain(
            crate::yaml::parse_documents(text).unwrap().remove(0),
            "apps/web.yaml",
        );
        let mut release = Release::from_object(&hr, None).unwrap();
        let mut deploy = Object::plain(
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
                "spec": {"template": {"spec": {"securityContext": {"allowPrivilegeEscalation": false, "runAsUser": 0}}}}}),
            "apps/web.yaml",
        );
        deploy.origin = crate::gitops::Origin::Rendered {
            release: "apps/web".into(),
            template: None,
        };
        release.rendered.push(deploy);
        let input = LintInput {
            root: root.to_path_buf(),
            objects: vec![hr],
            releases: vec![release],
            ..LintInput::default()
        };
        let place = |path: &str| {
            let mut f = vec![
                Finding::new(
                    crate::rules::manifest_fields::RULE,
                    crate::finding::Severity::Error,
                )
                .file("apps/web.yaml")
                .object("Deployment/apps/web")
                .path(path),
            ];
            locate(&input, &mut f);
            (f[0].line, f[0].column)
        };
        assert_eq!(
            place("spec.template.spec.securityContext.allowPrivilegeEscalation"),
            (Some(16), Some(13))
        );
        assert_eq!(
            place("spec.template.spec.securityContext.runAsUser"),
            (Some(11), Some(3))
        );
    }

    #[test]
    fn the_tails_of_a_field_path_have_two_keys_at_least() {
        assert_eq!(
            value_tails("spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"),
            ["securityContext.readOnlyRootFileSystem"]
        );
        assert_eq!(value_tails("spec.a.b"), ["a.b"]);
        assert!(value_tails("roleRef.name").is_empty());
    }

    #[test]
    fn a_value_in_a_literal_block_is_at_its_file_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  values.yaml: |\n    image:\n      tag: v1\n  other: x\n";
        let at = in_literal_block(text, 4, "image.tag");
        assert_eq!(at, Some(Pos { line: 6, column: 7 }));
        assert_eq!(in_literal_block(text, 4, "nope"), None);
        // not a literal block
        assert_eq!(in_literal_block(text, 7, "image.tag"), None);
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    const HR: &str = "\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
  valuesFrom:
    - kind: ConfigMap
      name: headlamp-values
  values:
    image:
      tag: v0.1.0
";
    const CM: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: headlamp-values
  namespace: headlamp
data:
  values.yaml: |
    config:
      baseURL: /x
";
    const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx
";

    fn input(root: &Path) -> LintInput {
        write(root, "apps/hr.yaml", HR);
        write(root, "apps/cm.yaml", CM);
        write(root, "apps/deploy.yaml", DEPLOY);
        let read = |rel: &str| {
            crate::yaml::parse_documents(&std::fs::read_to_string(root.join(rel)).unwrap())
                .unwrap()
                .remove(0)
        };
        let hr = Object::plain(read("apps/hr.yaml"), "apps/hr.yaml");
        let mut release = Release::from_object(&hr, None).unwrap();
        let mut crb = Object::plain(
            serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "headlamp-admin"}}),
            "apps/hr.yaml",
        );
        crb.origin = crate::gitops::Origin::Rendered {
            release: "headlamp/headlamp".into(),
            template: None,
        };
        release.rendered.push(crb);
        LintInput {
            root: root.to_path_buf(),
            objects: vec![
                hr,
                Object::plain(read("apps/cm.yaml"), "apps/cm.yaml"),
                Object::plain(read("apps/deploy.yaml"), "apps/deploy.yaml"),
            ],
            releases: vec![release],
            ..LintInput::default()
        }
    }

    #[test]
    fn findings_are_placed_alike_on_one_thread_and_on_several() {
        let d = tempfile::tempdir().unwrap();
        let input = input(d.path());
        // more than PARALLEL_FROM findings over the input's files: fields that are there, values, and ones that are not
        let wanted = [
            (
                "apps/hr.yaml",
                "HelmRelease/headlamp/headlamp",
                "spec.chart",
            ),
            ("apps/hr.yaml", "HelmRelease/headlamp/headlamp", "image.tag"),
            (
                "apps/hr.yaml",
                "ClusterRoleBinding/headlamp-admin",
                "roleRef",
            ),
            ("apps/cm.yaml", "ConfigMap/headlamp/headlamp-values", "data"),
            (
                "apps/deploy.yaml",
                "Deployment/apps/web",
                "spec.template.spec.containers[0].image",
            ),
            (
                "apps/deploy.yaml",
                "Deployment/apps/web",
                "spec.nothing.here",
            ),
            ("apps/none.yaml", "Deployment/apps/none", "spec"),
        ];
        let all: Vec<Finding> = (0..3 * PARALLEL_FROM)
            .map(|i| {
                let (file, object, path) = wanted[i % wanted.len()];
                Finding::new("r", crate::finding::Severity::Error)
                    .file(file)
                    .object(object)
                    .path(path)
            })
            .collect();
        let mut one = all.clone();
        locate_with(&input, &mut one, 1, None);
        let mut several = all;
        locate_with(&input, &mut several, 4, None);
        let at = |f: &[Finding]| -> Vec<(String, Option<u32>, Option<u32>)> {
            f.iter()
                .map(|f| (f.file.clone(), f.line, f.column))
                .collect()
        };
        assert_eq!(at(&one), at(&several));
        assert!(one.iter().filter(|f| f.line.is_some()).count() >= 4 * PARALLEL_FROM / 3);
        assert!(
            one.iter().any(|f| f.line.is_none()),
            "a file that is not there places nothing"
        );
    }

    #[test]
    fn files_parsed_ahead_place_findings_as_files_parsed_then() {
        let d = tempfile::tempdir().unwrap();
        let input = input(d.path());
        let all: Vec<Finding> = (0..2 * PARALLEL_FROM)
            .map(|i| {
                let (file, object, path) = [
                    ("apps/hr.yaml", "HelmRelease/headlamp/headlamp", "image.tag"),
                    (
                        "apps/deploy.yaml",
                        "Deployment/apps/web",
                        "spec.template.spec.containers[0].image",
                    ),
                ][i % 2];
                Finding::new("r", crate::finding::Severity::Error)
                    .file(file)
                    .object(object)
                    .path(path)
            })
            .collect();
        let at = |f: &[Finding]| -> Vec<(String, Option<u32>, Option<u32>)> {
            f.iter()
                .map(|f| (f.file.clone(), f.line, f.column))
                .collect()
        };
        let mut then = all.clone();
        locate_with(&input, &mut then, 4, None);
        assert!(then.iter().all(|f| f.line.is_some()));
        for workers in [1, 4] {
            let ahead = preparse(
                input.root.clone(),
                vec!["apps/hr.yaml".into(), "apps/deploy.yaml".into()],
            );
            let mut found = all.clone();
            locate_with(&input, &mut found, workers, ahead.and_then(Preparsed::seed));
            assert_eq!(at(&found), at(&then), "{workers} workers");
        }
        // what was parsed ahead is what places them: the files are gone, the findings are still placed
        let ahead = preparse(input.root.clone(), vec!["apps/deploy.yaml".into()]);
        let seed = ahead.and_then(Preparsed::seed);
        std::fs::remove_file(d.path().join("apps/deploy.yaml")).unwrap();
        let mut found = all.clone();
        locate_with(&input, &mut found, 4, seed);
        assert_eq!(at(&found), at(&then));
        let mut unseeded = all;
        locate_with(&input, &mut unseeded, 4, None);
        assert!(unseeded.iter().any(|f| f.line.is_none()));
    }

    fn placed(
        input: &LintInput,
        file: &str,
        object: &str,
        path: &str,
    ) -> (Option<u32>, Option<u32>) {
        let f = placed_finding(input, file, object, path);
        (f.line, f.column)
    }

    fn placed_finding(input: &LintInput, file: &str, object: &str, path: &str) -> Finding {
        let mut f = vec![
            Finding::new("r", crate::finding::Severity::Error)
                .file(file)
                .object(object)
                .path(path),
        ];
        locate(input, &mut f);
        f.remove(0)
    }

    #[test]
    fn each_kind_of_finding_is_placed_where_the_user_edits_it() {
        let d = tempfile::tempdir().unwrap();
        let input = input(d.path());
        let hr = "HelmRelease/headlamp/headlamp";
        // a value of spec.values: its key
        assert_eq!(
            placed(&input, "apps/hr.yaml", hr, "image.tag"),
            (Some(15), Some(7))
        );
        // a value from valuesFrom: the key inside the ConfigMap's block
        let from = placed_finding(&input, "apps/hr.yaml", hr, "config.baseURL");
        assert_eq!(
            (from.file.as_str(), from.line, from.column),
            ("apps/cm.yaml", Some(9), Some(7))
        );
        assert_eq!(
            placed(&input, "apps/hr.yaml", hr, "image.tag"),
            (Some(15), Some(7))
        );
        // a value nobody wrote: the spec.values line
        assert_eq!(
            placed(&input, "apps/hr.yaml", hr, "nope.x"),
            (Some(13), Some(3))
        );
        // a field of a plain manifest, and a missing one (its deepest written parent)
        let dep = "Deployment/apps/web";
        let image = "spec.template.spec.containers[0].image";
        assert_eq!(
            placed(&input, "apps/deploy.yaml", dep, image),
            (Some(11), Some(11))
        );
        assert_eq!(
            placed(&input, "apps/deploy.yaml", dep, "metadata.labels.app"),
            (Some(3), Some(1))
        );
        // a chart's default object: the HelmRelease's values line
        let crb = "ClusterRoleBinding/headlamp-admin";
        assert_eq!(
            placed(&input, "apps/hr.yaml", crb, "roleRef.name"),
            (Some(13), Some(3))
        );
        // nothing outside the root is read
        assert_eq!(placed(&input, "../x.yaml", dep, "spec"), (None, None));
        assert_eq!(placed(&input, "/etc/passwd", dep, "spec"), (None, None));
    }
}
