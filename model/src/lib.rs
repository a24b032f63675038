//! The models of headlamp-e2e, with no IO beyond reading files: findings and their redaction, the Headlamp server's
//! startup (flags per release, image references, writable paths), the RBAC access matrix and its judgements, the
//! e2e baseline's decisions, durations as Go and Flux write them, YAML as Flux reads it.

pub mod baseline;
pub mod duration;
pub mod error;
pub mod files;
pub mod finding;
pub mod flags;
pub mod image_ref;
pub mod rbac;
pub mod redact;
pub mod startup;
pub mod yaml;

pub use error::{Error, Result};

#[cfg(test)]
use headlamp_e2e_test_support as test_support;
