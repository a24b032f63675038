//! The cluster: the k3s container and the Docker engine around it ([`cluster`]), Flux installed and driven in it
//! ([`flux`]), manifests applied server-side ([`apply`]), the GitOps fixtures served over git smart HTTP
//! ([`gitserver`]), read-only views of a cluster or a snapshot ([`view`]) and the access matrix's probes
//! ([`rbac_probe`]).

pub mod apply;
pub mod cluster;
pub mod error;
pub mod flux;
pub mod gitserver;
pub mod kube_error;
pub mod rbac_probe;
pub mod view;

pub use error::{Error, Result};

use headlamp_e2e_model::{duration, files, rbac, redact, yaml};
use headlamp_e2e_tools::{chart, private_file, process, tls};

#[cfg(test)]
use headlamp_e2e_test_support as test_support;
#[cfg(test)]
use headlamp_e2e_test_support::mock_api;
