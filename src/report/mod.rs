//! e2e results ([`headlamp_e2e_report`]) and the findings' renderings ([`findings`]).

pub use headlamp_e2e_report::*;

pub use headlamp_e2e_lint::findings;
