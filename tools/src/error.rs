//! The tools' error type: the chart store (find, download, verify, read a chart) and helm. Every variant is something a
//! user can cause or fix; its message says what and how.

use std::path::PathBuf;

use crate::process::ProcessError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "chart {chart} {version} not found: tried {tried}; put `{chart}-{version}.tgz` in $HEADLAMP_E2E_CHARTS or check the HelmRepository URL and the version"
    )]
    ChartNotFound {
        chart: String,
        version: String,
        tried: String,
    },

    #[error(
        "{what} {value:?} is not a plain name (it must not contain `/`, `\\`, `..` or control characters); it is never used in a path"
    )]
    UnsafeName { what: &'static str, value: String },

    #[error("downloading {url}: {message}")]
    Download { url: String, message: String },

    #[error(
        "{url}: sha256 digest mismatch: index.yaml says {expected}, downloaded file has {actual}"
    )]
    DigestMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    #[error(
        "{path}: not a readable chart archive: {message}. If it is a cached download, delete it (rm {path}) and run again to fetch it anew"
    )]
    ChartArchive { path: PathBuf, message: String },

    #[error(
        "helm not found ({tried}): install helm 3 or 4 (https://helm.sh/docs/intro/install/), or set HELM_BIN"
    )]
    HelmMissing { tried: String },

    #[error("helm template for release {release} failed; helm said: {stderr}")]
    HelmTemplate { release: String, stderr: String },

    /// An external command (helm, kubectl, git) could not run or did not finish within its deadline.
    #[error(transparent)]
    Process(#[from] ProcessError),

    /// Reading a file or a YAML document failed.
    #[error(transparent)]
    Model(#[from] headlamp_e2e_model::Error),

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        headlamp_e2e_model::Error::io(path, source).into()
    }
}

pub use headlamp_e2e_model::error::error_chain;

pub type Result<T, E = Error> = std::result::Result<T, E>;
