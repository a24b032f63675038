//! Findings: the one result type of `lint` and `doctor`, and their text and JSON renderings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `values-unknown-key`.
    pub rule: String,
    pub severity: Severity,
    /// The file the finding is about (relative to the GitOps dir), or a live object's location for doctor.
    pub file: String,
    /// `Kind/namespace/name` (or `Kind/name` for cluster-scoped objects).
    pub object: String,
    /// Dotted values path (`extraVolumes`, `config.foo`) or field path (`spec.template.spec.containers[0].image`).
    pub path: String,
    pub message: String,
    pub fix: String,
}

impl Finding {
    /// The same finding with its message, fix, object and path through the one text redaction.
    pub fn redacted(mut self) -> Self {
        use crate::report::redact::redact;
        for t in [
            &mut self.message,
            &mut self.fix,
            &mut self.object,
            &mut self.path,
        ] {
            let r = redact(t);
            if r != *t {
                *t = r;
            }
        }
        self
    }

    pub fn new(rule: &str, severity: Severity) -> Self {
        Finding {
            rule: rule.to_string(),
            severity,
            file: String::new(),
            object: String::new(),
            path: String::new(),
            message: String::new(),
            fix: String::new(),
        }
    }
    pub fn file(mut self, file: impl Into<String>) -> Self {
        self.file = file.into();
        self
    }
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = object.into();
        self
    }
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }
}

/// Counts shown at the end of a report and in JSON `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    /// Extra numbers a command wants to report (files read, releases rendered, …).
    #[serde(flatten)]
    pub counts: BTreeMap<String, u64>,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Self {
        Summary {
            errors: findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count(),
            warnings: findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count(),
            counts: BTreeMap::new(),
        }
    }
}

/// Sort findings for stable output: by file, then object, then rule, then path.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.file, &a.object, a.severity, &a.rule, &a.path)
            .cmp(&(&b.file, &b.object, b.severity, &b.rule, &b.path))
    });
}

/// The JSON document printed by `--format json`: exactly one object.
/// Findings and summary as one JSON document; every text goes through the one redaction ([`crate::report::redact`]).
pub fn to_json(findings: &[Finding], summary: &Summary) -> serde_json::Value {
    let findings: Vec<Finding> = findings.iter().cloned().map(Finding::redacted).collect();
    serde_json::json!({ "findings": findings, "summary": summary })
}

/// Text report grouped by file. `color` adds ANSI styles (only when stdout is a terminal). Every text from input is
/// redacted and has its control characters escaped ([`crate::report::redact::for_terminal`]); the one-line fields
/// (file, object, path) cannot break their line ([`crate::report::redact::one_line`]), and no line of a message or
/// fix is a CI workflow command ([`crate::report::redact::no_workflow_commands`]).
pub fn to_text(findings: &[Finding], color: bool) -> String {
    use crate::report::redact::{no_workflow_commands, one_line};
    let for_terminal = |t: &str| no_workflow_commands(&crate::report::redact::for_terminal(t));
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, s: &str| -> String {
        if color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    };
    let bold = Style::new().bold();
    let red = AnsiColor::Red.on_default().bold();
    let yellow = AnsiColor::Yellow.on_default().bold();
    let dim = Style::new().dimmed();

    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_file.entry(f.file.as_str()).or_default().push(f);
    }
    let mut out = String::new();
    for (file, items) in by_file {
        let file = one_line(file);
        let _ = writeln!(
            out,
            "{}",
            paint(bold, if file.is_empty() { "(no file)" } else { &file })
        );
        for f in items {
            let sev = match f.severity {
                Severity::Error => paint(red, "error"),
                Severity::Warning => paint(yellow, "warning"),
            };
            let at = if f.path.is_empty() {
                f.object.clone()
            } else {
                format!("{} {}", f.object, f.path)
            };
            let at = one_line(&at);
            let _ = writeln!(out, "  {sev}[{}] {}", one_line(&f.rule), paint(dim, &at));
            for line in for_terminal(&f.message).lines() {
                let _ = writeln!(out, "    {line}");
            }
            let fix = for_terminal(&f.fix);
            if !fix.is_empty() {
                let mut lines = fix.lines();
                if let Some(first) = lines.next() {
                    let _ = writeln!(out, "    {} {first}", paint(bold, "fix:"));
                }
                for line in lines {
                    let _ = writeln!(out, "         {line}");
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Finding> {
        vec![
            Finding::new("image-tag-override", Severity::Warning)
                .file("apps/base/headlamp/helmrelease.yaml")
                .object("HelmRelease/headlamp/headlamp")
                .path("image.tag")
                .message("image.tag is set")
                .fix("remove it"),
            Finding::new("values-unknown-key", Severity::Error)
                .file("apps/base/headlamp/helmrelease.yaml")
                .object("HelmRelease/headlamp/headlamp")
                .path("extraVolumes")
                .message("unused")
                .fix("volumes:\n  - name: home"),
        ]
    }

    #[test]
    fn summary_counts_by_severity() {
        let s = Summary::of(&sample());
        assert_eq!((s.errors, s.warnings), (1, 1));
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let f = sample();
        let v = to_json(&f, &Summary::of(&f));
        let first = &v["findings"][0];
        let mut keys: Vec<_> = first.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "file", "fix", "message", "object", "path", "rule", "severity"
            ]
        );
        assert_eq!(first["severity"], "warning");
        assert_eq!(v["summary"]["errors"], 1);
    }

    #[test]
    fn text_groups_by_file_and_has_no_ansi_without_color() {
        let mut f = sample();
        sort(&mut f);
        let t = to_text(&f, false);
        assert_eq!(t.matches("apps/base/headlamp/helmrelease.yaml").count(), 1);
        assert!(!t.contains('\u{1b}'));
        // errors sort before warnings within one object
        assert!(t.find("values-unknown-key").unwrap() < t.find("image-tag-override").unwrap());
        assert!(t.contains("fix: volumes:\n           - name: home"));
        assert!(to_text(&f, true).contains('\u{1b}'));
    }
}
