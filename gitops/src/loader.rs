//! The loader: reads a GitOps directory the way Flux's kustomize-controller does ([`load`] and its variants), the
//! directory walk and its kustomize builds here, the following of Flux Kustomizations in [`follow`].

pub mod big_files;
mod follow;
pub mod identity;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
use crate::flux::flux_build;
use crate::flux::flux_kustomization::repository_root;
use crate::kustomize::flux_patch::patches_in_process;
use crate::kustomize::paths::{KUSTOMIZATION_NAMES, is_yaml, normalise};
use crate::kustomize::{build_cache, flux_patch, kustomize_here, sandbox};
use crate::objects::object::Object;
use crate::objects::tree::Tree;
use crate::yaml::{parse_yaml_documents, yaml_error};

/// Rule of the findings on a kustomization file that loads a file from outside its own directory.
pub const OUTSIDE_ROOT_RULE: &str = "kustomize-resource-outside-root";

/// Rule of the findings on a kustomization that is not built as written: kustomize cannot build it, or lint refused
/// a reference of it before kustomize ran ([`sandbox`]).
pub const KUSTOMIZATION_BUILD_RULE: &str = "kustomization-build";

/// How many times one Flux Kustomization (by id) is followed with a spec not seen before: a Kustomization read
/// again through its own path with a changed spec ends there ([`Loader::flux_kustomizations`]).
pub const MAX_FLUX_ROUNDS: usize = 4;

/// Rule of the one `info` finding naming the files no Flux Kustomization deploys (not linted).
pub const NOT_DEPLOYED_RULE: &str = "gitops-not-deployed";

/// Rule of the `info` findings on a Flux Kustomization whose path is outside the GitOps directory (not followed).
pub const NOT_FOLLOWED_RULE: &str = "gitops-not-followed";

/// Rule of the findings on a Flux Kustomization whose path does not build with its kustomize features.
pub const FLUX_BUILD_RULE: &str = "flux-kustomization-build";

/// Rule of the `info` findings on a Flux Kustomization whose source lint cannot read (an ExternalArtifact, an
/// OCIRepository, a Bucket): what it deploys is not checked.
pub const OTHER_SOURCE_RULE: &str = "flux-source-not-read";

/// Read the GitOps directory `root`.
///
/// A hostile tree cannot make this loop, hang or read outside `root`: directories are walked by their canonical path
/// (each real directory once, so symlink loops end), a symlink or kustomization resource that resolves outside `root`
/// is skipped with a warning, anything that is not a regular file or a directory (a FIFO, a device) is skipped with a
/// warning, and one file is read up to [`crate::files::MAX_FILE_BYTES`] (larger is an error).
///
/// A file that is not valid YAML is an error here; [`load_each`] reads the others and lists it instead.
pub fn load(root: &Path) -> Result<Tree> {
    let mut tree = load_each(root)?;
    if tree.unreadable.is_empty() {
        Ok(tree)
    } else {
        Err(tree.unreadable.swap_remove(0))
    }
}

/// [`load`], where a file (or kustomization) that is not valid YAML is left out and listed in
/// [`Tree::unreadable`]: one bad file never stops the others from being read.
pub fn load_each(root: &Path) -> Result<Tree> {
    load_each_then(root, |_| ())
}

/// [`load_each`], calling `walked` with the tree as the directory walk read it, before the Flux Kustomizations'
/// `spec.path`s are followed (the part that may run kustomize for each of them): lint starts the renders it can
/// already predict from there ([`crate::lint::ahead`]).
pub fn load_each_then(root: &Path, walked: impl FnOnce(&Tree)) -> Result<Tree> {
    load_each_watching(root, walked, &mut |_| ())
}

/// [`load_each_then`], calling `followed` with the objects of each Flux Kustomization's path as Flux applies them
/// (built, patched, substituted), as soon as that path is read: lint fetches their charts while the others are read.
/// An object given there may still leave the tree (a duplicate, a file no Kustomization deploys).
pub fn load_each_watching(
    root: &Path,
    walked: impl FnOnce(&Tree),
    followed: &mut dyn FnMut(&[Object]),
) -> Result<Tree> {
    if !root.is_dir() {
        return Err(Error::GitopsDirMissing(root.to_path_buf()));
    }
    let real_root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let mut loader = Loader::new(root, real_root);
    loader.big = Some(std::rc::Rc::new(big_files::BigFiles::start(
        &loader.real_root,
    )));
    loader.included = identity::included_bases(&loader.real_root);
    loader.read_dir_tree(root)?;
    // the renders lint predicts are started first (the longest chain), then the builds
    walked(&loader.tree);
    let walked_ks = loader.prefetch_flux_builds();
    loader.flux_kustomizations(walked_ks, followed)?;
    let mut tree = loader.tree;
    identity::dedup(&mut tree.objects);
    tree.findings.dedup();
    Ok(tree)
}

/// `rel` (relative to the repository root `repo_root`) relative to the GitOps directory `real_root` when it is inside
/// it, else as it is.
fn shown_in(repo_root: &Path, real_root: &Path, rel: &Path) -> PathBuf {
    repo_root
        .join(rel)
        .strip_prefix(real_root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| rel.to_path_buf())
}

struct Loader {
    root: PathBuf,
    /// `root`, symlinks resolved.
    real_root: PathBuf,
    /// The repository root (`.git` top level at or above `real_root`, else `real_root`), symlinks resolved: nothing
    /// outside it is read. `--gitops` says where to start, not where the repository ends: an overlay passed directly
    /// (`apps/production/headlamp` with `resources: [../../base/headlamp]`) reads its base, as kustomize and
    /// kustomize-controller (whose filesystem is rooted at the source artifact, fluxcd/pkg `kustomize/filesys`) do.
    bound: PathBuf,
    tree: Tree,
    /// Files read, by canonical path.
    seen: BTreeSet<PathBuf>,
    /// Directories walked, by canonical path.
    dirs: BTreeSet<PathBuf>,
    /// The documents of each file parsed so far in this load, by canonical path, shared with the sub-loaders: a
    /// file that a Flux Kustomization's path reads again (`clusters/home` holding `gotk-components.yaml`) is parsed
    /// once.
    parsed: std::rc::Rc<std::cell::RefCell<HashMap<PathBuf, Vec<Value>>>>,
    /// Directories with a kustomization file that another kustomization in the tree includes (`resources:
    /// [../base]`, `components:`), by canonical path: not read again as roots of their own
    /// ([`identity::included_bases`]).
    included: BTreeSet<PathBuf>,
    /// For a sub-loader whose objects kustomize built: each object's YAML text as kustomize wrote it (the text Flux
    /// substitutes variables in), by index of `tree.objects`; empty when the objects were read here.
    texts: Vec<Option<String>>,
    /// Builds the Flux Kustomizations with kustomize features in a copy of the GitOps directory (made on first use).
    builder: Option<flux_build::Builder>,
    /// `--allow-remote-bases`: the kustomize builds that fetch a remote base, running on threads of their own while
    /// the walk goes on (at most [`MAX_REMOTE_BUILDS`] at once, all within [`sandbox::REMOTE_DEADLINE`]); their
    /// objects are taken, in the order they were started, when the walk that started them ends
    /// ([`Self::read_dir_tree`]).
    remote_builds: std::collections::VecDeque<RemoteBuild>,
    /// False while a Flux Kustomization's path is read to apply its patches here ([`flux_patch`]): a kustomization
    /// that needs kustomize is then not built, only noted in `declined_kustomize` (the caller builds the whole path
    /// with kustomize instead).
    kustomize_allowed: bool,
    declined_kustomize: bool,
    /// The files the walk's builds here parsed ([`kustomize_here`]), shared with the sub-loaders.
    docs: std::sync::Arc<kustomize_here::DocCache>,
    /// Files (as the tree names them) whose walked objects stand for this sub-load: not read again, only listed in
    /// `kept` ([`Self::flux_kustomizations`], a path read as it is).
    keep: BTreeSet<PathBuf>,
    kept: BTreeSet<PathBuf>,
    /// The big files, parsed on another thread while this (the directory walk) reads the rest.
    big: Option<std::rc::Rc<big_files::BigFiles>>,
}

/// How many kustomize builds that fetch remote bases run at once (`--allow-remote-bases`): they wait on the network,
/// not on the CPU.
const MAX_REMOTE_BUILDS: usize = 8;

/// A kustomize build that fetches a remote base, started on a thread of its own ([`Loader::kustomize`]).
struct RemoteBuild {
    rel: PathBuf,
    features: String,
    /// The sandbox's root as kustomize's messages show it (removed from them).
    mirror: String,
    /// The build's result; the thread owns the sandbox and removes it when the build ends.
    handle: std::thread::JoinHandle<
        std::result::Result<crate::process::Output, crate::process::ProcessError>,
    >,
}

/// What a path in the tree is, after resolving symlinks.
enum Entry {
    Dir(PathBuf),
    File(PathBuf),
    Skip,
}

#[derive(Deserialize)]
struct KustomizationFile {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// Keys a kustomization may have that we can read without kustomize (they do not change the objects).
const PLAIN_KUSTOMIZATION_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

impl Loader {
    /// A loader of the GitOps directory `root` (`real_root`: its canonical path) that has read nothing yet.
    fn new(root: &Path, real_root: PathBuf) -> Loader {
        let bound = repository_root(&real_root);
        Loader::within(root, real_root, bound)
    }

    /// [`Self::new`], in the repository root `bound` (found once: a sub-loader is made for each Flux Kustomization).
    fn within(root: &Path, real_root: PathBuf, bound: PathBuf) -> Loader {
        Loader {
            root: root.to_path_buf(),
            bound,
            real_root,
            tree: Tree {
                root: root.to_path_buf(),
                ..Tree::default()
            },
            seen: BTreeSet::new(),
            dirs: BTreeSet::new(),
            parsed: Default::default(),
            included: BTreeSet::new(),
            texts: Vec::new(),
            builder: None,
            remote_builds: Default::default(),
            kustomize_allowed: true,
            declined_kustomize: false,
            docs: Default::default(),
            keep: BTreeSet::new(),
            kept: BTreeSet::new(),
            big: None,
        }
    }
    /// `p` relative to the GitOps root, lexically normalised (`app/./helmrelease.yaml` → `app/helmrelease.yaml`,
    /// `a/../b` → `b`): the name findings show.
    fn rel(&self, p: &Path) -> PathBuf {
        normalise(p.strip_prefix(&self.root).unwrap_or(p))
    }

    /// A file that is not valid YAML: listed, and the walk goes on.
    fn unreadable(&mut self, e: Error) -> Result<()> {
        tracing::debug!("{e}");
        self.tree.unreadable.push(e);
        Ok(())
    }

    fn warn(&mut self, message: String) {
        // file names come from the tree: no control character reaches a terminal
        let message = crate::redact::escape_controls(&message);
        tracing::warn!("{message}");
        self.tree.warnings.push(message);
    }

    /// Resolve `p` (symlinks followed) and classify it; outside the root and special files are skipped with a
    /// warning.
    fn classify(&mut self, p: &Path) -> Entry {
        let shown = self.rel(p).display().to_string();
        let real = match p.canonicalize() {
            Ok(r) => r,
            Err(e) => {
                self.warn(format!("skipping {shown}: {e}"));
                return Entry::Skip;
            }
        };
        if !real.starts_with(&self.bound) {
            self.warn(format!(
                "skipping {shown}: it resolves to {}, outside the repository {}",
                real.display(),
                self.bound.display()
            ));
            return Entry::Skip;
        }
        match std::fs::metadata(&real) {
            Ok(m) if m.is_dir() => Entry::Dir(real),
            Ok(m) if m.is_file() => Entry::File(real),
            Ok(_) => {
                self.warn(format!(
                    "skipping {shown}: not a regular file (a FIFO, socket or device is never read)"
                ));
                Entry::Skip
            }
            Err(e) => {
                self.warn(format!("skipping {shown}: {e}"));
                Entry::Skip
            }
        }
    }

    fn dir(&mut self, dir: &Path) -> Result<()> {
        let Entry::Dir(real) = self.classify(dir) else {
            return Ok(());
        };
        if !self.dirs.insert(real) {
            // a symlink back to a directory already walked (or a loop): each real directory once
            tracing::debug!(dir = %dir.display(), "directory already read");
            return Ok(());
        }
        if let Some(k) = KUSTOMIZATION_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.symlink_metadata().is_ok())
        {
            return match self.classify(&k) {
                Entry::File(_) => self.kustomization(dir, &k),
                _ => Ok(()),
            };
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            // a directory, or a symlink to one (classify decides whether it is walked)
            if std::fs::metadata(&p).is_ok_and(|m| m.is_dir()) {
                // a base that an overlay in the tree includes is read through the overlay, not as a root
                if p.canonicalize().is_ok_and(|r| self.included.contains(&r)) {
                    tracing::debug!(dir = %p.display(), "included by a kustomization in the tree; read through it");
                    continue;
                }
                self.dir(&p)?;
            } else if is_yaml(&p) {
                self.file(&p)?;
            }
        }
        Ok(())
    }

    fn kustomization(&mut self, dir: &Path, file: &Path) -> Result<()> {
        let Entry::File(real) = self.classify(file) else {
            return Ok(());
        };
        if !self.seen.insert(real) {
            return Ok(());
        }
        let bytes = crate::files::read_bytes(file).map_err(|e| Error::io(file, e))?;
        let rel = self.rel(file);
        // a kustomization that cannot be read (not UTF-8 too): that kustomization is left out (listed), the rest is read
        let docs = match crate::yaml::parse_bytes(&bytes).map_err(|e| yaml_error(e, &rel)) {
            Ok(docs) => docs,
            Err(e) => return self.unreadable(e.into()),
        };
        let Some(doc) = docs.into_iter().next() else {
            return Ok(());
        };
        let k: KustomizationFile = match serde_json::from_value(doc) {
            Ok(k) => k,
            Err(e) => {
                return self.unreadable(
                    headlamp_e2e_model::Error::Yaml {
                        file: rel.clone(),
                        line: 1,
                        column: 1,
                        message: format!("not a kustomization: {e}"),
                    }
                    .into(),
                );
            }
        };
        let features: Vec<&str> = k
            .rest
            .keys()
            .map(String::as_str)
            .filter(|key| !PLAIN_KUSTOMIZATION_KEYS.contains(key))
            .collect();
        let remote = k.resources.iter().any(|r| sandbox::is_remote(r));
        let mut visited = BTreeSet::new();
        let nested = !features.is_empty() || remote;
        self.check_outside_root(dir, file, nested, &mut visited);
        if !features.is_empty() || remote {
            let features = if remote {
                "remote resources".to_string()
            } else {
                features.join(", ")
            };
            return self.kustomize(dir, &rel, &features);
        }
        self.tree.files.push(rel.clone());
        for r in &k.resources {
            let p = dir.join(r);
            if p.symlink_metadata().is_err() {
                // kustomize fails this kustomization (and Flux the Kustomization applying it); the rest is read
                return self.unreadable(Error::KustomizeResourceMissing {
                    file: rel.clone(),
                    resource: r.clone(),
                });
            }
            match self.classify(&p) {
                Entry::Dir(_) => self.dir(&p)?,
                Entry::File(_) => self.file(&p)?,
                Entry::Skip => {}
            }
        }
        Ok(())
    }

    /// Files the kustomization `file` (in `dir`) loads from outside `dir`: `resources` and patch `path`s that are files.
    /// kustomize's default load restrictor (`LoadRestrictionsRootOnly`, what `kustomize build` and `kubectl kustomize`
    /// use) refuses them (`security; file '…' is not in or below '…'`), while kustomize-controller builds with
    /// `LoadRestrictionsNone` on a filesystem rooted at the source (fluxcd/pkg kustomize/kustomize_generator.go
    /// `SecureBuild`/`Build`): inside the repository Flux builds them, outside it Flux refuses them too. A directory
    /// (`../base`) is a kustomization of its own and allowed by both. `nested`: also check the kustomizations the
    /// directories in `resources` hold (they are built by kustomize, not walked here).
    fn check_outside_root(
        &mut self,
        dir: &Path,
        file: &Path,
        nested: bool,
        visited: &mut BTreeSet<PathBuf>,
    ) {
        let Ok(real_dir) = dir.canonicalize() else {
            return;
        };
        if !visited.insert(real_dir.clone()) {
            return;
        }
        let Ok(text) = crate::files::read_text(file) else {
            return;
        };
        let Ok(doc) = headlamp_e2e_yaml::from_norway_str(&text) else {
            return;
        };
        let repo_root = self.bound.clone();
        let shown = self.rel(file).display().to_string();
        let mut loads: Vec<(String, String)> = Vec::new();
        for (i, r) in doc["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(r) = r.as_str() {
                loads.push((format!("resources[{i}]"), r.to_string()));
            }
        }
        for (i, p) in doc["patches"].as_array().into_iter().flatten().enumerate() {
            if let Some(path) = p["path"].as_str() {
                loads.push((format!("patches[{i}].path"), path.to_string()));
            }
        }
        let mut bases = Vec::new();
        for (field, r) in loads {
            if sandbox::is_remote(&r) {
                continue;
            }
            let p = dir.join(&r);
            let lexical = normalise(&real_dir.join(&r));
            let real = p.canonicalize().unwrap_or(lexical);
            if real.is_dir() {
                bases.push(p);
                continue;
            }
            if real.starts_with(&real_dir) {
                continue;
            }
            // built with kustomize: the sandbox refuses a reference outside the repository, naming it (one finding)
            if nested && !real.starts_with(&repo_root) {
                continue;
            }
            let refused = format!(
                "`kustomize build` and `kubectl kustomize` refuse {r:?} (a file outside the kustomization's directory {}: `security; file ... is not in or below ...`, the default --load-restrictor LoadRestrictionsRootOnly)",
                self.rel(dir).display()
            );
            let finding = if real.starts_with(&repo_root) {
                Finding::new(OUTSIDE_ROOT_RULE, Severity::Warning).message(format!(
                    "{refused}. kustomize-controller builds it all the same (LoadRestrictionsNone within the repository), so Flux applies it, but a plain `kustomize build` or `kubectl apply -k` of this directory (CI validation, a local check) fails"
                ))
            } else {
                Finding::new(OUTSIDE_ROOT_RULE, Severity::Error).message(format!(
                    "{refused}, and it is outside the repository {}: kustomize-controller refuses it too (its filesystem is rooted at the source), so the Kustomization fails",
                    repo_root.display()
                ))
            };
            self.tree.findings.push(
                finding
                    .file(shown.clone())
                    .path(field)
                    .fix(format!(
                        "move the file under {} (or give its directory a kustomization.yaml and list the directory instead)",
                        self.rel(dir).display()
                    )),
            );
        }
        if nested {
            for b in bases {
                if let Some(k) = KUSTOMIZATION_NAMES
                    .iter()
                    .map(|n| b.join(n))
                    .find(|k| k.is_file())
                {
                    self.check_outside_root(&b, &k, true, visited);
                }
            }
        }
    }

    /// Render an overlay with the real kustomize; never a home-made one. Its kustomization graph is checked and
    /// mirrored into a sandbox first ([`sandbox`]): a reference outside the repository, a remote one (unless
    /// `--allow-remote-bases`) or anything else kustomize would run or read beyond the tree is a finding naming it,
    /// and kustomize builds only the mirror.
    fn kustomize(&mut self, dir: &Path, rel: &Path, features: &str) -> Result<()> {
        if !self.kustomize_allowed {
            self.declined_kustomize = true;
            return Ok(());
        }
        let repo_root = self.bound.clone();
        let start = dir
            .canonicalize()
            .ok()
            .and_then(|r| r.strip_prefix(&repo_root).ok().map(Path::to_path_buf));
        let Some(start) = start else {
            self.warn(format!(
                "skipping {}: it resolves outside the repository {}",
                rel.display(),
                repo_root.display()
            ));
            return Ok(());
        };
        if patches_in_process() {
            match kustomize_here::build_dir(&repo_root, &start, &self.docs) {
                Ok(here) => {
                    tracing::debug!(kustomization = %rel.display(), "built without kustomize");
                    self.tree.files.push(rel.to_path_buf());
                    for o in here.objects {
                        if is_k8s_object(&o.value) {
                            self.tree.objects.push(Object::plain(o.value, rel));
                        }
                    }
                    return Ok(());
                }
                Err(flux_patch::Declined(why)) => {
                    tracing::debug!(kustomization = %rel.display(), "built with kustomize: {}", crate::redact::redact(&why));
                }
            }
        }
        let prepared = sandbox::prepare(&repo_root, &start, None);
        let problems: Vec<sandbox::Problem> = prepared
            .problems
            .into_iter()
            .map(|mut p| {
                p.file = shown_in(&repo_root, &self.real_root, &p.file);
                p
            })
            .collect();
        self.reference_findings(problems);
        if let Some(text) = prepared.cached {
            let out = Ok(build_cache::cached_output(text));
            return self.kustomize_output(rel, features, "", out);
        }
        let Some(sb) = prepared.sandbox else {
            // refused: the findings say why; nothing in it is built or linted
            self.tree.files.push(rel.to_path_buf());
            return Ok(());
        };
        // LoadRestrictionsNone, as kustomize-controller builds (files outside the kustomization's directory are
        // reported by `check_outside_root`, not fatal here); the sandbox holds nothing else to read
        // a kustomization kustomize cannot build (or no kubectl to build it) is listed, and the rest is read
        let mut cmd = flux_build::kustomize_cmd(&sb.start());
        if sb.fetches {
            cmd = cmd.timeout(sandbox::remote_time_left().max(std::time::Duration::from_secs(1)));
        }
        let mirror = format!("{}/", sb.root().display());
        if sb.fetches {
            // network-bound: run beside the walk and the other remote builds (issue 23: one deadline, in parallel)
            while self.remote_builds.len() >= MAX_REMOTE_BUILDS {
                self.take_remote_build()?;
            }
            let handle = std::thread::Builder::new()
                .name("kustomize-remote".into())
                .spawn(move || {
                    let out = cmd.run_blocking();
                    drop(sb);
                    out
                })
                .map_err(|e| Error::io(rel, e))?;
            self.remote_builds.push_back(RemoteBuild {
                rel: rel.to_path_buf(),
                features: features.to_string(),
                mirror,
                handle,
            });
            return Ok(());
        }
        let out = build_cache::run(sb.content_key.as_deref(), cmd);
        drop(sb);
        self.kustomize_output(rel, features, &mirror, out)
    }

    /// Walk `dir` ([`Self::dir`]) and take the objects of the remote builds the walk started.
    fn read_dir_tree(&mut self, dir: &Path) -> Result<()> {
        self.dir(dir)?;
        while !self.remote_builds.is_empty() {
            self.take_remote_build()?;
        }
        Ok(())
    }

    /// Wait for the oldest remote build and read what it built.
    fn take_remote_build(&mut self) -> Result<()> {
        let Some(b) = self.remote_builds.pop_front() else {
            return Ok(());
        };
        let out = b.handle.join().unwrap_or_else(|_| {
            Err(crate::process::ProcessError::Io {
                command: "kubectl kustomize".into(),
                source: std::io::Error::other("the build's thread panicked"),
            })
        });
        self.kustomize_output(&b.rel, &b.features, &b.mirror, out)
    }

    /// The objects of a kustomize build of `rel` (or why it failed, as an unreadable kustomization).
    fn kustomize_output(
        &mut self,
        rel: &Path,
        features: &str,
        mirror: &str,
        out: std::result::Result<crate::process::Output, crate::process::ProcessError>,
    ) -> Result<()> {
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                return self.unreadable(Error::Kustomize {
                    file: rel.to_path_buf(),
                    features: features.to_string(),
                    message: e.to_string().replace(mirror, ""),
                });
            }
        };
        if !out.success() {
            return self.unreadable(Error::Kustomize {
                file: rel.to_path_buf(),
                features: features.to_string(),
                message: out.complaint().replace(mirror, ""),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        self.tree.files.push(rel.to_path_buf());
        for doc in parse_yaml_documents(&text, rel)? {
            if is_k8s_object(&doc) {
                self.tree.objects.push(Object::plain(doc, rel));
            }
        }
        Ok(())
    }

    /// The findings of the references [`sandbox`] refused or left out (files relative to the GitOps root): outside
    /// the repository is [`OUTSIDE_ROOT_RULE`], a remote base left out an `info` note of
    /// [`KUSTOMIZATION_BUILD_RULE`] ([`remote_base_note`]), anything else refused an error of it.
    fn reference_findings(&mut self, problems: Vec<sandbox::Problem>) {
        for p in problems {
            let (rule, severity) = match p.refusal {
                sandbox::Refusal::Absolute | sandbox::Refusal::OutsideRoot => {
                    (OUTSIDE_ROOT_RULE, Severity::Error)
                }
                sandbox::Refusal::RemoteSkipped => {
                    tracing::debug!("{}: {}", p.file.display(), p.describe());
                    self.tree.findings.push(remote_base_note(&p));
                    continue;
                }
                _ => (KUSTOMIZATION_BUILD_RULE, Severity::Error),
            };
            let mut message = p.describe();
            if p.fatal() {
                message
                    .push_str("; the kustomization is not built, and nothing it holds is linted");
            } else {
                // the finding says it (once): the log only at debug level
                tracing::debug!("{}: {message}", p.file.display());
            }
            self.tree.findings.push(
                Finding::new(rule, severity)
                    .file(p.file.display().to_string())
                    .path(p.field.clone())
                    .message(message)
                    .fix(p.fix().to_string()),
            );
        }
    }

    fn file(&mut self, path: &Path) -> Result<()> {
        let Entry::File(real) = self.classify(path) else {
            return Ok(());
        };
        if !self.seen.insert(real.clone()) {
            return Ok(());
        }
        let rel = self.rel(path);
        if self.keep.contains(&rel) {
            self.tree.files.push(rel.clone());
            self.kept.insert(rel);
            return Ok(());
        }
        let known = self.parsed.borrow().get(&real).cloned();
        let docs = match known {
            Some(docs) => docs,
            None => {
                let parsed = match self.big.as_ref().and_then(|b| b.take(&real)) {
                    Some(parsed) => parsed,
                    // bytes: a file that is not UTF-8 is a yaml-invalid finding on it (UTF-16 with a BOM is read)
                    None => crate::files::read_bytes(path).map(|b| crate::yaml::parse_bytes(&b)),
                };
                let parsed = parsed
                    .map_err(|e| Error::io(path, e))?
                    .map_err(|e| yaml_error(e, &rel));
                match parsed {
                    Ok(docs) => {
                        self.parsed.borrow_mut().insert(real, docs.clone());
                        docs
                    }
                    Err(e) => {
                        self.tree.files.push(rel);
                        return self.unreadable(e.into());
                    }
                }
            }
        };
        self.tree.files.push(rel.clone());
        for doc in docs {
            if is_k8s_object(&doc) {
                self.tree.objects.push(Object::plain(doc, rel.clone()));
            } else if !doc.is_null() {
                tracing::debug!(file = %rel.display(), "skipping a YAML document without apiVersion/kind");
            }
        }
        Ok(())
    }
}

/// The note on a remote base left out of a build (`--allow-remote-bases` not given). kustomize-controller fetches
/// remote bases unless it runs with `--no-remote-bases` (FACTS.md), so the repository has nothing to change: an
/// `info` note (issue 19 cause 7: these were 4 of the 16 warnings of the evaluation, all false), one text for all
/// of them so that they print as one line with their count. The note names what was not checked (the base, as
/// its `object`: the same base from two kustomizations is one finding with two places) and how to check it.
fn remote_base_note(p: &sandbox::Problem) -> Finding {
    let base = crate::redact::redact(&crate::redact::escape_controls(&p.reference));
    Finding::new(KUSTOMIZATION_BUILD_RULE, Severity::Info)
        .file(p.file.display().to_string())
        .object(base)
        .path(p.field.clone())
        .message(
            "a remote base lint did not fetch (it fetches nothing unless asked; Flux fetches it): the kustomization is linted without what the base adds",
        )
        .fix(
            "nothing to change; to lint the base too, pass --allow-remote-bases (https URLs whose ?ref= is a plain tag, branch or commit), or vendor it into the repository",
        )
}

fn is_k8s_object(v: &Value) -> bool {
    v["apiVersion"].is_string() && v["kind"].is_string()
}

#[cfg(test)]
mod tests;
