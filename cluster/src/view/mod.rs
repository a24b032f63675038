//! `ClusterView`: a read-only view of a cluster, live ([`LiveView`], the API through get/list/logs only) or captured
//! ([`SnapshotView`], a snapshot directory). `doctor` takes a `&dyn ClusterView`, so every check runs on hand-written
//! snapshots as well as on a real cluster, and a red CI run's artifacts are diagnosable offline.
//!
//! Objects are plain JSON values as the API returns them (with `apiVersion` and `kind` set, also for list items).

pub mod live;
pub mod snapshot;

#[cfg(any(test, feature = "test-support"))]
pub mod fake;

mod cluster_view;
mod resource;

pub use crate::duration::human_duration;

/// The one text redaction ([`crate::redact`]), for what views print.
pub use crate::redact::redact;
pub use cluster_view::{ClusterView, ViewError};
pub use live::{LiveView, connect, error_chain};
pub use resource::{
    CLUSTERROLE, CLUSTERROLEBINDING, CONFIGMAP, DAEMONSET, DEPLOYMENT, EVENT, GITREPOSITORY,
    HELMRELEASE, HELMREPOSITORY, INGRESS, KNOWN_KINDS, KUSTOMIZATION, NAMESPACE,
    PERSISTENTVOLUMECLAIM, POD, PODDISRUPTIONBUDGET, REPLICASET, ROLE, ROLEBINDING, ResourceKind,
    SECRET, SERVICE, SERVICEACCOUNT, STATEFULSET, condition, known_kind, name_of, namespace_of,
};
pub use snapshot::{SnapshotScope, SnapshotSummary, SnapshotView, write_snapshot};
