//! The rules: one module per rule (or per family of rules), each `fn(&LintInput) -> Vec<Finding>` over what the
//! rules look at ([`input`]); the list lint runs and documents is `RULES` ([`registry`]). Re-exported at the crate
//! root (`crate::psa`), where the crates above name them; inside the crate each is named by its own path
//! (`crate::rules::psa`).

pub mod chart_ref;
pub mod chart_schema;
pub mod chart_version;
pub mod flux_source;
pub mod image;
pub mod input;
pub mod kustomize;
pub mod manifest_fields;
pub mod object_conflict;
pub mod post_render;
pub mod psa;
pub mod rbac;
pub mod registry;
pub mod release_source;
pub mod rootfs;
pub mod values;
pub mod values_from;
pub mod yaml_invalid;
