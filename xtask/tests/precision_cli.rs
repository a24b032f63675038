//! Issue 19 (lint precision), as a user runs `cargo xtask lint` on a whole repository: an overlay passed directly
//! reads its base (the boundary is the repository root), and a parent Flux Kustomization that patches its child
//! Kustomizations (the cluster-template `cluster-apps` pattern) is applied before the children are followed.
//! Render-tier cases skip without helm/charts (fail with HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::path::Path;
use std::process::{Command, Output};

use headlamp_e2e::testing::{copy_tree, project_root, render_tools, with_tools};

fn xtask(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).env("NO_COLOR", "1");
    with_tools(&mut cmd).output().expect("xtask runs")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// A copy of `fixtures/layouts/<name>` as a repository of its own (a `.git` directory at its top).
fn repository(name: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(
        &project_root().join("fixtures/layouts").join(name),
        d.path(),
    )
    .unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    d
}

fn lint_json(dir: &Path) -> (Option<i32>, serde_json::Value, String) {
    let o = xtask(&[
        "lint",
        "--gitops",
        &dir.display().to_string(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", text(&o.stdout)));
    (o.status.code(), v, text(&o.stderr))
}

fn rules(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}[{}] {} {}",
                f["severity"], f["rule"], f["object"], f["path"]
            )
        })
        .collect()
}

/// Cause 9: `--gitops apps/production/headlamp`, whose kustomization lists `../../base/headlamp`. kustomize and
/// Flux build it; lint used to skip the base "outside the GitOps directory" and exit 2 (nothing to lint). Both the
/// overlay that only lists its base and the one that also patches it (built with kustomize) read it.
#[test]
fn an_overlay_passed_directly_reads_its_base_in_the_repository() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let repo = repository("overlay-direct");
    for overlay in ["apps/production/headlamp", "apps/staging/headlamp"] {
        let (code, v, stderr) = lint_json(&repo.path().join(overlay));
        assert_eq!(code, Some(0), "{overlay}: {:#?}\n{stderr}", rules(&v));
        assert_eq!(v["summary"]["helmreleases"], 1, "{overlay}: {v}");
        assert_eq!(v["summary"]["rendered"], 1, "{overlay}: {v}");
        assert_eq!(v["summary"]["errors"], 0, "{overlay}: {:#?}", rules(&v));
        assert!(
            !stderr.contains("outside the"),
            "{overlay}: nothing is skipped: {stderr}"
        );
    }
    // outside a repository the boundary is --gitops itself: the base is then outside it, and lint says so
    let bare = tempfile::tempdir().unwrap();
    copy_tree(
        &project_root().join("fixtures/layouts/overlay-direct"),
        bare.path(),
    )
    .unwrap();
    let o = xtask(&[
        "lint",
        "--gitops",
        &bare
            .path()
            .join("apps/production/headlamp")
            .display()
            .to_string(),
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).contains("outside the repository"),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Cause 8 and "Noise and duplicates": the `cluster-apps` Kustomization patches every child Kustomization with
/// `postBuild.substituteFrom` (cluster-secrets, SOPS; cluster-settings, a ConfigMap). The children's `ks.yaml` as
/// committed substitute only their own `APP`: followed as committed, `${TIMEZONE}` looked unset (false
/// `flux-substitution-unresolved`, and a false `manifest-invalid` on the ConfigMap it emptied; measured with the
/// binary before this change: 2 errors, 7 warnings on this fixture). Followed as the parent applies them, TIMEZONE resolves; the SOPS source is one
/// `info` note per Kustomization in JSON and one line with their count in text.
#[test]
fn a_parent_kustomization_that_patches_its_children_is_applied() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let repo = repository("cluster-apps");
    let (code, v, stderr) = lint_json(repo.path());
    let all = rules(&v);
    assert_eq!(code, Some(0), "{all:#?}\n{stderr}");
    assert!(
        !all.iter()
            .any(|r| r.contains("flux-substitution-unresolved")),
        "{all:#?}"
    );
    assert!(!all.iter().any(|r| r.contains("render-failed")), "{all:#?}");
    assert_eq!(v["summary"]["errors"], 0, "{all:#?}");
    // each object once: the children's objects are not read a second time as committed
    assert_eq!(v["summary"]["objects"], 12, "{v}");
    assert_eq!(v["summary"]["helmreleases"], 1, "{v}");
    assert_eq!(v["summary"]["warnings"], 0, "{all:#?}");
    // the SOPS source: cluster-apps itself and its two children, each once (not again from the parent's file)
    let mut notes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "flux-substitution-source")
        .map(|f| {
            assert_eq!(f["severity"], "info", "{f}");
            f["object"].as_str().unwrap()
        })
        .collect();
    notes.sort();
    assert_eq!(
        notes,
        [
            "Kustomization/flux-system/cluster-apps",
            "Kustomization/flux-system/echo",
            "Kustomization/flux-system/headlamp"
        ],
        "{all:#?}"
    );
    // no two findings are the same
    let mut seen = std::collections::BTreeSet::new();
    for f in v["findings"].as_array().unwrap() {
        assert!(seen.insert(f.to_string()), "twice: {f}");
    }
    // text: the note once, with its count
    let o = xtask(&["lint", "--gitops", &repo.path().display().to_string()]);
    let out = text(&o.stdout);
    assert_eq!(out.matches("is SOPS-encrypted").count(), 1, "{out}");
    assert!(
        out.contains("info[flux-substitution-source] 3 places"),
        "{out}"
    );
    assert!(out.contains("0 errors, 0 warnings, 3 notes"), "{out}");
}

/// Issue 19: `--gitops kubernetes/flux/cluster` in the cluster-template layout holds only the `cluster-apps` Flux
/// Kustomization, whose path `./kubernetes/apps` is outside it. Lint followed nothing and exited 0 with a warning on
/// stderr only: a lint that checked nothing looked green. It now exits 2 and says what it was given, what it found
/// and what to pass instead (the repository root); in JSON the one document carries that error.
#[test]
fn a_directory_whose_kustomizations_all_lead_outside_it_is_not_a_clean_lint() {
    if headlamp_e2e::testing::kubectl().is_none() {
        headlamp_e2e::testing::skip::<()>("kubectl cannot run");
        return;
    }
    let repo = repository("cluster-template");
    let cluster = repo.path().join("kubernetes/flux/cluster");
    let o = xtask(&["lint", "--gitops", &cluster.display().to_string()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}{err}", text(&o.stdout));
    assert!(err.contains("nothing was linted"), "{err}");
    assert!(
        err.contains("Kustomization/flux-system/cluster-apps (spec.path ./kubernetes/apps)"),
        "{err}"
    );
    let root = repo.path().canonicalize().unwrap();
    assert!(
        err.contains(&format!("--gitops {}", root.display())),
        "{err}"
    );
    let o = xtask(&[
        "lint",
        "--gitops",
        &cluster.display().to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("nothing was linted"),
        "{v}"
    );
    // the repository root lints what cluster-apps deploys: each namespace kustomization is deployed (not a
    // `gitops-not-deployed` note), and nothing is left unfollowed
    let (code, v, stderr) = lint_json(repo.path());
    let all = rules(&v);
    assert_eq!(code, Some(0), "{all:#?}\n{stderr}");
    assert!(
        !all.iter()
            .any(|r| r.contains("gitops-not-deployed") || r.contains("gitops-not-followed")),
        "{all:#?}"
    );
    assert_eq!(v["summary"]["objects"], 9, "{v}");
}

/// A directory that holds something of its own besides a Kustomization leading outside it (`kubernetes/flux` of
/// the cluster-apps layout: the `cluster-meta` settings it applies, and `cluster-apps` → `./kubernetes/apps`) is
/// linted; the Kustomization not followed is one `info` note that says what was not linted and what to pass.
#[test]
fn a_kustomization_leading_outside_the_directory_is_one_note() {
    if headlamp_e2e::testing::kubectl().is_none() {
        headlamp_e2e::testing::skip::<()>("kubectl cannot run");
        return;
    }
    let repo = repository("cluster-apps");
    let (code, v, stderr) = lint_json(&repo.path().join("kubernetes/flux"));
    let all = rules(&v);
    assert_eq!(code, Some(0), "{all:#?}\n{stderr}");
    let notes: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "gitops-not-followed")
        .collect();
    assert_eq!(notes.len(), 1, "{all:#?}");
    assert_eq!(notes[0]["severity"], "info");
    assert_eq!(notes[0]["object"], "Kustomization/flux-system/cluster-apps");
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains("was not linted"),
        "{}",
        notes[0]
    );
    assert!(
        notes[0]["fix"].as_str().unwrap().contains("--gitops "),
        "{}",
        notes[0]
    );
    assert!(!stderr.contains("not followed"), "reported once: {stderr}");
}
