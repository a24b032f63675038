//! [`ClusterView`]: the read-only view of a cluster every view implements, and [`ViewError`], why one could not
//! answer.

use std::path::PathBuf;

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::Value;

use super::resource::ResourceKind;

/// Lines of a container log read from the API (its end); a snapshot keeps the same.
pub const LOG_TAIL_LINES: i64 = 2000;
/// Bytes of a container log read from the API at most.
pub const LOG_LIMIT_BYTES: i64 = 1 << 20;

/// Why a view could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The API server refused or failed (`code` is the HTTP status when there was one).
    #[error("{what}: {message}")]
    Api {
        what: String,
        code: Option<u16>,
        message: String,
    },
    /// A snapshot file is missing or malformed.
    #[error("{}: {message}", path.display())]
    Snapshot { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No usable kubeconfig / context.
    #[error("cannot connect to the cluster: {0}")]
    Connect(String),
}

/// A read-only view of a cluster.
#[async_trait]
pub trait ClusterView: Send + Sync {
    /// The kubeconfig context the view is of.
    fn context(&self) -> &str;
    /// When the state was seen: now for a live view, `capturedAt` for a snapshot. Time-based checks use this.
    fn captured_at(&self) -> Timestamp;
    /// What the view reads: `cluster:<context>`, or the snapshot directory.
    fn target(&self) -> String;
    /// Where a finding about an object points: `cluster:<context>`, or the object's file in the snapshot.
    fn location(&self, kind: &ResourceKind, namespace: Option<&str>, name: &str) -> String;
    /// Where a finding about a container log points: `cluster:<context>`, or the log file in the snapshot.
    fn log_location(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> String;
    /// Objects of a kind; `namespace` None lists all namespaces (ignored for cluster-scoped kinds). A kind the
    /// cluster does not serve (CRD not installed) is an empty list.
    async fn list(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, ViewError>;
    /// One object, None when it does not exist.
    async fn get(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ViewError>;
    /// A container's log (`previous`: of its last terminated run); None when there is none.
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<Option<String>, ViewError>;
}
