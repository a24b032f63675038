//! Always a report: the run's JUnit (`junit.xml`), step summary (`summary.md`) and result table (`results.txt`) are
//! rewritten in the run directory after every assertion, each atomically (a temporary file renamed over the old
//! one), and once more when the run is interrupted (SIGTERM from CI's step timeout, SIGINT from Ctrl-C).
//!
//! Every rewrite lists the whole plan: what passed and failed so far, the step in flight, and every step that has
//! not run yet, as skipped with the reason. So a run killed at any moment, even with SIGKILL, leaves a valid JUnit
//! file that says what never ran; an interrupted one says which signal stopped which step.
//!
//! `$GITHUB_STEP_SUMMARY` is appended to once, at the end or on the signal (it is shared with other steps: never
//! rewritten); the workflow appends `summary.md` itself when neither happened (`summary.appended` absent).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::report::{Assertion, PhaseTiming, RunReport, format_duration};
use crate::scenario::Scenario;
use crate::scenario::runner::{Observer, ScenarioResult, step_name};

/// The phase name under which a scenario's wall time is recorded (one per scenario).
pub const SCENARIO_PHASE: &str = "scenario";
/// The phase name under which a reset's wall time is recorded (with the scenario it reset after).
pub const RESET_PHASE: &str = "reset";
/// The file that says `$GITHUB_STEP_SUMMARY` already has this run's summary.
pub const SUMMARY_APPENDED: &str = "summary.appended";

/// A shared handle on the run's journal (cheap to clone: the signal watcher holds one, the runner another).
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.lock().dir)
            .finish()
    }
}

/// What is running now.
#[derive(Debug, Clone)]
enum InFlight {
    Setup,
    Step {
        scenario: String,
        name: String,
        since: Instant,
    },
    Reset {
        scenario: String,
        since: Instant,
    },
    Nothing,
}

#[derive(Debug)]
struct State {
    dir: PathBuf,
    /// The run's name and its setup phases (and a failed setup's assertion).
    base: RunReport,
    /// Every selected scenario with the assertion names of its steps, in order.
    plan: Vec<(String, Vec<String>)>,
    assertions: Vec<Assertion>,
    phases: Vec<(String, PhaseTiming)>,
    finished: Vec<String>,
    in_flight: InFlight,
    /// The signal that stopped the run; nothing is recorded after it.
    interrupted: Option<String>,
    /// Why nothing more will run, when the run ended early without a signal (setup failed).
    never_because: Option<String>,
    step_summary: Option<PathBuf>,
    summary_appended: bool,
    /// The last write that failed (reported once at the end, never fatal to the run).
    write_error: Option<String>,
}

impl Journal {
    /// A journal of a run writing in `dir`, of the `scenarios` selected. `step_summary`: `$GITHUB_STEP_SUMMARY`
    /// ([`crate::report::step_summary_path`]), appended to once.
    pub fn new(
        dir: &Path,
        run_name: &str,
        scenarios: &[Scenario],
        step_summary: Option<PathBuf>,
    ) -> Self {
        let plan = scenarios
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.steps
                        .iter()
                        .enumerate()
                        .map(|(i, step)| step_name(i, step))
                        .collect(),
                )
            })
            .collect();
        Journal {
            inner: Arc::new(Mutex::new(State {
                dir: dir.to_path_buf(),
                base: RunReport::new(run_name),
                plan,
                assertions: Vec::new(),
                phases: Vec::new(),
                finished: Vec::new(),
                in_flight: InFlight::Setup,
                interrupted: None,
                never_because: None,
                step_summary,
                summary_appended: false,
                write_error: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // a panic while holding the lock leaves the state as valid as before it: keep reporting
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Setup is over: its phases (and assertions, when it failed) are the base of every later report.
    pub fn setup_done(&self, setup: &RunReport) {
        let mut s = self.lock();
        if s.interrupted.is_some() {
            return;
        }
        s.base = setup.clone();
        s.in_flight = InFlight::Nothing;
        s.write();
    }

    /// The report as of now: everything recorded, the step in flight and every step not run yet (skipped, or
    /// failed when interrupted, each with the reason).
    pub fn report(&self) -> RunReport {
        self.lock().report()
    }

    /// Rewrite `junit.xml`, `summary.md` and `results.txt` now.
    pub fn write(&self) {
        self.lock().write();
    }

    /// The run was stopped by `signal`: record it, rewrite the reports and append the step summary. Nothing is
    /// recorded after this (the steps still finishing as the process ends would say only "killed"). Returns the
    /// JUnit path.
    pub fn interrupt(&self, signal: &str) -> PathBuf {
        let mut s = self.lock();
        if s.interrupted.is_none() {
            s.interrupted = Some(signal.to_string());
        }
        s.write();
        s.append_step_summary();
        s.dir.join("junit.xml")
    }

    /// The run is over: the last rewrite and the step summary. Returns the final report, and the last write error
    /// if a write failed.
    pub fn finish(&self) -> (RunReport, Option<String>) {
        let mut s = self.lock();
        s.in_flight = InFlight::Nothing;
        s.write();
        s.append_step_summary();
        (s.report(), s.write_error.clone())
    }

    /// Setup failed (`setup` holds its phases and the failed assertion): every step is reported as never run
    /// because of it; the step summary is appended.
    pub fn setup_failed(&self, setup: &RunReport) {
        let mut s = self.lock();
        if s.interrupted.is_some() {
            return;
        }
        s.base = setup.clone();
        s.in_flight = InFlight::Nothing;
        s.never_because = Some("setup failed".to_string());
        s.write();
        s.append_step_summary();
    }

    /// Was the run interrupted (and by which signal)?
    pub fn interrupted(&self) -> Option<String> {
        self.lock().interrupted.clone()
    }
}

impl State {
    fn report(&self) -> RunReport {
        let mut r = self.base.clone();
        for a in &self.assertions {
            r.push(a.clone());
        }
        for (scenario, p) in &self.phases {
            r.record_phase(Some(scenario), p.clone());
        }
        let (in_flight, never) = match &self.interrupted {
            Some(sig) => (
                Some(sig.as_str()),
                format!("never ran: the run was stopped by {sig} before it"),
            ),
            None => (
                None,
                match &self.never_because {
                    Some(why) => format!("never ran: {why}"),
                    None => "not run yet when this report was written (if the run has ended, it never ran)"
                        .to_string(),
                },
            ),
        };
        let running = |since: &Instant| match in_flight {
            Some(sig) => Err(format!(
                "interrupted by {sig} after {}: it did not finish",
                format_duration(since.elapsed())
            )),
            None => Ok(format!(
                "running for {} when this report was written (if the run has ended, it did not finish)",
                format_duration(since.elapsed())
            )),
        };
        let as_assertion = |scenario: &str, name: &str, since: &Instant| match running(since) {
            Err(m) => Assertion::failed(scenario, name, m, since.elapsed()),
            Ok(m) => Assertion::skipped(scenario, name, m),
        };
        match &self.in_flight {
            InFlight::Setup => {
                if let Some(sig) = in_flight {
                    r.push(Assertion::failed(
                        "setup",
                        "setup",
                        format!("interrupted by {sig} during setup"),
                        Duration::ZERO,
                    ));
                }
            }
            InFlight::Step {
                scenario,
                name,
                since,
            } => r.push(as_assertion(scenario, name, since)),
            InFlight::Reset { scenario, since } => {
                r.push(as_assertion(scenario, "reset to baseline", since))
            }
            InFlight::Nothing => {}
        }
        let in_flight_step = match &self.in_flight {
            InFlight::Step { scenario, name, .. } => Some((scenario.as_str(), name.as_str())),
            _ => None,
        };
        for (scenario, steps) in &self.plan {
            if self.finished.contains(scenario) {
                continue;
            }
            for step in steps {
                if in_flight_step == Some((scenario.as_str(), step.as_str())) {
                    continue;
                }
                let done = self.assertions.iter().any(|a| {
                    &a.scenario == scenario
                        && (a.name == *step
                            || a.name.starts_with(&format!("{step} "))
                            || a.name.starts_with(&format!("{step}/")))
                });
                if !done {
                    r.push(Assertion::skipped(scenario, step, never.clone()));
                }
            }
        }
        r
    }

    fn write(&mut self) {
        let report = self.report();
        let files: [(&str, Result<String, String>); 3] = [
            (
                "junit.xml",
                crate::report::junit_xml(&report).map_err(|e| e.to_string()),
            ),
            (
                "summary.md",
                Ok(crate::report::step_summary_markdown(&report)),
            ),
            (
                "results.txt",
                Ok(crate::report::redact(&report.to_table(false))),
            ),
        ];
        for (name, text) in files {
            let r = text.and_then(|t| write_atomic(&self.dir.join(name), t.as_bytes()));
            if let Err(e) = r {
                tracing::warn!("writing {name}: {e}");
                self.write_error = Some(format!("{name}: {e}"));
            }
        }
    }

    fn append_step_summary(&mut self) {
        if self.summary_appended {
            return;
        }
        self.summary_appended = true;
        let Some(path) = self.step_summary.clone() else {
            return;
        };
        match crate::report::append_step_summary(&path, &self.report()) {
            Ok(()) => {
                let _ = write_atomic(&self.dir.join(SUMMARY_APPENDED), b"");
            }
            Err(e) => {
                tracing::warn!("step summary: {e}");
                self.write_error = Some(format!("step summary: {e}"));
            }
        }
    }
}

/// Write `path` (0600) atomically: a temporary file beside it, renamed over it. A reader sees the old or the new
/// file, never half of one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    crate::cluster::write_private_file(&tmp, contents).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path)
        .map_err(|e| format!("renaming {} over {}: {e}", tmp.display(), path.display()))
}

impl Observer for Journal {
    fn step_started(&mut self, scenario: &str, _index: usize, name: &str) {
        let mut s = self.lock();
        if s.interrupted.is_some() {
            return;
        }
        s.in_flight = InFlight::Step {
            scenario: scenario.to_string(),
            name: name.to_string(),
            since: Instant::now(),
        };
        s.write();
    }

    fn assertions(&mut self, _scenario: &str, assertions: &[Assertion]) {
        let mut s = self.lock();
        if s.interrupted.is_some() {
            return;
        }
        s.assertions.extend(assertions.iter().cloned());
        s.in_flight = InFlight::Nothing;
        s.write();
    }

    fn reset_started(&mut self, scenario: &str) {
        let mut s = self.lock();
        if s.interrupted.is_some() {
            return;
        }
        s.in_flight = InFlight::Reset {
            scenario: scenario.to_string(),
            since: Instant::now(),
        };
        s.write();
    }

    fn reset_finished(&mut self, scenario: &str, took: Duration) {
        let mut s = self.lock();
        if s.interrupted.is_some() {
            return;
        }
        s.in_flight = InFlight::Nothing;
        s.phases.push((
            scenario.to_string(),
            PhaseTiming {
                name: RESET_PHASE.to_string(),
                duration: took,
                ok: true,
            },
        ));
        s.write();
    }

    fn scenario_finished(&mut self, result: &ScenarioResult) {
        let mut s = self.lock();
        if s.interrupted.is_some() {
            return;
        }
        s.in_flight = InFlight::Nothing;
        s.finished.push(result.name.clone());
        if !result.duration.is_zero() {
            s.phases.push((
                result.name.clone(),
                PhaseTiming {
                    name: SCENARIO_PHASE.to_string(),
                    duration: result.duration,
                    ok: !result.failed(),
                },
            ));
        }
        s.write();
    }
}

/// Wait for SIGTERM or SIGINT; then write the interrupted report and return the signal's name and exit code
/// (128 + its number). The handlers are installed when this is called (not when it is first polled), so a signal
/// sent after the call is never the default "terminate at once".
pub fn watch_signals(
    journal: Journal,
) -> std::io::Result<impl std::future::Future<Output = (&'static str, u8)>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let (name, code) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 143),
            _ = int.recv() => ("SIGINT", 130),
        };
        let junit = journal.interrupt(name);
        eprintln!(
            "{name}: the run stops; the report so far is in {}",
            junit.display()
        );
        (name, code)
    })
}

#[cfg(test)]
mod tests;
