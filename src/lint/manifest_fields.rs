//! `manifest-unknown-field`: fields an object's API type does not have.
use super::LintInput;
use crate::finding::Finding;
pub const RULE: &str = "manifest-unknown-field";
pub fn check(_input: &LintInput) -> Vec<Finding> {
    Vec::new()
}
