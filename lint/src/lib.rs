//! `lint`: the static tier. Read the GitOps dir, render each HelmRelease with its real chart, apply the rules.
//!
//! The pipeline ([`prepare`]) does all I/O (chart lookup, `helm template`) and produces a [`LintInput`]; every rule is a
//! plain `fn(&LintInput) -> Vec<Finding>` over it, so rules are unit-tested on hand-made inputs.
//!
//! [`input`] is what the rules look at, [`rules`] the rules (one module each), [`registry`] the list lint runs and
//! documents, [`pipeline`] what makes the input and runs the rules.

pub mod benchrepo;
pub mod chart_diff;
mod engine;
pub mod error;
mod output;
pub mod rules;

pub use crate::engine::{ahead, pipeline, positions};
pub use crate::error::{Error, Result};
pub use crate::output::{findings, rule_docs};
pub use crate::rules::values_from::strvals;
pub use crate::rules::{input, registry};
pub use headlamp_e2e_model::flags;
pub use input::{LintInput, Release, chart_ref, pipeline_findings, pod_spec, pointer_to_path};
pub use pipeline::{
    LintReport, MIN_SECRET_VALUE_CHARS, lint, prepare, prepare_with, redact_secret_values, render,
    render_release, render_release_with, render_with, run_rules, secret_values,
};
pub use registry::{OTHER_IDS, RULES, Rule, RuleDoc, documented_ids, rule_doc};
pub use rules::{
    chart_ref, chart_schema, chart_version, flux_source, image, kustomize, manifest_fields,
    object_conflict, post_render, psa, rbac, release_source, rootfs, values, values_from,
    yaml_invalid,
};

use headlamp_e2e_gitops as gitops;
use headlamp_e2e_model::finding;
use headlamp_e2e_model::{files, image_ref, redact, startup, yaml};
#[cfg(test)]
use headlamp_e2e_test_support as test_support;
use headlamp_e2e_tools::chart;
use headlamp_e2e_tools::process;
