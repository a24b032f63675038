//! `psa-restricted`: Pod Security Standards "restricted" violations of pod templates in restricted namespaces.
use super::LintInput;
use crate::finding::Finding;
pub const RULE: &str = "psa-restricted";
pub fn check(_input: &LintInput) -> Vec<Finding> {
    Vec::new()
}
