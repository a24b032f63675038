//! What leaves the harness: findings, the one result type of `lint` and `doctor` ([`finding`]), and the one
//! redaction every writer and printer applies ([`redact`]).

pub mod finding;
pub mod redact;
