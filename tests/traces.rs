//! The committed traces (`fixtures/traces/<scenario>.jsonl`) replayed against the scenario files: every wait of
//! each scenario is met within its deadline. And the replay can say no: a trace cut short, or one where the
//! HelmRelease only ever shows the stale Ready of the spec before the commit (issue 24 item 4), is reported not met.

use std::path::{Path, PathBuf};

use headlamp_e2e::e2e::trace::replay::{self, StepReplay};
use headlamp_e2e::e2e::trace::{Kind, Record};
use headlamp_e2e::scenario::{self, Scenario};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scenarios() -> Vec<Scenario> {
    scenario::load_dir(&root().join("scenarios")).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/traces").join(format!("{name}.jsonl"))
}

#[test]
fn every_committed_trace_agrees_with_its_scenario() {
    let all = scenarios();
    assert_eq!(all.len(), 6);
    for s in &all {
        let trace = replay::read(&fixture(&s.name)).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(trace.scenarios(), [s.name.as_str()]);
        let r = replay::replay(&trace, &all).unwrap();
        let text = replay::render_text(&s.name, &r);
        assert!(r.agrees(), "{text}");
        // one verdict per wait step of the file, each with the time it was met
        let waits: Vec<_> = r.scenarios[0].waits().collect();
        let in_file = s
            .steps
            .iter()
            .filter(|st| matches!(st, scenario::Step::Wait(_)))
            .count();
        assert_eq!(waits.len(), in_file, "{text}");
        for w in waits {
            assert!(w.met && w.met_at_ms.is_some() && w.records > 0, "{w:?}");
            // the predicted pod outcome is the one the scenario states for the pinned chart
            assert!(!w.state.contains("not the pinned chart's outcome"), "{w:?}");
            assert_eq!(w.recorded.as_deref(), Some("passed"), "{w:?}");
        }
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn replay_lines(lines: &[String]) -> replay::Replay {
    let trace = replay::parse(lines.join("\n").as_bytes()).unwrap();
    replay::replay(&trace, &scenarios()).unwrap()
}

#[test]
fn a_trace_cut_short_does_not_agree() {
    let all = lines(&fixture("stuck-helmrelease"));
    // cut where the step waiting for the queued fix starts: that wait and the later ones saw nothing
    let cut = all
        .iter()
        .position(|l| l.contains("\"step\":\"09 wait helmReleaseQueued\""))
        .unwrap();
    let r = replay_lines(&all[..cut]);
    assert!(!r.agrees());
    let waits: Vec<_> = r.scenarios[0].waits().collect();
    assert!(waits[0].met && waits[1].met, "{waits:?}");
    let queued = waits
        .iter()
        .find(|w| w.step == "09 wait helmReleaseQueued")
        .unwrap();
    assert!(!queued.met, "{queued:?}");
    assert_eq!(queued.state, "nothing recorded for this step");
    let text = replay::render_text("cut.jsonl", &r);
    assert!(text.contains("09 wait helmReleaseQueued"), "{text}");
    assert!(text.contains("NOT MET within 3m"), "{text}");
    assert!(text.contains("DISAGREES"), "{text}");
}

/// Issue 24 item 4 on the readonly-home trace: drop every state of the Ready wait after the commit except the
/// stale Ready=True of the old generation (observedGeneration == generation): the replay rejects it.
#[test]
fn the_stale_ready_of_the_old_generation_is_not_met() {
    let all = lines(&fixture("readonly-home"));
    let step = "07 wait helmReleaseReady";
    let mut first = true;
    let kept: Vec<String> = all
        .into_iter()
        .filter(|l| {
            let r: Record = serde_json::from_str(l).unwrap();
            if r.step != step || r.kind != Kind::Helmrelease {
                return true;
            }
            std::mem::replace(&mut first, false)
        })
        .collect();
    let r = replay_lines(&kept);
    let w = r.scenarios[0]
        .steps
        .iter()
        .find_map(|s| match s {
            StepReplay::Wait(w) if w.step == step => Some(w),
            _ => None,
        })
        .unwrap();
    assert!(!w.met, "{w:?}");
    assert!(
        w.state.contains("not above") && w.state.contains("recorded before the last commit"),
        "{}",
        w.state
    );
    assert!(!r.agrees());
}

#[test]
fn a_bad_line_is_reported_with_its_number() {
    let mut all = lines(&fixture("baseline"));
    all.insert(
        3,
        "{\"t_ms\": 12, \"kind\": \"pod\", \"state\": ".to_string(),
    );
    let e = replay::parse(all.join("\n").as_bytes()).unwrap_err();
    assert!(
        e.to_string().starts_with("line 4: not a trace record"),
        "{e}"
    );
}
