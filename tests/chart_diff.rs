//! chart-diff with the real charts: the fixtures committed at chart 0.41.0, the working tree bumped (what a Renovate
//! PR does). Skips without helm/charts; fails with HEADLAMP_E2E_REQUIRE_TOOLS=1.

use headlamp_e2e::chart_diff::{self, Change};
use headlamp_e2e::testing::{copy_tree, git, project_root, render_tools};
use rstest::rstest;

/// A git repo holding the fixtures under `gitops/` at chart 0.41.0 on main, with the working tree bumped to `to`.
fn bumped_repo(to: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(
        &project_root().join("fixtures/gitops"),
        &d.path().join("gitops"),
    )
    .unwrap();
    git(d.path(), &["init", "-q", "-b", "main"]);
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "chart 0.41.0"]);
    git(d.path(), &["checkout", "-qb", "renovate/headlamp"]);
    let hr = d.path().join("gitops/apps/base/headlamp/helmrelease.yaml");
    let t = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(
        &hr,
        t.replacen("version: 0.41.0", &format!("version: {to}"), 1),
    )
    .unwrap();
    d
}

#[rstest]
#[case::to_0_42_0("0.42.0")]
#[case::to_0_45_0("0.45.0")]
#[tokio::test]
async fn bump_shows_what_the_new_chart_renders(#[case] to: &str) {
    let Some((helm, store)) = render_tools("headlamp", to) else {
        return;
    };
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let repo = bumped_repo(to);
    let d = chart_diff::chart_diff(&repo.path().join("gitops"), "main", &store, &helm)
        .await
        .expect("chart-diff runs");
    assert_eq!(d.releases.len(), 1);
    let r = &d.releases[0];
    assert_eq!(r.release, "HelmRelease/headlamp/headlamp");
    assert_eq!(r.base.as_ref().map(|s| s.version.as_str()), Some("0.41.0"));
    assert_eq!(r.head.as_ref().map(|s| s.version.as_str()), Some(to));
    let dep = r
        .objects
        .iter()
        .find(|o| o.object == "Deployment/headlamp/headlamp")
        .expect("the Deployment changes");
    assert_eq!(dep.change, Change::Changed);
    assert!(
        dep.diff
            .contains("-        image: ghcr.io/headlamp-k8s/headlamp:v0.41.0"),
        "{}",
        dep.diff
    );
    assert!(
        dep.diff.contains(&format!(
            "+        image: ghcr.io/headlamp-k8s/headlamp:v{to}"
        )),
        "{}",
        dep.diff
    );
    if to == "0.45.0" {
        // 0.45.0 adds config values (e.g. staticPlugins, clusterInventory): the defaults diff shows them
        assert!(
            r.defaults_diff.contains("+  staticPlugins:"),
            "{}",
            r.defaults_diff
        );
    }
    let md = chart_diff::to_markdown(&d);
    assert!(md.contains(&format!("| chart | 0.41.0 | {to} |")), "{md}");
}

#[tokio::test]
async fn no_bump_no_diff_and_bad_ref_is_an_error() {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let repo = bumped_repo("0.41.0");
    let dir = repo.path().join("gitops");
    let d = chart_diff::chart_diff(&dir, "main", &store, &helm)
        .await
        .unwrap();
    assert!(d.is_empty(), "{d:#?}");
    let e = chart_diff::chart_diff(&dir, "no-such-ref", &store, &helm)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("base ref `no-such-ref` does not exist"),
        "{e}"
    );
}
