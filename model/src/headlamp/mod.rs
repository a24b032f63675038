//! The Headlamp server: which flags each release defines ([`flags`]), image references ([`image_ref`]), and what it
//! does at start with a pod spec and an image ([`startup`]).

pub mod flags;
pub mod image_ref;
pub mod startup;
