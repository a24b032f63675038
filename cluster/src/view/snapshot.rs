//! Snapshots: a cluster's state on disk, one format for three producers (the `snapshot` command, e2e failure
//! artifacts, hand-written test data) and one reader ([`SnapshotView`]).
//!
//! Layout:
//! ```text
//! DIR/snapshot.yaml                                  capturedAt (RFC 3339), context
//! DIR/<namespace>/<kind>/<name>.yaml                 one object, kind in lower case (helmrelease, pod, event, …)
//! DIR/_cluster/<kind>/<name>.yaml                    cluster-scoped objects (namespace, clusterrolebinding, …)
//! DIR/<namespace>/pod/<name>/<container>.log         current log of a container
//! DIR/<namespace>/pod/<name>/<container>.previous.log  log of its previous (terminated) run
//! ```
//! The writer never writes Secret values (metadata only; each data key is listed with the value `<redacted>`), drops
//! `managedFields` and the `kubectl.kubernetes.io/last-applied-configuration` annotation (it can hold a whole Secret),
//! and passes every object through [`redact_object`] and every log through [`redact`] (whole, not line by line).
//! Files are 0600, directories 0700.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cluster_view::{ClusterView, ViewError};
use super::resource::{
    DEPLOYMENT, EVENT, GITREPOSITORY, HELMRELEASE, HELMREPOSITORY, KUSTOMIZATION, NAMESPACE, POD,
    REPLICASET, SECRET, SERVICE, SERVICEACCOUNT,
};
use super::resource::{ResourceKind, name_of};
use crate::redact::{redact, redact_object};

/// The directory of cluster-scoped objects.
pub const CLUSTER_DIR: &str = "_cluster";
/// The snapshot's metadata file.
pub const META_FILE: &str = "snapshot.yaml";

/// `snapshot.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotMeta {
    pub captured_at: Timestamp,
    pub context: String,
    /// What wrote it (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Namespaces captured (informational).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    namespace: Option<String>,
    value: Value,
    path: PathBuf,
}

/// A snapshot directory, read once at [`SnapshotView::open`].
#[derive(Debug, Clone)]
pub struct SnapshotView {
    dir: PathBuf,
    meta: SnapshotMeta,
    /// By kind directory (`helmrelease`).
    objects: BTreeMap<String, Vec<Entry>>,
}

/// A regular file of at most [`crate::files::MAX_FILE_BYTES`].
fn read_text(path: &Path) -> Result<String, ViewError> {
    crate::files::read_text(path).map_err(|source| ViewError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn bad(path: &Path, message: impl Into<String>) -> ViewError {
    ViewError::Snapshot {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, ViewError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ViewError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

impl SnapshotView {
    /// Read `dir`: `snapshot.yaml` and every object file (checked: one object whose kind, name and namespace match
    /// its path).
    pub fn open(dir: &Path) -> Result<SnapshotView, ViewError> {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(bad(
                    dir,
                    "is a file, not a directory: --snapshot takes the directory `cargo xtask snapshot --out DIR` wrote",
                ));
            }
            Err(_) => return Err(bad(dir, "not a snapshot directory (it does not exist)")),
        }
        let meta_path = dir.join(META_FILE);
        if !meta_path.is_file() {
            return Err(bad(
                &meta_path,
                "missing: a snapshot has `snapshot.yaml` with capturedAt and context",
            ));
        }
        let meta: SnapshotMeta = serde_norway::from_str(&read_text(&meta_path)?).map_err(|e| {
            bad(
                &meta_path,
                format!("expected capturedAt (RFC 3339) and context: {e}"),
            )
        })?;
        let mut objects: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        for ns_dir in sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()) {
            let ns_name = file_name(&ns_dir).to_string();
            let namespace = (ns_name != CLUSTER_DIR).then_some(ns_name);
            for kind_dir in sorted_entries(&ns_dir)?.into_iter().filter(|p| p.is_dir()) {
                let kind = file_name(&kind_dir).to_string();
                for file in sorted_entries(&kind_dir)? {
                    if !file.is_file() || file.extension().and_then(|e| e.to_str()) != Some("yaml")
                    {
                        continue;
                    }
                    let value = parse_object(&file)?;
                    check_place(&file, &value, &kind, namespace.as_deref())?;
                    objects.entry(kind.clone()).or_default().push(Entry {
                        namespace: namespace.clone(),
                        value,
                        path: file,
                    });
                }
            }
        }
        Ok(SnapshotView {
            dir: dir.to_path_buf(),
            meta,
            objects,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }
    /// Every object in the snapshot (for tests and tools).
    pub fn all_objects(&self) -> impl Iterator<Item = &Value> {
        self.objects.values().flatten().map(|e| &e.value)
    }

    fn object_path(&self, kind: &ResourceKind, namespace: Option<&str>, name: &str) -> PathBuf {
        let ns = namespace.filter(|_| kind.namespaced).unwrap_or(CLUSTER_DIR);
        self.dir
            .join(ns)
            .join(kind.dir_name())
            .join(format!("{name}.yaml"))
    }

    fn log_path(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> PathBuf {
        self.dir
            .join(namespace)
            .join("pod")
            .join(pod)
            .join(log_file_name(container, previous))
    }
}

fn log_file_name(container: &str, previous: bool) -> String {
    if previous {
        format!("{container}.previous.log")
    } else {
        format!("{container}.log")
    }
}

fn parse_object(file: &Path) -> Result<Value, ViewError> {
    let text = read_text(file)?;
    let mut docs =
        crate::yaml::parse_yaml_documents(&text, file).map_err(|e| bad(file, e.to_string()))?;
    if docs.len() != 1 {
        return Err(bad(
            file,
            format!("expected exactly one object, found {}", docs.len()),
        ));
    }
    Ok(docs.remove(0))
}

fn check_place(
    file: &Path,
    v: &Value,
    kind_dir: &str,
    namespace: Option<&str>,
) -> Result<(), ViewError> {
    let kind = v["kind"].as_str().unwrap_or("");
    if kind.to_ascii_lowercase() != kind_dir {
        return Err(bad(
            file,
            format!("kind `{kind}` in a `{kind_dir}` directory"),
        ));
    }
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if name_of(v) != stem {
        return Err(bad(
            file,
            format!(
                "metadata.name `{}` does not match the file name",
                name_of(v)
            ),
        ));
    }
    let ns = v["metadata"]["namespace"].as_str();
    if let (Some(dir_ns), Some(obj_ns)) = (namespace, ns)
        && dir_ns != obj_ns
    {
        return Err(bad(
            file,
            format!("metadata.namespace `{obj_ns}` in directory `{dir_ns}`"),
        ));
    }
    if namespace.is_none() && ns.is_some() {
        return Err(bad(
            file,
            format!(
                "a namespaced object (`{}`) under {CLUSTER_DIR}/",
                ns.unwrap_or("")
            ),
        ));
    }
    Ok(())
}

#[async_trait]
impl ClusterView for SnapshotView {
    fn context(&self) -> &str {
        &self.meta.context
    }
    fn captured_at(&self) -> Timestamp {
        self.meta.captured_at
    }
    fn target(&self) -> String {
        self.dir.display().to_string()
    }
    fn location(&self, kind: &ResourceKind, namespace: Option<&str>, name: &str) -> String {
        self.object_path(kind, namespace, name)
            .display()
            .to_string()
    }
    fn log_location(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> String {
        self.log_path(namespace, pod, container, previous)
            .display()
            .to_string()
    }

    async fn list(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, ViewError> {
        let Some(entries) = self.objects.get(&kind.dir_name()) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .iter()
            .filter(|e| kind.matches(&e.value))
            .filter(|e| {
                if kind.namespaced {
                    e.namespace.is_some()
                        && (namespace.is_none() || e.namespace.as_deref() == namespace)
                } else {
                    e.namespace.is_none()
                }
            })
            .map(|e| e.value.clone())
            .collect())
    }

    async fn get(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ViewError> {
        let path = self.object_path(kind, namespace, name);
        Ok(self
            .objects
            .get(&kind.dir_name())
            .and_then(|v| v.iter().find(|e| e.path == path))
            .filter(|e| kind.matches(&e.value))
            .map(|e| e.value.clone()))
    }

    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<Option<String>, ViewError> {
        if [namespace, pod, container]
            .iter()
            .any(|n| safe_name(n).is_none())
        {
            return Ok(None);
        }
        let path = self.log_path(namespace, pod, container, previous);
        if !path.is_file() {
            return Ok(None);
        }
        // from the end, bounded, as the API gives it
        crate::files::read_tail(&path, super::cluster_view::LOG_LIMIT_BYTES as u64)
            .map(Some)
            .map_err(|source| ViewError::Io { path, source })
    }
}

/// What a snapshot captures: kinds per namespace, cluster-scoped objects, and whether pod logs are read.
#[derive(Debug, Clone)]
pub struct SnapshotScope {
    pub namespaces: Vec<(String, Vec<ResourceKind>)>,
    /// Cluster-scoped kinds with the names to capture (all of the kind when empty).
    pub cluster: Vec<(ResourceKind, Vec<String>)>,
    pub logs: bool,
}

impl SnapshotScope {
    /// What doctor needs for the app in `namespace`: its HelmRelease, workloads, pods (with logs), events and Secret
    /// metadata; Flux's sources, Kustomizations and controllers in `flux-system`; the two Namespaces.
    pub fn for_app(namespace: &str) -> SnapshotScope {
        let app = vec![
            HELMRELEASE,
            HELMREPOSITORY,
            DEPLOYMENT,
            REPLICASET,
            POD,
            EVENT,
            SERVICE,
            SERVICEACCOUNT,
            SECRET,
        ];
        let flux = vec![
            GITREPOSITORY,
            KUSTOMIZATION,
            HELMREPOSITORY,
            HELMRELEASE,
            DEPLOYMENT,
            POD,
            EVENT,
        ];
        let mut namespaces = vec![(namespace.to_string(), app.clone())];
        if namespace == "flux-system" {
            let merged = app.into_iter().chain(flux).fold(Vec::new(), |mut acc, k| {
                if !acc.contains(&k) {
                    acc.push(k);
                }
                acc
            });
            namespaces = vec![(namespace.to_string(), merged)];
        } else {
            namespaces.push(("flux-system".to_string(), flux));
        }
        let mut ns_names = vec![namespace.to_string()];
        if namespace != "flux-system" {
            ns_names.push("flux-system".to_string());
        }
        SnapshotScope {
            namespaces,
            cluster: vec![(NAMESPACE, ns_names)],
            logs: true,
        }
    }
}

/// What [`write_snapshot`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotSummary {
    pub objects: usize,
    pub logs: usize,
    /// Things that could not be captured (a forbidden list, an unreadable log); the rest was written.
    pub warnings: Vec<String>,
}

/// An object as it may be written: no managedFields, no last-applied-configuration (it can hold a whole Secret),
/// and the rest through [`redact_object`] (Secret values, credential keys at any depth, env values, flags, text).
pub fn sanitize(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove(crate::redact::LAST_APPLIED);
            if ann.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    redact_object(&mut v);
    v
}

fn create_dir(path: &Path) -> Result<(), ViewError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).map_err(|source| ViewError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Write a file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), ViewError> {
    use std::io::Write;
    let io = |source| ViewError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}

/// A name usable as a file name (object names never contain `/`, but a snapshot must not escape its directory).
fn safe_name(name: &str) -> Option<&str> {
    (!name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']))
        .then_some(name)
}

/// Write the objects and logs `scope` names, read through `view`, to `out` (which must not exist or be empty).
pub async fn write_snapshot(
    view: &dyn ClusterView,
    scope: &SnapshotScope,
    out: &Path,
) -> Result<SnapshotSummary, ViewError> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(|source| ViewError::Io {
                path: out.to_path_buf(),
                source,
            })?
            .next()
            .is_none();
        if !empty {
            return Err(bad(
                out,
                "exists and is not empty; choose a new directory for the snapshot",
            ));
        }
    }
    let mut summary = SnapshotSummary::default();
    let captured_at = view.captured_at();
    let (mut lists, mut failed_lists) = (0, 0);
    let write_object = |dir: &Path, v: Value, summary: &mut SnapshotSummary| {
        let Some(name) = safe_name(name_of(&v)).map(str::to_string) else {
            summary.warnings.push(format!(
                "skipped an object with an unusable name `{}`",
                name_of(&v)
            ));
            return Ok(());
        };
        create_dir(dir)?;
        let text = serde_norway::to_string(&sanitize(v)).map_err(|e| bad(dir, e.to_string()))?;
        write_private(&dir.join(format!("{name}.yaml")), &text)?;
        summary.objects += 1;
        Ok::<(), ViewError>(())
    };

    for (kind, names) in &scope.cluster {
        lists += 1;
        let objects = match view.list(kind, None).await {
            Ok(v) => v,
            Err(e) => {
                failed_lists += 1;
                summary.warnings.push(e.to_string());
                continue;
            }
        };
        for v in objects {
            if names.is_empty() || names.iter().any(|n| n == name_of(&v)) {
                write_object(
                    &out.join(CLUSTER_DIR).join(kind.dir_name()),
                    v,
                    &mut summary,
                )?;
            }
        }
    }
    for (ns, kinds) in &scope.namespaces {
        let Some(ns_dir) = safe_name(ns) else {
            summary.warnings.push(format!("skipped namespace `{ns}`"));
            continue;
        };
        for kind in kinds {
            lists += 1;
            let objects = match view.list(kind, Some(ns)).await {
                Ok(v) => v,
                Err(e) => {
                    failed_lists += 1;
                    summary.warnings.push(e.to_string());
                    continue;
                }
            };
            let dir = out.join(ns_dir).join(kind.dir_name());
            for v in objects {
                let pod =
                    (*kind == POD && scope.logs).then(|| (name_of(&v).to_string(), containers(&v)));
                write_object(&dir, v, &mut summary)?;
                let Some((pod, containers)) = pod else {
                    continue;
                };
                let Some(pod_dir) = safe_name(&pod).map(|p| dir.join(p)) else {
                    continue;
                };
                for c in containers {
                    let Some(c) = safe_name(&c) else { continue };
                    for previous in [false, true] {
                        match view.logs(ns, &pod, c, previous).await {
                            Ok(Some(text)) => {
                                create_dir(&pod_dir)?;
                                write_private(
                                    &pod_dir.join(log_file_name(c, previous)),
                                    &redact(&text),
                                )?;
                                summary.logs += 1;
                            }
                            Ok(None) => {}
                            Err(e) => summary.warnings.push(e.to_string()),
                        }
                    }
                }
            }
        }
    }
    if lists > 0 && failed_lists == lists {
        return Err(ViewError::Api {
            what: format!("snapshot of {}", view.target()),
            code: None,
            message: format!(
                "nothing could be read; first error: {}",
                summary.warnings.first().map(String::as_str).unwrap_or("?")
            ),
        });
    }
    // snapshot.yaml last: a directory with it is a complete snapshot
    create_dir(out)?;
    let meta = SnapshotMeta {
        captured_at,
        context: view.context().to_string(),
        tool: Some(concat!("headlamp-e2e ", env!("CARGO_PKG_VERSION")).to_string()),
        namespaces: scope.namespaces.iter().map(|(n, _)| n.clone()).collect(),
    };
    let meta_text = serde_norway::to_string(&meta).map_err(|e| bad(out, e.to_string()))?;
    write_private(&out.join(META_FILE), &meta_text)?;

    Ok(summary)
}

/// Container names of a pod: init containers, then containers.
fn containers(pod: &Value) -> Vec<String> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod["spec"][*k].as_array().into_iter().flatten())
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests;
