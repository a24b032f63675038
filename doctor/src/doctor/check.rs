//! What one check of `doctor` reports ([`Check`]: its findings and notes), the log evidence the pods check hands to
//! the merge, and the helpers every check names objects and findings with.

use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::view;

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct Check {
    /// `source`, `release`, `values`, `pods`.
    pub id: &'static str,
    pub title: &'static str,
    /// The rule ids it can report.
    pub rules: Vec<&'static str>,
    pub findings: Vec<Finding>,
    /// What it could not check, and why; or what it merged.
    pub notes: Vec<String>,
    /// False when it did not run at all (e.g. no `--gitops`).
    pub ran: bool,
}

impl Check {
    pub(crate) fn new(id: &'static str, title: &'static str, rules: Vec<&'static str>) -> Self {
        Check {
            id,
            title,
            rules,
            findings: Vec::new(),
            notes: Vec::new(),
            ran: true,
        }
    }
    pub(crate) fn skipped(mut self, note: String) -> Self {
        self.ran = false;
        self.notes.push(note);
        self
    }
}

/// A finding from the pods and their logs, with the evidence to append when the render found the same thing.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub finding: Finding,
    pub evidence: String,
}

/// The pods check before merging.
#[derive(Debug, Clone)]
pub struct PodsCheck {
    pub check: Check,
    pub evidence: Vec<Evidence>,
}

/// `Kind/namespace/name` of a JSON object.
pub fn object_id(v: &Value) -> String {
    let kind = v["kind"].as_str().unwrap_or("");
    match view::namespace_of(v) {
        Some(ns) => format!("{kind}/{ns}/{}", view::name_of(v)),
        None => format!("{kind}/{}", view::name_of(v)),
    }
}

pub(crate) fn error(rule: &str) -> Finding {
    Finding::new(rule, Severity::Error)
}
