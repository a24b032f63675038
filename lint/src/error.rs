//! lint's errors: what stops lint (and chart-diff) from running at all. Findings are not errors. Every variant is
//! something a user can cause or fix; its message says what and how.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{dir}: no Kubernetes objects found ({files} YAML file{plural} read, none with apiVersion and kind): nothing to lint; pass the directory that holds your manifests (--gitops DIR)"
    )]
    NothingToLint {
        dir: PathBuf,
        files: usize,
        plural: &'static str,
    },

    #[error(
        "{dir}: nothing was linted: it holds only Flux Kustomizations and sources, and their paths lead outside it ({kustomizations}; not followed); pass the repository root: --gitops {root}"
    )]
    NothingFollowed {
        dir: PathBuf,
        kustomizations: String,
        root: PathBuf,
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

    #[error("`{command}` failed ({status}); helm said: {message}")]
    HelmFailed {
        command: String,
        status: String,
        message: String,
    },

    /// Reading a file or a YAML document failed.
    #[error(transparent)]
    Model(#[from] headlamp_e2e_model::Error),

    /// The chart store, helm or another external command failed.
    #[error(transparent)]
    Tools(#[from] headlamp_e2e_tools::Error),

    /// Reading the GitOps tree failed.
    #[error(transparent)]
    Gitops(#[from] headlamp_e2e_gitops::Error),

    #[error("{0}")]
    Other(String),
}

impl From<headlamp_e2e_tools::process::ProcessError> for Error {
    fn from(e: headlamp_e2e_tools::process::ProcessError) -> Self {
        Error::Tools(e.into())
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        headlamp_e2e_model::Error::io(path, source).into()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
