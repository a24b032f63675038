//! `chart-version-not-pinned`
use super::LintInput;
use crate::finding::Finding;
pub const RULE: &str = "chart-version-not-pinned";
pub fn check(_input: &LintInput) -> Vec<Finding> { Vec::new() }
