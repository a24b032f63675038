//! Every kustomize build lint runs happens here: the kustomization graph is resolved first, from kustomize's closed
//! schema, and only what it names and what passed the checks is mirrored into a temporary directory, where
//! `kubectl kustomize` builds it. kustomize then cannot read anything else, whatever `--load-restrictor` says.
//!
//! The fields that name a file or a directory, read in kubernetes-sigs/kustomize `api/types/kustomization.go`
//! (`Kustomization`, decoded with `DisallowUnknownFields`: a field outside the schema is kustomize's error, refused
//! here too), `api/types/patch.go`, `api/types/replacementfield.go`, `api/types/kvpairsources.go`
//! (`FileSources` `[key=]path`, `EnvSources`, `EnvSource`) and `api/types/fix.go`/`kustomization.go`
//! (`FixKustomizationPreMarshalling`: a `patchesStrategicMerge` entry that is a readable file is a path, otherwise an
//! inline patch): `resources`, `bases`, `components` (files, or directories with a kustomization), `crds`,
//! `configurations`, `patches[].path`, `patchesJson6902[].path`, `patchesStrategicMerge[]` (paths),
//! `replacements[].path`, `configMapGenerator`/`secretGenerator` `files`/`envs`/`env`, `openapi.path`, and
//! `generators`/`transformers`/`validators` (files of plugin configurations, or inline ones: their `path`, `paths`,
//! `files`, `envs`, `env` are checked). `helmCharts`/`helmGlobals`/`helmChartInflationGenerator` run helm and are
//! refused (kustomize needs `--enable-helm` for them, which neither kustomize-controller nor lint passes).
//!
//! The checks, as kustomize-controller's filesystem rooted at the source artifact (fluxcd/pkg `kustomize/filesys`,
//! `MakeFsOnDiskSecure`: a path that leaves the root is an error) makes them: a reference that is absolute, or that
//! leaves the repository root lexically (Go's `filepath.Join` cleans `a/../..` before the open, as
//! kubernetes-sigs/kustomize `api/internal/loader/fileloader.go` `Load` does) or after its symlinks are resolved, is
//! refused, and so is anything that is not a regular file or a directory. Paths are resolved from the directory of
//! the kustomization after its symlinks are resolved (kustomize's `filesys.ConfirmDir`).
//!
//! Remote references: kustomize fetches an `http(s)://` file (`IsRemoteFile`) and clones anything
//! `git.NewRepoSpecFromURL` takes for a repository (kubernetes-sigs/kustomize `api/internal/git/repospec.go`:
//! `git::`, `gh:`, `ssh://`, `https://`, `http://`, `git@`, `github.com`, `_git/`, `file://`; `oci://` is pulled).
//! By default lint fetches nothing: a remote entry of `resources`/`bases`/`components` is left out of the build with
//! a warning naming it (kustomize-controller's own `--no-remote-bases` flag makes the same choice, fluxcd
//! kustomize-controller `main.go`), and a remote file anywhere else refuses the kustomization. With
//! `--allow-remote-bases` ([`set_allow_remote_bases`]) an `https://` reference whose `ref`/`version` is a plain name
//! (no leading `-`: kustomize passes it to `git fetch`) is kept, and every build that fetches shares one deadline
//! ([`REMOTE_DEADLINE`]). A clone is read by kustomize with `RestrictionRootOnly` (fileloader.go
//! `newLoaderAtGitClone`: "Clones never allowed to escape root").
//!
//! The mirror copies each regular file once, at its canonical place, and recreates each symlink inside the root as
//! a (relative) symlink: one big file behind many links is written once. A build holds at most
//! [`MAX_SANDBOX_BYTES`] and [`MAX_SANDBOX_ENTRIES`]. Each sandbox is registered while it lives, so that an
//! interrupted lint removes it ([`remove_all`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::kustomize::paths::{KUSTOMIZATION_NAMES, normalise};

/// The bytes one build's mirror may copy (the sum of its distinct regular files).
pub const MAX_SANDBOX_BYTES: u64 = 512 * 1024 * 1024;
/// The files, directories and links one build's mirror may hold, and the kustomizations its graph may have.
pub const MAX_SANDBOX_ENTRIES: usize = 20_000;
/// How deep kustomizations may include each other (a base of a base of …): deeper is refused, so that a hostile
/// chain cannot exhaust the stack of this check (nor kustomize's).
pub const MAX_NESTING: usize = 100;
/// With `--allow-remote-bases`: every build that fetches a remote base, together, within this time.
pub const REMOTE_DEADLINE: Duration = Duration::from_secs(120);

static ALLOW_REMOTE: AtomicBool = AtomicBool::new(false);
static REMOTE_STARTED: OnceLock<Instant> = OnceLock::new();

/// `cargo xtask lint --allow-remote-bases`: remote bases (https only, plain refs) are fetched by kustomize.
pub fn set_allow_remote_bases(on: bool) {
    ALLOW_REMOTE.store(on, Ordering::Relaxed);
}

pub fn allow_remote_bases() -> bool {
    ALLOW_REMOTE.load(Ordering::Relaxed)
}

/// What is left of [`REMOTE_DEADLINE`] (the clock starts at the first build that fetches).
pub fn remote_time_left() -> Duration {
    let started = REMOTE_STARTED.get_or_init(Instant::now);
    REMOTE_DEADLINE.saturating_sub(started.elapsed())
}

/// Why a reference was not built as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An absolute path.
    Absolute,
    /// It leaves the repository root (lexically, or through a symlink).
    OutsideRoot,
    /// A remote base left out of the build (remote bases not allowed): an `info` note, the rest is built.
    RemoteSkipped,
    /// A remote reference that is refused (not https, a ref that is not a plain name, a remote file while remote
    /// bases are not allowed, the deadline spent).
    RemoteRefused(String),
    /// A local resource that does not exist (kustomize fails on it).
    Missing,
    /// Anything else kustomize would do that lint does not let it (helm, a FIFO, an unknown field, too big).
    Refused(String),
}

/// One reference of one kustomization.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The kustomization file, relative to the root the graph was checked in.
    pub file: PathBuf,
    /// The field, as a path (`configMapGenerator[0].files[1]`).
    pub field: String,
    /// The reference as written.
    pub reference: String,
    pub refusal: Refusal,
}

impl Problem {
    /// Whether the build is refused (everything but a skipped remote base).
    pub fn fatal(&self) -> bool {
        self.refusal != Refusal::RemoteSkipped
    }

    /// What is wrong, naming the reference (control characters escaped, secrets redacted).
    pub fn describe(&self) -> String {
        let r = crate::redact::redact(&crate::redact::escape_controls(&self.reference));
        match &self.refusal {
            Refusal::Absolute => format!(
                "{} names {r:?}, an absolute path: kustomize-controller refuses it (its filesystem is rooted at the source), and lint never reads outside the repository",
                self.field
            ),
            Refusal::OutsideRoot => format!(
                "{} names {r:?}, which leaves the repository root (through `..` or a symlink): kustomize-controller refuses it (its filesystem is rooted at the source), and lint never reads outside the repository",
                self.field
            ),
            Refusal::RemoteSkipped => format!(
                "{} names the remote base {r:?}, which lint did not fetch (it fetches nothing unless asked with --allow-remote-bases; kustomize-controller's --no-remote-bases flag makes the same choice): the kustomization is linted without it",
                self.field
            ),
            Refusal::RemoteRefused(why) => format!(
                "{} names the remote reference {r:?}, which lint does not fetch: {why}",
                self.field
            ),
            Refusal::Missing => format!(
                "{} names {r:?}, which does not exist: kustomize fails this kustomization",
                self.field
            ),
            Refusal::Refused(why) => format!("{} names {r:?}: {why}", self.field),
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match &self.refusal {
            Refusal::Absolute | Refusal::OutsideRoot => {
                "keep every file a kustomization uses inside the repository, named by a relative path"
            }
            Refusal::RemoteSkipped => {
                "pass --allow-remote-bases to have lint fetch https remote bases, or vendor the base into the repository"
            }
            Refusal::RemoteRefused(_) => {
                "use an https URL whose ?ref= is a plain tag, branch or commit (pass --allow-remote-bases), or vendor the file into the repository"
            }
            Refusal::Missing => "create it, or remove it from the kustomization",
            Refusal::Refused(_) => "remove it from the kustomization",
        }
    }
}

/// A temporary directory registered for removal on an interrupt ([`remove_all`]), removed on drop.
pub struct TempDir {
    dir: Option<tempfile::TempDir>,
}

fn live() -> &'static Mutex<HashSet<PathBuf>> {
    static LIVE: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        if let Ok(mut l) = live().lock() {
            l.insert(dir.path().to_path_buf());
        }
        Ok(TempDir { dir: Some(dir) })
    }
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            if let Ok(mut l) = live().lock() {
                l.remove(d.path());
            }
            let _ = d.close();
        }
    }
}

/// Remove every temporary directory of a build that is still there (on SIGINT/SIGTERM, before the process exits:
/// destructors do not run then).
pub fn remove_all() {
    let dirs: Vec<PathBuf> = match live().lock() {
        Ok(mut l) => l.drain().collect(),
        Err(_) => return,
    };
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A mirror to build in.
pub struct Sandbox {
    dir: TempDir,
    start: PathBuf,
    /// Whether a remote reference was kept (the build then fetches: [`REMOTE_DEADLINE`]).
    pub fetches: bool,
    /// The content key of the build ([`Prepared::content_key`]), for [`super::build_cache`] to store its output.
    pub content_key: Option<String>,
}

impl Sandbox {
    /// The directory to run `kubectl kustomize` on.
    pub fn start(&self) -> PathBuf {
        self.root().join(&self.start)
    }
    /// Where the checked root is mirrored (paths in kustomize's messages start with it).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

/// The outcome of [`prepare`]: the problems (each a finding or a warning), and the sandbox when none is fatal.
pub struct Prepared {
    /// The mirror to build in; `None` when a problem is fatal, or when the build's output is already in the cache
    /// ([`Prepared::cached`]: no mirror is written then).
    pub sandbox: Option<Sandbox>,
    /// The output of the same build, from [`super::build_cache`] (when it is on).
    pub cached: Option<String>,
    pub problems: Vec<Problem>,
    /// The kustomization files of the graph that are on disk (relative to `root`): what kustomize reads to build
    /// `start` (a kustomization generated for `start` is not one of them).
    pub kustomizations: Vec<PathBuf>,
}

/// Resolve the kustomization graph of `start` (a directory relative to `root`; `root` canonical), check it, and
/// mirror what it names into a sandbox. `start_kustomization`: the kustomization to use at `start` instead of the
/// one on disk (a Flux Kustomization's spec written into it, or one generated for a directory without one), with
/// the file name to write it as.
pub fn prepare(
    root: &Path,
    start: &Path,
    start_kustomization: Option<(&str, Map<String, Value>)>,
) -> Prepared {
    let mut g = Graph::new(root);
    g.kustomization(start, start_kustomization);
    let kustomizations: Vec<PathBuf> = g
        .kustomizations
        .iter()
        .map(|(dir, (name, _))| dir.join(name))
        .filter(|f| root.join(f).is_file())
        .collect();
    if g.problems.iter().any(Problem::fatal) {
        return Prepared {
            sandbox: None,
            cached: None,
            problems: g.problems,
            kustomizations,
        };
    }
    // a build that fetches reads the network: never cached
    let content_key = (super::build_cache::enabled() && !g.fetches)
        .then(|| g.content_key(start))
        .flatten();
    if let Some(text) = content_key.as_deref().and_then(super::build_cache::get) {
        return Prepared {
            sandbox: None,
            cached: Some(text),
            problems: g.problems,
            kustomizations,
        };
    }
    match g.mirror() {
        Ok(dir) => Prepared {
            sandbox: Some(Sandbox {
                dir,
                start: start.to_path_buf(),
                fetches: g.fetches,
                content_key,
            }),
            cached: None,
            problems: g.problems,
            kustomizations,
        },
        Err(why) => {
            g.problems.push(Problem {
                file: start.to_path_buf(),
                field: "(build)".into(),
                reference: start.display().to_string(),
                refusal: Refusal::Refused(why),
            });
            Prepared {
                sandbox: None,
                cached: None,
                problems: g.problems,
                kustomizations,
            }
        }
    }
}

/// [`prepare`] without the mirror: the problems of the kustomization graph at `start` (for a directory lint wrote
/// itself, built where it is).
pub fn check(root: &Path, start: &Path) -> Vec<Problem> {
    let mut g = Graph::new(root);
    g.kustomization(start, None);
    g.problems
}

/// Is `r` something kustomize fetches rather than reads (see the module documentation)?
pub fn is_remote(r: &str) -> bool {
    let lower = r.to_ascii_lowercase();
    if r.contains("://") || r.contains("_git/") || r.contains('?') {
        return true;
    }
    if ["git::", "gh:", "git@", "github.com"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return true;
    }
    // scp-like `host:path`: a colon before the first slash
    match (r.find(':'), r.find('/')) {
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Why the remote reference `r` is not fetched even with `--allow-remote-bases`, if it is not.
pub fn remote_refusal(r: &str) -> Option<String> {
    let Ok(u) = url::Url::parse(r) else {
        return Some("not an https URL (only https remote bases are fetched)".into());
    };
    if u.scheme() != "https" {
        return Some(format!(
            "its scheme is {:?}: only https remote bases are fetched",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Some("it names no host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Some("it carries credentials".into());
    }
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "ref" | "version" => {
                let plain = !v.is_empty()
                    && !v.starts_with('-')
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._/-+".contains(c));
                if !plain {
                    return Some(format!(
                        "its {k} {v:?} is not a plain tag, branch or commit name (kustomize passes it to git fetch)"
                    ));
                }
            }
            "timeout" | "submodules" => {}
            other => {
                return Some(format!(
                    "its query parameter {other:?} is not one lint passes on"
                ));
            }
        }
    }
    if r.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it holds whitespace".into());
    }
    None
}

/// Keys of a kustomization that name no file.
const PLAIN_KEYS: [&str; 17] = [
    "apiVersion",
    "kind",
    "metadata",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "imageTags",
    "replicas",
    "vars",
    "sortOptions",
    "buildMetadata",
    "generatorOptions",
    "inventory",
];

/// Keys of builtin plugin configurations (`generators`/`transformers`/`validators`) that name files:
/// `PatchTransformer.path`, `PatchStrategicMergeTransformer.paths`, `PatchJson6902Transformer.path`,
/// `ConfigMapGenerator`/`SecretGenerator` `files`/`envs`/`env`, `ReplacementTransformer.replacements[].path`.
const PLUGIN_FILE_KEYS: [&str; 5] = ["path", "paths", "files", "envs", "env"];

struct Graph<'a> {
    root: &'a Path,
    allow_remote: bool,
    problems: Vec<Problem>,
    /// Kustomizations by directory (canonical, relative to root): their file name and the text to write there
    /// (`None`: the file as it is).
    kustomizations: BTreeMap<PathBuf, (String, Option<String>)>,
    /// Paths (lexical, relative to root) to mirror.
    paths: BTreeSet<PathBuf>,
    fetches: bool,
    /// How deep the kustomization being checked is included.
    depth: usize,
}

/// What a local reference resolved to.
enum Local {
    File,
    Dir(PathBuf),
}

impl<'a> Graph<'a> {
    fn new(root: &'a Path) -> Graph<'a> {
        Graph {
            root,
            allow_remote: allow_remote_bases(),
            problems: Vec::new(),
            kustomizations: BTreeMap::new(),
            paths: BTreeSet::new(),
            fetches: false,
            depth: 0,
        }
    }

    fn problem(&mut self, file: &Path, field: String, reference: &str, refusal: Refusal) {
        self.problems.push(Problem {
            file: file.to_path_buf(),
            field,
            reference: reference.to_string(),
            refusal,
        });
    }

    /// Check the kustomization in `dir` (canonical, relative to root) and everything it names.
    fn kustomization(&mut self, dir: &Path, given: Option<(&str, Map<String, Value>)>) {
        if self.kustomizations.contains_key(dir) {
            return;
        }
        if self.kustomizations.len() >= MAX_SANDBOX_ENTRIES {
            self.problem(
                dir,
                "(graph)".into(),
                &dir.display().to_string(),
                Refusal::Refused(format!(
                    "the kustomization graph has more than {MAX_SANDBOX_ENTRIES} kustomizations"
                )),
            );
            return;
        }
        let real_dir = self.root.join(dir);
        let present: Vec<&str> = KUSTOMIZATION_NAMES
            .iter()
            .copied()
            .filter(|n| real_dir.join(n).symlink_metadata().is_ok())
            .collect();
        let (name, mut map, given_text) = match given {
            Some((name, map)) => (name.to_string(), map, true),
            None => {
                let shown = dir.join("kustomization.yaml");
                if present.len() > 1 {
                    self.problem(
                        &shown,
                        "(file)".into(),
                        &present.join(", "),
                        Refusal::Refused(
                            "more than one kustomization file: kustomize refuses the directory"
                                .into(),
                        ),
                    );
                    return;
                }
                let Some(name) = present.first() else {
                    self.problem(
                        dir,
                        "(directory)".into(),
                        &dir.display().to_string(),
                        Refusal::Refused(
                            "a directory without a kustomization file: kustomize cannot build it"
                                .into(),
                        ),
                    );
                    return;
                };
                let file = dir.join(name);
                match self.resolve(&file) {
                    Ok(Local::File) => {}
                    Ok(Local::Dir(_)) => {
                        self.problem(
                            &file,
                            "(file)".into(),
                            name,
                            Refusal::Refused("a directory, not a kustomization file".into()),
                        );
                        return;
                    }
                    Err(refusal) => {
                        self.problem(&file, "(file)".into(), name, refusal);
                        return;
                    }
                }
                let map = match crate::files::read_text(&self.root.join(&file)) {
                    Ok(text) => match crate::yaml::parse_documents(&text) {
                        Ok(docs) => match docs.into_iter().next() {
                            Some(Value::Object(m)) => m,
                            Some(Value::Null) | None => Map::new(),
                            Some(_) => {
                                self.problem(
                                    &file,
                                    "(file)".into(),
                                    name,
                                    Refusal::Refused("not a mapping: not a kustomization".into()),
                                );
                                return;
                            }
                        },
                        Err(e) => {
                            self.problem(
                                &file,
                                "(file)".into(),
                                name,
                                Refusal::Refused(format!("not valid YAML: {}", e.message)),
                            );
                            return;
                        }
                    },
                    Err(e) => {
                        self.problem(
                            &file,
                            "(file)".into(),
                            name,
                            Refusal::Refused(format!("cannot be read: {e}")),
                        );
                        return;
                    }
                };
                (name.to_string(), map, false)
            }
        };
        let file = dir.join(&name);
        // reserved before the references are followed: a cycle ends here (kustomize reports it)
        self.kustomizations
            .insert(dir.to_path_buf(), (name.clone(), None));
        let mut changed = false;
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            match key.as_str() {
                k if PLAIN_KEYS.contains(&k) => {}
                "resources" | "bases" | "components" => {
                    let Some(list) = map.get_mut(&key).and_then(Value::as_array_mut) else {
                        continue;
                    };
                    let entries = std::mem::take(list);
                    let mut kept = Vec::new();
                    for (i, e) in entries.into_iter().enumerate() {
                        let field = format!("{key}[{i}]");
                        let Some(r) = e.as_str() else {
                            kept.push(e);
                            continue;
                        };
                        if self.base(dir, &file, field, r) {
                            kept.push(e);
                        } else {
                            changed = true;
                        }
                    }
                    if let Some(list) = map.get_mut(&key).and_then(Value::as_array_mut) {
                        *list = kept;
                    }
                }
                "crds" | "configurations" => {
                    for (i, r) in strings(&map[&key]) {
                        self.file(dir, &file, format!("{key}[{i}]"), &r);
                    }
                }
                "patches" | "patchesJson6902" | "replacements" => {
                    for (i, p) in map[&key].as_array().into_iter().flatten().enumerate() {
                        if let Some(r) = p.get("path").and_then(Value::as_str) {
                            self.file(dir, &file, format!("{key}[{i}].path"), r);
                        }
                    }
                }
                "patchesStrategicMerge" => {
                    for (i, r) in strings(&map[&key]) {
                        if !is_inline_patch(&r) {
                            self.file(dir, &file, format!("{key}[{i}]"), &r);
                        }
                    }
                }
                "configMapGenerator" | "secretGenerator" => {
                    let gens = map[&key].as_array().cloned().unwrap_or_default();
                    for (i, g) in gens.iter().enumerate() {
                        self.generator_files(dir, &file, &format!("{key}[{i}]"), g);
                    }
                }
                "openapi" => {
                    if let Some(r) = map[&key].get("path").and_then(Value::as_str) {
                        self.file(dir, &file, "openapi.path".into(), r);
                    }
                }
                "generators" | "transformers" | "validators" => {
                    for (i, r) in strings(&map[&key]) {
                        let field = format!("{key}[{i}]");
                        if r.contains('\n') {
                            match crate::yaml::parse_documents(&r) {
                                Ok(docs) => {
                                    for d in &docs {
                                        self.plugin_files(dir, &file, &field, d);
                                    }
                                }
                                Err(_) => self.problem(
                                    &file,
                                    field,
                                    &r,
                                    Refusal::Refused("an inline plugin configuration that is not YAML".into()),
                                ),
                            }
                            continue;
                        }
                        if self.file(dir, &file, field.clone(), &r) {
                            let p = self.root.join(normalise(&dir.join(&r)));
                            match crate::files::read_text(&p)
                                .ok()
                                .and_then(|t| crate::yaml::parse_documents(&t).ok())
                            {
                                Some(docs) => {
                                    for d in &docs {
                                        self.plugin_files(dir, &file, &field, d);
                                    }
                                }
                                None => self.problem(
                                    &file,
                                    field,
                                    &r,
                                    Refusal::Refused(
                                        "a plugin configuration lint cannot read (a directory of them is not followed)"
                                            .into(),
                                    ),
                                ),
                            }
                        }
                    }
                }
                "helmCharts" | "helmGlobals" | "helmChartInflationGenerator" => {
                    self.problem(
                        &file,
                        key.clone(),
                        &key,
                        Refusal::Refused(
                            "kustomize runs helm for it only with --enable-helm, which kustomize-controller does not pass and lint never does".into(),
                        ),
                    );
                }
                _ => self.problem(
                    &file,
                    key.clone(),
                    &key,
                    Refusal::Refused(
                        "not a field of a kustomization: kustomize refuses it (api/types/kustomization.go decodes with DisallowUnknownFields)".into(),
                    ),
                ),
            }
        }
        if changed || given_text {
            let text = Value::Object(map).to_string();
            self.kustomizations
                .insert(dir.to_path_buf(), (name, Some(text)));
        }
    }

    /// The files of a ConfigMap/Secret generator (`files: [[key=]path]`, `envs`, `env`).
    fn generator_files(&mut self, dir: &Path, file: &Path, at: &str, g: &Value) {
        for (i, f) in strings(&g["files"]) {
            let path = match f.split_once('=') {
                Some((_, p)) => p.to_string(),
                None => f.clone(),
            };
            self.file(dir, file, format!("{at}.files[{i}]"), &path);
        }
        for (i, e) in strings(&g["envs"]) {
            self.file(dir, file, format!("{at}.envs[{i}]"), &e);
        }
        if let Some(e) = g["env"].as_str() {
            self.file(dir, file, format!("{at}.env"), e);
        }
    }

    /// The files a plugin configuration names (anywhere in it, under [`PLUGIN_FILE_KEYS`]).
    fn plugin_files(&mut self, dir: &Path, file: &Path, at: &str, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if PLUGIN_FILE_KEYS.contains(&k.as_str()) {
                        let items: Vec<String> = match v {
                            Value::String(s) => vec![s.clone()],
                            other => strings(other).into_iter().map(|(_, s)| s).collect(),
                        };
                        for s in items {
                            let path = if k == "files" {
                                s.split_once('=').map_or(s.clone(), |(_, p)| p.to_string())
                            } else {
                                s
                            };
                            self.file(dir, file, format!("{at}.{k}"), &path);
                        }
                    }
                    self.plugin_files(dir, file, at, v);
                }
            }
            Value::Array(a) => {
                for v in a {
                    self.plugin_files(dir, file, at, v);
                }
            }
            _ => {}
        }
    }

    /// A `resources`/`bases`/`components` entry: false when it is left out of the build.
    fn base(&mut self, dir: &Path, file: &Path, field: String, r: &str) -> bool {
        if is_remote(r) {
            return self.remote(file, field, r, true);
        }
        match self.local(dir, r) {
            Ok((lexical, Local::Dir(real))) => {
                if self.depth >= MAX_NESTING {
                    self.problem(
                        file,
                        field,
                        r,
                        Refusal::Refused(format!(
                            "kustomizations included more than {MAX_NESTING} deep"
                        )),
                    );
                    return false;
                }
                self.paths.insert(lexical);
                self.depth += 1;
                self.kustomization(&real, None);
                self.depth -= 1;
                true
            }
            Ok((lexical, Local::File)) => {
                self.paths.insert(lexical);
                true
            }
            // kept: kustomize fails on it with its own message (nothing of it is in the mirror, and it is not a
            // URL: kustomize's git parser needs a host, see is_remote)
            Err(Refusal::Missing) => true,
            Err(refusal) => {
                self.problem(file, field, r, refusal);
                false
            }
        }
    }

    /// A file reference: true when it is a local file that passed.
    fn file(&mut self, dir: &Path, file: &Path, field: String, r: &str) -> bool {
        if r.contains("://") {
            self.remote(file, field, r, false);
            return false;
        }
        match self.local(dir, r) {
            Ok((lexical, Local::File)) => {
                self.paths.insert(lexical);
                true
            }
            // a directory where a file is expected: kustomize's error, nothing read
            Ok((_, Local::Dir(_))) => false,
            // a missing file: kustomize's own error on the build (it is not in the mirror either)
            Err(Refusal::Missing) => false,
            Err(refusal) => {
                self.problem(file, field, r, refusal);
                false
            }
        }
    }

    /// A remote reference: kept (true) only when remote bases are allowed and it passes [`remote_refusal`].
    fn remote(&mut self, file: &Path, field: String, r: &str, base: bool) -> bool {
        if !self.allow_remote {
            let refusal = if base {
                Refusal::RemoteSkipped
            } else {
                Refusal::RemoteRefused(
                    "lint fetches nothing unless asked (--allow-remote-bases)".into(),
                )
            };
            self.problem(file, field, r, refusal);
            return false;
        }
        if let Some(why) = remote_refusal(r) {
            self.problem(file, field, r, Refusal::RemoteRefused(why));
            return false;
        }
        if remote_time_left().is_zero() {
            self.problem(
                file,
                field,
                r,
                Refusal::RemoteRefused(format!(
                    "the {}s given to remote bases are spent",
                    REMOTE_DEADLINE.as_secs()
                )),
            );
            return false;
        }
        self.fetches = true;
        true
    }

    /// Resolve `r` from the kustomization directory `dir`: its lexical path (what kustomize opens) and what it is.
    fn local(&self, dir: &Path, r: &str) -> Result<(PathBuf, Local), Refusal> {
        if r.is_empty() {
            return Err(Refusal::Missing);
        }
        if Path::new(r).is_absolute() {
            return Err(Refusal::Absolute);
        }
        let lexical = normalise(&dir.join(r));
        let kind = self.resolve(&lexical)?;
        Ok((lexical, kind))
    }

    /// What the lexical path `rel` (relative to root) is, refusing one that leaves the root.
    fn resolve(&self, rel: &Path) -> Result<Local, Refusal> {
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(Refusal::OutsideRoot);
        }
        let p = self.root.join(rel);
        if p.symlink_metadata().is_err() {
            return Err(Refusal::Missing);
        }
        let real = p.canonicalize().map_err(|e| {
            Refusal::Refused(format!("it cannot be resolved ({e}; a symlink loop?)"))
        })?;
        let Ok(real_rel) = real.strip_prefix(self.root) else {
            return Err(Refusal::OutsideRoot);
        };
        match std::fs::metadata(&real) {
            Ok(m) if m.is_dir() => Ok(Local::Dir(real_rel.to_path_buf())),
            Ok(m) if m.is_file() => Ok(Local::File),
            Ok(_) => Err(Refusal::Refused(
                "not a regular file (a FIFO, socket or device is never read)".into(),
            )),
            Err(e) => Err(Refusal::Refused(format!("it cannot be read ({e})"))),
        }
    }

    /// Write the mirror: every path named, symlinks as symlinks, files copied once; the kustomizations written.
    fn mirror(&self) -> Result<TempDir, String> {
        let tmp = TempDir::new("headlamp-e2e-kustomize")
            .map_err(|e| format!("creating a temporary directory: {e}"))?;
        let base = tmp.path().join("root");
        std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
        let mut m = Mirror {
            root: self.root,
            base: Some(&base),
            hash: None,
            done: HashSet::new(),
            bytes: 0,
        };
        self.fill(&mut m)?;
        Ok(tmp)
    }

    fn fill(&self, m: &mut Mirror) -> Result<(), String> {
        for p in &self.paths {
            m.path(p, 0)?;
        }
        for (dir, (name, text)) in &self.kustomizations {
            m.path(dir, 0)?;
            match text {
                Some(t) => m.written(&dir.join(name), t)?,
                None => m.path(&dir.join(name), 0)?,
            }
        }
        Ok(())
    }

    /// The SHA-256 of what [`Self::mirror`] would write to build `start` (each entry's path and kind, a file's bytes,
    /// a symlink's target, the kustomizations written, in the order the mirror writes them), computed without
    /// writing anything; `None` when the mirror would fail (it then fails, with its reason, when written).
    fn content_key(&self, start: &Path) -> Option<String> {
        use sha2::Digest;
        let mut m = Mirror {
            root: self.root,
            base: None,
            hash: Some(sha2::Sha256::new()),
            done: HashSet::new(),
            bytes: 0,
        };
        self.fill(&mut m).ok()?;
        let mut h = m.hash?;
        h.update(b"start\0");
        h.update(start.as_os_str().as_encoded_bytes());
        Some(hex::encode(h.finalize()))
    }
}

/// Writes the mirror under `base`, or, with no `base`, only hashes what it would write ([`Graph::content_key`]).
struct Mirror<'a> {
    root: &'a Path,
    base: Option<&'a Path>,
    hash: Option<sha2::Sha256>,
    /// Paths (relative to root) already mirrored.
    done: HashSet<PathBuf>,
    bytes: u64,
}

impl Mirror<'_> {
    /// Hash one entry (dry run): its kind, path and content, each length-prefixed.
    fn record(&mut self, kind: u8, path: &Path, content: &[u8]) {
        use sha2::Digest;
        if let Some(h) = &mut self.hash {
            let path = path.as_os_str().as_encoded_bytes();
            h.update([kind]);
            h.update((path.len() as u64).to_le_bytes());
            h.update(path);
            h.update((content.len() as u64).to_le_bytes());
            h.update(content);
        }
    }

    /// The kustomization `file` written with `text` (replacing the one mirrored there, if any).
    fn written(&mut self, file: &Path, text: &str) -> Result<(), String> {
        self.record(b'k', file, text.as_bytes());
        if let Some(base) = self.base {
            let to = base.join(file);
            let _ = std::fs::remove_file(&to);
            std::fs::write(&to, text).map_err(|e| format!("writing {}: {e}", to.display()))?;
        }
        Ok(())
    }

    /// Mirror `rel` (lexical, relative to root, no `..`): each component as it is on disk.
    fn path(&mut self, rel: &Path, depth: usize) -> Result<(), String> {
        if depth > 40 {
            return Err("too many levels of symlinks".into());
        }
        let mut cur = PathBuf::new();
        for c in rel.components() {
            let next = cur.join(c);
            if self.done.len() >= MAX_SANDBOX_ENTRIES {
                return Err(format!(
                    "the build names more than {MAX_SANDBOX_ENTRIES} files and directories"
                ));
            }
            let src = self.root.join(&next);
            let meta = src
                .symlink_metadata()
                .map_err(|e| format!("{}: {e}", next.display()))?;
            if meta.file_type().is_symlink() {
                let real = src
                    .canonicalize()
                    .map_err(|e| format!("{}: {e}", next.display()))?;
                let target = real
                    .strip_prefix(self.root)
                    .map_err(|_| format!("{} leaves the root", next.display()))?
                    .to_path_buf();
                if self.done.insert(next.clone()) {
                    let up = cur.components().count();
                    let mut rel_target: PathBuf = std::iter::repeat_n("..", up).collect();
                    rel_target.push(&target);
                    if rel_target.as_os_str().is_empty() {
                        rel_target.push(".");
                    }
                    self.record(b'l', &next, rel_target.as_os_str().as_encoded_bytes());
                    if let Some(base) = self.base {
                        let link = base.join(&next);
                        if let Some(parent) = link.parent() {
                            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                        }
                        std::os::unix::fs::symlink(&rel_target, &link)
                            .map_err(|e| format!("linking {}: {e}", next.display()))?;
                    }
                }
                self.path(&target, depth + 1)?;
                cur = target;
            } else if meta.is_dir() {
                if self.done.insert(next.clone()) {
                    self.record(b'd', &next, b"");
                    if let Some(base) = self.base {
                        std::fs::create_dir_all(base.join(&next)).map_err(|e| e.to_string())?;
                    }
                }
                cur = next;
            } else if meta.is_file() {
                if self.done.insert(next.clone()) {
                    self.bytes += meta.len();
                    if meta.len() > crate::files::MAX_FILE_BYTES || self.bytes > MAX_SANDBOX_BYTES {
                        return Err(format!(
                            "the files the build names hold more than {} MiB",
                            MAX_SANDBOX_BYTES >> 20
                        ));
                    }
                    match self.base {
                        Some(base) => {
                            let to = base.join(&next);
                            if let Some(parent) = to.parent() {
                                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                            }
                            std::fs::copy(&src, &to)
                                .map_err(|e| format!("copying {}: {e}", next.display()))?;
                        }
                        None => {
                            let bytes = std::fs::read(&src)
                                .map_err(|e| format!("reading {}: {e}", next.display()))?;
                            self.record(b'f', &next, &bytes);
                        }
                    }
                }
                cur = next;
            } else {
                return Err(format!("{} is not a regular file", next.display()));
            }
        }
        Ok(())
    }
}

/// The string entries of a list, with their index.
fn strings(v: &Value) -> Vec<(usize, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, s)| s.as_str().map(|s| (i, s.to_string())))
        .collect()
}

/// A `patchesStrategicMerge` entry that is a patch, not a path: several lines, or YAML that is a mapping.
fn is_inline_patch(s: &str) -> bool {
    s.contains('\n')
        || crate::yaml::parse_documents(s)
            .is_ok_and(|d| d.iter().any(|v| v.is_object() || v.is_array()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::write_file as write;

    fn content_key(root: &Path, start: &str) -> String {
        let root = root.canonicalize().unwrap();
        let mut g = Graph::new(&root);
        g.kustomization(Path::new(start), None);
        assert!(g.problems.is_empty(), "{:?}", g.problems);
        g.content_key(Path::new(start)).unwrap()
    }

    #[test]
    fn the_content_key_is_what_the_build_reads_and_nothing_else() {
        let files = [
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            ),
            (
                "app/kustomization.yaml",
                "resources: [../base]\nnamePrefix: x-\n",
            ),
            ("app/notes.yaml", "not: read\n"),
        ];
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for (p, t) in files {
            write(a.path(), p, t);
            write(b.path(), p, t);
        }
        // the same content elsewhere is the same build; a file the build does not read changes nothing
        assert_eq!(content_key(a.path(), "app"), content_key(b.path(), "app"));
        write(b.path(), "app/notes.yaml", "not: read either\n");
        write(b.path(), "other/cm.yaml", "kind: ConfigMap\n");
        assert_eq!(content_key(a.path(), "app"), content_key(b.path(), "app"));
        // a byte of a file it reads, through a base, changes the key; so does the directory built
        write(
            b.path(),
            "base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        );
        assert_ne!(content_key(a.path(), "app"), content_key(b.path(), "app"));
        assert_ne!(content_key(a.path(), "app"), content_key(a.path(), "base"));
    }

    #[test]
    fn a_kustomization_written_for_the_build_is_part_of_its_key() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        );
        let root = d.path().canonicalize().unwrap();
        let key = |text: &str| {
            let mut g = Graph::new(&root);
            let map: Map<String, Value> = serde_norway::from_str(text).unwrap();
            g.kustomization(Path::new("app"), Some(("kustomization.yaml", map)));
            g.content_key(Path::new("app")).unwrap()
        };
        assert_eq!(key("resources: [cm.yaml]"), key("resources: [cm.yaml]"));
        assert_ne!(
            key("resources: [cm.yaml]"),
            key("resources: [cm.yaml]\nnamespace: b")
        );
    }

    #[test]
    fn a_deep_chain_of_bases_is_refused_not_followed_to_the_end() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let mut dir = PathBuf::from("k");
        for _ in 0..(MAX_NESTING + 5) {
            write(
                &root,
                &dir.join("kustomization.yaml").display().to_string(),
                "resources: [n]\n",
            );
            dir.push("n");
        }
        write(
            &root,
            &dir.join("kustomization.yaml").display().to_string(),
            "resources: []\n",
        );
        let p = prepare(&root, Path::new("k"), None);
        assert!(p.sandbox.is_none());
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert!(matches!(&p.problems[0].refusal, Refusal::Refused(w) if w.contains("deep")));
        // 95 deep (from ten levels down): within the bound, built
        let mut shallow = PathBuf::from("k");
        for _ in 0..10 {
            shallow.push("n");
        }
        let ok = prepare(&root, &shallow, None);
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert!(ok.sandbox.is_some());
    }

    #[test]
    fn remote_shapes_are_recognised() {
        for r in [
            "https://github.com/org/repo//x?ref=v1",
            "file:///nonexistent//x?ref=--upload-pack=touch%20/tmp/x",
            "github.com/org/repo/x",
            "git@github.com:org/repo",
            "gh:org/repo",
            "git::https://x/y",
            "host.example:org/repo",
            "oci://ghcr.io/x",
            "x?ref=main",
        ] {
            assert!(is_remote(r), "{r}");
        }
        for r in ["cm.yaml", "../base", "./a/b.yaml", "dir.d/x.yaml"] {
            assert!(!is_remote(r), "{r}");
        }
    }

    #[test]
    fn only_https_with_plain_refs_is_fetched() {
        assert_eq!(
            remote_refusal("https://github.com/org/repo//x?ref=v1.2.3"),
            None
        );
        assert_eq!(remote_refusal("https://example.com/x.yaml"), None);
        for r in [
            "http://127.0.0.1:1/x.yaml",
            "file:///nonexistent//x?ref=main",
            "https://github.com/org/repo?ref=--upload-pack=touch",
            "https://github.com/org/repo?ref=%2D%2Dupload-pack",
            "https://github.com/org/repo?version=-x",
            "https://u:p@github.com/org/repo",
            "https://github.com/org/repo?ref=a%20b",
            "ssh://git@github.com/org/repo",
            "github.com/org/repo",
        ] {
            assert!(remote_refusal(r).is_some(), "{r}");
        }
    }

    #[test]
    fn links_inside_the_root_are_mirrored_as_links_and_files_once() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        write(
            &root,
            "data/big.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        );
        std::fs::create_dir_all(root.join("app/links")).unwrap();
        let mut resources = Vec::new();
        for i in 0..5 {
            std::os::unix::fs::symlink(
                "../../data/big.yaml",
                root.join(format!("app/links/l{i}.yaml")),
            )
            .unwrap();
            resources.push(format!("links/l{i}.yaml"));
        }
        write(
            &root,
            "app/kustomization.yaml",
            format!("resources: {resources:?}\nnamePrefix: p-\n"),
        );
        let p = prepare(&root, Path::new("app"), None);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let sb = p.sandbox.unwrap();
        let mirror = sb.root();
        for i in 0..5 {
            let l = mirror.join(format!("app/links/l{i}.yaml"));
            assert!(l.symlink_metadata().unwrap().file_type().is_symlink());
            assert_eq!(
                l.canonicalize().unwrap(),
                mirror.join("data/big.yaml").canonicalize().unwrap()
            );
        }
        assert!(
            mirror
                .join("data/big.yaml")
                .symlink_metadata()
                .unwrap()
                .is_file()
        );
        // dropping the sandbox removes it
        let dir = mirror.clone();
        drop(sb);
        assert!(!dir.exists());
    }

    #[test]
    fn absolute_outside_and_linked_out_references_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "x.env", "A=1\n");
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        write(
            &root,
            "k/kustomization.yaml",
            "configMapGenerator:\n- name: c\n  files: [loot=/etc/passwd]\n  envs: [../../../../x.env]\n- name: d\n  env: ../out/x.env\n",
        );
        let p = prepare(&root, Path::new("k"), None);
        assert!(p.sandbox.is_none());
        let got: Vec<(String, Refusal)> = p
            .problems
            .iter()
            .map(|p| (p.field.clone(), p.refusal.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "configMapGenerator[0].files[0]".to_string(),
                    Refusal::Absolute
                ),
                (
                    "configMapGenerator[0].envs[0]".to_string(),
                    Refusal::OutsideRoot
                ),
                (
                    "configMapGenerator[1].env".to_string(),
                    Refusal::OutsideRoot
                ),
            ]
        );
    }

    #[test]
    fn remote_bases_are_left_out_with_a_warning_and_unknown_fields_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        write(
            &root,
            "k/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        );
        write(
            &root,
            "k/kustomization.yaml",
            "resources: [cm.yaml, 'https://example.com/x.yaml']\nnamePrefix: p-\n",
        );
        let p = prepare(&root, Path::new("k"), None);
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].refusal, Refusal::RemoteSkipped);
        let sb = p.sandbox.unwrap();
        let written = std::fs::read_to_string(sb.start().join("kustomization.yaml")).unwrap();
        assert!(!written.contains("example.com"), "{written}");
        write(
            &root,
            "j/kustomization.yaml",
            "resources: []\nhelmCharts: [{name: x}]\nbogus: 1\n",
        );
        let p = prepare(&root, Path::new("j"), None);
        assert!(p.sandbox.is_none());
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
    }
}
