//! The scenario files in `scenarios/` load, validate strictly, carry the stable ids, and their edits apply cleanly
//! to the fixtures (so a live run cannot fail on a typo in a path).

use headlamp_e2e::scenario::{self, Step, edit};
use headlamp_e2e::testing::{copy_tree, project_root};

const IDS: [&str; 6] = [
    "baseline",
    "extra-volumes",
    "feature-branch",
    "pinned-image-tag",
    "readonly-home",
    "stuck-helmrelease",
];

#[test]
fn scenario_files_load_with_stable_ids() {
    let all =
        scenario::load_dir(&project_root().join("scenarios")).expect("scenario files validate");
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, IDS);
    let mistakes: Vec<u8> = all.iter().filter_map(|s| s.mistake).collect();
    assert_eq!(mistakes.len(), 5, "one scenario per mistake");
}

#[test]
fn edits_apply_to_the_fixtures_in_order() {
    for s in scenario::load_dir(&project_root().join("scenarios")).unwrap() {
        let d = tempfile::tempdir().unwrap();
        copy_tree(&project_root().join("fixtures/gitops"), d.path()).unwrap();
        for step in &s.steps {
            if let Step::Commit(c) = step {
                edit::apply_all(d.path(), &c.edits).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            }
        }
    }
}
