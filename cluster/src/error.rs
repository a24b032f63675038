//! The cluster crate's errors: the Kubernetes API, waits, views, Flux. Every variant is something a user can cause
//! or fix; its message says what and how.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed; `action` names what was attempted and on which object.
    #[error("{action}: {}", crate::error::kube_message(source))]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },

    /// A wait on the cluster ran out of time or could not read the object; the message names the object, the
    /// condition and the last state seen.
    #[error(transparent)]
    Wait(#[from] crate::flux::wait::WaitError),

    /// Reading the cluster or a snapshot failed.
    #[error(transparent)]
    View(#[from] crate::view::ViewError),

    /// Reading a file or a YAML document failed.
    #[error(transparent)]
    Model(#[from] headlamp_e2e_model::Error),

    /// A download, the chart store or an external command failed.
    #[error(transparent)]
    Tools(#[from] headlamp_e2e_tools::Error),

    #[error("{0}")]
    Other(String),
}

impl From<headlamp_e2e_tools::process::ProcessError> for Error {
    fn from(e: headlamp_e2e_tools::process::ProcessError) -> Self {
        Error::Tools(e.into())
    }
}

impl Error {
    pub(crate) fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        headlamp_e2e_model::Error::io(path, source).into()
    }
}

pub use crate::kube_error::kube_message;

pub use headlamp_e2e_model::error::error_chain;

pub type Result<T, E = Error> = std::result::Result<T, E>;
