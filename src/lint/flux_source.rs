//! `flux-source-branch`
use super::LintInput;
use crate::finding::Finding;
pub const RULE: &str = "flux-source-branch";
pub fn check(_input: &LintInput) -> Vec<Finding> { Vec::new() }
