//! What lint writes for people besides its text report: the [`findings`] as GitHub annotations, SARIF and markdown,
//! and the book's rule reference ([`rule_docs`]).

pub mod findings;
pub mod rule_docs;
