//! e2e results: assertions grouped by scenario, phase timings, and their renderings — a terminal table, JUnit XML
//! ([`junit`]), a GitHub step summary ([`summary`]) and JSON — plus live [`progress`] lines and [`redact`]ion.
//!
//! Every message that leaves through a rendering goes through [`redact::redact`] first.

pub mod junit;
pub mod outcome;
pub mod progress;
pub mod summary;
pub mod table;

pub use headlamp_e2e_model::redact;
pub use headlamp_e2e_model::{Error, Result};

pub use junit::{junit_xml, to_junit, write_junit};
pub use outcome::{Assertion, Counts, Outcome, PhaseTiming, RunReport, ScenarioReport};
pub use progress::{PhaseGuard, Progress};
pub use redact::{redact, redact_object};
pub use summary::{append_step_summary, step_summary_markdown, step_summary_path};
pub use table::format_duration;
