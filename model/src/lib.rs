//! The models of headlamp-e2e, with no IO beyond reading files: findings and their redaction ([`output`]), the
//! Headlamp server's startup (flags per release, image references, writable paths: [`headlamp`]), the RBAC access
//! matrix and its judgements and the e2e baseline's decisions ([`checks`]), durations as Go and Flux write them,
//! YAML as Flux reads it. Each module is also re-exported at the root (`headlamp_e2e_model::startup`).

pub mod checks;
pub mod duration;
pub mod error;
pub mod files;
pub mod headlamp;
pub mod output;
pub mod yaml;

pub use checks::{baseline, rbac};
pub use error::{Error, Result};
pub use headlamp::{flags, image_ref, startup};
pub use output::{finding, redact};

#[cfg(test)]
use headlamp_e2e_test_support as test_support;
