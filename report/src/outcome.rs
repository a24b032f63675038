//! What an e2e run records: each assertion's [`Outcome`], phase timings, and the [`RunReport`] that groups them by
//! scenario (with its JSON document).

use std::time::Duration;

use headlamp_e2e_model::rbac;
use headlamp_e2e_model::redact::redact;

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
    pub fn from_check(o: &rbac::CheckOutcome, scenario: &str) -> Self {
        if o.passed {
            Assertion::passed(scenario, o.assertion_name(), o.duration)
        } else {
            Assertion::failed(scenario, o.assertion_name(), o.message.clone(), o.duration)
        }
    }

    /// The assertion of a token-rotation outcome.
    pub fn from_rotation(o: &rbac::RotationOutcome, scenario: &str, duration: Duration) -> Self {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn assertions_of_rbac_outcomes() {
        use headlamp_e2e_model::rbac::{Route, Verdict, check, judge, judge_new_token};
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
