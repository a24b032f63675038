//! [`ClusterError`]: what can go wrong around Docker and k3s.

/// What can go wrong around Docker and k3s. Messages name the container/image/object and never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "Docker is not reachable ({reason}): e2e needs a Docker engine; `cargo xtask lint` runs without one"
    )]
    DockerUnreachable { reason: String },

    #[error("invalid run id {value:?}: {reason}")]
    InvalidRunId { value: String, reason: String },

    #[error("starting container {name} from image {image} failed: {source}")]
    Start {
        image: String,
        name: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },

    #[error("container {name}: {action} failed: {source}")]
    Container {
        name: String,
        action: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },

    #[error("Docker API: {action} failed: {source}")]
    Docker {
        action: String,
        #[source]
        source: Box<testcontainers::bollard::errors::Error>,
    },

    #[error("Docker network {network}: {message}")]
    Network { network: String, message: String },

    #[error("kubeconfig: {0}")]
    Kubeconfig(String),

    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("timed out after {waited:?} waiting for {what}; last state seen: {last}")]
    Timeout {
        what: String,
        waited: std::time::Duration,
        last: String,
    },

    #[error("kube client: {0}")]
    Kube(String),

    /// Writing a private file ([`write_private_file`](super::write_private_file)) failed.
    #[error(transparent)]
    File(#[from] headlamp_e2e_model::Error),
}
