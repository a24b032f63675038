//! What reading a GitOps directory gives: each [`object::Object`] with where it came from, and the [`tree::Tree`]
//! of everything read.

pub(crate) mod object;
pub(crate) mod tree;
