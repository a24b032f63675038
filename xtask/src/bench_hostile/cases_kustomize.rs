//! bench-hostile cases: kustomize.

use super::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
