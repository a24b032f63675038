//! The k3s container and the Docker engine around it: labelled container lifecycle (testcontainers), the k3s image,
//! its kubeconfig, the Docker bridge gateway, and the node-Ready wait.
//!
//! Every container this crate starts carries the labels [`LABEL`]`=true` and [`RUN_LABEL`]`=<run id>`, so a CI job
//! can sweep what a SIGKILLed run leaked: `docker ps -aq --filter label=io.headlamp-e2e | xargs -r docker rm -f`.
//! Drop removes a container; the testcontainers `watchdog` feature removes them on SIGINT/SIGTERM/SIGQUIT.

mod container;
mod docker;
mod error;
pub mod images;
mod k3s;
mod node;
pub mod preflight;

pub use crate::private_file::write_private_file;
pub use container::{Container, ExecOutput, LABEL, RUN_LABEL, RunId, start_container};
pub use docker::{
    DEFAULT_DOCKER_HOST, bridge_gateway, count_labelled_containers, docker_reachable,
    docker_reachable_at, docker_unreachable_message, gateway_from_ipam, remove_labelled_containers,
};
pub use error::ClusterError;
pub use k3s::{
    K3S_DEFAULT_TAG, K3S_IMAGE, K3S_KUBECONFIG_PATH, K3S_NODE_NAME, K3S_READY_LOG,
    K3S_STARTUP_TIMEOUT, K3s, K3sCluster, KUBE_API_PORT, TRAEFIK_HTTP_PORT, parse_k3s_tag,
    rewrite_kubeconfig_server, start_k3s,
};
pub use node::{describe_node, node_is_ready, wait_node_ready};
