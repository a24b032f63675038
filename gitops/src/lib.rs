//! Read a GitOps directory the way Flux's kustomize-controller does: a directory with a `kustomization.yaml` is what
//! that file lists; a directory without one is every YAML file below it (stopping at directories that have one).
//! Kustomizations that do more than list resources are rendered with the real kustomize (`kubectl kustomize`).

pub mod big_files;
pub mod build_cache;
pub mod error;
pub mod flux_build;
pub mod flux_patch;
pub mod identity;
pub mod kustomize_here;
pub mod sandbox;
pub mod substitute;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

pub use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
pub use crate::yaml::parse_yaml_documents;
use crate::yaml::yaml_error;
use headlamp_e2e_model::{files, finding, redact, yaml};
#[cfg(test)]
use headlamp_e2e_test_support as test_support;
use headlamp_e2e_tools::{chart, process};

/// Where an object came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A manifest in the GitOps directory.
    Plain,
    /// Rendered by `helm template` for a HelmRelease (`namespace/name`), from a chart template.
    Rendered {
        release: String,
        template: Option<String>,
    },
}

/// A Kubernetes object as YAML gave it, with the file it is in.
#[derive(Debug, Clone)]
pub struct Object {
    pub value: Value,
    /// Path relative to the GitOps root (the HelmRelease's file for rendered objects).
    pub file: PathBuf,
    pub origin: Origin,
}

impl Object {
    pub fn plain(value: Value, file: impl Into<PathBuf>) -> Self {
        Object {
            value,
            file: file.into(),
            origin: Origin::Plain,
        }
    }
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }
    /// API group without version (`""` for core).
    pub fn group(&self) -> &str {
        match self.api_version().rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"].as_str()
    }
    pub fn is(&self, group: &str, kind: &str) -> bool {
        // the kind first: a plain comparison, where the group is cut out of apiVersion
        self.kind() == kind && self.group() == group
    }
    /// `Kind/namespace/name`, or `Kind/name` without a namespace.
    pub fn id(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{}/{}/{}", self.kind(), ns, self.name()),
            None => format!("{}/{}", self.kind(), self.name()),
        }
    }
    pub fn file_display(&self) -> String {
        self.file.display().to_string()
    }
    /// The file a finding about this object names: its own file, or its HelmRelease's file for rendered objects
    /// (whose `object` id then names a kind that file does not contain: the chart made it).
    pub fn location(&self) -> String {
        self.file_display()
    }
    /// The chart template a rendered object came from.
    pub fn template(&self) -> Option<&str> {
        match &self.origin {
            Origin::Rendered { template, .. } => template.as_deref(),
            Origin::Plain => None,
        }
    }
    pub fn label(&self, key: &str) -> Option<&str> {
        self.value["metadata"]["labels"][key].as_str()
    }
}

/// Everything read from a GitOps directory.
#[derive(Debug, Default)]
pub struct Tree {
    pub root: PathBuf,
    pub objects: Vec<Object>,
    /// Files read (relative to root), in reading order.
    pub files: Vec<PathBuf>,
    /// What was skipped and why (a symlink out of the tree, a FIFO, a directory seen before); also logged.
    pub warnings: Vec<String>,
    /// What reading the tree as Flux reads it found (a Flux Kustomization that does not build, unresolved postBuild
    /// variables, kustomize resources outside their root): reported by lint as findings.
    pub findings: Vec<Finding>,
    /// The clusters that deploy each file (relative to the root), when the tree has two or more: `clusters/<name>/…`
    /// or `kubernetes/<name>/…` entry points ([`cluster_name`]). Empty for one cluster (findings then name none).
    pub clusters: std::collections::BTreeMap<String, BTreeSet<String>>,
    /// The Flux Kustomizations (`Kind/namespace/name (spec.path …)`) whose `spec.path` leads outside the GitOps
    /// directory: not followed (each also an `info` finding of [`NOT_FOLLOWED_RULE`]).
    pub not_followed: Vec<String>,
    /// Files (and kustomizations) that could not be read as YAML ([`Error::Yaml`]), each with its line and column:
    /// only that file is left out, every other one is read ([`load_each`]).
    pub unreadable: Vec<Error>,
}

impl Tree {
    pub fn find<'a>(
        &'a self,
        group: &'a str,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.is(group, kind))
    }

    /// The objects a HelmRelease reads from the tree (its chart source: a Flux source object; its `valuesFrom`: a
    /// ConfigMap or a Secret), in the tree's order, as a tree of their own: what [`crate::lint::Release::from_object`]
    /// needs, for many releases at once (looking each one's sources up among a few objects, not all of them).
    pub fn release_sources(&self) -> Tree {
        Tree {
            root: self.root.clone(),
            objects: self
                .objects
                .iter()
                .filter(|o| {
                    o.group() == "source.toolkit.fluxcd.io"
                        || o.is("", "ConfigMap")
                        || o.is("", "Secret")
                })
                .cloned()
                .collect(),
            ..Tree::default()
        }
    }
}

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

const KUSTOMIZATION_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

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
    loader.prefetch_flux_builds();
    loader.flux_kustomizations(followed)?;
    let mut tree = loader.tree;
    identity::dedup(&mut tree.objects);
    tree.findings.dedup();
    Ok(tree)
}

/// The repository root `spec.path` of a Flux Kustomization is relative to: the nearest directory at or above `dir`
/// with a `.git`, else `dir` itself.
pub fn repository_root(dir: &Path) -> PathBuf {
    let start = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(start)
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

/// Kinds the API server keeps without a namespace (the built-in ones and Flux's/cert-manager's cluster-wide kinds
/// seen in GitOps trees); the namespace transformer leaves them alone. Other kinds are namespaced, as kustomize assumes
/// for kinds it does not know.
pub const CLUSTER_SCOPED: [&str; 17] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "VolumeSnapshotClass",
    "ClusterIssuer",
];

/// Is `kind` one of [`CLUSTER_SCOPED`]?
pub fn cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// What a Flux Kustomization (kustomize.toolkit.fluxcd.io/v1, kustomize-controller v1.9.4) does to the objects of
/// its `spec.path` that this tool models: kustomize-controller writes `targetNamespace`, `namePrefix` and
/// `nameSuffix` into the kustomization it builds (`namespace:`, `namePrefix:`, `nameSuffix:`), so kustomize's own
/// transformers apply them. The namespace transformer (kubernetes-sigs/kustomize api/filters/namespace/namespace.go)
/// sets metadata.namespace on every namespaced object (replacing one that is set), renames a `v1` Namespace to the
/// target (a component's `namespace.yaml` named `not-used` is deployed as the target namespace) and, on RoleBinding and
/// ClusterRoleBinding, sets the namespace of subjects named `default` only (`setRoleBindingSubjects: defaultOnly`,
/// the default); other subjects keep theirs.
pub fn apply_flux_kustomization(objects: &mut [Object], spec: &Value) {
    let target = spec["targetNamespace"].as_str().filter(|s| !s.is_empty());
    let prefix = spec["namePrefix"].as_str().unwrap_or("");
    let suffix = spec["nameSuffix"].as_str().unwrap_or("");
    for o in objects {
        let kind = o.kind().to_string();
        if let Some(ns) = target {
            if kind == "Namespace" && o.api_version() == "v1" {
                // the `metadata/name` field spec of kind Namespace, kept for apiVersion v1 only
                // (api/internal/konfig/builtinpluginconsts/namespace.go, `removeUnneededMetaFieldSpecs` in
                // api/filters/namespace/namespace.go, kustomize api v0.20.1): the Namespace becomes the target
                o.value["metadata"]["name"] = ns.into();
            } else if !CLUSTER_SCOPED.contains(&kind.as_str()) {
                o.value["metadata"]["namespace"] = ns.into();
            }
            if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
                && let Some(subjects) = o.value["subjects"].as_array_mut()
            {
                for s in subjects.iter_mut().filter(|s| s["name"] == "default") {
                    s["namespace"] = ns.into();
                }
            }
        }
        if (!prefix.is_empty() || !suffix.is_empty()) && kind != "Namespace" {
            let name = o.name().to_string();
            o.value["metadata"]["name"] = format!("{prefix}{name}{suffix}").into();
        }
    }
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

static PATCHES_IN_PROCESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether Flux `patches` are applied here when the result is certain ([`flux_patch`]; the default), or every Flux
/// Kustomization with kustomize features is built with kustomize (`cargo xtask lint --kustomize-everything`, the
/// reference the in-process path is checked against).
pub fn set_patches_in_process(on: bool) {
    PATCHES_IN_PROCESS.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn patches_in_process() -> bool {
    PATCHES_IN_PROCESS.load(std::sync::atomic::Ordering::Relaxed)
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
    /// Ask the builder ahead for the builds of the walked tree's entry points (the Flux Kustomizations no other one's
    /// path holds: the walk reads the others as committed, and Flux applies them as their parent's path builds them,
    /// patches and all), in the order [`Self::flux_kustomizations`] takes them: kustomize runs while the rest is read.
    /// The children are asked for when their parent's path has been read ([`Self::prefetch_builds`]).
    fn prefetch_flux_builds(&mut self) {
        let repo_root = self.bound.clone();
        let walked: Vec<Object> = self
            .tree
            .find("kustomize.toolkit.fluxcd.io", "Kustomization")
            .cloned()
            .collect();
        let holders = self.holders(&walked, &repo_root);
        let entry_points: Vec<Object> = walked
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !holders.contains_key(i))
            .map(|(_, ks)| ks)
            .rev()
            .collect();
        self.prefetch_builds(&entry_points);
    }

    /// Ask the builder ahead for the builds of `kustomizations` (in this order) that need kustomize: those with
    /// kustomize features whose patches are not applied here ([`flux_patch`]; one that turns out not to be is built on
    /// demand). The path is resolved as [`Self::flux_kustomizations`] resolves it, without its warnings (it gives
    /// them); a build asked for and not taken is skipped.
    fn prefetch_builds(&mut self, kustomizations: &[Object]) {
        let repo_root = self.bound.clone();
        let wanted: Vec<(PathBuf, Value)> = kustomizations
            .iter()
            .filter(|ks| needs_build(&ks.value["spec"]))
            .filter(|ks| !patches_in_process() || flux_patch::plan(&ks.value["spec"]).is_err())
            .filter_map(|ks| {
                let spec = &ks.value["spec"];
                let FluxPath::Found(dir) = flux_path(spec, &self.root, &repo_root) else {
                    return None;
                };
                let real = dir.canonicalize().ok().filter(|r| r.is_dir())?;
                let rel = real.strip_prefix(&self.real_root).ok()?.to_path_buf();
                Some((rel, spec.clone()))
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        let real_root = self.real_root.clone();
        let builder = self
            .builder
            .get_or_insert_with(|| flux_build::Builder::new(&real_root));
        for (rel, spec) in &wanted {
            builder.prefetch(rel, spec);
        }
    }

    /// Follow every Flux Kustomization's `spec.path` (relative to the repository root) within the GitOps directory,
    /// and read what is there as kustomize-controller applies it ([`apply_flux_kustomization`]). Objects first read by
    /// the directory walk from those files are replaced by the transformed ones.
    fn flux_kustomizations(&mut self, followed: &mut dyn FnMut(&[Object])) -> Result<()> {
        let repo_root = self.bound.clone();
        let walked: BTreeSet<PathBuf> = self.tree.files.iter().cloned().collect();
        let mut replaced: BTreeSet<PathBuf> = BTreeSet::new();
        let mut done = BTreeSet::new();
        // how often each Flux Kustomization was followed (with a spec not seen before): bounded, see below
        let mut rounds: HashMap<String, usize> = HashMap::new();
        // (Kustomization, its index among the walked ones): the walk reads a child Kustomization (`apps/*/ks.yaml`)
        // as committed, but Flux applies it as its parent's path builds it, and a parent may patch its children (the
        // cluster-template `cluster-apps` Kustomization adds `postBuild.substituteFrom: cluster-secrets` to each).
        // A walked Kustomization that another one's path holds waits (once) until its holders are followed, and
        // one that a parent's path has already given (same id) is not followed again as committed: only as Flux
        // applies it. Otherwise the walk's order is kept.
        let walked_ks: Vec<Object> = self
            .tree
            .find("kustomize.toolkit.fluxcd.io", "Kustomization")
            .cloned()
            .collect();
        let holders = self.holders(&walked_ks, &repo_root);
        // the cluster of each walked Kustomization: that of the entry point (a walked Kustomization no other one's
        // path holds) its holders lead to, named by where the entry point's file is ([`cluster_name`])
        let cluster_of: Vec<Option<String>> = (0..walked_ks.len())
            .map(|i| {
                let mut at = i;
                let mut seen = BTreeSet::new();
                while let Some(h) = holders.get(&at).and_then(|h| h.first()) {
                    if !seen.insert(at) {
                        break;
                    }
                    at = *h;
                }
                cluster_name(&walked_ks[at].file)
            })
            .collect();
        // the source of the Kustomization that applies each walked one (its first holder), if any
        let parent_source: Vec<Option<(String, String)>> = (0..walked_ks.len())
            .map(|i| {
                holders
                    .get(&i)
                    .and_then(|h| h.first())
                    .map(|h| source_of(&walked_ks[*h]))
            })
            .collect();
        let mut queue: Vec<(Object, Option<usize>, Option<String>)> = walked_ks
            .into_iter()
            .enumerate()
            .map(|(i, o)| (o, Some(i), cluster_of[i].clone()))
            .collect();
        // the source of the Kustomization whose path gave each reached one, by id
        let mut given_by: HashMap<String, (String, String)> = HashMap::new();
        // the clusters that deploy each file, for findings to name them (kept when there are two or more)
        let mut clusters: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        let mut followed_walked: BTreeSet<usize> = BTreeSet::new();
        let mut deferred: BTreeSet<usize> = BTreeSet::new();
        // ids of the Kustomizations some followed path gave (as Flux applies them)
        let mut reached: BTreeSet<String> = BTreeSet::new();
        // files a followed Kustomization deploys (its own file when the walk found it: an entry point), for
        // [`Self::drop_undeployed`]; `None` while no Kustomization path was read
        let mut deployed: Option<BTreeSet<PathBuf>> = None;
        // the tree's files, as a set (a repository of 1,200 files has as many; each Kustomization adds a few)
        let mut files: std::collections::HashSet<PathBuf> =
            self.tree.files.iter().cloned().collect();
        // the substitution sources of the tree (ConfigMaps, Secrets, …; [`is_substitution_source`]), in the tree's
        // order, kept beside it as the loop below changes it: filtering 1,200 objects for each of 350 Kustomizations
        // was a tenth of a warm run. Rebuilt when the tree changed other than by this loop (`seen_len`).
        let mut tree_sources: Vec<Object> = Vec::new();
        let mut seen_len: Option<usize> = None;
        while let Some((ks, walked_at, cluster)) = queue.pop() {
            let from_walk = walked_at.is_some();
            if let Some(i) = walked_at {
                if reached.contains(&ks.id()) {
                    tracing::debug!(kustomization = %ks.id(), "followed as its parent's path gives it, not as committed");
                    continue;
                }
                let waiting = holders
                    .get(&i)
                    .is_some_and(|h| h.iter().any(|j| !followed_walked.contains(j)));
                if waiting && deferred.insert(i) {
                    queue.insert(0, (ks, walked_at, cluster));
                    continue;
                }
                followed_walked.insert(i);
            }
            let spec = &ks.value["spec"];
            // a Git source other than the one its parent applies it from is another repository (a fleet repo's
            // `GitRepository apc-fleet` with `path: ./kubernetes`): its path names a directory there, not here
            let parent = match walked_at {
                Some(i) => parent_source[i].clone(),
                None => given_by.get(&ks.id()).cloned(),
            };
            let own = source_of(&ks);
            if own.0 == "GitRepository"
                && let Some(parent) = parent
                && parent != own
            {
                let note = other_repository_note(&ks, &parent);
                if !self.tree.findings.contains(&note) {
                    self.tree.findings.push(note);
                }
                continue;
            }
            let dir = match flux_path(spec, &self.root, &repo_root) {
                FluxPath::NotFollowed => {
                    if let Some(note) = other_source_note(&ks)
                        && !self.tree.findings.contains(&note)
                    {
                        self.tree.findings.push(note);
                    }
                    continue;
                }
                FluxPath::Found(dir) => dir,
                FluxPath::Missing(path) => {
                    self.warn(format!(
                    "{}: Flux Kustomization {} has spec.path {path:?}, which is neither under the repository root {} nor under the GitOps directory; not followed (Flux would fail it: no such path)",
                    ks.file_display(),
                    ks.id(),
                    repo_root.display()
                ));
                    continue;
                }
            };
            let Entry::Dir(real) = self.classify(&dir) else {
                continue;
            };
            if !real.starts_with(&self.real_root) {
                // one note per Kustomization, the same text for all (grouped); lint refuses a directory where
                // these are all there is ([`Tree::not_followed`])
                let path = spec["path"].as_str().unwrap_or_default();
                self.tree
                    .not_followed
                    .push(format!("{} (spec.path {path})", ks.id()));
                self.tree.findings.push(
                    Finding::new(NOT_FOLLOWED_RULE, Severity::Info)
                        .file(ks.file_display())
                        .object(ks.id())
                        .path("spec.path")
                        .message(format!(
                            "its spec.path is outside the directory lint was given ({}): what it deploys was not linted",
                            self.root.display()
                        ))
                        .fix(format!(
                            "lint the repository root (--gitops {}) to follow it",
                            repo_root.display()
                        )),
                );
                continue;
            }
            // the same path with the same transformation once (a loop of Kustomizations ends)
            if !done.insert((
                real.clone(),
                spec["targetNamespace"].to_string(),
                spec["namePrefix"].to_string(),
                spec["nameSuffix"].to_string(),
                flux_build::features(spec)
                    .iter()
                    .map(|f| spec[*f].to_string())
                    .collect::<Vec<_>>(),
                spec["postBuild"].to_string(),
            )) {
                continue;
            }
            // a Kustomization whose path holds itself with a spec that changes each time it is read (postBuild
            // substituting `N: "${N}1"` into its own spec) is a new key every round: it is followed at most
            // MAX_FLUX_ROUNDS times, then a finding says so (Flux would change it at every reconciliation)
            let n = rounds.entry(ks.id()).or_insert(0);
            *n += 1;
            if *n > MAX_FLUX_ROUNDS {
                if *n == MAX_FLUX_ROUNDS + 1 {
                    self.tree.findings.push(
                        Finding::new(FLUX_BUILD_RULE, Severity::Error)
                            .file(ks.file_display())
                            .object(ks.id())
                            .path("spec")
                            .message(format!(
                                "its spec changes each time its own path is read (a postBuild substitution of the Kustomization itself?): lint followed it {MAX_FLUX_ROUNDS} times and stopped; Flux would change it again at every reconciliation"
                            ))
                            .fix("do not substitute variables into the Kustomization's own spec from its own path (keep the Kustomization outside the path it applies, or escape the variable with $${...})"),
                    );
                }
                continue;
            }
            // `dir` as the tree names it: under the GitOps root (classify checked it resolves inside)
            let shown = real
                .strip_prefix(&self.real_root)
                .map(|r| self.root.join(r))
                .unwrap_or(dir);
            let mut sub = self.sub_loader();
            let rel_dir = real
                .strip_prefix(&self.real_root)
                .map(Path::to_path_buf)
                .unwrap_or_default();
            // a path read as it is (no transformation): a file the walk read and whose objects still stand for it
            // is not read again, its walked objects are kept (the objects of a Flux install are not copied twice)
            let as_it_is = !needs_build(spec)
                && ["targetNamespace", "namePrefix", "nameSuffix"]
                    .iter()
                    .all(|k| spec[*k].as_str().is_none_or(str::is_empty));
            if as_it_is {
                sub.keep = walked.difference(&replaced).cloned().collect();
            }
            let deployed = deployed.get_or_insert_with(BTreeSet::new);
            if from_walk {
                deployed.insert(ks.file.clone());
            }
            if !self.flux_build(&ks, &rel_dir, &shown, &mut sub)? {
                sub.read_dir_tree(&shown)?;
                apply_flux_kustomization(&mut sub.tree.objects, spec);
            }
            let source = |o: &&Object| is_substitution_source(o);
            // the sources in the path itself are copied (they are substituted too); the tree's are referenced
            let known_here: Vec<Object> = if spec["postBuild"].is_object() {
                sub.tree.objects.iter().filter(source).cloned().collect()
            } else {
                Vec::new()
            };
            if seen_len != Some(self.tree.objects.len()) {
                tree_sources = self.tree.objects.iter().filter(source).cloned().collect();
            }
            deployed.extend(sub.tree.files.iter().cloned());
            deployed.extend(sub.tree.objects.iter().map(|o| o.file.clone()));
            if let Some(c) = &cluster {
                let files = sub
                    .tree
                    .files
                    .iter()
                    .chain(sub.tree.objects.iter().map(|o| &o.file))
                    .chain(from_walk.then_some(&ks.file));
                for f in files {
                    clusters
                        .entry(f.display().to_string())
                        .or_default()
                        .insert(c.clone());
                }
            }
            let known: Vec<&Object> = if spec["postBuild"].is_object() {
                tree_sources.iter().chain(known_here.iter()).collect()
            } else {
                Vec::new()
            };
            let found = substitute::post_build_with(&ks, &mut sub.tree.objects, &sub.texts, &known);
            self.tree.findings.extend(found);
            followed(&sub.tree.objects);
            let fresh: Vec<&PathBuf> = sub
                .tree
                .files
                .iter()
                .filter(|f| walked.contains(*f) && !replaced.contains(*f) && !sub.kept.contains(*f))
                .collect();
            let fresh: BTreeSet<PathBuf> = fresh.into_iter().cloned().collect();
            if !fresh.is_empty() {
                let stays = |o: &Object| !(o.origin == Origin::Plain && fresh.contains(&o.file));
                self.tree.objects.retain(stays);
                tree_sources.retain(stays);
            }
            replaced.extend(fresh);
            replaced.extend(sub.kept.iter().cloned());
            for f in &sub.tree.files {
                if files.insert(f.clone()) {
                    self.tree.files.push(f.clone());
                }
            }
            let children: Vec<Object> = sub
                .tree
                .find("kustomize.toolkit.fluxcd.io", "Kustomization")
                .cloned()
                .collect();
            for child in &children {
                reached.insert(child.id());
                given_by.insert(child.id(), own.clone());
                queue.push((child.clone(), None, cluster.clone()));
            }
            // their builds, as Flux applies them, start now (in the order the queue takes them)
            let ahead: Vec<Object> = children.into_iter().rev().collect();
            self.prefetch_builds(&ahead);
            self.tree.warnings.extend(sub.tree.warnings);
            self.tree.findings.extend(sub.tree.findings);
            self.tree.unreadable.extend(sub.tree.unreadable);
            tree_sources.extend(sub.tree.objects.iter().filter(source).cloned());
            self.tree.objects.extend(sub.tree.objects);
            seen_len = Some(self.tree.objects.len());
        }
        if let Some(deployed) = deployed {
            self.drop_undeployed(&deployed);
        }
        let named: BTreeSet<&String> = clusters.values().flatten().collect();
        if named.len() > 1 {
            self.tree.clusters = clusters;
        }
        Ok(())
    }

    /// Issue 19 cause 6: when the tree has Flux entry points (Kustomizations whose paths were followed), lint what
    /// they deploy. The objects of files that no followed Kustomization reads (an `apps/base/adminer` no overlay or
    /// cluster lists) are not linted as if deployed: they leave the tree, and one `info` finding names the files.
    fn drop_undeployed(&mut self, deployed: &BTreeSet<PathBuf>) {
        let mut orphans: BTreeSet<PathBuf> = BTreeSet::new();
        self.tree.objects.retain(|o| {
            let keep = o.origin != Origin::Plain || deployed.contains(&o.file);
            if !keep {
                orphans.insert(o.file.clone());
            }
            keep
        });
        if orphans.is_empty() {
            return;
        }
        const SHOWN: usize = 5;
        let mut named: Vec<String> = orphans
            .iter()
            .take(SHOWN)
            .map(|f| f.display().to_string())
            .collect();
        if orphans.len() > SHOWN {
            named.push(format!("and {} more", orphans.len() - SHOWN));
        }
        tracing::debug!(
            files = orphans.len(),
            "files no Flux Kustomization deploys: not linted"
        );
        self.tree.findings.push(
            Finding::new(NOT_DEPLOYED_RULE, Severity::Info)
                .message(format!(
                    "{} file{} that no Flux Kustomization deploys (not reached from the cluster entry points) {} not linted: {}",
                    orphans.len(),
                    if orphans.len() == 1 { "" } else { "s" },
                    if orphans.len() == 1 { "was" } else { "were" },
                    named.join(", ")
                ))
                .fix("nothing to change if they are unused; to lint one, list it in a kustomization a Flux Kustomization applies, or pass its directory to --gitops"),
        );
    }

    /// For each Kustomization of `all` (by index) whose file lies under the `spec.path` of others of `all`, the
    /// indexes of those others (a child and the parents whose paths apply it). A Kustomization under its own path
    /// only (`flux-system`) has none.
    fn holders(&self, all: &[Object], repo_root: &Path) -> HashMap<usize, Vec<usize>> {
        let paths: Vec<Option<PathBuf>> = all
            .iter()
            .map(
                |ks| match flux_path(&ks.value["spec"], &self.root, repo_root) {
                    FluxPath::Found(dir) => dir.canonicalize().ok(),
                    _ => None,
                },
            )
            .collect();
        // the Kustomizations by the directory their path names: a file is held by those of its ancestors
        let mut by_dir: HashMap<&Path, Vec<usize>> = HashMap::new();
        for (j, p) in paths.iter().enumerate() {
            if let Some(p) = p {
                by_dir.entry(p.as_path()).or_default().push(j);
            }
        }
        let mut out = HashMap::new();
        for (i, ks) in all.iter().enumerate() {
            let Ok(file) = self.real_root.join(&ks.file).canonicalize() else {
                continue;
            };
            let mut by: Vec<usize> = file
                .ancestors()
                .filter_map(|a| by_dir.get(a))
                .flatten()
                .copied()
                .filter(|j| *j != i)
                // a Kustomization of another repository holds nothing of this one
                .filter(|j| source_of(&all[*j]) == source_of(ks))
                .collect();
            by.sort_unstable();
            if !by.is_empty() {
                out.insert(i, by);
            }
        }
        out
    }

    /// A new loader for one Flux Kustomization's path, sharing this load's parse cache and included bases.
    fn sub_loader(&self) -> Loader {
        Loader {
            parsed: self.parsed.clone(),
            docs: self.docs.clone(),
            included: self.included.clone(),
            big: self.big.clone(),
            ..Loader::within(&self.root, self.real_root.clone(), self.bound.clone())
        }
    }

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

    /// Read the path `shown` of Flux Kustomization `ks` here and apply its patches as kustomize would
    /// ([`flux_patch`]), with its target namespace and name prefix/suffix after them (kustomize's order). `None`
    /// when that is not certain (logged at debug level): kustomize builds the path instead.
    fn patched_here(&self, ks: &Object, shown: &Path) -> Result<Option<Loader>> {
        let spec = &ks.value["spec"];
        if !patches_in_process() {
            return Ok(None);
        }
        let plan = match flux_patch::plan(spec) {
            Ok(plan) => plan,
            Err(flux_patch::Declined(why)) => {
                // redacted only when the line is written (the arguments of `debug!` are evaluated only then)
                tracing::debug!(kustomization = %ks.id(), "patches built with kustomize: {}", crate::redact::redact(&why));
                return Ok(None);
            }
        };
        let mut sub = self.sub_loader();
        sub.kustomize_allowed = false;
        sub.read_dir_tree(shown)?;
        let why = if sub.declined_kustomize {
            Some("a kustomization on the path needs kustomize".to_string())
        } else if !sub.tree.unreadable.is_empty()
            || !sub.tree.warnings.is_empty()
            || !sub.tree.findings.is_empty()
        {
            Some("the path does not read cleanly".to_string())
        } else {
            // the text each object was read from (its file): a strategic-merge patch needs it (schema comments, tags)
            let root = self.root.clone();
            plan.apply_with(&mut sub.tree.objects, |o| {
                crate::files::read_text(&root.join(&o.file)).ok()
            })
            .err()
            .map(|flux_patch::Declined(why)| why)
        };
        if let Some(why) = why {
            tracing::debug!(kustomization = %ks.id(), "patches built with kustomize: {}", crate::redact::redact(&why));
            return Ok(None);
        }
        apply_flux_kustomization(&mut sub.tree.objects, spec);
        tracing::debug!(kustomization = %ks.id(), "patches applied without kustomize");
        Ok(Some(sub))
    }

    /// Build the path of Flux Kustomization `ks` with kustomize when its spec has kustomize features
    /// ([`flux_build`]), into `sub`; patches that [`flux_patch`] applies as kustomize would are applied here instead
    /// (`shown`: the path as the tree names it). False when it has none, or when the build could not run (a finding
    /// says so, and the caller reads the path without them).
    fn flux_build(
        &mut self,
        ks: &Object,
        rel_dir: &Path,
        shown: &Path,
        sub: &mut Loader,
    ) -> Result<bool> {
        let spec = &ks.value["spec"];
        if !needs_build(spec) {
            return Ok(false);
        }
        if let Some(patched) = self.patched_here(ks, shown)? {
            *sub = patched;
            return Ok(true);
        }
        let mut features = flux_build::features(spec);
        if spec["postBuild"].is_object() {
            features.push("postBuild");
        }
        let features = features.join(", ");
        let finding = |sev: Severity, message: String, fix: &str| {
            Finding::new(FLUX_BUILD_RULE, sev)
                .file(ks.file_display())
                .object(ks.id())
                .path("spec")
                .message(message)
                .fix(fix.to_string())
        };
        let real_root = self.real_root.clone();
        let built = self
            .builder
            .get_or_insert_with(|| flux_build::Builder::new(&real_root))
            .build(rel_dir, spec);
        match built {
            Ok(out) => {
                self.reference_findings(out.skipped);
                // the files named so far, as a set: a path that builds a whole cluster's apps (`kubernetes/apps`:
                // 350 ks.yaml and their namespaces) names hundreds
                let mut named: std::collections::HashSet<PathBuf> =
                    sub.tree.files.iter().cloned().collect();
                for b in out.objects {
                    if !is_k8s_object(&b.value) {
                        continue;
                    }
                    let file = b.file.unwrap_or_else(|| rel_dir.to_path_buf());
                    if named.insert(file.clone()) {
                        sub.tree.files.push(file.clone());
                    }
                    sub.texts.push(b.text);
                    sub.tree.objects.push(Object::plain(b.value, file));
                }
                // the walk may have read the path's own kustomization (rendered, named by that file), and the
                // kustomizations the build went through (a namespace directory's `kustomization.yaml` under the
                // one kustomize-controller generates for `kubernetes/apps`): replaced, and deployed, though kustomize
                // names each object's own file as its origin
                for k in out.kustomizations {
                    if named.insert(k.clone()) {
                        sub.tree.files.push(k);
                    }
                }
                if let Some(k) = KUSTOMIZATION_NAMES
                    .iter()
                    .map(|n| rel_dir.join(n))
                    .find(|k| self.real_root.join(k).is_file())
                    .filter(|k| !named.contains(k))
                {
                    sub.tree.files.push(k);
                }
                Ok(true)
            }
            Err(flux_build::BuildError::Refused(problems)) => {
                // the references are named by their findings; the path is not read without them either
                self.reference_findings(problems);
                Ok(true)
            }
            Err(flux_build::BuildError::NoKubectl(e)) => {
                self.tree.findings.push(finding(
                    Severity::Warning,
                    format!(
                        "its {features} were NOT applied: kustomize-controller builds them with kustomize, and kubectl (the real kustomize) could not run ({e}); the objects of spec.path are linted without them"
                    ),
                    "install kubectl (or set KUBECTL_BIN) so that lint builds the path as Flux does",
                ));
                Ok(false)
            }
            Err(flux_build::BuildError::Failed(e)) => {
                self.tree.findings.push(finding(
                    Severity::Error,
                    format!(
                        "kustomize-controller cannot build spec.path {} with its {features}: {}; the objects of spec.path are linted without them",
                        rel_dir.display(),
                        crate::redact::escape_controls(&e)
                    ),
                    "fix the patch target / component path (run `kubectl kustomize --load-restrictor LoadRestrictionsNone` on the path with the Kustomization's patches and components written into its kustomization.yaml)",
                ));
                Ok(false)
            }
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

/// A Flux Kustomization's source as `(kind, name)` (kind defaults to GitRepository): two Kustomizations with the
/// same one read the same repository. The namespace is left out: a child that omits it names its parent's source
/// in practice, and telling them apart would stop following it.
fn source_of(ks: &Object) -> (String, String) {
    let r = &ks.value["spec"]["sourceRef"];
    (
        r["kind"].as_str().unwrap_or("GitRepository").to_string(),
        r["name"].as_str().unwrap_or_default().to_string(),
    )
}

/// The note on a Flux Kustomization whose GitRepository is not the one of the Kustomization that applies it: its
/// `spec.path` is a directory of that other repository, which lint does not have (following it here read this
/// checkout's directory of that name as if deployed again: a second copy of every HelmRelease under it).
fn other_repository_note(ks: &Object, parent: &(String, String)) -> Finding {
    let (kind, name) = source_of(ks);
    Finding::new(OTHER_SOURCE_RULE, Severity::Info)
        .file(ks.file_display())
        .object(ks.id())
        .path("spec.sourceRef")
        .message(format!(
            "its source {kind}/{name} is not the {}/{} that applies it, so its spec.path is a directory of another repository, which lint does not have; what this Kustomization deploys was not checked",
            parent.0, parent.1
        ))
        .fix("nothing to change; lint that repository to check its content")
}

/// Rule of the `info` findings on a Flux Kustomization whose source lint cannot read (an ExternalArtifact, an
/// OCIRepository, a Bucket): what it deploys is not checked.
pub const OTHER_SOURCE_RULE: &str = "flux-source-not-read";

/// The note on a Flux Kustomization whose `spec.sourceRef.kind` is not a GitRepository, so lint does not follow its
/// path: the kinds kustomize-controller v1.9.4 accepts are `OCIRepository`, `GitRepository`, `Bucket` and
/// `ExternalArtifact` (fluxcd/kustomize-controller v1.9.4 api/v1/reference_types.go,
/// `CrossNamespaceSourceReference.Kind`; ExternalArtifact is Flux 2.7+, behind the controller's `ExternalArtifact`
/// feature gate, internal/controller/kustomization_controller.go). Their content is not this checkout: an
/// ExternalArtifact is produced in the cluster by another controller, an OCIRepository or a Bucket is pulled from a
/// registry or a bucket. One text per kind (grouped), naming what was not checked and why; `None` for a Git source.
fn other_source_note(ks: &Object) -> Option<Finding> {
    let spec = &ks.value["spec"];
    let kind = spec["sourceRef"]["kind"]
        .as_str()
        .unwrap_or("GitRepository");
    let why = match kind {
        "GitRepository" => return None,
        "ExternalArtifact" => {
            "its source is an ExternalArtifact (Flux 2.7+), an artifact another controller produces in the cluster: lint cannot fetch it"
        }
        "OCIRepository" => {
            "its source is an OCIRepository, an artifact pulled from a container registry: lint reads only this repository, not the artifact"
        }
        "Bucket" => {
            "its source is a Bucket, objects pulled from object storage: lint reads only this repository, not the bucket"
        }
        _ => {
            "its source kind is not one lint reads (kustomize-controller accepts GitRepository, OCIRepository, Bucket and ExternalArtifact)"
        }
    };
    Some(
        Finding::new(OTHER_SOURCE_RULE, Severity::Info)
            .file(ks.file_display())
            .object(ks.id())
            .path("spec.sourceRef")
            .message(format!(
                "{why}; what this Kustomization deploys was not checked"
            ))
            .fix("nothing to change; lint the repository the artifact is built from to check its content"),
    )
}

/// The cluster a Flux entry point's file belongs to, by the layouts of multi-cluster repositories: the directory
/// after `clusters/` (`clusters/production/flux-system/gotk-sync.yaml` → `production`, the fluxcd/flux2-kustomize-
/// helm-example layout), else after `kubernetes/` (`kubernetes/main/flux/config/cluster.yaml` → `main`) unless it
/// is one of the shared directories of the one-cluster templates (`kubernetes/flux`, `kubernetes/apps`, …). `None`
/// when the file names no cluster.
pub fn cluster_name(file: &Path) -> Option<String> {
    const SHARED: [&str; 7] = [
        "flux",
        "apps",
        "components",
        "bootstrap",
        "infrastructure",
        "base",
        "templates",
    ];
    let parts: Vec<&str> = file
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(p) => p.to_str(),
            _ => None,
        })
        .collect();
    // the directory name needs a file below it
    let after = |dir: &str| {
        parts
            .iter()
            .position(|p| *p == dir)
            .filter(|i| i + 2 < parts.len())
            .map(|i| parts[i + 1])
    };
    if let Some(name) = after("clusters") {
        return Some(name.to_string());
    }
    after("kubernetes")
        .filter(|n| !SHARED.contains(n))
        .map(str::to_string)
}

/// Where a Flux Kustomization's `spec.path` leads.
pub enum FluxPath<'a> {
    /// Its source is not a GitRepository, or it has no path: lint does not follow it.
    NotFollowed,
    /// The path, which exists neither under the repository root nor under the GitOps directory.
    Missing(&'a str),
    /// The path as the tree names it (symlinks not resolved: the caller checks where it leads).
    Found(PathBuf),
}

/// Resolve a Flux Kustomization `spec`'s path: relative to the repository root `repo_root`; a tree copied out of its
/// repository (the GitOps directory `root` is its root) is read the same. Used by the loader, its builds asked for
/// ahead and lint's renders ahead, so that all three follow the same directory.
pub fn flux_path<'a>(spec: &'a Value, root: &Path, repo_root: &Path) -> FluxPath<'a> {
    let source_kind = spec["sourceRef"]["kind"]
        .as_str()
        .unwrap_or("GitRepository");
    let Some(path) = spec["path"]
        .as_str()
        .filter(|_| source_kind == "GitRepository")
    else {
        return FluxPath::NotFollowed;
    };
    let rel_path = path.trim_start_matches('/');
    match [repo_root.join(rel_path), root.join(rel_path)]
        .into_iter()
        .find(|d| d.symlink_metadata().is_ok())
    {
        Some(dir) => FluxPath::Found(dir),
        None => FluxPath::Missing(path),
    }
}

/// An object postBuild may take variables from (`substituteFrom`: a ConfigMap or a Secret; the tree's
/// ExternalSecrets and SealedSecrets stand for the Secrets they make).
fn is_substitution_source(o: &Object) -> bool {
    o.is("", "ConfigMap")
        || o.is("", "Secret")
        || o.is("external-secrets.io", "ExternalSecret")
        || o.is("bitnami.com", "SealedSecret")
}

/// Whether a Flux Kustomization's path is built with kustomize ([`flux_build`]): it has kustomize features, or
/// postBuild (Flux substitutes in the YAML text kustomize wrote, where the source's quoting survives).
fn needs_build(spec: &Value) -> bool {
    !flux_build::features(spec).is_empty() || spec["postBuild"].is_object()
}

/// Drop `.` components and fold `dir/..` (lexically; the walk has already resolved symlinks for safety).
pub fn normalise(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_yaml(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

fn is_k8s_object(v: &Value) -> bool {
    v["apiVersion"].is_string() && v["kind"].is_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::write_file as write;

    #[test]
    fn a_releases_sources_are_the_flux_sources_configmaps_and_secrets_in_order() {
        let o = |api: &str, kind: &str, name: &str| {
            Object::plain(
                serde_json::json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}}),
                "f.yaml",
            )
        };
        let tree = Tree {
            root: PathBuf::from("r"),
            objects: vec![
                o("v1", "Secret", "s"),
                o("helm.toolkit.fluxcd.io/v2", "HelmRelease", "hr"),
                o("source.toolkit.fluxcd.io/v1", "OCIRepository", "oci"),
                o("apps/v1", "Deployment", "d"),
                o("v1", "ConfigMap", "cm"),
                o("source.toolkit.fluxcd.io/v1", "HelmRepository", "repo"),
                o("example.com/v1", "ConfigMap", "not-core"),
            ],
            ..Tree::default()
        };
        let view = tree.release_sources();
        let names: Vec<&str> = view.objects.iter().map(Object::name).collect();
        assert_eq!(names, ["s", "oci", "cm", "repo"]);
        assert_eq!(view.root, tree.root);
    }

    /// Issue 19 cause 6, the fluxcd/flux2-kustomize-helm-example shape: `clusters/production/apps.yaml` applies
    /// `apps/production`, which lists `../base/podinfo`; `apps/base/adminer` is listed by no overlay. Only what the
    /// clusters deploy is linted; the orphan is one info line.
    #[test]
    fn a_base_no_cluster_deploys_is_not_linted_and_is_one_info_line() {
        let d = tempfile::tempdir().unwrap();
        let hr = |name: &str| {
            format!(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}, namespace: {name}}}\nspec:\n  chart: {{spec: {{chart: {name}, sourceRef: {{kind: HelmRepository, name: {name}}}}}}}\n"
            )
        };
        write(
            d.path(),
            "clusters/production/apps.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps/production\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
        );
        write(
            d.path(),
            "apps/production/kustomization.yaml",
            "resources:\n  - ../base/podinfo\n",
        );
        write(
            d.path(),
            "apps/base/podinfo/kustomization.yaml",
            "resources:\n  - release.yaml\n",
        );
        write(d.path(), "apps/base/podinfo/release.yaml", hr("podinfo"));
        write(
            d.path(),
            "apps/base/adminer/kustomization.yaml",
            "resources:\n  - release.yaml\n",
        );
        write(d.path(), "apps/base/adminer/release.yaml", hr("adminer"));
        let t = load(d.path()).unwrap();
        let releases: Vec<&str> = t
            .find("helm.toolkit.fluxcd.io", "HelmRelease")
            .map(Object::name)
            .collect();
        assert_eq!(releases, ["podinfo"], "{:#?}", t.objects);
        let notes: Vec<&Finding> = t
            .findings
            .iter()
            .filter(|f| f.rule == NOT_DEPLOYED_RULE)
            .collect();
        assert_eq!(notes.len(), 1, "{:#?}", t.findings);
        assert_eq!(notes[0].severity, Severity::Info);
        assert!(
            notes[0].message.contains("1 file ")
                && notes[0].message.contains("apps/base/adminer/release.yaml"),
            "{}",
            notes[0].message
        );
        // without any Flux Kustomization everything is linted, as before
        std::fs::remove_file(d.path().join("clusters/production/apps.yaml")).unwrap();
        let t = load(d.path()).unwrap();
        assert_eq!(t.find("helm.toolkit.fluxcd.io", "HelmRelease").count(), 2);
        assert!(t.findings.iter().all(|f| f.rule != NOT_DEPLOYED_RULE));
    }

    /// Issue 19, the onedr0p/cluster-template layout (fixtures/layouts/cluster-template): `cluster-apps` applies
    /// `./kubernetes/apps` (no kustomization there: kustomize-controller generates one), whose namespace directories
    /// `kubernetes/apps/<namespace>/kustomization.yaml` set `namespace:` and add the `../../components/sops`
    /// component. kustomize builds that path and names each object's origin file (`namespace.yaml`, `ks.yaml`), not
    /// the namespace kustomization: it was reported as `gitops-not-deployed` although cluster-apps deploys it.
    #[test]
    fn a_namespace_kustomization_the_cluster_apps_path_builds_is_deployed() {
        let d = tempfile::tempdir().unwrap();
        crate::test_support::copy_tree(
            &crate::test_support::project_root().join("fixtures/layouts/cluster-template"),
            d.path(),
        )
        .unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        if crate::test_support::kubectl().is_none() {
            crate::test_support::skip::<()>(
                "kubectl cannot run (kustomize builds the namespace kustomizations)",
            );
            return;
        }
        let t = load(d.path()).unwrap();
        let not_deployed: Vec<&Finding> = t
            .findings
            .iter()
            .filter(|f| f.rule == NOT_DEPLOYED_RULE)
            .collect();
        assert!(not_deployed.is_empty(), "{not_deployed:#?}");
        let mut ids: Vec<String> = t.objects.iter().map(Object::id).collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "ConfigMap/default/echo-env",
                "ConfigMap/kube-system/reloader-env",
                "Kustomization/default/echo",
                "Kustomization/flux-system/cluster-apps",
                "Kustomization/kube-system/reloader",
                "Namespace/default",
                "Namespace/kube-system",
                "Secret/default/cluster-secrets",
                "Secret/kube-system/cluster-secrets",
            ],
            "{:#?}",
            t.findings
        );
    }

    /// Issue 19, the LukeEvansTech/talos-cluster layout (fixtures/layouts/external-secrets): the `cluster-secrets`
    /// Secret the children substitute from is a placeholder in the tree, and an ExternalSecret of the same name in
    /// the same namespace writes the real one (with keys the placeholder lacks) in the cluster. A variable missing
    /// from the placeholder is not reported (10 of the repository's 16 warnings were these); one info note per
    /// source says why. Without the ExternalSecret the same variable is still a warning.
    #[test]
    fn a_source_an_external_secret_writes_leaves_its_unknown_variables_unreported() {
        if crate::test_support::kubectl().is_none() {
            crate::test_support::skip::<()>(
                "kubectl cannot run (kustomize builds the namespace kustomizations)",
            );
            return;
        }
        let d = tempfile::tempdir().unwrap();
        crate::test_support::copy_tree(
            &crate::test_support::project_root().join("fixtures/layouts/external-secrets"),
            d.path(),
        )
        .unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        let t = load(d.path()).unwrap();
        let unresolved: Vec<&Finding> = t
            .findings
            .iter()
            .filter(|f| f.rule == substitute::UNRESOLVED_RULE)
            .collect();
        assert!(unresolved.is_empty(), "{unresolved:#?}");
        let cm = t
            .find("", "ConfigMap")
            .find(|o| o.name() == "seedbox-targets")
            .unwrap_or_else(|| panic!("{:#?}", t.objects));
        // the placeholder's value where it has the key; a reference where only the store has it
        assert_eq!(cm.value["data"]["HOST"], "seedbox.example.com");
        assert_eq!(cm.value["data"]["TARGET"], "${ONYX_ADDR}:9100");
        let notes: Vec<&Finding> = t
            .findings
            .iter()
            .filter(|f| f.rule == substitute::SOURCE_RULE)
            .collect();
        assert_eq!(notes.len(), 1, "{:#?}", t.findings);
        assert_eq!(notes[0].severity, Severity::Info);
        assert_eq!(notes[0].object, "Kustomization/observability/seedbox");
        assert!(
            notes[0].message.contains(
                "substituteFrom Secret cluster-secrets is written in the cluster by ExternalSecret cluster-secrets of the Kustomization's namespace (kubernetes/components/global-vars/cluster-secrets-externalsecret.yaml), over the copy in the tree"
            ),
            "{}",
            notes[0].message
        );

        // no ExternalSecret: the placeholder is all there is, and ONYX_ADDR is empty in the cluster too
        let component = d.path().join("kubernetes/components/global-vars");
        std::fs::remove_file(component.join("cluster-secrets-externalsecret.yaml")).unwrap();
        std::fs::write(
            component.join("kustomization.yaml"),
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [./cluster-secrets.yaml]\n",
        )
        .unwrap();
        let t = load(d.path()).unwrap();
        let unresolved: Vec<(&str, Severity)> = t
            .findings
            .iter()
            .filter(|f| f.rule == substitute::UNRESOLVED_RULE)
            .map(|f| (f.object.as_str(), f.severity))
            .collect();
        assert_eq!(
            unresolved,
            [("ConfigMap/observability/seedbox-targets", Severity::Warning)],
            "{:#?}",
            t.findings
        );
        assert!(
            t.findings
                .iter()
                .filter(|f| f.rule == substitute::UNRESOLVED_RULE)
                .all(|f| f.message.contains("${ONYX_ADDR}"))
        );
        assert!(t.findings.iter().all(|f| f.rule != substitute::SOURCE_RULE));
    }

    /// Issue 19 cause 7 (the last false warnings of the evaluation): a remote base left out (no
    /// `--allow-remote-bases`) is nothing the user must change, since Flux fetches it. It is an `info` note, one
    /// text for every base (grouped), naming the base as its object: the same base from two kustomizations is one
    /// finding with two places. The rest of the kustomization is linted.
    #[test]
    fn a_remote_base_left_out_is_one_grouped_info_note_naming_it() {
        if crate::test_support::kubectl().is_none() {
            crate::test_support::skip::<()>(
                "kubectl cannot run (kustomize builds the kustomizations)",
            );
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let base =
            "https://github.com/kubernetes-csi/external-snapshotter//client/config/crd?ref=v8.2.0";
        for app in ["a", "b"] {
            write(
                d.path(),
                &format!("{app}/kustomization.yaml"),
                format!("resources:\n  - cm.yaml\n  - {base}\n"),
            );
            write(
                d.path(),
                &format!("{app}/cm.yaml"),
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {app}, namespace: n}}\n"
                ),
            );
        }
        let t = load(d.path()).unwrap();
        let mut ids: Vec<String> = t.objects.iter().map(Object::id).collect();
        ids.sort();
        assert_eq!(ids, ["ConfigMap/n/a", "ConfigMap/n/b"]);
        assert!(
            t.findings.iter().all(|f| f.severity == Severity::Info),
            "{:#?}",
            t.findings
        );
        let notes: Vec<&Finding> = t
            .findings
            .iter()
            .filter(|f| f.rule == KUSTOMIZATION_BUILD_RULE)
            .collect();
        assert_eq!(notes.len(), 2, "{:#?}", t.findings);
        assert!(
            notes
                .iter()
                .all(|n| n.object == base && n.path == "resources[1]")
        );
        assert_eq!(notes[0].message, notes[1].message);
        assert!(
            notes[0].fix.contains("--allow-remote-bases"),
            "{}",
            notes[0].fix
        );
        let merged = crate::finding::merge_places(t.findings.clone());
        assert_eq!(merged.len(), 1, "{merged:#?}");
        assert_eq!(
            merged[0].places,
            ["a/kustomization.yaml", "b/kustomization.yaml"]
        );
    }

    /// Issue 19: a Flux Kustomization whose `sourceRef.kind` is `ExternalArtifact` (Flux 2.7+; kustomize-controller
    /// v1.9.4 accepts OCIRepository, GitRepository, Bucket and ExternalArtifact) was skipped silently. It is one
    /// `info` note per Kustomization with one text (grouped), saying what was not checked and why; a Git source is
    /// followed as before, with no note.
    #[test]
    fn a_kustomization_from_an_external_artifact_is_a_grouped_note() {
        let d = tempfile::tempdir().unwrap();
        let ks = |name: &str, kind: &str| {
            format!(
                "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: ./apps\n  sourceRef: {{kind: {kind}, name: {name}}}\n"
            )
        };
        write(
            d.path(),
            "clusters/home/apps.yaml",
            [
                ks("apps", "GitRepository"),
                ks("generated", "ExternalArtifact"),
                ks("rendered", "ExternalArtifact"),
                ks("oci", "OCIRepository"),
            ]
            .concat(),
        );
        write(
            d.path(),
            "apps/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n",
        );
        let t = load(d.path()).unwrap();
        assert!(t.objects.iter().any(|o| o.id() == "ConfigMap/n/c"));
        let notes: Vec<&Finding> = t
            .findings
            .iter()
            .filter(|f| f.rule == OTHER_SOURCE_RULE)
            .collect();
        let objects: Vec<&str> = notes.iter().map(|n| n.object.as_str()).collect();
        assert_eq!(
            objects,
            [
                "Kustomization/flux-system/oci",
                "Kustomization/flux-system/rendered",
                "Kustomization/flux-system/generated"
            ],
            "{:#?}",
            t.findings
        );
        assert!(notes.iter().all(|n| n.severity == Severity::Info));
        let external: Vec<&&Finding> = notes
            .iter()
            .filter(|n| n.message.contains("ExternalArtifact"))
            .collect();
        assert_eq!(external.len(), 2);
        assert_eq!(external[0].message, external[1].message);
        assert!(
            external[0].message.contains("cannot fetch")
                && external[0].message.contains("was not checked"),
            "{}",
            external[0].message
        );
    }

    /// Issue 19 ("deployed to two clusters is one finding that lists its places and clusters"), the
    /// fluxcd/flux2-kustomize-helm-example layout: `clusters/<name>/flux-system` applies `clusters/<name>`, whose
    /// `apps.yaml` applies `apps/<name>`, an overlay of `apps/base/podinfo`. The tree names the clusters that deploy
    /// each file (findings name them); one cluster names none.
    #[test]
    fn each_file_names_the_clusters_that_deploy_it() {
        let d = tempfile::tempdir().unwrap();
        let ks = |name: &str, path: &str| {
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n"
            )
        };
        for c in ["production", "staging"] {
            write(
                d.path(),
                &format!("clusters/{c}/flux-system/gotk-sync.yaml"),
                ks("flux-system", &format!("./clusters/{c}")),
            );
            write(
                d.path(),
                &format!("clusters/{c}/apps.yaml"),
                ks("apps", &format!("./apps/{c}")),
            );
            write(
                d.path(),
                &format!("apps/{c}/kustomization.yaml"),
                "resources:\n  - ../base/podinfo\n",
            );
        }
        write(
            d.path(),
            "apps/base/podinfo/kustomization.yaml",
            "resources:\n  - release.yaml\n",
        );
        write(
            d.path(),
            "apps/base/podinfo/release.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: podinfo, namespace: podinfo}\n",
        );
        std::fs::create_dir(d.path().join(".git")).unwrap();
        let t = load(d.path()).unwrap();
        let of = |f: &str| -> Vec<&str> {
            t.clusters
                .get(f)
                .map(|c| c.iter().map(String::as_str).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            of("apps/base/podinfo/release.yaml"),
            ["production", "staging"],
            "{:#?}",
            t.clusters
        );
        assert_eq!(
            of("clusters/staging/apps.yaml"),
            ["staging"],
            "{:#?}",
            t.clusters
        );
        assert_eq!(
            t.find("", "ConfigMap").count(),
            1,
            "one object: {:#?}",
            t.objects
        );
        // one cluster: nothing to tell apart
        std::fs::remove_dir_all(d.path().join("clusters/staging")).unwrap();
        let t = load(d.path()).unwrap();
        assert!(t.clusters.is_empty(), "{:#?}", t.clusters);
        assert_eq!(
            cluster_name(Path::new("clusters/home/flux-system/gotk-sync.yaml")).as_deref(),
            Some("home")
        );
        assert_eq!(
            cluster_name(Path::new("kubernetes/main/flux/config/cluster.yaml")).as_deref(),
            Some("main")
        );
        assert_eq!(
            cluster_name(Path::new("kubernetes/flux/cluster/ks.yaml")),
            None
        );
        assert_eq!(cluster_name(Path::new("clusters/home.yaml")), None);
    }

    /// Issue 19, measured on LukeEvansTech/talos-cluster: a child Kustomization whose source is another Git
    /// repository (`GitRepository apc-fleet`, `path: ./kubernetes`, a fleet repo) was followed into this checkout's
    /// `./kubernetes`: every child there was read again as committed, without the parent's patches (323 false
    /// `flux-substitution-unresolved`, 442 HelmReleases counted for 239). It is not followed, and one note says why.
    #[test]
    fn a_kustomization_from_another_git_repository_is_not_followed_here() {
        if crate::test_support::kubectl().is_none() {
            crate::test_support::skip::<()>(
                "kubectl cannot run (kustomize builds the parent's patches)",
            );
            return;
        }
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "kubernetes/flux/cluster/ks.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: cluster-apps, namespace: flux-system}\nspec:\n  path: ./kubernetes/apps\n  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  patches:\n    - patch: |-\n        apiVersion: kustomize.toolkit.fluxcd.io/v1\n        kind: Kustomization\n        metadata: {name: _}\n        spec:\n          postBuild:\n            substitute: {TIMEZONE: UTC}\n      target: {group: kustomize.toolkit.fluxcd.io, kind: Kustomization}\n",
        );
        write(
            d.path(),
            "kubernetes/apps/obs/fleet/ks.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: fleet-sync, namespace: obs}\nspec:\n  path: ./kubernetes\n  sourceRef: {kind: GitRepository, name: apc-fleet}\n",
        );
        write(
            d.path(),
            "kubernetes/apps/obs/echo/ks.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: echo, namespace: obs}\nspec:\n  path: ./kubernetes/apps/obs/echo/app\n  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  postBuild:\n    substitute: {APP: echo}\n",
        );
        write(
            d.path(),
            "kubernetes/apps/obs/kustomization.yaml",
            "resources: [./echo/ks.yaml, ./fleet/ks.yaml]\n",
        );
        write(
            d.path(),
            "kubernetes/apps/obs/echo/app/kustomization.yaml",
            "resources: [./cm.yaml]\n",
        );
        write(
            d.path(),
            "kubernetes/apps/obs/echo/app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: echo, namespace: obs}\ndata: {TZ: \"${TIMEZONE}\", NAME: \"${APP}\"}\n",
        );
        std::fs::create_dir(d.path().join(".git")).unwrap();
        let t = load(d.path()).unwrap();
        let cms: Vec<&Object> = t.find("", "ConfigMap").collect();
        assert_eq!(cms.len(), 1, "{cms:#?}");
        assert_eq!(cms[0].value["data"]["TZ"], "UTC", "{:#?}", cms[0].value);
        assert!(
            t.findings
                .iter()
                .all(|f| f.rule != substitute::UNRESOLVED_RULE),
            "{:#?}",
            t.findings
        );
        let notes: Vec<&Finding> = t
            .findings
            .iter()
            .filter(|f| f.rule == OTHER_SOURCE_RULE)
            .collect();
        assert_eq!(notes.len(), 1, "{:#?}", t.findings);
        assert_eq!(notes[0].object, "Kustomization/obs/fleet-sync");
        assert!(
            notes[0].message.contains("GitRepository/apc-fleet"),
            "{}",
            notes[0].message
        );
    }

    #[test]
    fn follows_kustomization_resources_and_not_other_files() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "app/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
        );
        write(
            d.path(),
            "app/a.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
        );
        // a patch file that is not listed must not be read as an object
        write(
            d.path(),
            "app/patch.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
        );
        write(
            d.path(),
            "clusters/c/sync.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n---\n# only a comment\n",
        );
        let t = load(d.path()).unwrap();
        let ids: Vec<_> = t.objects.iter().map(Object::id).collect();
        assert_eq!(ids, ["Namespace/a", "ConfigMap/n/c"]);
        assert_eq!(t.objects[0].file, PathBuf::from("app/a.yaml"));
    }

    #[test]
    fn missing_resource_is_an_error_naming_the_kustomization() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "kustomization.yaml", "resources: [nope.yaml]\n");
        let e = load(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("kustomization.yaml") && e.contains("nope.yaml"),
            "{e}"
        );
    }

    #[test]
    fn yaml_error_has_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n",
        );
        let e = load(d.path()).unwrap_err();
        match e {
            Error::Model(headlamp_e2e_model::Error::Yaml { file, line, .. }) => {
                assert_eq!(file, PathBuf::from("bad.yaml"));
                assert!(line >= 4, "line {line}");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            normalise(Path::new("app/./hr.yaml")),
            PathBuf::from("app/hr.yaml")
        );
        assert_eq!(
            normalise(Path::new("./a/b/../c.yaml")),
            PathBuf::from("a/c.yaml")
        );
        assert_eq!(
            normalise(Path::new("../x.yaml")),
            PathBuf::from("../x.yaml")
        );
    }

    fn docs(yaml: &str) -> Vec<Object> {
        parse_yaml_documents(yaml, Path::new("t.yaml"))
            .unwrap()
            .into_iter()
            .map(|v| Object::plain(v, "t.yaml"))
            .collect()
    }

    #[test]
    fn target_namespace_as_kustomize_sets_it() {
        let mut objs = docs(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: not-used}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {kind: ServiceAccount, name: default}\n- {kind: ServiceAccount, name: sa}\n- {kind: ServiceAccount, name: x, namespace: keep}\n",
        );
        let spec =
            serde_json::json!({"targetNamespace": "tools", "namePrefix": "p-", "nameSuffix": "-s"});
        apply_flux_kustomization(&mut objs, &spec);
        let ids: Vec<String> = objs.iter().map(Object::id).collect();
        // namespaced objects get (or have replaced) the namespace; a Namespace and a ClusterRoleBinding keep none;
        // the Namespace is renamed to the target (cluster-template's common component names it `not-used`), and
        // takes no prefix or suffix (checked with kubectl v1.35.2: `namespace: tools` + `namePrefix: p-`)
        assert_eq!(
            ids,
            [
                "ServiceAccount/tools/p-sa-s",
                "ConfigMap/tools/p-c-s",
                "Namespace/tools",
                "ClusterRoleBinding/p-b-s"
            ]
        );
        // subjects: only the one named `default` gets the namespace (kustomize's defaultOnly mode)
        let subjects = &objs[3].value["subjects"];
        assert_eq!(subjects[0]["namespace"], "tools");
        assert!(subjects[1]["namespace"].is_null());
        assert_eq!(subjects[2]["namespace"], "keep");
    }

    #[test]
    fn flux_kustomization_paths_are_followed_from_the_repository_root() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        write(
            d.path(),
            "k/apps/tools/kustomization.yaml",
            "resources: [./hl/ks.yaml]\n",
        );
        write(
            d.path(),
            "k/apps/tools/hl/ks.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: hl, namespace: flux-system}\nspec: {path: ./k/apps/tools/hl/app, targetNamespace: tools, sourceRef: {kind: GitRepository, name: flux-system}}\n",
        );
        write(
            d.path(),
            "k/apps/tools/hl/app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        );
        // DIR below the repository root: spec.path is still relative to the root
        let t = load(&d.path().join("k/apps")).unwrap();
        let ids: Vec<_> = t.objects.iter().map(Object::id).collect();
        assert_eq!(
            ids,
            ["Kustomization/flux-system/hl", "ConfigMap/tools/c"],
            "{:?}",
            t.warnings
        );
        assert_eq!(t.objects[1].file, PathBuf::from("tools/hl/app/cm.yaml"));
    }

    #[test]
    fn missing_dir_is_reported() {
        let e = load(Path::new("/nonexistent/gitops")).unwrap_err();
        assert!(matches!(e, Error::GitopsDirMissing(_)));
    }
}

#[cfg(test)]
mod bomb_tests {
    use super::*;

    #[test]
    fn a_yaml_bomb_is_reported_where_it_is() {
        let mut text = String::from(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = "a".to_string();
        for n in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            text.push_str(&format!("  {n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = n.to_string();
        }
        let e = parse_yaml_documents(&text, Path::new("bomb.yaml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bomb.yaml:6:10: YAML syntax error: repetition limit exceeded"),
            "{e}"
        );
        assert!(e.to_string().contains("YAML bomb"), "{e}");
    }
}
