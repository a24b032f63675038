//! `cargo xtask replay TRACE`: the scenario's waits over a recorded trace, offline.
//!
//! For each scenario in the trace and each wait step of its file, the states recorded during that step are fed, in
//! order, to the same predicates the live waits use ([`crate::observe::waits`]' `judge_*`, [`conditions`],
//! [`checks`], [`startup::compare`]): the verdict is *met* at the first state that satisfies it (for
//! `heldFor`, at the moment the recorded condition became old enough, if that falls before the next state), or *not
//! met*, with the last state seen. A scenario's expectation is that every wait is met within its `within`: the
//! replay agrees when each is. Steps that need the cluster (commit, reconcile, doctor, unstick, checks) are not
//! replayed; the verdict the run recorded is shown.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{FORMAT, Kind, MAX_LINE_BYTES, MAX_TRACE_BYTES, Record};
use crate::checks;
use crate::flux::conditions;
use crate::observe::{outcome, waits};
use crate::scenario::runner::step_name;
use crate::scenario::{Condition, Scenario, Step};
use crate::startup::{self, Observed, PodOutcome, Verdict};

/// A trace that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is over {} MiB: not a trace this tool reads", MAX_TRACE_BYTES / 1024 / 1024)]
    TooLarge { path: String },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the trace is empty: no header line")]
    Empty,
}

/// A parsed trace: its header and records, with their line numbers.
#[derive(Debug, Clone)]
pub struct Trace {
    pub header: Value,
    pub started_at: Timestamp,
    pub records: Vec<(usize, Record)>,
}

impl Trace {
    /// `live` or `mocked`.
    pub fn source(&self) -> &str {
        self.header["source"].as_str().unwrap_or("?")
    }

    /// The scenarios in the trace, in order of appearance.
    pub fn scenarios(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.records
            .iter()
            .map(|(_, r)| r.scenario.as_str())
            .filter(|s| !s.is_empty() && seen.insert(*s))
            .collect()
    }
}

/// Read a trace file: at most [`MAX_TRACE_BYTES`], lines of at most [`MAX_LINE_BYTES`].
pub fn read(path: &Path) -> Result<Trace, TraceError> {
    let p = path.display().to_string();
    let io = |source| TraceError::Io {
        path: p.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_TRACE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_TRACE_BYTES {
        return Err(TraceError::TooLarge { path: p });
    }
    parse(&bytes)
}

/// Parse a trace: the header first (format [`FORMAT`]), then records; blank lines are skipped.
pub fn parse(bytes: &[u8]) -> Result<Trace, TraceError> {
    let mut header: Option<(Value, Timestamp)> = None;
    let mut records = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let bad = |message: String| TraceError::Line { line, message };
        if raw.len() > MAX_LINE_BYTES {
            return Err(bad(format!(
                "{} bytes, over the {} KiB a trace line may have",
                raw.len(),
                MAX_LINE_BYTES / 1024
            )));
        }
        let text = std::str::from_utf8(raw).map_err(|e| bad(format!("not UTF-8: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        let r: Record =
            serde_json::from_str(text).map_err(|e| bad(format!("not a trace record: {e}")))?;
        match (&header, r.kind) {
            (None, Kind::Header) => {
                let format = r.state["format"].as_u64();
                if format != Some(FORMAT) {
                    return Err(bad(format!(
                        "trace format {}, this tool reads format {FORMAT}",
                        format.map_or("missing".into(), |f| f.to_string())
                    )));
                }
                let started_at = r.state["started_at"]
                    .as_str()
                    .and_then(|s| s.parse::<Timestamp>().ok())
                    .ok_or_else(|| bad("header: started_at is not an RFC 3339 time".into()))?;
                header = Some((r.state, started_at));
            }
            (None, k) => {
                return Err(bad(format!(
                    "the first record must be the header, not `{}`",
                    k.as_str()
                )));
            }
            (Some(_), Kind::Header) => {
                if r.state.get("truncated").is_some() {
                    // the writer's size limit: what follows was not recorded
                    break;
                }
                return Err(bad("a second header".into()));
            }
            (Some(_), _) => records.push((line, r)),
        }
    }
    let (header, started_at) = header.ok_or(TraceError::Empty)?;
    Ok(Trace {
        header,
        started_at,
        records,
    })
}

/// The verdict of one wait.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitVerdict {
    /// `05 wait helmReleaseReady`.
    pub step: String,
    pub within_ms: u64,
    pub met: bool,
    /// When it would have been met (trace time), and how long after the step started.
    pub met_at_ms: Option<u64>,
    pub after_ms: Option<u64>,
    /// States (and inputs) recorded during the step.
    pub records: usize,
    /// What held when it was met, or the last state seen.
    pub state: String,
    /// The verdict the run recorded for this step (`passed`, `failed: …`; in a mocked trace, the mocked run's).
    pub recorded: Option<String>,
    /// Met within `within`: what the scenario expects.
    pub agrees: bool,
}

/// A step that is not replayed, with the verdict the run recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtherStep {
    pub step: String,
    pub recorded: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StepReplay {
    Wait(WaitVerdict),
    Other(OtherStep),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioReplay {
    pub scenario: String,
    pub steps: Vec<StepReplay>,
}

impl ScenarioReplay {
    pub fn waits(&self) -> impl Iterator<Item = &WaitVerdict> {
        self.steps.iter().filter_map(|s| match s {
            StepReplay::Wait(w) => Some(w),
            StepReplay::Other(_) => None,
        })
    }
}

/// Every scenario of a trace, replayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    pub source: String,
    pub scenarios: Vec<ScenarioReplay>,
}

impl Replay {
    /// Every wait met within its deadline, and at least one wait replayed.
    pub fn agrees(&self) -> bool {
        let mut any = false;
        for w in self.scenarios.iter().flat_map(ScenarioReplay::waits) {
            any = true;
            if !w.agrees {
                return false;
            }
        }
        any
    }
}

/// Replay every scenario of `trace` against its file among `scenarios` (by name). Err: a scenario of the trace is
/// not among them.
pub fn replay(trace: &Trace, scenarios: &[Scenario]) -> Result<Replay, String> {
    let mut out = Vec::new();
    for name in trace.scenarios() {
        let Some(s) = scenarios.iter().find(|s| s.name == name) else {
            return Err(format!(
                "the trace has scenario `{name}`, which is not among the scenario files ({})",
                scenarios
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        out.push(replay_scenario(trace, s));
    }
    Ok(Replay {
        source: trace.source().to_string(),
        scenarios: out,
    })
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The recorded verdict of a step from its assertion records: `passed`, or the first `failed: …` / `skipped: …`.
fn recorded_verdict(records: &[&Record]) -> Option<String> {
    let mut passed = false;
    for r in records.iter().filter(|r| r.kind == Kind::Step) {
        match r.state["outcome"].as_str() {
            Some("passed") => passed = true,
            Some(o) => {
                return Some(format!(
                    "{o}: {}",
                    r.state["message"].as_str().unwrap_or("")
                ));
            }
            None => {}
        }
    }
    passed.then(|| "passed".to_string())
}

/// Replay one scenario's steps.
pub fn replay_scenario(trace: &Trace, s: &Scenario) -> ScenarioReplay {
    let mut steps = Vec::new();
    for (i, step) in s.steps.iter().enumerate() {
        let name = step_name(i, step);
        let records: Vec<&Record> = trace
            .records
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.scenario == s.name && r.step == name)
            .collect();
        let recorded = recorded_verdict(&records);
        match step {
            Step::Wait(w) => {
                steps.push(StepReplay::Wait(replay_wait(
                    trace,
                    &name,
                    &w.condition,
                    w.within,
                    &records,
                    recorded,
                )));
            }
            _ => steps.push(StepReplay::Other(OtherStep {
                step: name,
                recorded,
            })),
        }
    }
    ScenarioReplay {
        scenario: s.name.clone(),
        steps,
    }
}

/// What the wait had seen up to a point: the latest state per object, the inputs.
#[derive(Default)]
struct Seen {
    objects: BTreeMap<(Kind, String), Value>,
    inputs: Map<String, Value>,
}

impl Seen {
    fn get(&self, kind: Kind, object: &str) -> Option<&Value> {
        self.objects.get(&(kind, object.to_string()))
    }

    /// Objects of `kind` in `namespace` that exist (latest state not null).
    fn in_namespace(&self, kind: Kind, namespace: &str) -> Vec<&Value> {
        let prefix = format!("{namespace}/");
        self.objects
            .iter()
            .filter(|((k, o), v)| *k == kind && o.starts_with(&prefix) && !v.is_null())
            .map(|(_, v)| v)
            .collect()
    }
}

fn at(started_at: Timestamp, t_ms: u64) -> Timestamp {
    let d = SignedDuration::from_millis(i64::try_from(t_ms).unwrap_or(i64::MAX));
    started_at.checked_add(d).unwrap_or(started_at)
}

fn replay_wait(
    trace: &Trace,
    name: &str,
    condition: &Condition,
    within: Duration,
    records: &[&Record],
    recorded: Option<String>,
) -> WaitVerdict {
    let start = records
        .iter()
        .find(|r| r.kind == Kind::Step && r.state["event"] == "start")
        .or_else(|| records.first())
        .map(|r| r.t_ms);
    let end = records.iter().map(|r| r.t_ms).max();
    let observations: Vec<&Record> = records
        .iter()
        .copied()
        .filter(|r| r.kind != Kind::Step)
        .collect();
    let mut verdict = WaitVerdict {
        step: name.to_string(),
        within_ms: ms(within),
        met: false,
        met_at_ms: None,
        after_ms: None,
        records: observations.len(),
        state: "nothing recorded for this step".to_string(),
        recorded,
        agrees: false,
    };
    let (Some(start), Some(end)) = (start, end) else {
        return verdict;
    };
    let mut seen = Seen::default();
    for (i, r) in observations.iter().enumerate() {
        if r.kind == Kind::Input {
            if let Value::Object(m) = &r.state {
                seen.inputs.extend(m.clone());
            }
        } else {
            seen.objects
                .insert((r.kind, r.object.clone()), r.state.clone());
        }
        // the next state replaces this one; the step ends at its last record
        let until = observations.get(i + 1).map_or(end, |n| n.t_ms);
        let mut met_at = None;
        match judge(condition, &seen, at(trace.started_at, r.t_ms)) {
            Ok(state) => {
                met_at = Some(r.t_ms);
                verdict.state = state;
            }
            Err(state) => {
                verdict.state = state;
                // a condition that holds long enough becomes met while its state stays the same
                if let Some(t) = held_until(condition, &seen, trace.started_at)
                    && t > r.t_ms
                    && t <= until
                    && let Ok(state) = judge(condition, &seen, at(trace.started_at, t))
                {
                    met_at = Some(t);
                    verdict.state = state;
                }
            }
        }
        if let Some(t) = met_at {
            verdict.met = true;
            verdict.met_at_ms = Some(t);
            verdict.after_ms = Some(t.saturating_sub(start));
            verdict.agrees = t.saturating_sub(start) <= verdict.within_ms;
            return verdict;
        }
    }
    verdict
}

/// For `helmReleaseProgressing` with `heldFor`: the trace time at which the recorded Ready condition has held for
/// `heldFor` (its lastTransitionTime + heldFor).
fn held_until(condition: &Condition, seen: &Seen, started_at: Timestamp) -> Option<u64> {
    let Condition::HelmReleaseProgressing {
        name,
        namespace,
        held_for: Some(held_for),
        ..
    } = condition
    else {
        return None;
    };
    let hr = seen.get(Kind::Helmrelease, &format!("{namespace}/{name}"))?;
    let since: Timestamp = conditions::condition(hr, "Ready")?
        .last_transition_time?
        .parse()
        .ok()?;
    let when = since
        .checked_add(SignedDuration::try_from(*held_for).ok()?)
        .ok()?;
    let d = when.duration_since(started_at);
    u64::try_from(d.as_millis()).ok()
}

fn input_generation(seen: &Seen) -> Result<Option<i64>, String> {
    match seen.inputs.get("recorded") {
        None => Err("no generation recorded before the commit (no `input` record)".into()),
        Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("input `recorded` is `{v}`, not a generation")),
    }
}

/// The predicate of one wait over what was seen, at `now`: the live waits' own functions.
fn judge(condition: &Condition, seen: &Seen, now: Timestamp) -> Result<String, String> {
    let hr = |namespace: &str, name: &str| {
        seen.get(Kind::Helmrelease, &format!("{namespace}/{name}"))
            .filter(|v| !v.is_null())
            .ok_or_else(|| format!("HelmRelease {namespace}/{name} not found"))
    };
    let deployment = |namespace: &str, name: &str| -> Result<Option<Deployment>, String> {
        match seen.get(Kind::Deployment, &format!("{namespace}/{name}")) {
            None => Err(format!("Deployment {namespace}/{name} not observed")),
            Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| format!("Deployment {namespace}/{name}: {e}")),
        }
    };
    match condition {
        Condition::HelmReleaseReady { name, namespace } => {
            waits::judge_ready_after_commit(hr(namespace, name)?, input_generation(seen)?)
        }
        Condition::HelmReleaseProgressing {
            name,
            namespace,
            message,
            held_for,
        } => waits::judge_progressing(hr(namespace, name)?, message, *held_for, now),
        Condition::HelmReleaseQueued { name, namespace } => {
            let recorded = input_generation(seen)?.ok_or_else(|| {
                format!("HelmRelease {namespace}/{name} had no generation before the commit")
            })?;
            waits::judge_queued(hr(namespace, name)?, recorded)
        }
        Condition::HelmReleaseAbsent { name, namespace } => {
            let h = match seen.get(Kind::Helmrelease, &format!("{namespace}/{name}")) {
                None => return Err(format!("HelmRelease {namespace}/{name} not observed")),
                Some(v) => (!v.is_null()).then_some(v),
            };
            let d = deployment(namespace, name)?;
            waits::judge_absent(h, d.as_ref())
        }
        Condition::DeploymentAvailable { name, namespace } => match deployment(namespace, name)? {
            Some(d) if conditions::deployment_available(&d) => Ok("Available".to_string()),
            Some(d) => Err(crate::flux::wait::describe_object(&d)),
            None => Err("Deployment not found".into()),
        },
        Condition::DeploymentMount {
            name,
            namespace,
            mount_path,
            present,
        } => match deployment(namespace, name)? {
            Some(d) if checks::deployment_mounts(&d, mount_path) == *present => {
                Ok("as expected".to_string())
            }
            Some(_) => Err(format!("mount present={}", !present)),
            None => Err("Deployment not found".into()),
        },
        Condition::PodCrashLoop {
            namespace,
            selector: _,
            log,
        } => {
            let pods: Vec<Pod> = seen
                .in_namespace(Kind::Pod, namespace)
                .into_iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect();
            for (pod, container) in checks::crashlooping(&pods) {
                let lines = seen.get(Kind::Log, &format!("{namespace}/{pod}/{container}"));
                let found = lines
                    .and_then(|v| v["lines"].as_array())
                    .into_iter()
                    .flatten()
                    .any(|l| l.as_str().is_some_and(|l| l.contains(log.as_str())));
                if found {
                    return Ok(format!("{pod}/{container}: {log}"));
                }
            }
            Err(checks::describe_pods(&pods))
        }
        Condition::SourceAtHead { name, .. } => {
            let head = seen
                .inputs
                .get("head")
                .and_then(Value::as_str)
                .ok_or("no branch head recorded (no `input` record)")?;
            let git = seen
                .get(Kind::Gitrepository, &format!("flux-system/{name}"))
                .cloned()
                .unwrap_or_default();
            waits::judge_source(&git, head)
        }
        Condition::PodOutcome {
            name,
            namespace,
            expect,
            lines,
            exit_code,
        } => {
            let predicted: PodOutcome = seen
                .inputs
                .get("predicted")
                .cloned()
                .ok_or("no predicted outcome recorded (no `input` record)")
                .and_then(|v| {
                    serde_json::from_value(v).map_err(|_| "the predicted outcome does not parse")
                })?;
            let observed = observed(seen, namespace, name)?;
            // as live.rs does: the wait follows the model; a model that is not the pinned chart's outcome is noted
            let note = match outcome::matches_spec(&predicted, *expect, lines, *exit_code) {
                Ok(()) => String::new(),
                Err(e) => format!(" (not the pinned chart's outcome: {e}; followed the model)"),
            };
            match startup::compare(&predicted, &observed) {
                Verdict::Agrees(m) => Ok(format!("{m}{note}")),
                Verdict::Disagrees(m) | Verdict::NotYet(m) => Err(m),
            }
        }
    }
}

/// The podOutcome wait's observation, rebuilt from the container record and its pod's log lines.
fn observed(seen: &Seen, namespace: &str, name: &str) -> Result<Observed, String> {
    let c = seen
        .get(Kind::Container, &format!("{namespace}/{name}"))
        .ok_or_else(|| format!("no pod of Deployment {namespace}/{name} observed"))?;
    let pod = c["pod"].as_str().unwrap_or("?").to_string();
    let log = || {
        seen.get(Kind::Log, &format!("{namespace}/{pod}"))
            .and_then(|v| v["lines"].as_array())
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(match c["observed"].as_str() {
        Some("crashed") => Observed::Crashed {
            exit_code: c["exitCode"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(-1),
            reason: c["reason"].as_str().map(str::to_string),
            log: log(),
            pod,
        },
        Some("running") => Observed::Running { log: log(), pod },
        _ => Observed::Pending(c["state"].as_str().unwrap_or("pending").to_string()),
    })
}

// ---- output ---------------------------------------------------------------------------------------------------

fn secs(ms: u64) -> String {
    crate::view::human_duration(Duration::from_millis(ms))
}

/// The text report: one line per step, then the verdict.
pub fn render_text(path: &str, replay: &Replay) -> String {
    let mut out = format!("trace {path} ({})\n", replay.source);
    let (mut met, mut total) = (0, 0);
    for s in &replay.scenarios {
        out.push_str(&format!("scenario {}\n", s.scenario));
        for step in &s.steps {
            match step {
                StepReplay::Wait(w) => {
                    total += 1;
                    let verdict = match (w.met, w.after_ms, w.met_at_ms) {
                        (true, Some(after), Some(t)) if w.agrees => {
                            met += 1;
                            format!("met after {} (t={})", secs(after), secs(t))
                        }
                        (true, Some(after), _) => format!(
                            "met after {}, later than its {}",
                            secs(after),
                            secs(w.within_ms)
                        ),
                        _ => format!("NOT MET within {}", secs(w.within_ms)),
                    };
                    let live = w
                        .recorded
                        .as_deref()
                        .map(|l| format!(" [recorded: {l}]"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "  {:<34} {verdict}: {}{live}\n",
                        w.step,
                        crate::report::redact::for_terminal(&w.state)
                    ));
                }
                StepReplay::Other(o) => {
                    out.push_str(&format!(
                        "  {:<34} not replayed{}\n",
                        o.step,
                        o.recorded
                            .as_deref()
                            .map(|l| format!(
                                " [recorded: {}]",
                                crate::report::redact::for_terminal(l)
                            ))
                            .unwrap_or_default()
                    ));
                }
            }
        }
    }
    if replay.agrees() {
        out.push_str(&format!(
            "agrees: {met} of {total} waits met within their deadlines\n"
        ));
    } else {
        out.push_str(&format!(
            "DISAGREES: {met} of {total} waits met within their deadlines\n"
        ));
    }
    out
}
