//! The gitops loader's errors: what stops reading a GitOps tree, and what makes one of its files unreadable
//! ([`crate::Tree::unreadable`]). Every variant is something a user can cause or fix; its message says what and how.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("GitOps directory {0} does not exist (pass --gitops DIR)")]
    GitopsDirMissing(PathBuf),

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

    /// Reading a file or a YAML document failed.
    #[error(transparent)]
    Model(#[from] headlamp_e2e_model::Error),

    /// The render cache or an external command failed.
    #[error(transparent)]
    Tools(#[from] headlamp_e2e_tools::Error),
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
