//! bench-hostile cases: yaml.

use super::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
