//! The library's error type. Every variant is something a user can cause or fix; its message says what and how.

use std::path::PathBuf;

/// Errors that stop a command from running at all (CLI exit code 2). Findings are not errors: see [`crate::finding`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("GitOps directory {0} does not exist (pass --gitops DIR)")]
    GitopsDirMissing(PathBuf),

    #[error("{file}:{line}:{column}: YAML syntax error: {message}")]
    Yaml {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{file}: kustomization lists `{resource}`, which does not exist")]
    KustomizeResourceMissing { file: PathBuf, resource: String },

    #[error(
        "{file}: this kustomization uses {features}; rendering it needs kustomize (kubectl), which failed: {message}"
    )]
    Kustomize {
        file: PathBuf,
        features: String,
        message: String,
    },

    #[error(
        "{file}: HelmRelease {object} has no chart version (spec.chart.spec.version); pin an exact version, e.g. `version: 0.41.0`"
    )]
    MissingChartVersion { file: PathBuf, object: String },

    #[error("{file}: HelmRelease {object}: {message}")]
    HelmReleaseInvalid {
        file: PathBuf,
        object: String,
        message: String,
    },

    #[error(
        "chart {chart} {version} not found: tried {tried}; put `{chart}-{version}.tgz` in $HEADLAMP_E2E_CHARTS or check the HelmRepository URL and the version"
    )]
    ChartNotFound {
        chart: String,
        version: String,
        tried: String,
    },

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

    #[error("{path}: not a readable chart archive: {message}")]
    ChartArchive { path: PathBuf, message: String },

    #[error(
        "helm not found ({tried}): install helm 3 or 4, or set HELM_BIN (on machines without get.helm.sh: ../shared/tools/fetch-helm)"
    )]
    HelmMissing { tried: String },

    #[error("helm template for release {release} failed: {stderr}")]
    HelmTemplate { release: String, stderr: String },

    /// Reading the cluster or a snapshot failed.
    #[error(transparent)]
    View(#[from] crate::view::ViewError),

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
