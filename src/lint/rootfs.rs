//! `rootfs-unwritable-path`
use super::LintInput;
use crate::finding::Finding;
pub const RULE: &str = "rootfs-unwritable-path";
pub fn check(_input: &LintInput) -> Vec<Finding> { Vec::new() }
