//! Findings of reading the tree as Flux's kustomize-controller reads it ([`crate::gitops::load`]): a Flux
//! Kustomization whose path does not build with its patches/components, postBuild variables without a value or a
//! source, kustomize resources outside their kustomization root. The loader makes them (it is where the tree is read);
//! these rules report them.

use crate::finding::Finding;
use crate::gitops::{self, substitute};

use super::LintInput;

pub const BUILD_RULE: &str = gitops::FLUX_BUILD_RULE;
pub const UNRESOLVED_RULE: &str = substitute::UNRESOLVED_RULE;
pub const SOURCE_RULE: &str = substitute::SOURCE_RULE;
pub const FAILED_RULE: &str = substitute::FAILED_RULE;
pub const OUTSIDE_ROOT_RULE: &str = gitops::OUTSIDE_ROOT_RULE;

fn of_rule(input: &LintInput, rule: &str) -> Vec<Finding> {
    input
        .problems
        .iter()
        .filter(|f| f.rule == rule)
        .cloned()
        .collect()
}

pub fn check_build(input: &LintInput) -> Vec<Finding> {
    of_rule(input, BUILD_RULE)
}
pub fn check_unresolved(input: &LintInput) -> Vec<Finding> {
    of_rule(input, UNRESOLVED_RULE)
}
pub fn check_source(input: &LintInput) -> Vec<Finding> {
    of_rule(input, SOURCE_RULE)
}
pub fn check_failed(input: &LintInput) -> Vec<Finding> {
    of_rule(input, FAILED_RULE)
}
pub fn check_outside_root(input: &LintInput) -> Vec<Finding> {
    of_rule(input, OUTSIDE_ROOT_RULE)
}
