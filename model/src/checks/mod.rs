//! What the e2e tier and `verify` judge: the RBAC access matrix and its verdicts ([`rbac`]), and the baseline's
//! decisions over the live objects ([`baseline`]).

pub mod baseline;
pub mod rbac;
