//! The k3s container and the Docker engine around it: labelled container lifecycle (testcontainers), the k3s image,
//! its kubeconfig, the Docker bridge gateway, and the node-Ready wait.
//!
//! Every container this crate starts carries the labels [`LABEL`]`=true` and [`RUN_LABEL`]`=<run id>`, so a CI job
//! can sweep what a SIGKILLed run leaked: `docker ps -aq --filter label=io.headlamp-e2e | xargs -r docker rm -f`.
//! Drop removes a container; the testcontainers `watchdog` feature removes them on SIGINT/SIGTERM/SIGQUIT.

mod container;
mod docker;
pub mod images;
mod k3s;
mod node;
pub mod preflight;

pub use crate::private_file::write_private_file;
pub use container::{Container, ExecOutput, RunId, start_container};
pub use docker::{
    DEFAULT_DOCKER_HOST, bridge_gateway, count_labelled_containers, docker_reachable,
    docker_reachable_at, docker_unreachable_message, gateway_from_ipam, remove_labelled_containers,
};
pub use k3s::{
    K3S_DEFAULT_TAG, K3S_IMAGE, K3S_KUBECONFIG_PATH, K3S_NODE_NAME, K3S_READY_LOG,
    K3S_STARTUP_TIMEOUT, K3s, K3sCluster, KUBE_API_PORT, TRAEFIK_HTTP_PORT, parse_k3s_tag,
    rewrite_kubeconfig_server, start_k3s,
};
pub use node::{describe_node, node_is_ready, wait_node_ready};

/// Label carried by every container this crate starts (value `true`): `docker ps -aq --filter label=io.headlamp-e2e`.
pub const LABEL: &str = "io.headlamp-e2e";
/// Label naming the run that started a container (value: the [`RunId`]).
pub const RUN_LABEL: &str = "io.headlamp-e2e.run";

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

    /// Writing a private file ([`write_private_file`]) failed.
    #[error(transparent)]
    File(#[from] headlamp_e2e_model::Error),
}
