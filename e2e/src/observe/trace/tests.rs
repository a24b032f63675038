use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::replay::{self, StepReplay, TraceError};
use super::*;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

const START: &str = "2026-12-01T10:00:00Z";

fn tracer(buf: &Buf) -> Tracer {
    Tracer::new(
        Box::new(buf.clone()),
        START.parse().unwrap(),
        Source::Mocked,
        true,
        "unit test",
    )
}

fn hr(generation: i64, observed: i64, ready: &str) -> Value {
    json!({"kind": "HelmRelease", "metadata": {"name": "headlamp", "namespace": "headlamp", "generation": generation},
        "status": {"observedGeneration": observed, "lastAttemptedGeneration": generation,
            "history": [{"digest": "sha256:aa"}],
            "conditions": [{"type": "Ready", "status": ready, "reason": "UpgradeSucceeded", "message": "ok",
                "lastTransitionTime": "2026-12-01T10:00:00Z", "observedGeneration": observed}]}})
}

#[tokio::test(start_paused = true)]
async fn identical_states_are_written_once_and_a_change_again() {
    let buf = Buf::default();
    let t = tracer(&buf);
    t.scope(async {
        for _ in 0..3 {
            observe_flux(
                Kind::Helmrelease,
                "headlamp",
                "headlamp",
                Some(&hr(1, 1, "True")),
            );
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        observe_flux(
            Kind::Helmrelease,
            "headlamp",
            "headlamp",
            Some(&hr(2, 1, "True")),
        );
        // the same state for another object is its own line
        observe_flux(
            Kind::Helmrelease,
            "other",
            "headlamp",
            Some(&hr(2, 1, "True")),
        );
        observe_flux(Kind::Helmrelease, "headlamp", "headlamp", None);
    })
    .await;
    // outside a scope nothing is recorded
    observe_flux(
        Kind::Helmrelease,
        "headlamp",
        "headlamp",
        Some(&hr(3, 3, "True")),
    );
    let text = buf.text();
    let lines: Vec<Record> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<(Kind, &str, u64)> = lines
        .iter()
        .map(|r| (r.kind, r.object.as_str(), r.t_ms))
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Header, "", 0),
            (Kind::Helmrelease, "headlamp/headlamp", 0),
            (Kind::Helmrelease, "headlamp/headlamp", 9000),
            (Kind::Helmrelease, "other/headlamp", 9000),
            (Kind::Helmrelease, "headlamp/headlamp", 9000),
        ]
    );
    // pruned to what the waits read: no history
    assert!(lines[1].state["status"].get("history").is_none(), "{text}");
    assert_eq!(lines[1].state["metadata"]["generation"], 1);
    assert_eq!(lines[4].state, Value::Null);
}

#[tokio::test]
async fn a_token_in_a_probe_answer_or_a_log_line_never_reaches_the_file() {
    let jwt =
        "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06YWRtaW4ifQ.c2lnbmF0dXJlLXRlc3Q";
    let buf = Buf::default();
    let t = tracer(&buf);
    t.scope(async {
        observe_probe(
            "login/rbac-headlamp-list-pods",
            Some(401),
            false,
            &format!("expected 200, got 401; request had Authorization: Bearer {jwt}"),
        );
        observe_log_match(
            "headlamp",
            "p",
            "headlamp",
            true,
            &format!("starting\n{{\"level\":\"error\",\"token\":\"{jwt}\",\"message\":\"flag provided but not defined: -x\"}}\n"),
            "flag provided but not defined",
        );
        input(json!({"token": "s3cr3t-value-of-a-token"}));
    })
    .await;
    let text = buf.text();
    assert!(!text.contains(jwt), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    // what is not a secret stays
    assert!(text.contains("flag provided but not defined"), "{text}");
    assert!(text.contains("\"status\":401"), "{text}");
    assert!(text.contains("<redacted"), "{text}");
}

#[test]
fn parse_errors_name_the_line() {
    let header = format!(
        "{{\"t_ms\":0,\"kind\":\"header\",\"state\":{{\"format\":1,\"started_at\":\"{START}\",\"source\":\"live\"}}}}"
    );
    let ok = format!(
        "{header}\n\n{{\"t_ms\":5,\"scenario\":\"s\",\"step\":\"01 wait x\",\"kind\":\"helmrelease\",\"object\":\"a/b\",\"state\":null}}\n"
    );
    let t = replay::parse(ok.as_bytes()).unwrap();
    assert_eq!(t.records.len(), 1);
    assert_eq!(t.records[0].0, 3);
    assert_eq!(t.source(), "live");

    let bad = format!("{header}\n{{\"t_ms\":5,\"kind\":\"helmrelease\"}}\n{{\"t_ms\":\"x\"}}\n");
    let e = replay::parse(bad.as_bytes()).unwrap_err().to_string();
    assert!(e.starts_with("line 3: not a trace record"), "{e}");

    let e = replay::parse(b"{\"t_ms\":0,\"kind\":\"pod\"}\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 1: the first record must be the header"),
        "{e}"
    );

    let e = replay::parse(header.replace("\"format\":1", "\"format\":2").as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("trace format 2, this tool reads format 1"),
        "{e}"
    );

    let e = replay::parse(format!("{header}\n{{\"t_ms\":1,\"kind\":\"sheep\"}}\n").as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 2: not a trace record: unknown variant `sheep`"),
        "{e}"
    );

    let long = format!("{header}\n{}\n", "x".repeat(MAX_LINE_BYTES + 1));
    let e = replay::parse(long.as_bytes()).unwrap_err().to_string();
    assert!(e.starts_with("line 2: ") && e.contains("over the"), "{e}");

    assert!(matches!(replay::parse(b"\n\n"), Err(TraceError::Empty)));
}

fn scenario(body: &str) -> crate::scenario::Scenario {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.yaml");
    std::fs::write(&p, format!("name: s\ndescription: t\nsteps:\n{body}")).unwrap();
    crate::scenario::load_file(&p).unwrap()
}

/// A trace of one Ready wait after a commit: the states, written by the recorder at the given seconds.
async fn ready_trace(states: &[(u64, Value)]) -> replay::Trace {
    let buf = Buf::default();
    let t = tracer(&buf);
    let mut elapsed = 0;
    t.scope(async {
        crate::scenario::runner::Observer::step_started(
            &mut t.clone(),
            "s",
            1,
            "02 wait helmReleaseReady",
        );
        input(json!({"recorded": 1}));
        for (at, state) in states {
            tokio::time::sleep(Duration::from_secs(at - elapsed)).await;
            elapsed = *at;
            observe_flux(Kind::Helmrelease, "headlamp", "headlamp", Some(state));
        }
    })
    .await;
    replay::parse(buf.text().as_bytes()).unwrap()
}

const READY_AFTER_COMMIT: &str = "  - commit: {message: fix, edits: [{file: a.yaml, remove: x}]}\n  - wait: {for: helmReleaseReady, within: 1m}\n";

/// Issue 24 item 4: Ready=True with observedGeneration == generation, but for the spec before the commit. The
/// replay must not call that met; it is met when the new generation is Ready.
#[tokio::test(start_paused = true)]
async fn replay_rejects_the_stale_ready_and_meets_the_new_generation() {
    let s = scenario(READY_AFTER_COMMIT);
    let stale = ready_trace(&[(0, hr(1, 1, "True")), (6, hr(2, 1, "Unknown"))]).await;
    let r = replay::replay(&stale, std::slice::from_ref(&s)).unwrap();
    let StepReplay::Wait(w) = &r.scenarios[0].steps[1] else {
        panic!("{r:?}")
    };
    assert!(!w.met && !w.agrees, "{w:?}");
    assert!(
        w.state.contains("observedGeneration 1 for generation 2"),
        "{}",
        w.state
    );
    assert!(!r.agrees());

    let fresh = ready_trace(&[
        (0, hr(1, 1, "True")),
        (6, hr(2, 1, "Unknown")),
        (21, hr(2, 2, "True")),
    ])
    .await;
    let r = replay::replay(&fresh, std::slice::from_ref(&s)).unwrap();
    let StepReplay::Wait(w) = &r.scenarios[0].steps[1] else {
        panic!("{r:?}")
    };
    assert!(w.met && w.agrees, "{w:?}");
    assert_eq!((w.met_at_ms, w.after_ms), (Some(21_000), Some(21_000)));
    assert_eq!(w.state, "Ready at generation 2");
    assert!(r.agrees());

    // met, but after the step's deadline: the scenario's expectation is not met
    let late = ready_trace(&[(0, hr(1, 1, "True")), (61, hr(2, 2, "True"))]).await;
    let r = replay::replay(&late, std::slice::from_ref(&s)).unwrap();
    let StepReplay::Wait(w) = &r.scenarios[0].steps[1] else {
        panic!("{r:?}")
    };
    assert!(w.met && !w.agrees, "{w:?}");
    let text = replay::render_text("t.jsonl", &r);
    assert!(text.contains("met after 1m1s, later than its 1m"), "{text}");
    assert!(text.contains("DISAGREES: 0 of 1 waits"), "{text}");
}

/// heldFor: the recorded condition does not change, the replay finds when it became old enough.
#[tokio::test(start_paused = true)]
async fn replay_finds_when_a_held_condition_became_old_enough() {
    let s = scenario(
        "  - wait: {for: helmReleaseProgressing, message: \"Running 'install'\", heldFor: 45s, within: 5m}\n",
    );
    let buf = Buf::default();
    let t = tracer(&buf);
    let mut hr = hr(1, 0, "Unknown");
    hr["status"]["conditions"][0]["message"] =
        json!("Running 'install' action with timeout of 10m0s");
    hr["status"]["conditions"][0]["lastTransitionTime"] = json!("2026-12-01T10:00:10Z");
    t.scope(async {
        crate::scenario::runner::Observer::step_started(
            &mut t.clone(),
            "s",
            0,
            "01 wait helmReleaseProgressing",
        );
        tokio::time::sleep(Duration::from_secs(20)).await;
        observe_flux(Kind::Helmrelease, "headlamp", "headlamp", Some(&hr));
        // the wait polls the same state until it returns (deduplicated), then the step's assertion
        tokio::time::sleep(Duration::from_secs(40)).await;
        crate::scenario::runner::Observer::assertions(
            &mut t.clone(),
            "s",
            &[crate::report::Assertion::passed(
                "s",
                "01 wait helmReleaseProgressing",
                Duration::from_secs(60),
            )],
        );
    })
    .await;
    let trace = replay::parse(buf.text().as_bytes()).unwrap();
    let r = replay::replay(&trace, std::slice::from_ref(&s)).unwrap();
    let StepReplay::Wait(w) = &r.scenarios[0].steps[0] else {
        panic!("{r:?}")
    };
    // 10:00:10 + 45 s = t 55 s
    assert_eq!(w.met_at_ms, Some(55_000), "{w:?}");
    assert!(w.agrees && w.state.contains("held for 45s"), "{w:?}");
    assert_eq!(w.recorded.as_deref(), Some("passed"));
}

#[test]
fn a_trace_of_an_unknown_scenario_is_an_error() {
    let text = format!(
        "{{\"t_ms\":0,\"kind\":\"header\",\"state\":{{\"format\":1,\"started_at\":\"{START}\",\"source\":\"live\"}}}}\n{{\"t_ms\":1,\"scenario\":\"nope\",\"step\":\"01 wait x\",\"kind\":\"step\",\"state\":{{\"event\":\"start\"}}}}\n"
    );
    let t = replay::parse(text.as_bytes()).unwrap();
    let e = replay::replay(&t, &[scenario(READY_AFTER_COMMIT)]).unwrap_err();
    assert!(
        e.contains("scenario `nope`, which is not among the scenario files (s)"),
        "{e}"
    );
}

/// Each step's records stand alone: the first state of an object in a step is written even if the step before
/// ended with the same one.
#[tokio::test]
async fn a_new_step_writes_the_unchanged_state_again() {
    use crate::scenario::runner::Observer;
    let buf = Buf::default();
    let mut t = tracer(&buf);
    t.clone()
        .scope(async {
            t.step_started("s", 0, "01 wait helmReleaseReady");
            observe_flux(
                Kind::Helmrelease,
                "headlamp",
                "headlamp",
                Some(&hr(1, 1, "True")),
            );
            observe_flux(
                Kind::Helmrelease,
                "headlamp",
                "headlamp",
                Some(&hr(1, 1, "True")),
            );
            t.step_started("s", 1, "02 wait helmReleaseReady");
            observe_flux(
                Kind::Helmrelease,
                "headlamp",
                "headlamp",
                Some(&hr(1, 1, "True")),
            );
        })
        .await;
    let steps: Vec<String> = buf
        .text()
        .lines()
        .map(|l| serde_json::from_str::<Record>(l).unwrap())
        .filter(|r| r.kind == Kind::Helmrelease)
        .map(|r| r.step)
        .collect();
    assert_eq!(
        steps,
        ["01 wait helmReleaseReady", "02 wait helmReleaseReady"]
    );
}

/// The run's trace file: private like every artifact, its header says `live`, and each record is in the file as
/// soon as it is written (a run killed now keeps it).
#[tokio::test]
async fn the_trace_file_is_private_and_written_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let t = Tracer::create(&path).unwrap();
    t.scope(async {
        observe_probe("ui/get-root", Some(502), false, "HTTP 502 for GET /");
    })
    .await;
    // the tracer is still alive: nothing is buffered
    let trace = replay::read(&path).unwrap();
    assert_eq!(trace.source(), "live");
    assert_eq!(trace.records.len(), 1);
    assert_eq!(trace.records[0].1.kind, Kind::Probe);
    assert_eq!(trace.records[0].1.state["status"], 502);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    drop(t);
}
