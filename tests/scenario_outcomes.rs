//! The scenarios' expected pod outcomes, checked offline against lint's model on the pinned chart (render tier:
//! skips without helm/charts, fails instead with HEADLAMP_E2E_REQUIRE_TOOLS=1). Each scenario's commits are applied
//! to a copy of fixtures/gitops in order (a branch is a copy of main, a merge copies it back), and at every
//! `podOutcome` wait the committed tree is rendered with chart 0.41.0 and the model's prediction must be what the
//! scenario states. A live run then checks the same prediction against the cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use headlamp_e2e::e2e::outcome;
use headlamp_e2e::scenario::{self, Condition, Step, edit};
use headlamp_e2e::startup::OutcomeKind;
use headlamp_e2e::testing::{copy_tree, project_root, render_tools};

fn scenarios() -> Vec<scenario::Scenario> {
    scenario::load_dir(&project_root().join("scenarios")).expect("scenario files validate")
}

/// No scenario waits for a crash caused by `$HOME/.config` (Headlamp logs it and goes on), and one waits for the
/// fatal /tmp line.
#[test]
fn no_scenario_expects_a_crash_from_config_and_one_waits_for_the_tmp_line() {
    let mut tmp_waits = Vec::new();
    for s in scenarios() {
        for step in &s.steps {
            let Step::Wait(w) = step else { continue };
            match &w.condition {
                Condition::PodCrashLoop { log, .. } => {
                    assert!(
                        !log.contains(".config") && !log.contains("plugins directory"),
                        "{}: waits for a crash on `{log}`, which Headlamp does not crash on",
                        s.name
                    );
                }
                Condition::PodOutcome {
                    expect: OutcomeKind::FatalCrash,
                    lines,
                    exit_code,
                    ..
                } => {
                    let last = lines.last().map(String::as_str).unwrap_or("");
                    assert!(
                        !last.contains(".config") && !last.contains("plugins directory"),
                        "{}: the fatal line is `{last}`",
                        s.name
                    );
                    if last.contains("Failed to create static dir: mkdir /tmp/.headlamp") {
                        assert_eq!(*exit_code, Some(0), "{}: Headlamp exits 0 on /tmp", s.name);
                        tmp_waits.push(s.name.clone());
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        tmp_waits.contains(&"readonly-home".to_string())
            && tmp_waits.contains(&"extra-volumes".to_string()),
        "{tmp_waits:?}"
    );
}

#[tokio::test]
async fn pod_outcomes_are_the_models_on_the_pinned_chart() {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let mut checked = 0;
    for s in scenarios() {
        let root = tempfile::tempdir().unwrap();
        let main = root.path().join("main");
        copy_tree(&project_root().join("fixtures/gitops"), &main).unwrap();
        let mut branches: BTreeMap<String, PathBuf> = BTreeMap::new();
        let tree = |branches: &mut BTreeMap<String, PathBuf>, b: &str| -> PathBuf {
            if b == "main" {
                return main.clone();
            }
            branches
                .entry(b.to_string())
                .or_insert_with(|| {
                    let d = root.path().join(b.replace('/', "_"));
                    copy_tree(&main, &d).unwrap();
                    d
                })
                .clone()
        };
        for (i, step) in s.steps.iter().enumerate() {
            match step {
                Step::Commit(c) => {
                    let dir = tree(&mut branches, &c.branch);
                    edit::apply_all(&dir, &c.edits)
                        .unwrap_or_else(|e| panic!("{} step {}: {e}", s.name, i + 1));
                }
                Step::Merge(m) => {
                    let from = tree(&mut branches, &m.from);
                    let into = tree(&mut branches, &m.into);
                    replace_tree(&from, &into);
                }
                Step::Wait(w) => {
                    let Condition::PodOutcome {
                        name,
                        namespace,
                        expect,
                        lines,
                        exit_code,
                    } = &w.condition
                    else {
                        continue;
                    };
                    let (chart, predicted) =
                        outcome::predict_dir(&main, &store, &helm, namespace, name)
                            .await
                            .unwrap_or_else(|e| panic!("{} step {}: {e}", s.name, i + 1));
                    assert_eq!(chart, "headlamp 0.41.0");
                    if let Err(e) = outcome::matches_spec(&predicted, *expect, lines, *exit_code) {
                        panic!("{} step {}: {e}", s.name, i + 1);
                    }
                    checked += 1;
                }
                _ => {}
            }
        }
    }
    assert!(checked >= 9, "only {checked} podOutcome waits checked");
}

fn replace_tree(from: &Path, into: &Path) {
    std::fs::remove_dir_all(into).unwrap();
    copy_tree(from, into).unwrap();
}
