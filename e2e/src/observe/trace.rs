//! `trace.jsonl`: what a run observed, one JSON object per line, so that the waits can be replayed offline
//! ([`replay`]) long after the CI artifact has expired.
//!
//! Every record is `{"t_ms": <ms since the trace started>, "scenario": …, "step": …, "kind": …, "object": "ns/name",
//! "state": …}`. The first line is the `header` (format, wall-clock start, where the trace comes from). `step` records
//! mark a step's start and its assertions (the live verdict); `input` records are what a wait compares with (the
//! generation recorded before a commit, the branch head, the predicted pod outcome); the observed kinds hold states
//! in the shape the waits' predicates consume: Flux objects (conditions with observedGeneration and
//! lastTransitionTime, metadata.generation, the status fields the waits read), Deployments, pods (phase, container
//! states with reason, exit code and restartCount), the Headlamp container's outcome, matched log lines, and probe
//! answers.
//!
//! The waits record through the [`Tracer`] in scope (a tokio task-local set by [`Tracer::scope`]): outside a scope
//! recording is a no-op, so the waits run unchanged in tests that do not trace. A state is written only when it
//! differs from the last one written for the same object (per kind) in the same step, each line is flushed as it is
//! written (a killed run keeps what it saw), and every state goes through [`redact_object`] (by key, and every string through the text
//! redaction) before it is compared or written: a token in a probe answer or a log line never reaches the file.

pub mod replay;

#[cfg(test)]
mod mocked;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::report::redact::{redact, redact_object};
use crate::report::{Assertion, Outcome};
use crate::scenario::runner::Observer;
use crate::startup::{Observed, PodOutcome};

/// The file name in the run directory.
pub const FILE_NAME: &str = "trace.jsonl";
/// The version of the record format; [`replay`] reads this version only.
pub const FORMAT: u64 = 1;
/// A trace is written up to this size (the rest of the run is not traced, and the trace says so), and read up to
/// it: a trace is a file users download from CI artifacts.
pub const MAX_TRACE_BYTES: u64 = 64 * 1024 * 1024;
/// The longest line a trace may hold (a record with its state).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// At most this many log lines are kept per log record (the ones the model knows, and the matched one).
pub const MAX_LOG_LINES: usize = 64;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The first line: `{"format": 1, "started_at": <RFC 3339>, "source": "live"|"mocked", "note": …}`.
    Header,
    /// A step started (`{"event": "start"}`) or produced an assertion (`{"event": "assertion", "name", "outcome",
    /// "message"}`): the live verdict.
    Step,
    /// What the wait compares with: `{"recorded": <generation>|null}`, `{"head": <sha>}`, `{"predicted": …}`.
    Input,
    Helmrelease,
    Kustomization,
    Gitrepository,
    Deployment,
    Pod,
    /// The Headlamp container's outcome as the podOutcome wait reads it (`crashed` with exit code and reason,
    /// `running`, or `pending` with what was seen).
    Container,
    /// Log lines of a container: the matched line of a podCrashLoop wait, the lines lint's model knows.
    Log,
    /// An HTTP probe's answer (status code, passed, message): the UI check, the access matrix, token rotation.
    Probe,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Header => "header",
            Kind::Step => "step",
            Kind::Input => "input",
            Kind::Helmrelease => "helmrelease",
            Kind::Kustomization => "kustomization",
            Kind::Gitrepository => "gitrepository",
            Kind::Deployment => "deployment",
            Kind::Pod => "pod",
            Kind::Container => "container",
            Kind::Log => "log",
            Kind::Probe => "probe",
        }
    }
}

/// One line of `trace.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Milliseconds since the trace started (tokio's clock: paused in the mocked runs).
    pub t_ms: u64,
    #[serde(default)]
    pub scenario: String,
    /// The step's assertion name (`05 wait helmReleaseReady`), `reset`, or empty before the first step.
    #[serde(default)]
    pub step: String,
    pub kind: Kind,
    /// `namespace/name` (a container's log: `namespace/pod/container`); empty for header, step and input.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object: String,
    /// The state; `null` for an object that does not exist.
    #[serde(default)]
    pub state: Value,
}

/// Where a trace comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A run against a cluster (`cargo xtask e2e`).
    Live,
    /// The scenario run against the scripted API server of the tests (the committed fixtures until a nightly
    /// provides real ones).
    Mocked,
}

struct Inner {
    out: Option<Box<dyn Write + Send>>,
    started: tokio::time::Instant,
    started_at: Timestamp,
    /// `now()` is `started_at` + tokio's elapsed time (the mocked runs, with a paused clock), not the wall clock.
    fixed_clock: bool,
    scenario: String,
    step: String,
    last: HashMap<(Kind, String), Value>,
    written: u64,
}

/// The recorder: cheap to clone, shared by the run and the waits in its scope.
#[derive(Clone)]
pub struct Tracer(Arc<Mutex<Inner>>);

tokio::task_local! {
    static CURRENT: Tracer;
}

impl Tracer {
    /// A trace file (0600, like every artifact), created anew, with its header.
    pub fn create(path: &Path) -> std::io::Result<Tracer> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let file = o.open(path)?;
        Ok(Tracer::new(
            Box::new(file),
            Timestamp::now(),
            Source::Live,
            false,
            "",
        ))
    }

    /// A trace into `out`, started at `started_at`. With `fixed_clock`, [`now`] is `started_at` plus tokio's elapsed
    /// time (deterministic under a paused clock) instead of the wall clock.
    pub fn new(
        out: Box<dyn Write + Send>,
        started_at: Timestamp,
        source: Source,
        fixed_clock: bool,
        note: &str,
    ) -> Tracer {
        let t = Tracer(Arc::new(Mutex::new(Inner {
            out: Some(out),
            started: tokio::time::Instant::now(),
            started_at,
            fixed_clock,
            scenario: String::new(),
            step: String::new(),
            last: HashMap::new(),
            written: 0,
        })));
        let mut header = json!({
            "format": FORMAT,
            "started_at": started_at.to_string(),
            "source": match source { Source::Live => "live", Source::Mocked => "mocked" },
        });
        if !note.is_empty() {
            header["note"] = json!(note);
        }
        t.write(Kind::Header, "", header, false);
        t
    }

    /// A tracer that writes nothing (the trace file could not be created: the run goes on without it).
    pub fn disabled() -> Tracer {
        Tracer(Arc::new(Mutex::new(Inner {
            out: None,
            started: tokio::time::Instant::now(),
            started_at: Timestamp::now(),
            fixed_clock: false,
            scenario: String::new(),
            step: String::new(),
            last: HashMap::new(),
            written: 0,
        })))
    }

    /// Run `fut` with this tracer in scope: the waits it runs record here.
    pub async fn scope<F: std::future::Future>(&self, fut: F) -> F::Output {
        CURRENT.scope(self.clone(), fut).await
    }

    /// The clock the waits judge time-dependent conditions with (see [`now`]).
    pub fn now(&self) -> Timestamp {
        let Ok(inner) = self.0.lock() else {
            return Timestamp::now();
        };
        if inner.fixed_clock {
            let elapsed = jiff::SignedDuration::try_from(inner.started.elapsed())
                .unwrap_or(jiff::SignedDuration::ZERO);
            inner
                .started_at
                .checked_add(elapsed)
                .unwrap_or(inner.started_at)
        } else {
            Timestamp::now()
        }
    }

    /// A new step: its records are self-contained (the first state of each object in a step is written even when
    /// the step before ended with the same state), so a step replays on its own.
    fn set_step(&self, scenario: &str, step: &str) {
        if let Ok(mut inner) = self.0.lock() {
            if inner.scenario != scenario || inner.step != step {
                inner.last.clear();
            }
            inner.scenario = scenario.to_string();
            inner.step = step.to_string();
        }
    }

    /// Write one record (redacted); with `dedupe`, only when the state differs from the last one written for the
    /// same kind and object. Errors end the trace (the run goes on: a trace is an artifact, not an assertion).
    pub fn write(&self, kind: Kind, object: &str, mut state: Value, dedupe: bool) {
        redact_object(&mut state);
        let Ok(mut inner) = self.0.lock() else {
            return;
        };
        if inner.out.is_none() {
            return;
        }
        let key = (kind, object.to_string());
        if dedupe && inner.last.get(&key) == Some(&state) {
            return;
        }
        let record = Record {
            t_ms: u64::try_from(inner.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            scenario: inner.scenario.clone(),
            step: inner.step.clone(),
            kind,
            object: redact(object),
            state: state.clone(),
        };
        let Ok(mut line) = serde_json::to_string(&record) else {
            return;
        };
        line.push('\n');
        if line.len() > MAX_LINE_BYTES {
            // keep the line readable: the state is replaced by what it was
            let short = Record {
                state: json!({"omitted": format!("a state of {} bytes, over the line limit", line.len())}),
                ..record
            };
            line = serde_json::to_string(&short).unwrap_or_default() + "\n";
        }
        let over = inner.written + line.len() as u64 > MAX_TRACE_BYTES;
        let Some(out) = inner.out.as_mut() else {
            return;
        };
        let r = if over {
            out.write_all(b"{\"t_ms\":0,\"kind\":\"header\",\"state\":{\"truncated\":\"the trace reached its size limit\"}}\n")
                .and_then(|_| out.flush())
        } else {
            out.write_all(line.as_bytes()).and_then(|_| out.flush())
        };
        match r {
            Ok(()) if !over => {
                inner.written += line.len() as u64;
                if dedupe {
                    inner.last.insert(key, state);
                }
            }
            Ok(()) => inner.out = None,
            Err(e) => {
                tracing::warn!("trace: {e}; the rest of the run is not traced");
                inner.out = None;
            }
        }
    }
}

/// The runner tells the tracer which step the waits belong to, and writes each step's start and its assertions.
impl Observer for Tracer {
    fn step_started(&mut self, scenario: &str, _index: usize, name: &str) {
        self.set_step(scenario, name);
        self.write(Kind::Step, "", json!({"event": "start"}), false);
    }

    fn assertions(&mut self, scenario: &str, assertions: &[Assertion]) {
        for a in assertions {
            let (outcome, message) = match &a.outcome {
                Outcome::Passed => ("passed", None),
                Outcome::Failed { message } => ("failed", Some(message)),
                Outcome::Skipped { reason } => ("skipped", Some(reason)),
            };
            // the step of a skipped assertion never started: name it by its own step
            if !matches!(a.outcome, Outcome::Passed | Outcome::Failed { .. }) {
                self.set_step(scenario, &a.name);
            }
            let mut state = json!({"event": "assertion", "name": a.name, "outcome": outcome});
            if let Some(m) = message {
                state["message"] = json!(m);
            }
            self.write(Kind::Step, "", state, false);
        }
    }

    fn reset_started(&mut self, scenario: &str) {
        self.set_step(scenario, "reset");
        self.write(Kind::Step, "", json!({"event": "start"}), false);
    }

    fn reset_finished(&mut self, _scenario: &str, took: std::time::Duration) {
        self.write(
            Kind::Step,
            "",
            json!({"event": "end", "took_ms": u64::try_from(took.as_millis()).unwrap_or(u64::MAX)}),
            false,
        );
    }
}

// ---- what the waits call ---------------------------------------------------------------------------------------

fn with_current(f: impl FnOnce(&Tracer)) {
    let _ = CURRENT.try_with(f);
}

/// The clock for time-dependent judgements: the tracer's ([`Tracer::now`]) in a scope, else the wall clock.
pub fn now() -> Timestamp {
    CURRENT
        .try_with(Tracer::now)
        .unwrap_or_else(|_| Timestamp::now())
}

/// Record a state of `kind` for `object` (deduplicated).
pub fn observe(kind: Kind, object: &str, state: Value) {
    with_current(|t| t.write(kind, object, state, true));
}

/// Record what the wait compares with (merged by the replay: a later input replaces a key).
pub fn input(state: Value) {
    with_current(|t| t.write(Kind::Input, "", state, false));
}

fn pick(from: &Value, keys: &[&str]) -> Value {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = from.get(*k).filter(|v| !v.is_null()) {
            m.insert((*k).to_string(), v.clone());
        }
    }
    Value::Object(m)
}

/// A Flux object as the waits read it: kind, metadata name/namespace/generation, spec.suspend, and the status
/// fields the predicates consume (conditions, observedGeneration, lastAttemptedGeneration, lastAppliedRevision,
/// artifact.revision, lastHandledReconcileAt).
pub fn flux_state(obj: &Value) -> Value {
    let mut status = pick(
        &obj["status"],
        &[
            "conditions",
            "observedGeneration",
            "lastAttemptedGeneration",
            "lastAttemptedRevision",
            "lastAppliedRevision",
            "lastHandledReconcileAt",
        ],
    );
    if let Some(rev) = obj["status"]["artifact"]["revision"].as_str() {
        status["artifact"] = json!({"revision": rev});
    }
    let mut v = json!({
        "kind": obj["kind"],
        "metadata": pick(&obj["metadata"], &["name", "namespace", "generation"]),
        "status": status,
    });
    if let Some(s) = obj["spec"]["suspend"].as_bool() {
        v["spec"] = json!({"suspend": s});
    }
    v
}

/// Record a Flux object (`None`: not found).
pub fn observe_flux(kind: Kind, namespace: &str, name: &str, obj: Option<&Value>) {
    with_current(|t| {
        t.write(
            kind,
            &format!("{namespace}/{name}"),
            obj.map(flux_state).unwrap_or(Value::Null),
            true,
        )
    });
}

/// A Deployment as the waits read it: generation, revision, the pod template's containers (name, image, mounts)
/// and volumes, replicas and conditions (without their update times).
pub fn deployment_state(d: &Deployment) -> Value {
    let v = serde_json::to_value(d).unwrap_or_default();
    let tpl = &v["spec"]["template"]["spec"];
    let containers: Vec<Value> = tpl["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| pick(c, &["name", "image", "volumeMounts"]))
        .collect();
    let mut status = pick(
        &v["status"],
        &[
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ],
    );
    let conditions: Vec<Value> = v["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| pick(c, &["type", "status", "reason", "message"]))
        .collect();
    if !conditions.is_empty() {
        status["conditions"] = json!(conditions);
    }
    let mut metadata = pick(&v["metadata"], &["name", "namespace", "generation", "uid"]);
    if let Some(rev) = v["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str() {
        metadata["annotations"] = json!({"deployment.kubernetes.io/revision": rev});
    }
    let mut template_spec = json!({"containers": containers});
    if let Some(vols) = tpl.get("volumes").filter(|v| !v.is_null()) {
        template_spec["volumes"] = vols.clone();
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": v["spec"]["replicas"],
            "selector": v["spec"]["selector"],
            "template": {"spec": template_spec},
        },
        "status": status,
    })
}

/// Record a Deployment (`None`: not found).
pub fn observe_deployment(namespace: &str, name: &str, d: Option<&Deployment>) {
    with_current(|t| {
        t.write(
            Kind::Deployment,
            &format!("{namespace}/{name}"),
            d.map(deployment_state).unwrap_or(Value::Null),
            true,
        )
    });
}

/// A pod as the waits read it: name, labels, containers (name, image), phase and container statuses (ready,
/// restartCount, state and lastState with reason and exit code).
pub fn pod_state(p: &Pod) -> Value {
    pod_value_state(&serde_json::to_value(p).unwrap_or_default())
}

/// [`pod_state`] of a pod as JSON (the podOutcome wait reads pods through a [`crate::view::ClusterView`]).
pub fn pod_value_state(v: &Value) -> Value {
    let statuses: Vec<Value> = v["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| pick(c, &["name", "ready", "restartCount", "state", "lastState"]))
        .collect();
    let containers: Vec<Value> = v["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| pick(c, &["name", "image"]))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pick(&v["metadata"], &["name", "namespace", "labels", "deletionTimestamp"]),
        "spec": {"containers": containers},
        "status": {"phase": v["status"]["phase"], "containerStatuses": statuses},
    })
}

/// Record the pods a wait listed.
pub fn observe_pods(namespace: &str, pods: &[Pod]) {
    with_current(|t| {
        for p in pods {
            let name = p.metadata.name.as_deref().unwrap_or("?");
            t.write(
                Kind::Pod,
                &format!("{namespace}/{name}"),
                pod_state(p),
                true,
            );
        }
    });
}

/// Record pods read as JSON (the podOutcome wait's current pods).
pub fn observe_pod_values(namespace: &str, pods: &[&Value]) {
    with_current(|t| {
        for p in pods {
            let name = p["metadata"]["name"].as_str().unwrap_or("?");
            t.write(
                Kind::Pod,
                &format!("{namespace}/{name}"),
                pod_value_state(p),
                true,
            );
        }
    });
}

/// Record the line of a container's log that matched `needle` (the first one), with whether it is the previous log.
pub fn observe_log_match(
    namespace: &str,
    pod: &str,
    container: &str,
    previous: bool,
    text: &str,
    needle: &str,
) {
    let Some(line) = text.lines().find(|l| l.contains(needle)) else {
        return;
    };
    observe(
        Kind::Log,
        &format!("{namespace}/{pod}/{container}"),
        json!({"previous": previous, "lines": [line]}),
    );
}

/// The lines of `log` the podOutcome wait's comparison reads: the ones lint's model knows ([`crate::startup::read_log`])
/// and the ones a predicted line matches, in order, at most [`MAX_LOG_LINES`] (the last ones).
pub fn known_lines(log: &str, predicted: &PodOutcome) -> Vec<String> {
    let expected = predicted.lines();
    let known: std::collections::BTreeSet<usize> = crate::startup::read_log(log)
        .into_iter()
        .map(|s| s.index)
        .collect();
    let lines: Vec<String> = log
        .lines()
        .enumerate()
        .filter(|(i, l)| known.contains(i) || expected.iter().any(|e| e.matches(l)))
        .map(|(_, l)| l.to_string())
        .collect();
    let skip = lines.len().saturating_sub(MAX_LOG_LINES);
    lines.into_iter().skip(skip).collect()
}

/// Record what the podOutcome wait observed of Deployment `namespace/name`'s current pods: the Headlamp
/// container's outcome (object `namespace/name`), and for a pod that crashed or runs, the lines of its log the
/// comparison reads (object `namespace/<pod>`).
pub fn observe_outcome(namespace: &str, name: &str, observed: &Observed, predicted: &PodOutcome) {
    let object = format!("{namespace}/{name}");
    let (state, log) = match observed {
        Observed::Crashed {
            pod,
            exit_code,
            reason,
            log,
        } => (
            json!({"observed": "crashed", "pod": pod, "exitCode": exit_code, "reason": reason}),
            Some((pod, log)),
        ),
        Observed::Running { pod, log } => {
            (json!({"observed": "running", "pod": pod}), Some((pod, log)))
        }
        Observed::Pending(s) => (json!({"observed": "pending", "state": s}), None),
    };
    if let Some((pod, log)) = log {
        observe(
            Kind::Log,
            &format!("{namespace}/{pod}"),
            json!({"lines": known_lines(log, predicted)}),
        );
    }
    observe(Kind::Container, &object, state);
}

/// Record a probe's answer: `name` (`login/direct/list-pods`), the HTTP status when there was one, and the verdict.
pub fn observe_probe(name: &str, status: Option<u16>, passed: bool, message: &str) {
    observe(
        Kind::Probe,
        name,
        json!({"status": status, "passed": passed, "message": message}),
    );
}
