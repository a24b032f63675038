//! doctor's, unstick's and verify's error type. Every variant is something a user can cause or fix; its message says what and how.

/// Errors that stop a command from running at all (CLI exit code 2). Findings are not errors: see [`crate::finding`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file or a YAML document failed (the model's errors: `Io`, `Yaml`, `Other`).
    #[error(transparent)]
    Model(#[from] headlamp_e2e_model::Error),

    /// The cluster: the Kubernetes API, a wait, a view, Flux (the cluster crate's errors).
    #[error(transparent)]
    Cluster(#[from] headlamp_e2e_cluster::Error),

    /// lint could not run (lint's errors).
    #[error(transparent)]
    Lint(#[from] headlamp_e2e_lint::Error),

    /// Reading the GitOps tree failed (the gitops loader's errors).
    #[error(transparent)]
    Gitops(#[from] headlamp_e2e_gitops::Error),

    /// The chart store, helm or another external command (tools' errors).
    #[error(transparent)]
    Tools(#[from] headlamp_e2e_tools::Error),

    #[error("{0}")]
    Other(String),
}

/// An external command (helm, kubectl, git) that could not run or did not finish: a tools error.
impl From<headlamp_e2e_tools::process::ProcessError> for Error {
    fn from(e: headlamp_e2e_tools::process::ProcessError) -> Self {
        Error::Tools(e.into())
    }
}

impl From<headlamp_e2e_cluster::flux::wait::WaitError> for Error {
    fn from(e: headlamp_e2e_cluster::flux::wait::WaitError) -> Self {
        Error::Cluster(e.into())
    }
}

impl From<headlamp_e2e_cluster::view::ViewError> for Error {
    fn from(e: headlamp_e2e_cluster::view::ViewError) -> Self {
        Error::Cluster(e.into())
    }
}

pub use headlamp_e2e_cluster::error::kube_message;
pub use headlamp_e2e_model::error::error_chain;

pub type Result<T, E = Error> = std::result::Result<T, E>;
