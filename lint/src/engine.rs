//! What runs lint: the [`pipeline`] (read the tree, prepare and render the releases, run the rules), the renders
//! started [`ahead`] while the tree is read, and the [`positions`] of the findings in the files the user edits.

pub mod ahead;
pub mod pipeline;
pub mod positions;
