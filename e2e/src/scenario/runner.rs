//! The scenario runner: interprets a scenario's steps against an [`Env`] (the live cluster in `cargo xtask e2e`, a
//! recording fake in tests) and turns each into named assertions.
//!
//! Order, as chainsaw and e2e-framework do it: steps run in order; after the first failed step the rest are skipped
//! (they build on each other); on failure the artifacts are collected *before* anything is reset or torn down; with
//! `fail_fast` the environment is left as it failed (the caller keeps the cluster).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{
    Check, Commit, DoctorStep, Merge, Reconcile, Scenario, Step, UnstickStep, Wait, format_duration,
};
use crate::finding::Finding;
use crate::report::{Assertion, Outcome};

/// What a scenario needs from the world. Every method is a step kind; errors are messages for the report.
#[allow(async_fn_in_trait)] // used through generics only; no Send bound needed by the runner
pub trait Env {
    /// Commit the edits to the served repo; returns the new commit's sha.
    async fn commit(&mut self, commit: &Commit) -> Result<String, String>;
    /// Merge a branch; returns the new head sha of `into`.
    async fn merge(&mut self, merge: &Merge) -> Result<String, String>;
    async fn reconcile(&mut self, reconcile: &Reconcile) -> Result<(), String>;
    /// Wait for the condition within its deadline; returns what was seen when it held.
    async fn wait(&mut self, wait: &Wait) -> Result<String, String>;
    /// Run doctor against the cluster.
    async fn doctor(&mut self, step: &DoctorStep) -> Result<Vec<Finding>, String>;
    /// Run the unstick recipe; returns how long it took until Ready.
    async fn unstick(&mut self, step: &UnstickStep) -> Result<Duration, String>;
    /// A baseline check; one result per sub-assertion (`name`, `Ok` or the failure message).
    async fn check(&mut self, check: Check) -> Vec<(String, Result<(), String>)>;
    /// Save events, logs and objects for a failed scenario (before anything is reset).
    async fn collect_artifacts(&mut self, scenario: &str) -> Result<PathBuf, String>;
    /// Bring the environment back to the baseline (served repo at its initial commit, app healthy).
    async fn reset(&mut self, scenario: &str) -> Result<(), String>;
    /// The longest a [`Env::reset`] may take (the sum of its deadlines), for `--budget`.
    fn reset_deadline(&self) -> Duration {
        Duration::ZERO
    }
}

/// What the runner tells as it goes: the journal that rewrites JUnit, the step summary and the result table after
/// every assertion ([`crate::harness::journal`]). Every method has a no-op default.
pub trait Observer {
    /// Step `index` (0-based) of `scenario` starts; `name` is its assertion name.
    fn step_started(&mut self, _scenario: &str, _index: usize, _name: &str) {}
    /// Assertions of `scenario`, as soon as they are known (a step's, a skipped scenario's, a reset's).
    fn assertions(&mut self, _scenario: &str, _assertions: &[Assertion]) {}
    /// The reset after `scenario` starts.
    fn reset_started(&mut self, _scenario: &str) {}
    /// The reset after `scenario` ended after `took`.
    fn reset_finished(&mut self, _scenario: &str, _took: Duration) {}
    /// `scenario` is over (ran, or was skipped): its steps will not run any more.
    fn scenario_finished(&mut self, _result: &ScenarioResult) {}
}

/// The observer that observes nothing.
impl Observer for () {}

/// Two observers, told everything in turn (the journal and the trace).
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn step_started(&mut self, scenario: &str, index: usize, name: &str) {
        self.0.step_started(scenario, index, name);
        self.1.step_started(scenario, index, name);
    }
    fn assertions(&mut self, scenario: &str, assertions: &[Assertion]) {
        self.0.assertions(scenario, assertions);
        self.1.assertions(scenario, assertions);
    }
    fn reset_started(&mut self, scenario: &str) {
        self.0.reset_started(scenario);
        self.1.reset_started(scenario);
    }
    fn reset_finished(&mut self, scenario: &str, took: Duration) {
        self.0.reset_finished(scenario, took);
        self.1.reset_finished(scenario, took);
    }
    fn scenario_finished(&mut self, result: &ScenarioResult) {
        self.0.scenario_finished(result);
        self.1.scenario_finished(result);
    }
}

/// What a step may take at most, for `--budget`: a wait's or unstick's own deadline; for the other kinds the
/// deadlines [`crate::harness::live::LiveEnv`] applies (a reconcile request waits up to 2 min; the checks retry their
/// probes up to 1 min each; doctor and a commit have no deadline of their own and are allowed a few minutes: their
/// API calls are bounded by kube-rs's and the probes' timeouts).
pub fn step_deadline(step: &Step) -> Duration {
    match step {
        Step::Wait(w) => w.within,
        Step::Unstick(u) => u.within,
        Step::Reconcile(_) => Duration::from_secs(120),
        Step::Commit(_) | Step::Merge(_) => Duration::from_secs(60),
        Step::Doctor(_) => Duration::from_secs(180),
        // the RBAC matrix: the login token wait (1 min), then 2 tokens × 2 routes, each retried up to 1 min
        // (live.rs PROBE_DEADLINE)
        Step::Check(_) => Duration::from_secs(360),
    }
}

/// Collecting a failed scenario's artifacts (snapshot and k3s log), allowed for `--budget`.
pub const ARTIFACTS_DEADLINE: Duration = Duration::from_secs(120);

/// The longest a scenario may take: the sum of its steps' deadlines and the artifacts of a failure. A scenario is
/// started only when the budget left covers this, so it is never killed midway by the step timeout.
pub fn scenario_deadline(s: &Scenario) -> Duration {
    s.steps.iter().map(step_deadline).sum::<Duration>() + ARTIFACTS_DEADLINE
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Stop at the first failed scenario and leave the environment as it is.
    pub fail_fast: bool,
    /// `--budget`: when the run must be over (tokio's clock). A scenario, with the reset before it, starts only if
    /// the time left covers their deadlines; otherwise it is skipped with "not enough budget left".
    pub budget: Option<tokio::time::Instant>,
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: String,
    pub assertions: Vec<Assertion>,
    pub artifacts: Option<PathBuf>,
    /// Its steps and artifacts (not the reset after it).
    pub duration: Duration,
    /// The reset after it, when one ran.
    pub reset: Option<Duration>,
}

impl ScenarioResult {
    pub fn failed(&self) -> bool {
        self.assertions.iter().any(Assertion::is_failed)
    }
}

/// The assertion name of step `i` (0-based): `01 commit <message>`, `02 wait helmReleaseReady`, …; the assertions
/// a step produces are this name or start with it and a space or `/`.
pub fn step_name(i: usize, step: &Step) -> String {
    let detail = match step {
        Step::Commit(c) => format!(" {}", c.message),
        Step::Merge(m) => format!(" {} into {}", m.from, m.into),
        Step::Reconcile(r) => format!(" {:?}/{}", r.kind, r.name),
        Step::Wait(w) => {
            let v = serde_json::to_value(&w.condition).unwrap_or_default();
            format!(" {}", v["for"].as_str().unwrap_or("?"))
        }
        Step::Doctor(_) => String::new(),
        Step::Unstick(u) => format!(" {}/{}", u.namespace, u.helmrelease),
        Step::Check(c) => format!(" {}", c.id()),
    };
    format!("{:02} {}{detail}", i + 1, step.kind())
}

fn assertion(
    scenario: &str,
    name: String,
    outcome: Result<(), String>,
    duration: Duration,
) -> Assertion {
    match outcome {
        Ok(()) => Assertion::passed(scenario, name, duration),
        Err(m) => Assertion::failed(scenario, name, m, duration),
    }
}

/// The assertions of a doctor step: each expected finding present, and nothing unexpected.
pub fn judge_doctor(
    scenario: &str,
    prefix: &str,
    step: &DoctorStep,
    findings: &[Finding],
    took: Duration,
) -> Vec<Assertion> {
    let found: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    let mut out: Vec<Assertion> = step
        .expect
        .iter()
        .map(|id| {
            let r = if found.contains(&id.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "doctor did not report {id}; it reported: [{}]",
                    found.join(", ")
                ))
            };
            assertion(scenario, format!("{prefix} finds {id}"), r, took)
        })
        .collect();
    let unexpected: Vec<&str> = found
        .iter()
        .copied()
        .filter(|id| !step.expect.iter().any(|e| e == id) && !step.allow.iter().any(|a| a == id))
        .collect();
    let r = if unexpected.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "doctor also reported [{}], which this scenario does not expect",
            unexpected.join(", ")
        ))
    };
    out.push(assertion(
        scenario,
        format!("{prefix} reports nothing else"),
        r,
        Duration::ZERO,
    ));
    out.extend(judge_severities(scenario, prefix, step, findings));
    out
}

/// Each finding listed in `severities` is reported, and only at that severity.
fn judge_severities(
    scenario: &str,
    prefix: &str,
    step: &DoctorStep,
    findings: &[Finding],
) -> Vec<Assertion> {
    step.severities
        .iter()
        .map(|(id, want)| {
            let got: Vec<String> = findings
                .iter()
                .filter(|f| &f.rule == id)
                .map(|f| f.severity.to_string())
                .collect();
            let r = if got.is_empty() {
                Err(format!("doctor did not report {id}"))
            } else if got.iter().all(|g| *g == want.to_string()) {
                Ok(())
            } else {
                Err(format!(
                    "doctor reported {id} as {}, not {want}",
                    got.join(", ")
                ))
            };
            assertion(
                scenario,
                format!("{prefix} reports {id} as {want}"),
                r,
                Duration::ZERO,
            )
        })
        .collect()
}

/// Run one scenario's steps.
pub async fn run_scenario<E: Env>(env: &mut E, s: &Scenario) -> ScenarioResult {
    run_scenario_observed(env, s, &mut ()).await
}

/// Run one scenario's steps, telling `observer` each step and its assertions as they happen.
pub async fn run_scenario_observed<E: Env, O: Observer + ?Sized>(
    env: &mut E,
    s: &Scenario,
    observer: &mut O,
) -> ScenarioResult {
    let started = Instant::now();
    let mut assertions = Vec::new();
    let mut failed = false;
    for (i, step) in s.steps.iter().enumerate() {
        let name = step_name(i, step);
        if failed {
            let skipped = Assertion::skipped(&s.name, name, "an earlier step failed");
            observer.assertions(&s.name, std::slice::from_ref(&skipped));
            assertions.push(skipped);
            continue;
        }
        observer.step_started(&s.name, i, &name);
        tracing::info!(scenario = %s.name, step = %name, "step");
        let t = Instant::now();
        let produced: Vec<Assertion> = match step {
            Step::Commit(c) => vec![assertion(
                &s.name,
                name,
                env.commit(c).await.map(|_| ()),
                t.elapsed(),
            )],
            Step::Merge(m) => vec![assertion(
                &s.name,
                name,
                env.merge(m).await.map(|_| ()),
                t.elapsed(),
            )],
            Step::Reconcile(r) => vec![assertion(
                &s.name,
                name,
                env.reconcile(r).await,
                t.elapsed(),
            )],
            Step::Wait(w) => vec![assertion(
                &s.name,
                name,
                env.wait(w).await.map(|_| ()),
                t.elapsed(),
            )],
            Step::Doctor(d) => match env.doctor(d).await {
                Ok(findings) => judge_doctor(&s.name, &name, d, &findings, t.elapsed()),
                Err(e) => vec![Assertion::failed(
                    &s.name,
                    name,
                    format!("doctor could not run: {e}"),
                    t.elapsed(),
                )],
            },
            Step::Unstick(u) => {
                let r = match env.unstick(u).await {
                    Ok(took) if took <= u.within => Ok(()),
                    Ok(took) => Err(format!(
                        "Ready only after {}, later than {}",
                        format_duration(took),
                        format_duration(u.within)
                    )),
                    Err(e) => Err(e),
                };
                vec![assertion(&s.name, name, r, t.elapsed())]
            }
            Step::Check(c) => {
                let results = env.check(*c).await;
                let took = t.elapsed();
                if results.is_empty() {
                    vec![Assertion::failed(
                        &s.name,
                        name,
                        "the check produced no result",
                        took,
                    )]
                } else {
                    results
                        .into_iter()
                        .map(|(sub, r)| assertion(&s.name, format!("{name}/{sub}"), r, took))
                        .collect()
                }
            }
        };
        failed = produced.iter().any(Assertion::is_failed);
        observer.assertions(&s.name, &produced);
        assertions.extend(produced);
    }
    let mut artifacts = None;
    if failed {
        let t = Instant::now();
        observer.step_started(&s.name, s.steps.len(), "artifacts");
        let a = match env.collect_artifacts(&s.name).await {
            Ok(dir) => {
                artifacts = Some(dir);
                Assertion::passed(&s.name, "artifacts", t.elapsed())
            }
            Err(e) => Assertion::failed(&s.name, "artifacts", e, t.elapsed()),
        };
        observer.assertions(&s.name, std::slice::from_ref(&a));
        assertions.push(a);
    }
    ScenarioResult {
        name: s.name.clone(),
        assertions,
        artifacts,
        duration: started.elapsed(),
        reset: None,
    }
}

fn skipped_scenario(s: &Scenario, reason: String) -> ScenarioResult {
    ScenarioResult {
        name: s.name.clone(),
        assertions: vec![Assertion::skipped(&s.name, "scenario", reason)],
        artifacts: None,
        duration: Duration::ZERO,
        reset: None,
    }
}

/// Run scenarios in order on one environment. Each starts from the baseline: before a scenario the environment is
/// reset after the one before it, unless that one failed under `fail_fast` (then the run stops and the environment
/// is kept as it failed). With a budget, a scenario whose deadlines (and the reset before it) the time left cannot
/// cover is skipped, and the reset with it.
pub async fn run_all<E: Env>(
    env: &mut E,
    scenarios: &[Scenario],
    opts: RunOptions,
) -> Vec<ScenarioResult> {
    run_all_observed(env, scenarios, opts, &mut ()).await
}

/// [`run_all`], telling `observer` everything as it happens.
pub async fn run_all_observed<E: Env, O: Observer + ?Sized>(
    env: &mut E,
    scenarios: &[Scenario],
    opts: RunOptions,
    observer: &mut O,
) -> Vec<ScenarioResult> {
    let mut results: Vec<ScenarioResult> = Vec::new();
    // the scenario (index in `results`) the environment still has to be reset after
    let mut dirty: Option<usize> = None;
    let mut stopped = false;
    for s in scenarios {
        if stopped {
            let r = skipped_scenario(s, "--fail-fast: an earlier scenario failed".to_string());
            observer.assertions(&s.name, &r.assertions);
            observer.scenario_finished(&r);
            results.push(r);
            continue;
        }
        if let Some(deadline) = opts.budget {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let reset = if dirty.is_some() {
                env.reset_deadline()
            } else {
                Duration::ZERO
            };
            let need = scenario_deadline(s) + reset;
            if left < need {
                let reason = if reset.is_zero() {
                    format!(
                        "not enough budget left: {} left, its deadlines add up to {}",
                        format_duration(left),
                        format_duration(need)
                    )
                } else {
                    format!(
                        "not enough budget left: {} left, its deadlines and the reset before it add up to {}",
                        format_duration(left),
                        format_duration(need)
                    )
                };
                let r = skipped_scenario(s, reason);
                observer.assertions(&s.name, &r.assertions);
                observer.scenario_finished(&r);
                results.push(r);
                continue;
            }
        }
        if let Some(prev) = dirty.take() {
            let prev_name = results[prev].name.clone();
            observer.reset_started(&prev_name);
            let t = Instant::now();
            let reset = env.reset(&prev_name).await;
            let took = t.elapsed();
            results[prev].reset = Some(took);
            observer.reset_finished(&prev_name, took);
            if let Err(e) = reset {
                let a = Assertion::failed(&prev_name, "reset to baseline", e, took);
                observer.assertions(&prev_name, std::slice::from_ref(&a));
                results[prev].assertions.push(a);
            }
        }
        let r = run_scenario_observed(env, s, observer).await;
        observer.scenario_finished(&r);
        let failed = r.failed();
        results.push(r);
        if failed && opts.fail_fast {
            stopped = true;
        } else {
            dirty = Some(results.len() - 1);
        }
    }
    results
}

/// Is this outcome a failure?
pub fn is_failure(o: &Outcome) -> bool {
    matches!(o, Outcome::Failed { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::scenario::load_file;

    /// Records every call; fails the steps it is told to.
    #[derive(Default)]
    struct Fake {
        calls: Vec<String>,
        fail_waits: bool,
        findings: Vec<&'static str>,
        unstick_took: Duration,
        /// How long each wait takes (tokio's clock: paused in the budget test).
        wait_takes: Duration,
        reset_deadline: Duration,
    }

    impl Env for Fake {
        async fn commit(&mut self, c: &Commit) -> Result<String, String> {
            self.calls.push(format!("commit {}", c.branch));
            Ok("abc".into())
        }
        async fn merge(&mut self, m: &Merge) -> Result<String, String> {
            self.calls.push(format!("merge {}", m.from));
            Ok("def".into())
        }
        async fn reconcile(&mut self, r: &Reconcile) -> Result<(), String> {
            self.calls.push(format!("reconcile {}", r.name));
            Ok(())
        }
        async fn wait(&mut self, _w: &Wait) -> Result<String, String> {
            self.calls.push("wait".into());
            tokio::time::sleep(self.wait_takes).await;
            if self.fail_waits {
                Err(
                    "HelmRelease headlamp/headlamp not Ready after 600s: last seen Ready=False"
                        .into(),
                )
            } else {
                Ok("ok".into())
            }
        }
        async fn doctor(&mut self, _d: &DoctorStep) -> Result<Vec<Finding>, String> {
            self.calls.push("doctor".into());
            Ok(self
                .findings
                .iter()
                .map(|r| Finding::new(r, Severity::Error))
                .collect())
        }
        async fn unstick(&mut self, _u: &UnstickStep) -> Result<Duration, String> {
            self.calls.push("unstick".into());
            Ok(self.unstick_took)
        }
        async fn check(&mut self, c: Check) -> Vec<(String, Result<(), String>)> {
            self.calls.push(format!("check {}", c.id()));
            vec![("a".into(), Ok(())), ("b".into(), Ok(()))]
        }
        async fn collect_artifacts(&mut self, s: &str) -> Result<PathBuf, String> {
            self.calls.push(format!("artifacts {s}"));
            Ok(PathBuf::from(format!("target/e2e/run/{s}")))
        }
        async fn reset(&mut self, s: &str) -> Result<(), String> {
            self.calls.push(format!("reset {s}"));
            Ok(())
        }
        fn reset_deadline(&self) -> Duration {
            self.reset_deadline
        }
    }

    fn scenario(name: &str, body: &str) -> Scenario {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(format!("{name}.yaml"));
        std::fs::write(
            &p,
            format!("name: {name}\ndescription: test\nsteps:\n{body}"),
        )
        .unwrap();
        load_file(&p).unwrap()
    }

    const BODY: &str = "  - commit: {message: break, edits: [{file: a.yaml, remove: x}]}\n  - wait: {for: helmReleaseReady, within: 1m}\n  - doctor: {expect: [image-flag-unsupported], allow: [pod-crashloop]}\n  - check: rbac-matrix\n";

    #[tokio::test]
    async fn passing_scenario_has_one_assertion_per_step_and_subcheck() {
        let mut env = Fake {
            findings: vec!["image-flag-unsupported", "pod-crashloop"],
            ..Fake::default()
        };
        let r = run_scenario(&mut env, &scenario("s", BODY)).await;
        assert!(!r.failed(), "{:#?}", r.assertions);
        let names: Vec<&str> = r.assertions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "01 commit break",
                "02 wait helmReleaseReady",
                "03 doctor finds image-flag-unsupported",
                "03 doctor reports nothing else",
                "04 check rbac-matrix/a",
                "04 check rbac-matrix/b"
            ]
        );
        assert!(r.artifacts.is_none());
    }

    #[tokio::test]
    async fn failure_skips_the_rest_and_collects_artifacts_before_reset() {
        let mut env = Fake {
            fail_waits: true,
            ..Fake::default()
        };
        let scenarios = [scenario("s1", BODY), scenario("s2", BODY)];
        let results = run_all(&mut env, &scenarios, RunOptions::default()).await;
        assert!(results[0].failed());
        let a = &results[0].assertions;
        assert!(
            matches!(&a[1].outcome, Outcome::Failed { message } if message.contains("last seen"))
        );
        assert!(matches!(&a[2].outcome, Outcome::Skipped { .. }));
        assert_eq!(
            results[0].artifacts.as_deref(),
            Some(std::path::Path::new("target/e2e/run/s1"))
        );
        // artifacts strictly before the reset, and the second scenario still runs after the reset
        let pos = |c: &str| env.calls.iter().position(|x| x == c).unwrap();
        assert!(pos("artifacts s1") < pos("reset s1"), "{:?}", env.calls);
        assert!(
            env.calls
                .iter()
                .skip(pos("reset s1"))
                .any(|c| c == "commit main")
        );
    }

    #[tokio::test]
    async fn fail_fast_keeps_the_environment_and_skips_later_scenarios() {
        let mut env = Fake {
            fail_waits: true,
            ..Fake::default()
        };
        let scenarios = [scenario("s1", BODY), scenario("s2", BODY)];
        let results = run_all(
            &mut env,
            &scenarios,
            RunOptions {
                fail_fast: true,
                budget: None,
            },
        )
        .await;
        assert!(env.calls.contains(&"artifacts s1".to_string()));
        assert!(
            !env.calls.iter().any(|c| c.starts_with("reset")),
            "{:?}",
            env.calls
        );
        assert!(matches!(
            results[1].assertions[0].outcome,
            Outcome::Skipped { .. }
        ));
        assert_eq!(
            env.calls.iter().filter(|c| c.starts_with("commit")).count(),
            1
        );
    }

    #[tokio::test]
    async fn doctor_missing_or_unexpected_findings_fail() {
        let mut env = Fake {
            findings: vec!["values-unknown-key"],
            ..Fake::default()
        };
        let r = run_scenario(
            &mut env,
            &scenario("s", "  - doctor: {expect: [image-flag-unsupported]}\n"),
        )
        .await;
        let msgs: Vec<String> = r
            .assertions
            .iter()
            .filter_map(|a| match &a.outcome {
                Outcome::Failed { message } => Some(message.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs[0].contains("did not report image-flag-unsupported"));
        assert!(msgs[1].contains("values-unknown-key"));
    }

    #[tokio::test]
    async fn every_step_kind_reaches_the_environment_in_order() {
        let mut env = Fake {
            findings: vec!["flux-source-revision"],
            unstick_took: Duration::from_secs(60),
            ..Fake::default()
        };
        let body = "  - commit: {message: fix, branch: feat/headlamp, edits: [{file: a.yaml, remove: x}]}\n  - reconcile: {kind: GitRepository, name: flux-system}\n  - wait: {for: sourceAtHead, branch: main, within: 2m}\n  - doctor: {expect: [flux-source-revision]}\n  - merge: {from: feat/headlamp}\n  - unstick: {within: 4m}\n  - check: ui\n";
        let r = run_scenario(&mut env, &scenario("s", body)).await;
        assert!(!r.failed(), "{:#?}", r.assertions);
        assert_eq!(
            env.calls,
            [
                "commit feat/headlamp",
                "reconcile flux-system",
                "wait",
                "doctor",
                "merge feat/headlamp",
                "unstick",
                "check ui"
            ]
        );
    }

    #[tokio::test]
    async fn doctor_severity_is_asserted_when_listed() {
        // the Fake reports every finding as an error
        let body = "  - doctor: {expect: [rootfs-unwritable-path], severities: {rootfs-unwritable-path: warning}}\n";
        let mut env = Fake {
            findings: vec!["rootfs-unwritable-path"],
            ..Fake::default()
        };
        let r = run_scenario(&mut env, &scenario("s", body)).await;
        let last = r
            .assertions
            .iter()
            .find(|a| a.name == "01 doctor reports rootfs-unwritable-path as warning")
            .expect("a severity assertion");
        assert!(
            matches!(&last.outcome, Outcome::Failed { message } if message.contains("as error, not warning")),
            "{:?}",
            last.outcome
        );
        let body = body.replace("warning", "error");
        let r = run_scenario(&mut env, &scenario("s", &body)).await;
        assert!(!r.failed(), "{:#?}", r.assertions);
    }

    #[tokio::test]
    async fn unstick_must_beat_its_deadline() {
        let mut env = Fake {
            unstick_took: Duration::from_secs(400),
            ..Fake::default()
        };
        let r = run_scenario(&mut env, &scenario("s", "  - unstick: {within: 4m}\n")).await;
        assert!(r.failed());
        assert!(
            matches!(&r.assertions[0].outcome, Outcome::Failed { message } if message.contains("Ready only after 6m40s"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_skips_the_scenario_it_cannot_cover_and_runs_the_next_one_that_fits() {
        let mut env = Fake {
            wait_takes: Duration::from_secs(5 * 60),
            reset_deadline: Duration::from_secs(10 * 60),
            ..Fake::default()
        };
        let scenarios = [
            // 5m wait + 2m artifacts allowance = 7m
            scenario("a", "  - wait: {for: helmReleaseReady, within: 5m}\n"),
            // 20m + 2m + the reset after a (10m) = 32m: more than the 25m left after a
            scenario("b", "  - wait: {for: helmReleaseReady, within: 20m}\n"),
            // 1m + 2m + 10m = 13m: fits
            scenario("c", "  - wait: {for: helmReleaseReady, within: 1m}\n"),
        ];
        assert_eq!(
            scenario_deadline(&scenarios[0]),
            Duration::from_secs(7 * 60)
        );
        let budget = tokio::time::Instant::now() + Duration::from_secs(30 * 60);
        let results = run_all(
            &mut env,
            &scenarios,
            RunOptions {
                fail_fast: false,
                budget: Some(budget),
            },
        )
        .await;
        assert!(!results[0].failed() && !results[2].failed());
        assert_eq!(results[1].assertions.len(), 1);
        assert!(
            matches!(&results[1].assertions[0].outcome, Outcome::Skipped { reason }
                if reason == "not enough budget left: 25m left, its deadlines and the reset before it add up to 32m"),
            "{:?}",
            results[1].assertions
        );
        // a is reset once, before c (b did not run: nothing to reset after it); c is the last: no reset after it
        assert_eq!(env.calls, ["wait", "reset a", "wait"]);
        assert!(results[0].reset.is_some() && results[1].reset.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_budget_nothing_is_skipped() {
        let mut env = Fake {
            wait_takes: Duration::from_secs(60 * 60),
            ..Fake::default()
        };
        let scenarios = [
            scenario("a", "  - wait: {for: helmReleaseReady, within: 5m}\n"),
            scenario("b", "  - wait: {for: helmReleaseReady, within: 20m}\n"),
        ];
        let results = run_all(&mut env, &scenarios, RunOptions::default()).await;
        assert_eq!(env.calls, ["wait", "reset a", "wait"]);
        assert!(results.iter().all(|r| !r.failed()));
    }
}
