//! e2e results: assertions grouped by scenario, phase timings, and their renderings — a terminal table, JUnit XML
//! ([`junit`]), a GitHub step summary ([`summary`]) and JSON — plus live [`progress`] lines and [`redact`]ion.
//!
//! Every message that leaves through a rendering goes through [`redact::redact`] first.

pub mod junit;
pub mod progress;
use headlamp_e2e_model::rbac;
pub use headlamp_e2e_model::redact;
pub use headlamp_e2e_model::{Error, Result};
use headlamp_e2e_tools::private_file;
pub mod summary;

use std::fmt::Write as _;
use std::time::Duration;

pub use junit::{junit_xml, to_junit, write_junit};
pub use progress::{PhaseGuard, Progress};
pub use redact::{redact, redact_object};
pub use summary::{append_step_summary, step_summary_markdown, step_summary_path};

/// How one assertion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed { message: String },
    Skipped { reason: String },
}

impl Outcome {
    /// `PASS`, `FAIL` or `SKIP`: the result column of the table.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "PASS",
            Outcome::Failed { .. } => "FAIL",
            Outcome::Skipped { .. } => "SKIP",
        }
    }
}

/// One named check of a scenario, e.g. `baseline` / `rbac-headlamp-list-secrets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub scenario: String,
    /// Stable id within the scenario.
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
}

impl Assertion {
    /// The assertion `rbac-<route>-<check>` of an access check's outcome.
    pub fn from_check(o: &crate::rbac::CheckOutcome, scenario: &str) -> Self {
        if o.passed {
            Assertion::passed(scenario, o.assertion_name(), o.duration)
        } else {
            Assertion::failed(scenario, o.assertion_name(), o.message.clone(), o.duration)
        }
    }

    /// The assertion of a token-rotation outcome.
    pub fn from_rotation(
        o: &crate::rbac::RotationOutcome,
        scenario: &str,
        duration: Duration,
    ) -> Self {
        if o.passed {
            Assertion::passed(scenario, o.name.clone(), duration)
        } else {
            Assertion::failed(scenario, o.name.clone(), o.message.clone(), duration)
        }
    }

    pub fn passed(
        scenario: impl Into<String>,
        name: impl Into<String>,
        duration: Duration,
    ) -> Self {
        Assertion {
            scenario: scenario.into(),
            name: name.into(),
            outcome: Outcome::Passed,
            duration,
        }
    }
    pub fn failed(
        scenario: impl Into<String>,
        name: impl Into<String>,
        message: impl Into<String>,
        duration: Duration,
    ) -> Self {
        Assertion {
            scenario: scenario.into(),
            name: name.into(),
            outcome: Outcome::Failed {
                message: message.into(),
            },
            duration,
        }
    }
    pub fn skipped(
        scenario: impl Into<String>,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Assertion {
            scenario: scenario.into(),
            name: name.into(),
            outcome: Outcome::Skipped {
                reason: reason.into(),
            },
            duration: Duration::ZERO,
        }
    }
    pub fn is_failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }
}

/// How long one phase took (`k3s start`, `flux install`, …) and whether it finished without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseTiming {
    pub name: String,
    pub duration: Duration,
    pub ok: bool,
}

/// The assertions and phases of one scenario, in the order they were recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioReport {
    pub name: String,
    pub assertions: Vec<Assertion>,
    pub phases: Vec<PhaseTiming>,
}

impl ScenarioReport {
    pub fn counts(&self) -> Counts {
        Counts::of(&self.assertions)
    }
    /// The sum of the assertion durations.
    pub fn duration(&self) -> Duration {
        self.assertions.iter().map(|a| a.duration).sum()
    }
}

/// Passed / failed / skipped totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn of<'a>(assertions: impl IntoIterator<Item = &'a Assertion>) -> Self {
        let mut c = Counts::default();
        for a in assertions {
            match a.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed { .. } => c.failed += 1,
                Outcome::Skipped { .. } => c.skipped += 1,
            }
        }
        c
    }
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Everything one e2e run produced: run-level phases (cluster start, Flux install, …) and scenarios in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// The run's name, e.g. `e2e` or a run id; the JUnit `<testsuites name>`.
    pub name: String,
    pub phases: Vec<PhaseTiming>,
    pub scenarios: Vec<ScenarioReport>,
}

impl RunReport {
    pub fn new(name: impl Into<String>) -> Self {
        RunReport {
            name: name.into(),
            ..RunReport::default()
        }
    }

    /// The scenario named `name`, created (at the end) when it is new.
    pub fn scenario_mut(&mut self, name: &str) -> &mut ScenarioReport {
        let index = match self.scenarios.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.scenarios.push(ScenarioReport {
                    name: name.to_string(),
                    ..ScenarioReport::default()
                });
                self.scenarios.len() - 1
            }
        };
        &mut self.scenarios[index]
    }

    /// Record an assertion under its scenario.
    pub fn push(&mut self, assertion: Assertion) {
        let scenario = assertion.scenario.clone();
        self.scenario_mut(&scenario).assertions.push(assertion);
    }

    pub fn extend(&mut self, assertions: impl IntoIterator<Item = Assertion>) {
        for a in assertions {
            self.push(a);
        }
    }

    /// Record a phase of the run (`scenario: None`) or of one scenario.
    pub fn record_phase(&mut self, scenario: Option<&str>, phase: PhaseTiming) {
        match scenario {
            None => self.phases.push(phase),
            Some(s) => self.scenario_mut(s).phases.push(phase),
        }
    }

    pub fn assertions(&self) -> impl Iterator<Item = &Assertion> {
        self.scenarios.iter().flat_map(|s| s.assertions.iter())
    }

    pub fn failures(&self) -> impl Iterator<Item = &Assertion> {
        self.assertions().filter(|a| a.is_failed())
    }

    pub fn counts(&self) -> Counts {
        Counts::of(self.assertions())
    }

    /// No assertion failed and no phase failed. A run without any assertion is not a success: it proved nothing.
    pub fn is_success(&self) -> bool {
        let phases_ok = self
            .phases
            .iter()
            .chain(self.scenarios.iter().flat_map(|s| s.phases.iter()))
            .all(|p| p.ok);
        let c = self.counts();
        phases_ok && c.failed == 0 && c.passed > 0
    }

    /// Wall time of the run: run-level phases plus scenario phases, or the assertion durations when there are none.
    pub fn duration(&self) -> Duration {
        let phases: Duration = self
            .phases
            .iter()
            .chain(self.scenarios.iter().flat_map(|s| s.phases.iter()))
            .map(|p| p.duration)
            .sum();
        if phases.is_zero() {
            self.scenarios.iter().map(ScenarioReport::duration).sum()
        } else {
            phases
        }
    }

    /// The result table for the terminal: aligned columns scenario, assertion, result, time; then each failure's
    /// message and the totals. `color` adds ANSI styles (only when stdout is a terminal).
    pub fn to_table(&self, color: bool) -> String {
        render_table(self, color, true)
    }

    /// [`Self::to_table`] without its last line (the ok/FAILED totals), for a command that states its own verdict.
    pub fn to_table_without_totals(&self, color: bool) -> String {
        render_table(self, color, false)
    }

    /// The `--format json` document: one object with scenarios, assertions, phases and totals. Redacted.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let phase = |p: &PhaseTiming| json!({"name": p.name, "seconds": p.duration.as_secs_f64(), "ok": p.ok});
        let scenarios: Vec<_> = self
            .scenarios
            .iter()
            .map(|s| {
                let assertions: Vec<_> = s
                    .assertions
                    .iter()
                    .map(|a| {
                        let mut v = json!({
                            "name": a.name,
                            "result": a.outcome.label().to_ascii_lowercase(),
                            "seconds": a.duration.as_secs_f64(),
                        });
                        match &a.outcome {
                            Outcome::Passed => {}
                            Outcome::Failed { message } => v["message"] = json!(redact(message)),
                            Outcome::Skipped { reason } => v["reason"] = json!(redact(reason)),
                        }
                        v
                    })
                    .collect();
                json!({
                    "name": s.name,
                    "assertions": assertions,
                    "phases": s.phases.iter().map(phase).collect::<Vec<_>>(),
                })
            })
            .collect();
        let c = self.counts();
        json!({
            "name": self.name,
            "phases": self.phases.iter().map(phase).collect::<Vec<_>>(),
            "scenarios": scenarios,
            "summary": {
                "passed": c.passed,
                "failed": c.failed,
                "skipped": c.skipped,
                "success": self.is_success(),
                "seconds": self.duration().as_secs_f64(),
            },
        })
    }
}

/// `0.4s`, `12.3s`, `2m03.4s`, `1h02m03s`.
pub fn format_duration(d: Duration) -> String {
    let tenths = d.as_millis().div_ceil(100);
    let secs = tenths / 10;
    if secs < 60 {
        format!("{}.{}s", secs, tenths % 10)
    } else if secs < 3600 {
        format!("{}m{:02}.{}s", secs / 60, secs % 60, tenths % 10)
    } else {
        format!("{}h{:02}m{:02}s", secs / 3600, (secs / 60) % 60, secs % 60)
    }
}

fn render_table(report: &RunReport, color: bool, totals: bool) -> String {
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, s: &str| -> String {
        if color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    };
    let bold = Style::new().bold();
    let green = AnsiColor::Green.on_default().bold();
    let red = AnsiColor::Red.on_default().bold();
    let yellow = AnsiColor::Yellow.on_default().bold();

    let header = ["SCENARIO", "ASSERTION", "RESULT", "TIME"];
    let rows: Vec<[String; 4]> = report
        .assertions()
        .map(|a| {
            [
                a.scenario.clone(),
                a.name.clone(),
                a.outcome.label().to_string(),
                format_duration(a.duration),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Pad the plain text first, then paint: ANSI codes must not count as width.
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let rpad =
        |s: &str, w: usize| format!("{}{s}", " ".repeat(w.saturating_sub(s.chars().count())));

    let mut out = String::new();
    let head = format!(
        "{}  {}  {}  {}",
        pad(header[0], widths[0]),
        pad(header[1], widths[1]),
        pad(header[2], widths[2]),
        rpad(header[3], widths[3])
    );
    let _ = writeln!(out, "{}", paint(bold, &head));
    for (row, a) in rows.iter().zip(report.assertions()) {
        let style = match a.outcome {
            Outcome::Passed => green,
            Outcome::Failed { .. } => red,
            Outcome::Skipped { .. } => yellow,
        };
        let _ = writeln!(
            out,
            "{}  {}  {}  {}",
            pad(&row[0], widths[0]),
            pad(&row[1], widths[1]),
            paint(style, &pad(&row[2], widths[2])),
            rpad(&row[3], widths[3])
        );
    }

    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{}", paint(bold, "Failures:"));
        for a in failures {
            if let Outcome::Failed { message } = &a.outcome {
                let _ = writeln!(out, "  {} {}/{}", paint(red, "FAIL"), a.scenario, a.name);
                for line in redact(message).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    let skipped: Vec<_> = report
        .assertions()
        .filter_map(|a| match &a.outcome {
            Outcome::Skipped { reason } => Some((a, reason)),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "\n{}", paint(bold, "Skipped:"));
        for (a, reason) in skipped {
            let _ = writeln!(out, "  {}/{}: {}", a.scenario, a.name, redact(reason));
        }
    }
    if !totals {
        return out;
    }
    let c = report.counts();
    let verdict = if report.is_success() {
        paint(green, "ok")
    } else {
        paint(red, "FAILED")
    };
    let _ = writeln!(
        out,
        "\n{verdict}: {c} in {}",
        format_duration(report.duration())
    );
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn assertions_of_rbac_outcomes() {
        use crate::rbac::{Route, Verdict, check, judge, judge_new_token};
        let pods = check("list-pods").unwrap();
        let direct = Route::direct("https://x");
        let o = judge(pods, &direct, Verdict::Allowed(200));
        assert!(matches!(
            Assertion::from_check(&o, "baseline").outcome,
            Outcome::Passed
        ));
        let o = judge(
            pods,
            &direct,
            Verdict::NoResponse("connection refused".into()),
        );
        match Assertion::from_check(&o, "baseline").outcome {
            Outcome::Failed { message } => assert_eq!(message, o.message),
            other => panic!("{other:?}"),
        }
        let o = judge_new_token(&direct, &Verdict::Unauthorized);
        assert!(matches!(
            Assertion::from_rotation(&o, "token-rotation", Duration::ZERO).outcome,
            Outcome::Failed { .. }
        ));
    }

    pub(crate) fn sample() -> RunReport {
        let mut r = RunReport::new("e2e");
        r.record_phase(
            None,
            PhaseTiming {
                name: "k3s start".into(),
                duration: Duration::from_millis(20_300),
                ok: true,
            },
        );
        r.push(Assertion::passed(
            "baseline",
            "headlamp-ready",
            Duration::from_millis(1_200),
        ));
        r.push(Assertion::failed(
            "baseline",
            "rbac-headlamp-list-secrets",
            "list-secrets via headlamp: expected 403 Forbidden, got 200 OK\nsent Authorization: Bearer s3cr3t-token",
            Duration::from_millis(40),
        ));
        r.push(Assertion::skipped(
            "token-rotation",
            "old-token-rejected",
            "no second token",
        ));
        r
    }

    #[test]
    fn report_groups_assertions_by_scenario_in_order() {
        let r = sample();
        let names: Vec<_> = r.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["baseline", "token-rotation"]);
        assert_eq!(r.scenarios[0].assertions.len(), 2);
        assert_eq!(
            r.counts(),
            Counts {
                passed: 1,
                failed: 1,
                skipped: 1
            }
        );
        assert!(!r.is_success());
        assert_eq!(r.failures().count(), 1);
    }

    #[test]
    fn success_needs_a_passed_assertion_and_ok_phases() {
        let mut r = RunReport::new("e2e");
        assert!(!r.is_success(), "an empty run proves nothing");
        r.push(Assertion::passed("baseline", "a", Duration::ZERO));
        assert!(r.is_success());
        r.record_phase(
            Some("baseline"),
            PhaseTiming {
                name: "apply".into(),
                duration: Duration::from_secs(1),
                ok: false,
            },
        );
        assert!(!r.is_success());
        assert_eq!(r.scenarios.len(), 1);
    }

    #[test]
    fn durations_format_compactly() {
        assert_eq!(format_duration(Duration::ZERO), "0.0s");
        assert_eq!(format_duration(Duration::from_millis(40)), "0.1s");
        assert_eq!(format_duration(Duration::from_millis(12_300)), "12.3s");
        assert_eq!(format_duration(Duration::from_millis(123_400)), "2m03.4s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h02m03s");
    }

    #[test]
    fn table_columns_are_aligned() {
        let t = sample().to_table(false);
        assert!(!t.contains('\u{1b}'));
        let lines: Vec<&str> = t.lines().take(4).collect();
        assert_eq!(
            lines[0].trim_end(),
            "SCENARIO        ASSERTION                   RESULT  TIME"
        );
        assert_eq!(
            lines[1],
            "baseline        headlamp-ready              PASS    1.2s"
        );
        assert_eq!(
            lines[2],
            "baseline        rbac-headlamp-list-secrets  FAIL    0.1s"
        );
        assert_eq!(
            lines[3],
            "token-rotation  old-token-rejected          SKIP    0.0s"
        );
        // every column starts at the same offset on every row
        for col in ["ASSERTION", "RESULT", "TIME"] {
            let at = lines[0].find(col).unwrap();
            for l in &lines[1..] {
                assert_eq!(&l[at - 2..at], "  ", "{l}");
            }
        }
        assert!(t.contains("Failures:\n  FAIL baseline/rbac-headlamp-list-secrets\n    list-secrets via headlamp: expected 403 Forbidden, got 200 OK\n"));
        assert!(t.contains("Skipped:\n  token-rotation/old-token-rejected: no second token"));
        assert!(
            t.trim_end()
                .ends_with("FAILED: 1 passed, 1 failed, 1 skipped in 20.3s")
        );
    }

    #[test]
    fn table_redacts_and_colors_only_when_asked() {
        let plain = sample().to_table(false);
        assert!(!plain.contains("s3cr3t-token"), "{plain}");
        assert!(plain.contains("Authorization: Bearer <redacted>"));
        let colored = sample().to_table(true);
        assert!(colored.contains('\u{1b}'));
        assert!(!colored.contains("s3cr3t-token"));
        // colour codes wrap padded cells, so stripping them gives the plain table
        let stripped = strip_ansi(&colored);
        assert_eq!(stripped, plain);
    }

    fn strip_ansi(s: &str) -> String {
        let re = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();
        re.replace_all(s, "").into_owned()
    }

    #[test]
    fn json_is_one_redacted_document() {
        let v = sample().to_json();
        assert_eq!(v["summary"]["failed"], 1);
        assert_eq!(v["summary"]["success"], false);
        assert_eq!(v["scenarios"][0]["assertions"][1]["result"], "fail");
        assert_eq!(v["phases"][0]["name"], "k3s start");
        assert!(!v.to_string().contains("s3cr3t-token"));
        assert_eq!(
            v["scenarios"][1]["assertions"][0]["reason"],
            "no second token"
        );
    }
}
