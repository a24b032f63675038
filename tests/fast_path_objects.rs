//! Issue 22's Done-when, object by object: the tree lint reads with its fast path (Flux patches applied in-process,
//! kustomizations built here when certain, builds in parallel) holds exactly the objects, values and files, and the
//! findings, of the tree read with every Flux Kustomization with kustomize features built by the real kustomize, one
//! at a time — postBuild substitution included (it runs on the text kustomize writes, or on the value written out
//! when nothing was built). On every layout fixture and the generated cluster-template repository (both charts).
//! One test in its own binary: the switch is process-wide. Skips without kubectl (fails with
//! HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use headlamp_e2e::benchrepo;
use headlamp_e2e::gitops::{self, flux_build};
use headlamp_e2e::testing::{copy_tree, kubectl, project_root, skip};
use serde_json::Value;

/// Each id's objects (value and file), and the findings (as JSON), sorted.
type Read = (BTreeMap<String, Vec<(Value, PathBuf)>>, Vec<String>);

fn read(dir: &Path) -> Read {
    let tree = gitops::load_each(dir).unwrap();
    let mut objects: BTreeMap<String, Vec<(Value, PathBuf)>> = BTreeMap::new();
    for o in &tree.objects {
        objects
            .entry(o.id())
            .or_default()
            .push((o.value.clone(), o.file.clone()));
    }
    for v in objects.values_mut() {
        v.sort_by_key(|(v, f)| (f.clone(), v.to_string()));
    }
    let mut findings: Vec<String> = tree
        .findings
        .iter()
        .map(|f| serde_json::to_string(f).unwrap())
        .collect();
    findings.sort();
    (objects, findings)
}

#[test]
fn the_fast_path_reads_the_objects_kustomize_alone_reads() {
    if kubectl().is_none() {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    }
    let mut dirs: Vec<(String, tempfile::TempDir)> = Vec::new();
    let layouts = project_root().join("fixtures/layouts");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&layouts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    for p in names {
        let d = tempfile::tempdir().unwrap();
        copy_tree(&p, d.path()).unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        dirs.push((p.display().to_string(), d));
    }
    for (name, chart) in [
        ("generated, app-template", benchrepo::Chart::AppTemplate),
        ("generated, headlamp", benchrepo::Chart::Headlamp),
    ] {
        let d = tempfile::tempdir().unwrap();
        benchrepo::generate_with(21, chart).write(d.path()).unwrap();
        dirs.push((name.to_string(), d));
    }
    let mut compared = 0;
    for (name, d) in &dirs {
        gitops::set_patches_in_process(false);
        flux_build::set_parallel_builds(1);
        let (want, want_findings) = read(d.path());
        gitops::set_patches_in_process(true);
        flux_build::set_parallel_builds(0);
        let (got, got_findings) = read(d.path());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}: the same objects"
        );
        for (id, w) in &want {
            assert_eq!(&got[id], w, "{name}: {id}");
        }
        assert_eq!(got_findings, want_findings, "{name}: the same findings");
        compared += want.len();
    }
    assert!(compared > 200, "{compared} objects compared");
}
