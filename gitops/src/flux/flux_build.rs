//! A Flux Kustomization's `spec.path` built as kustomize-controller v1.9.4 builds it when the spec has kustomize
//! features (`patches`, `components`, `patchesStrategicMerge`, `patchesJson6902`, `images`): with the real kustomize.
//!
//! Read in fluxcd/pkg `kustomize/kustomize_generator.go` (`Generator.WriteFile`, `generateKustomization`,
//! `scanManifests`, `SecureBuild`/`Build`):
//! - the kustomization file at `spec.path` is used when there is one; otherwise one is generated whose `resources` are
//!   every `.yaml`/`.yml` file below the path, and each subdirectory holding a kustomization file (not descended);
//! - into it the controller writes `namespace` (`targetNamespace`), `namePrefix`/`nameSuffix`, appends `patches`
//!   (`patch` + `target` selector), `components` (each must be a local relative path, relative to `spec.path`; a
//!   missing one is dropped only with `ignoreMissingComponents`), `patchesStrategicMerge`, `patchesJson6902` (the
//!   patch marshalled to JSON) and merges `images` by name;
//! - it builds with `krusty` and `LoadRestrictions: LoadRestrictionsNone` on a secure filesystem rooted at the source
//!   artifact: files outside the kustomization directory are allowed, files outside the source root are not.
//!
//! Here the kustomization is written as the controller writes it, its graph is checked and mirrored into a sandbox
//! ([`crate::kustomize::sandbox`]: nothing outside the repository is read, no remote base is fetched unless asked, the user's
//! tree is never written), and `kubectl kustomize --load-restrictor LoadRestrictionsNone` builds it there. `buildMetadata: [originAnnotations]` is added so that each object names the file it came from; the
//! annotation is removed again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::kustomize::paths::KUSTOMIZATION_NAMES;
use crate::kustomize::{build_cache, flux_patch, kustomize_here, paths, sandbox};

pub use crate::kustomize::flux_patch::features;

/// One object kustomize built: its value (origin annotation removed), the file it came from (relative to the
/// GitOps root), and its YAML text as kustomize wrote it (what kustomize-controller substitutes variables in: the
/// quoting of the source survives there, so `"${PORT}"` stays a string and `replicas: ${N}` becomes a number).
/// `None` for an object built here ([`crate::kustomize::kustomize_here`]): kustomize's text is a function of the value
/// (`JSONToYAML` of its JSON), written when postBuild needs it ([`super::substitute::post_build_with`]), not for
/// every object.
pub struct Built {
    pub value: Value,
    pub file: Option<PathBuf>,
    pub text: Option<String>,
}

const ORIGIN: &str = "config.kubernetes.io/origin";

/// A build: its objects, and the remote bases left out of it ([`crate::kustomize::sandbox::Refusal::RemoteSkipped`], files
/// relative to the GitOps root).
pub struct BuildOutput {
    pub objects: Vec<Built>,
    pub skipped: Vec<sandbox::Problem>,
    /// The kustomization files on disk that the build read (relative to the GitOps root when inside it): a
    /// namespace directory's `kustomization.yaml` under a generated one is deployed, though no object names it as
    /// its origin.
    pub kustomizations: Vec<PathBuf>,
}

/// Why a build did not happen.
#[derive(Debug)]
pub enum BuildError {
    /// kubectl could not be started (not installed, not executable).
    NoKubectl(String),
    /// The spec is one kustomize-controller refuses, or kustomize failed on it.
    Failed(String),
    /// A reference of the kustomization graph was refused before kustomize ran ([`crate::kustomize::sandbox`]): the problems
    /// (files relative to the GitOps root), at least one fatal.
    Refused(Vec<sandbox::Problem>),
}

/// Where the builds of one load happen: the GitOps directory `real_root` inside the repository `repo_root` (both
/// canonical). Each build resolves its kustomization graph and builds in a mirror of what it names
/// ([`crate::kustomize::sandbox`]): nothing outside the repository is read, and the user's tree is never written.
pub struct Workspace {
    real_root: PathBuf,
    repo_root: PathBuf,
    /// The files the builds here parsed ([`crate::kustomize::kustomize_here`]), shared by the workers.
    docs: kustomize_here::DocCache,
}

impl Workspace {
    pub fn new(real_root: &Path) -> Workspace {
        let repo_root = crate::flux::flux_kustomization::repository_root(real_root);
        let repo_root = if real_root.starts_with(&repo_root) {
            repo_root
        } else {
            real_root.to_path_buf()
        };
        Workspace {
            real_root: real_root.to_path_buf(),
            repo_root,
            docs: Default::default(),
        }
    }

    /// Build `rel` (a directory relative to the GitOps root) with the Flux Kustomization `spec`. Returns each object
    /// with the file it came from (relative to the GitOps root), when kustomize named one.
    pub fn build(&self, rel: &Path, spec: &Value) -> Built_ {
        let dir = self.real_root.join(rel);
        let real_dir = dir
            .canonicalize()
            .map_err(|e| BuildError::Failed(format!("{}: {e}", rel.display())))?;
        let Ok(start) = real_dir
            .strip_prefix(&self.repo_root)
            .map(Path::to_path_buf)
        else {
            return Err(BuildError::Failed(format!(
                "{} resolves outside the repository",
                rel.display()
            )));
        };
        let present: Vec<&str> = KUSTOMIZATION_NAMES
            .iter()
            .copied()
            .filter(|n| real_dir.join(n).is_file())
            .collect();
        if present.len() > 1 {
            return Err(BuildError::Failed(format!(
                "{} holds more than one kustomization file ({}): kustomize refuses it",
                rel.display(),
                present.join(", ")
            )));
        }
        let (name, mut kus) = match present.first() {
            Some(name) => {
                let f = real_dir.join(name);
                let text = crate::files::read_text(&f).map_err(|e| {
                    BuildError::Failed(format!("reading {}: {e}", rel.join(name).display()))
                })?;
                let doc: Value = headlamp_e2e_yaml::from_norway_str(&text).map_err(|e| {
                    BuildError::Failed(format!("{} is not a kustomization: {e}", rel.display()))
                })?;
                let Value::Object(map) = doc else {
                    return Err(BuildError::Failed(format!(
                        "{} is not a kustomization (not a mapping)",
                        rel.display()
                    )));
                };
                (*name, map)
            }
            None => {
                let mut resources = Vec::new();
                let mut seen = BTreeSet::new();
                scan_manifests(
                    &self.repo_root,
                    &real_dir,
                    &real_dir,
                    &mut resources,
                    &mut seen,
                )
                .map_err(|e| BuildError::Failed(format!("scanning {}: {e}", rel.display())))?;
                let mut map = Map::new();
                map.insert(
                    "apiVersion".into(),
                    "kustomize.config.k8s.io/v1beta1".into(),
                );
                map.insert("kind".into(), "Kustomization".into());
                map.insert("resources".into(), resources.into());
                ("kustomization.yaml", map)
            }
        };
        merge_spec(&mut kus, spec, &real_dir)?;
        let metadata = kus
            .entry("buildMetadata")
            .or_insert_with(|| Value::Array(vec![]));
        if let Some(list) = metadata.as_array_mut()
            && !list.iter().any(|v| v == "originAnnotations")
        {
            list.push("originAnnotations".into());
        }
        if flux_patch::patches_in_process() {
            match kustomize_here::build_cached(&self.repo_root, &start, &kus, &self.docs) {
                Ok(here) => {
                    tracing::debug!(path = %rel.display(), "built without kustomize");
                    return Ok(self.built_here(rel, here));
                }
                Err(flux_patch::Declined(why)) => {
                    tracing::debug!(path = %rel.display(), "built with kustomize: {}", crate::redact::redact(&why));
                }
            }
        }
        let prepared = sandbox::prepare(&self.repo_root, &start, Some((name, kus)));
        if prepared.sandbox.is_none() && prepared.cached.is_none() {
            return Err(BuildError::Refused(
                prepared
                    .problems
                    .into_iter()
                    .map(|mut p| {
                        p.file = self.shown(&p.file);
                        p
                    })
                    .collect(),
            ));
        }
        let (sandbox, cached) = (prepared.sandbox, prepared.cached);
        let skipped: Vec<sandbox::Problem> = prepared
            .problems
            .into_iter()
            .map(|mut p| {
                p.file = self.shown(&p.file);
                p
            })
            .collect();
        let kustomizations: Vec<PathBuf> = prepared
            .kustomizations
            .iter()
            .map(|k| self.shown(k))
            .collect();
        let text = match (sandbox, cached) {
            (Some(sandbox), _) => {
                let root = format!("{}/", sandbox.root().display());
                let out = run_kustomize(&sandbox).map_err(|e| match e {
                    // the temporary directory means nothing to the user: paths are shown relative to the repository
                    BuildError::Failed(m) => BuildError::Failed(m.replace(&root, "")),
                    other => other,
                });
                drop(sandbox);
                out?
            }
            (None, cached) => cached.unwrap_or_default(),
        };
        let mut built = Vec::new();
        for doc_text in split_documents(&text) {
            let docs = crate::yaml::parse_yaml_documents(&doc_text, &rel.join("kustomize build"))
                .map_err(|e| BuildError::Failed(e.to_string()))?;
            for mut doc in docs {
                let origin = take_origin(&mut doc);
                let file = origin.map(|o| paths::normalise(&rel.join(o)));
                built.push(Built {
                    value: doc,
                    file,
                    text: Some(doc_text.clone()),
                });
            }
        }
        Ok(BuildOutput {
            objects: built,
            skipped,
            kustomizations,
        })
    }

    /// The output of a build here ([`crate::kustomize::kustomize_here`]) as kustomize's is read: each object named by its
    /// origin (relative to `rel`); no text (what kustomize writes is a function of the value, `JSONToYAML` of its
    /// JSON: written from the value when postBuild needs it).
    fn built_here(&self, rel: &Path, here: kustomize_here::Built) -> BuildOutput {
        let objects = here
            .objects
            .into_iter()
            .map(|o| Built {
                text: None,
                file: o.origin.map(|f| paths::normalise(&rel.join(f))),
                value: o.value,
            })
            .collect();
        BuildOutput {
            objects,
            skipped: Vec::new(),
            kustomizations: here.kustomizations.iter().map(|k| self.shown(k)).collect(),
        }
    }

    /// A path relative to the repository root, shown relative to the GitOps root when it is inside it.
    fn shown(&self, rel_to_repo: &Path) -> PathBuf {
        let abs = self.repo_root.join(rel_to_repo);
        abs.strip_prefix(&self.real_root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| rel_to_repo.to_path_buf())
    }
}

/// `kubectl kustomize --load-restrictor LoadRestrictionsNone DIR` (`$KUBECTL_BIN`, else `kubectl` on PATH): how
/// kustomize-controller builds (files outside the kustomization's directory are allowed; lint reports them as
/// `kustomize-resource-outside-root`), for every kustomize build lint runs.
pub fn kustomize_cmd(dir: &Path) -> crate::process::Cmd {
    let kubectl = std::env::var_os("KUBECTL_BIN").unwrap_or_else(|| "kubectl".into());
    crate::process::Cmd::new(kubectl)
        .arg("kustomize")
        .arg("--load-restrictor")
        .arg("LoadRestrictionsNone")
        .arg(dir)
        .short_lived_go()
}

/// The builds of one load, run by worker threads (as many as the machine has cores: a build is one short-lived
/// `kubectl kustomize` process, CPU-bound) that share one [`Workspace`] setup (each build in a sandbox of its own,
/// removed when it is done). A build can be asked for ahead ([`Builder::prefetch`]: when the loader knows the spec
/// Flux applies, before it gets to the Kustomization), so kustomize already runs while the loader reads the rest and
/// lint's renders run; the loader then takes the result ([`Builder::build`]). Builds asked for ahead and never taken
/// are skipped once the builder is dropped (the workers are told to stop, and waited for, so no sandbox outlives the
/// load).
pub struct Builder {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    pending: std::collections::HashMap<(PathBuf, String), std::sync::mpsc::Receiver<Built_>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

type Built_ = Result<BuildOutput, BuildError>;

struct Job {
    rel: PathBuf,
    spec: Value,
    reply: std::sync::mpsc::Sender<Built_>,
}

static PARALLEL_BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many builds run at once: one per core (`available_parallelism`), at most 16, unless set
/// ([`set_parallel_builds`]).
pub fn parallel_builds() -> usize {
    match PARALLEL_BUILDS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, 16),
        n => n,
    }
}

/// Run at most `n` builds at once (0: one per core).
pub fn set_parallel_builds(n: usize) {
    PARALLEL_BUILDS.store(n, std::sync::atomic::Ordering::Relaxed);
}

impl Builder {
    /// A builder for the GitOps directory `real_root` (nothing is copied until the first build), with
    /// [`parallel_builds`] workers.
    pub fn new(real_root: &Path) -> Builder {
        Builder::with_workers(real_root, parallel_builds())
    }

    /// A builder with `n` (≥ 1) workers.
    pub fn with_workers(real_root: &Path, n: usize) -> Builder {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ws = std::sync::Arc::new(Workspace::new(real_root));
        let workers = (0..n.max(1))
            .filter_map(|i| {
                let rx = rx.clone();
                let stopped = stop.clone();
                let ws = ws.clone();
                std::thread::Builder::new()
                    .name(format!("flux-build-{i}"))
                    .spawn(move || {
                        loop {
                            // the lock is held only while waiting for the next job
                            let job = match rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => break,
                            };
                            let Ok(job) = job else { break };
                            if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                                break;
                            }
                            let _ = job.reply.send(ws.build(&job.rel, &job.spec));
                        }
                    })
                    .ok()
            })
            .collect();
        Builder {
            jobs: Some(tx),
            pending: std::collections::HashMap::new(),
            stop,
            workers,
        }
    }

    fn key(rel: &Path, spec: &Value) -> (PathBuf, String) {
        (rel.to_path_buf(), spec.to_string())
    }

    /// Start building `rel` with `spec` (if it is not already asked for).
    pub fn prefetch(&mut self, rel: &Path, spec: &Value) {
        self.prefetch_keyed(Self::key(rel, spec), spec);
    }

    /// [`Self::prefetch`] of the build whose key ([`Self::key`]) is `key`: the spec is written out once.
    fn prefetch_keyed(&mut self, key: (PathBuf, String), spec: &Value) {
        if self.pending.contains_key(&key) {
            return;
        }
        let (reply, result) = std::sync::mpsc::channel();
        let job = Job {
            rel: key.0.clone(),
            spec: spec.clone(),
            reply,
        };
        if self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok()) {
            self.pending.insert(key, result);
        }
    }

    /// The build of `rel` with `spec` ([`Workspace::build`]): the one asked for ahead, else built now.
    pub fn build(&mut self, rel: &Path, spec: &Value) -> Built_ {
        let key = Self::key(rel, spec);
        self.prefetch_keyed(key.clone(), spec);
        let lost = || BuildError::Failed("the build threads stopped".into());
        match self.pending.remove(&key) {
            Some(result) => result.recv().unwrap_or_else(|_| Err(lost())),
            None => Err(lost()),
        }
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn run_kustomize(sandbox: &sandbox::Sandbox) -> Result<String, BuildError> {
    let mut cmd = kustomize_cmd(&sandbox.start());
    if sandbox.fetches {
        // --allow-remote-bases: every build that fetches shares one deadline
        cmd = cmd.timeout(sandbox::remote_time_left().max(Duration::from_secs(1)));
    }
    let out = build_cache::run(sandbox.content_key.as_deref(), cmd);
    match out {
        Err(e @ crate::process::ProcessError::Spawn { .. }) => {
            Err(BuildError::NoKubectl(e.to_string()))
        }
        Err(e) => Err(BuildError::Failed(e.to_string())),
        Ok(o) if !o.success() => Err(BuildError::Failed(o.complaint())),
        Ok(o) => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
    }
}

fn is_local_relative(p: &str) -> bool {
    !(p.is_empty() || p.starts_with('/') || p.contains("://") || p.starts_with("github.com/"))
}

/// Write what `Generator.WriteFile` writes into the kustomization.
fn merge_spec(kus: &mut Map<String, Value>, spec: &Value, dir: &Path) -> Result<(), BuildError> {
    if let Some(ns) = spec["targetNamespace"].as_str() {
        kus.insert("namespace".into(), ns.into());
    }
    for (field, key) in [("namePrefix", "namePrefix"), ("nameSuffix", "nameSuffix")] {
        if let Some(v) = spec[field].as_str().filter(|v| !v.is_empty()) {
            kus.insert(key.into(), v.into());
        }
    }
    let push = |kus: &mut Map<String, Value>, key: &str, v: Value| {
        let entry = kus
            .entry(key.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if !entry.is_array() {
            *entry = Value::Array(vec![]);
        }
        if let Some(list) = entry.as_array_mut() {
            list.push(v);
        }
    };
    for p in spec["patches"].as_array().into_iter().flatten() {
        let mut patch = Map::new();
        if let Some(text) = p["patch"].as_str() {
            patch.insert("patch".into(), text.into());
        }
        if p["target"].is_object() {
            patch.insert("target".into(), selector(&p["target"]));
        }
        push(kus, "patches", Value::Object(patch));
    }
    let ignore_missing = spec["ignoreMissingComponents"].as_bool().unwrap_or(false);
    for c in spec["components"].as_array().into_iter().flatten() {
        let Some(c) = c.as_str() else {
            return Err(BuildError::Failed(
                "spec.components holds a value that is not a string".into(),
            ));
        };
        if !is_local_relative(c) {
            return Err(BuildError::Failed(format!(
                "component path '{c}' must be local and relative"
            )));
        }
        if ignore_missing && !dir.join(c).exists() {
            continue;
        }
        push(kus, "components", c.into());
    }
    for p in spec["patchesStrategicMerge"]
        .as_array()
        .into_iter()
        .flatten()
    {
        // kustomize takes an inline strategic-merge patch as a YAML (JSON) string
        push(kus, "patchesStrategicMerge", p.to_string().into());
    }
    for p in spec["patchesJson6902"].as_array().into_iter().flatten() {
        let mut patch = Map::new();
        patch.insert("patch".into(), p["patch"].to_string().into());
        patch.insert("target".into(), selector(&p["target"]));
        push(kus, "patchesJson6902", Value::Object(patch));
    }
    for image in spec["images"].as_array().into_iter().flatten() {
        let mut new = Map::new();
        for k in ["name", "newName", "newTag", "digest"] {
            if let Some(v) = image[k].as_str().filter(|v| !v.is_empty()) {
                new.insert(k.into(), v.into());
            }
        }
        let entry = kus
            .entry("images".to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if let Some(list) = entry.as_array_mut() {
            match list.iter_mut().find(|i| i["name"] == image["name"]) {
                Some(existing) => *existing = Value::Object(new),
                None => list.push(Value::Object(new)),
            }
        }
    }
    Ok(())
}

/// `adaptSelector`: Flux's selector fields are kustomize's.
fn selector(target: &Value) -> Value {
    let mut s = Map::new();
    for k in [
        "group",
        "version",
        "kind",
        "name",
        "namespace",
        "labelSelector",
        "annotationSelector",
    ] {
        if let Some(v) = target[k].as_str().filter(|v| !v.is_empty()) {
            s.insert(k.into(), v.into());
        }
    }
    Value::Object(s)
}

/// `scanManifests`: every YAML file below `dir`, and each subdirectory with a kustomization file (not descended).
/// Hidden entries are left out, as the directory walk of this tool leaves them out. A symlink is followed only
/// inside the repository `repo_root` (one that leaves it is listed, and refused by the sandbox, naming it), and
/// each real directory is scanned once (a symlink loop ends).
fn scan_manifests(
    repo_root: &Path,
    base: &Path,
    dir: &Path,
    out: &mut Vec<Value>,
    seen: &mut BTreeSet<PathBuf>,
) -> std::io::Result<()> {
    let real = dir.canonicalize()?;
    if !real.starts_with(repo_root)
        || !seen.insert(real)
        || seen.len() > sandbox::MAX_SANDBOX_ENTRIES
    {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        let rel = || format!("./{}", p.strip_prefix(base).unwrap_or(&p).display());
        let inside = p.canonicalize().is_ok_and(|r| r.starts_with(repo_root));
        if !inside {
            if is_yaml_name(&p) {
                out.push(rel().into());
            }
            continue;
        }
        if p.is_dir() {
            if KUSTOMIZATION_NAMES.iter().any(|n| p.join(n).is_file()) {
                out.push(rel().into());
            } else {
                scan_manifests(repo_root, base, &p, out, seen)?;
            }
        } else if is_yaml_name(&p) {
            out.push(rel().into());
        }
    }
    Ok(())
}

fn is_yaml_name(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// kustomize's output, one text per document (it separates them with `---` lines).
fn split_documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line == "---" {
            docs.push(String::new());
        } else if let Some(last) = docs.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    docs.retain(|d| !d.trim().is_empty());
    docs
}

/// Remove the origin annotation kustomize added; return its `path`.
pub(super) fn take_origin(doc: &mut Value) -> Option<PathBuf> {
    // `get_mut`, not indexing: indexing a missing key inserts a null (`annotations: null` where there was none)
    let annotations = doc
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)?;
    let origin = annotations.remove(ORIGIN)?;
    if annotations.is_empty()
        && let Some(m) = doc["metadata"].as_object_mut()
    {
        m.remove("annotations");
    }
    let parsed: Value = headlamp_e2e_yaml::from_norway_str(origin.as_str()?).ok()?;
    parsed["path"].as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_asked_for_ahead_are_the_builds_and_each_spec_gets_its_own() {
        let root = crate::test_support::project_root().join("fixtures/gitops");
        let rel = Path::new("apps/base/headlamp");
        if let Err(e) = kustomize_cmd(&root.join(rel)).run_blocking() {
            crate::test_support::skip::<()>(&format!("kubectl cannot run: {e}"));
            return;
        }
        let replicas = |n: u32| {
            serde_json::json!({"path": "./apps/base/headlamp", "patches": [{
                "target": {"kind": "Deployment", "name": "cloudflared"},
                "patch": format!("- op: replace\n  path: /spec/replicas\n  value: {n}\n"),
            }]})
        };
        let of = |built: BuildOutput| {
            built
                .objects
                .into_iter()
                .find(|b| {
                    b.value["metadata"]["name"] == "cloudflared" && b.value["kind"] == "Deployment"
                })
                .map(|b| b.value["spec"]["replicas"].clone())
        };
        let real = root.canonicalize().unwrap();
        let mut b = Builder::new(&real);
        b.prefetch(rel, &replicas(0));
        b.prefetch(rel, &replicas(0)); // asked twice: built once, taken once
        b.prefetch(rel, &replicas(2));
        // taken in another order than asked: each spec gets its own build
        assert_eq!(of(b.build(rel, &replicas(2)).unwrap()), Some(2.into()));
        assert_eq!(of(b.build(rel, &replicas(0)).unwrap()), Some(0.into()));
        // not asked ahead: built on demand; each build had a sandbox of its own
        assert_eq!(of(b.build(rel, &replicas(3)).unwrap()), Some(3.into()));
        // one asked for and never taken: dropping the builder stops its worker and waits for it (no hang)
        b.prefetch(rel, &replicas(4));
        drop(b);
    }

    #[test]
    fn the_spec_is_written_as_the_controller_writes_it() {
        let mut kus = Map::new();
        kus.insert("resources".into(), serde_json::json!(["a.yaml"]));
        kus.insert(
            "images".into(),
            serde_json::json!([{"name": "nginx", "newTag": "1"}]),
        );
        let spec = serde_json::json!({
            "targetNamespace": "tools",
            "patches": [{"patch": "- op: remove\n  path: /x\n", "target": {"kind": "Deployment", "name": "d", "labelSelector": "a=b"}}],
            "components": ["../ingress"],
            "images": [{"name": "nginx", "newTag": "2"}, {"name": "redis", "newName": "r"}],
        });
        merge_spec(&mut kus, &spec, Path::new("/nonexistent")).unwrap();
        let v = Value::Object(kus);
        assert_eq!(v["namespace"], "tools");
        assert_eq!(
            v["patches"][0]["target"],
            serde_json::json!({"kind": "Deployment", "name": "d", "labelSelector": "a=b"})
        );
        assert_eq!(v["components"], serde_json::json!(["../ingress"]));
        // images merge by name: the spec's entry replaces the kustomization's
        assert_eq!(
            v["images"],
            serde_json::json!([{"name": "nginx", "newTag": "2"}, {"name": "redis", "newName": "r"}])
        );
    }

    #[test]
    fn components_must_be_local_and_relative() {
        let mut kus = Map::new();
        let spec = serde_json::json!({"components": ["/abs/comp"]});
        let Err(BuildError::Failed(m)) = merge_spec(&mut kus, &spec, Path::new("/x")) else {
            panic!("accepted an absolute component");
        };
        assert!(m.contains("must be local and relative"), "{m}");
        // a missing component is dropped only with ignoreMissingComponents
        let d = tempfile::tempdir().unwrap();
        let spec = serde_json::json!({"components": ["../nope"], "ignoreMissingComponents": true});
        merge_spec(&mut kus, &spec, d.path()).unwrap();
        assert!(kus.get("components").is_none());
    }

    #[test]
    fn origin_annotation_names_the_file_and_is_removed() {
        let mut doc: Value = serde_norway::from_str(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    config.kubernetes.io/origin: |\n      path: ../base/cm.yaml\n",
        )
        .unwrap();
        assert_eq!(
            take_origin(&mut doc),
            Some(PathBuf::from("../base/cm.yaml"))
        );
        assert!(doc["metadata"].get("annotations").is_none());
    }
}
