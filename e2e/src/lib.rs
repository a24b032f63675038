//! `cargo xtask e2e`: setup → assess → teardown, as sigs.k8s.io/e2e-framework does it.
//!
//! Setup: a labelled k3s container, node Ready, the admin kubeconfig (0600) in a private directory outside the run
//! directory (the run directory is uploaded as CI artifacts), Flux v2.9.4 from the GitOps repo's
//! `gotk-components.yaml`, Traefik's CRDs Established, the GitOps dir turned into a git repository on branch `main`
//! served over smart HTTP at the Docker bridge gateway, a GitRepository + Kustomization (`./clusters/e2e`) so Flux
//! applies the app as at home, and the first HelmRelease Ready. A setup failure leaves artifacts too
//! ([`collect_setup_artifacts`], in [`run`](mod@run)).
//! Assess: the scenarios, in order, each from the baseline ([`crate::scenario::runner`] over [`live::LiveEnv`]).
//! Teardown: the container is removed (on success, failure, panic and Ctrl-C), unless `--keep`, or `--fail-fast`
//! stopped on a failure; then it is left running and the run says how to use it.

pub use headlamp_e2e_model::baseline as checks;
pub mod error;
mod harness;
mod observe;
pub mod scenario;

pub use crate::error::{Error, Result};
pub use crate::harness::journal::{Journal, SCENARIO_PHASE};
pub use crate::harness::run::{
    Kept, Options, Outcome, RunPaths, SIGNAL_GRACE, ca_from_kubeconfig, collect_setup_artifacts,
    default_out_root, default_private_root, run, run_dir, run_paths, split_image,
};
pub use crate::harness::target::{ClusterTarget, ExistingCluster};
pub use crate::harness::{journal, live, run, target};
pub use crate::observe::{outcome, trace, waits};

use headlamp_e2e_cluster::cluster;
use headlamp_e2e_cluster::{flux, gitserver, rbac_probe, view};
use headlamp_e2e_doctor::{doctor, unstick, verify};
use headlamp_e2e_gitops as gitops;
use headlamp_e2e_lint as lint;
use headlamp_e2e_model::{baseline, finding, rbac, startup, yaml};
/// e2e results and redaction, as this crate's modules name them.
use headlamp_e2e_report as report;
#[cfg(test)]
use headlamp_e2e_test_support as test_support;
#[cfg(test)]
use headlamp_e2e_test_support::mock_api;
use headlamp_e2e_tools::{chart, process};
