//! Read-only diagnosis and repair of a live cluster or a snapshot: [`doctor`] (what is wrong, in the order to debug
//! it), [`unstick`] (the recipe for a HelmRelease stuck installing) and [`verify`] (the e2e baseline's read-only proof
//! against an existing cluster).

pub mod doctor;
pub mod error;
pub mod unstick;
pub mod verify;

pub use error::{Error, Result};

use headlamp_e2e_cluster::{flux, rbac_probe, view};
use headlamp_e2e_gitops as gitops;
use headlamp_e2e_lint as lint;
use headlamp_e2e_model::{baseline, duration, finding, rbac, startup, yaml};
use headlamp_e2e_tools::{chart, process};

#[cfg(test)]
use headlamp_e2e_test_support as test_support;
#[cfg(test)]
use headlamp_e2e_test_support::mock_api;

/// e2e results and redaction, as the doctor crate's modules name them.
pub(crate) mod report {
    pub use headlamp_e2e_report::*;
}
