//! headlamp-e2e: an end-to-end test harness for a GitOps-managed Headlamp on k3s.
//!
//! Three tiers share this library: [`lint`] (static, no cluster), e2e (an ephemeral k3s) and doctor (read-only
//! diagnosis of a live cluster or a snapshot). The `xtask` crate is a thin CLI over it.

pub mod report;
#[doc(hidden)]
pub use headlamp_e2e_test_support as test_support;
/// Helpers for this project's own tests: [`test_support`] and the chart-typed ones of [`chart::testing`].
#[doc(hidden)]
pub mod testing {
    pub use crate::chart::testing::*;
    pub use crate::test_support::*;
}

pub use headlamp_e2e_cluster::{apply, cluster, flux, gitserver, rbac_probe, view};
pub use headlamp_e2e_doctor::{doctor, unstick, verify};
pub use headlamp_e2e_e2e as e2e;
pub use headlamp_e2e_e2e::{Error, Result, error, scenario};
pub use headlamp_e2e_gitops as gitops;
pub use headlamp_e2e_lint as lint;
pub use headlamp_e2e_lint::{benchrepo, chart_diff};
pub use headlamp_e2e_model::{
    baseline, duration, files, finding, flags, image_ref, rbac, startup, yaml,
};
pub use headlamp_e2e_tools as tools;
pub use headlamp_e2e_tools::tls::install_crypto_provider;
pub use headlamp_e2e_tools::{chart, private_file, process, tls};
