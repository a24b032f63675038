//! `rbac-not-read-only`
use super::LintInput;
use crate::finding::Finding;
pub const RULE: &str = "rbac-not-read-only";
pub fn check(_input: &LintInput) -> Vec<Finding> { Vec::new() }
