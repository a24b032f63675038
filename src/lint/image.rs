//! `image-tag-override` and `image-flag-unsupported`.
use super::LintInput;
use crate::finding::Finding;
pub const TAG_RULE: &str = "image-tag-override";
pub const FLAG_RULE: &str = "image-flag-unsupported";
pub fn check_tag_override(_input: &LintInput) -> Vec<Finding> { Vec::new() }
pub fn check_flags(_input: &LintInput) -> Vec<Finding> { Vec::new() }
