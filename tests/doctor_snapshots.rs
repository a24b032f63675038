//! `doctor` on the hand-written snapshots in fixtures/snapshots: each snapshot gives exactly its expected finding ids,
//! `healthy` none. Without rendering (always runs) and with the real chart rendered (render tier: skips without
//! helm/charts, fails instead with HEADLAMP_E2E_REQUIRE_TOOLS=1). The feature-branch case builds its git repository in
//! a temp dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use headlamp_e2e::doctor::{self, DoctorOptions, DoctorReport, Render};
use headlamp_e2e::testing::{copy_tree, git, project_root, render_tools};
use headlamp_e2e::view::SnapshotView;
use rstest::rstest;

fn snapshot_dir(name: &str) -> PathBuf {
    project_root().join("fixtures/snapshots").join(name)
}

async fn doctor_at(dir: &Path, opts: &DoctorOptions) -> DoctorReport {
    let view = SnapshotView::open(dir).expect("snapshot opens");
    doctor::run(&view, opts).await.expect("doctor runs")
}

async fn doctor_on(name: &str, opts: &DoctorOptions) -> DoctorReport {
    doctor_at(&snapshot_dir(name), opts).await
}

#[rstest]
#[case::healthy("healthy", &[])]
#[case::pinned_image_tag("pinned-image-tag", &["image-flag-unsupported"])]
#[case::readonly_home("readonly-home", &["rootfs-unwritable-path"])]
#[case::readonly_home_tmp_only("readonly-home-tmp-only", &["rootfs-unwritable-path"])]
#[case::extra_volumes("extra-volumes", &["rootfs-unwritable-path"])]
#[case::stuck_helmrelease("stuck-helmrelease", &["helmrelease-stuck"])]
#[case::crashloop("crashloop", &["pod-crashloop"])]
#[case::feature_branch_without_gitops("feature-branch", &[])]
#[tokio::test]
async fn snapshot_gives_exactly_its_findings(#[case] name: &str, #[case] expected: &[&str]) {
    let report = doctor_on(name, &DoctorOptions::default()).await;
    assert_eq!(report.rule_ids(), expected, "{}", report.to_text(false));
    assert_eq!(report.exit_code(), u8::from(!expected.is_empty()));
    // the debugging order: source, release, values, pods
    let ids: Vec<&str> = report.checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, ["source", "release", "values", "pods"]);
    for f in report.findings() {
        assert!(!f.message.is_empty() && !f.fix.is_empty(), "{f:#?}");
        assert!(
            f.file
                .starts_with(&snapshot_dir(name).display().to_string()),
            "file is a snapshot path: {}",
            f.file
        );
    }
}

#[rstest]
#[case::healthy("healthy", &[])]
#[case::pinned_image_tag("pinned-image-tag", &["image-flag-unsupported", "image-tag-override"])]
#[case::readonly_home("readonly-home", &["rootfs-unwritable-path"])]
#[case::readonly_home_tmp_only("readonly-home-tmp-only", &["rootfs-unwritable-path"])]
#[case::extra_volumes("extra-volumes", &["rootfs-unwritable-path", "values-unknown-key"])]
#[case::stuck_helmrelease("stuck-helmrelease", &["helmrelease-stuck"])]
#[case::crashloop("crashloop", &["pod-crashloop"])]
#[case::feature_branch_without_gitops("feature-branch", &[])]
#[tokio::test]
async fn rendered_snapshot_gives_exactly_its_findings(
    #[case] name: &str,
    #[case] expected: &[&str],
) {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let opts = DoctorOptions {
        render: Render::Tools { helm, store },
        ..DoctorOptions::default()
    };
    let report = doctor_on(name, &opts).await;
    assert_eq!(report.rule_ids(), expected, "{}", report.to_text(false));
    let values = &report.checks[2];
    assert!(values.ran && values.notes.is_empty(), "{values:#?}");
}

#[tokio::test]
async fn log_and_render_findings_about_one_deployment_are_one() {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let opts = DoctorOptions {
        render: Render::Tools { helm, store },
        ..DoctorOptions::default()
    };
    let report = doctor_on("pinned-image-tag", &opts).await;
    let flags: Vec<_> = report
        .findings()
        .into_iter()
        .filter(|f| f.rule == "image-flag-unsupported")
        .collect();
    assert_eq!(flags.len(), 1, "{flags:#?}");
    let f = &flags[0];
    assert_eq!(f.object, "Deployment/headlamp/headlamp");
    // the render's finding lists every missing flag; the log's evidence is appended
    assert!(
        f.message.contains("-session-ttl (first in v0.41.0)"),
        "{}",
        f.message
    );
    assert!(
        f.message
            .contains("Seen in the cluster: pod headlamp-7d9c6b8f5-x2x7q"),
        "{}",
        f.message
    );
    assert!(report.checks[3].findings.is_empty());
}

#[tokio::test]
async fn log_findings_name_the_flag_the_version_and_the_fix() {
    let report = doctor_on("pinned-image-tag", &DoctorOptions::default()).await;
    let f = &report.findings()[0];
    assert_eq!(f.object, "Deployment/headlamp/headlamp");
    assert_eq!(f.path, "spec.template.spec.containers[0].args");
    assert!(
        f.file
            .ends_with("headlamp/pod/headlamp-7d9c6b8f5-x2x7q/headlamp.previous.log")
    );
    for needle in [
        "flag provided but not defined: -in-cluster-context-name",
        "Headlamp v0.38.0 does not define -in-cluster-context-name",
        "the first release that does is v0.40.0",
        "CrashLoopBackOff, 4 restarts, last exit: Error (code 2)",
    ] {
        assert!(f.message.contains(needle), "{needle}: {}", f.message);
    }
    assert!(f.fix.contains("remove `image.tag: v0.38.0`"), "{}", f.fix);

    let report = doctor_on("extra-volumes", &DoctorOptions::default()).await;
    let f = &report.findings()[0];
    assert!(
        f.message.contains(
            "`Failed to create static dir`: `mkdir /tmp/.headlamp2837461029: read-only file system`"
        ),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("`extraVolumes`/`extraVolumeMounts`"),
        "{}",
        f.message
    );
    // neither /home/headlamp nor /tmp is mounted in the live pod: the fix mounts both
    assert!(
        f.fix.contains("mountPath: /home/headlamp") && f.fix.contains("mountPath: /tmp"),
        "{}",
        f.fix
    );

    let report = doctor_on("crashloop", &DoctorOptions::default()).await;
    let f = &report.findings()[0];
    assert!(f.message.contains("OOMKilled (code 137)"), "{}", f.message);
    assert!(
        f.message.contains("Last lines of its previous log:\n  "),
        "{}",
        f.message
    );
    assert!(
        f.fix.contains("limits.memory") && f.fix.contains("16Mi"),
        "{}",
        f.fix
    );
}

/// The three real states of issue 8 (FACTS, Headlamp v0.41.0): a crash on /tmp, a server running with the `.config`
/// error lines, a clean one. Each says the right thing at the right severity, from the logs alone and with the render.
#[tokio::test]
async fn real_states_say_the_right_thing_at_the_right_severity() {
    use headlamp_e2e::finding::Severity;
    let mut runs = vec![DoctorOptions::default()];
    if let Some((helm, store)) = render_tools("headlamp", "0.41.0") {
        runs.push(DoctorOptions {
            render: Render::Tools { helm, store },
            ..DoctorOptions::default()
        });
    }
    for opts in &runs {
        // crash on /tmp: an error whose cause is the /tmp line; the .config lines named as not the cause
        let report = doctor_on("readonly-home", opts).await;
        let f: Vec<_> = report.findings();
        assert_eq!(f.len(), 1, "{}", report.to_text(false));
        assert_eq!(f[0].severity, Severity::Error);
        for needle in [
            "Failed to create static dir",
            "mkdir /tmp/.headlamp",
            "exit code 0",
            "not the cause",
            "creating plugins directory",
        ] {
            assert!(f[0].message.contains(needle), "{needle}: {}", f[0].message);
        }
        assert!(f[0].fix.contains("mountPath: /tmp"), "{}", f[0].fix);
        // running with the .config lines: a warning, not a crash
        let report = doctor_on("readonly-home-tmp-only", opts).await;
        let f: Vec<_> = report.findings();
        assert_eq!(f.len(), 1, "{}", report.to_text(false));
        assert_eq!(f[0].severity, Severity::Warning);
        for needle in [
            "creating user-plugins directory",
            "the user-plugins directory is disabled",
        ] {
            assert!(f[0].message.contains(needle), "{needle}: {}", f[0].message);
        }
        assert!(!f[0].message.contains("exits"), "{}", f[0].message);
        assert!(
            f[0].fix.contains("mountPath: /home/headlamp") && !f[0].fix.contains("mountPath: /tmp"),
            "{}",
            f[0].fix
        );
        // clean
        assert!(doctor_on("healthy", opts).await.findings().is_empty());
    }
    // from the logs alone, the running pod's lines are what doctor quotes
    let report = doctor_on("readonly-home-tmp-only", &DoctorOptions::default()).await;
    let f = &report.findings()[0];
    assert!(f.message.contains("This is not a crash"), "{}", f.message);
    assert!(
        f.file
            .ends_with("headlamp/pod/headlamp-7d9c6b8f5-x2x7q/headlamp.log"),
        "{}",
        f.file
    );
    let report = doctor_on("readonly-home", &DoctorOptions::default()).await;
    let f = &report.findings()[0];
    assert!(
        f.message
            .contains("CrashLoopBackOff, 4 restarts, last exit: Completed (code 0)"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn stuck_is_measured_from_captured_at_against_the_threshold() {
    let report = doctor_on("stuck-helmrelease", &DoctorOptions::default()).await;
    let f = &report.findings()[0];
    for needle in [
        "for 12m",
        "Running 'install' action with timeout of 10m0s",
        "metadata.generation is 3, status.observedGeneration 2",
        "timeout (10m0s) has passed",
        "ImagePullBackOff",
    ] {
        assert!(f.message.contains(needle), "{needle}: {}", f.message);
    }
    assert!(
        f.fix.contains("cargo xtask unstick headlamp -n headlamp"),
        "{}",
        f.fix
    );

    let patient = DoctorOptions {
        stuck_after: Duration::from_secs(15 * 60),
        ..DoctorOptions::default()
    };
    assert!(
        doctor_on("stuck-helmrelease", &patient)
            .await
            .rule_ids()
            .is_empty()
    );
    // the pinned-image-tag release has been installing for 3 minutes: stuck with a 2 minute threshold
    let impatient = DoctorOptions {
        stuck_after: Duration::from_secs(120),
        ..DoctorOptions::default()
    };
    let ids = doctor_on("pinned-image-tag", &impatient).await.rule_ids();
    assert_eq!(ids, ["helmrelease-stuck", "image-flag-unsupported"]);
}

#[tokio::test]
async fn wrong_namespace_cannot_run() {
    let view = SnapshotView::open(&snapshot_dir("healthy")).unwrap();
    let opts = DoctorOptions {
        namespace: "nope".into(),
        ..DoctorOptions::default()
    };
    let e = doctor::run(&view, &opts).await.unwrap_err().to_string();
    assert!(e.contains("no HelmRelease in namespace nope"), "{e}");
}

// --- feature-branch: a real git repository in a temp dir ---

/// fixtures/gitops committed on main; the fix (a values change) committed on feat/headlamp.
fn gitops_repo() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&project_root().join("fixtures/gitops"), d.path()).unwrap();
    git(d.path(), &["init", "-q", "-b", "main"]);
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "headlamp: initial"]);
    let main = git(d.path(), &["rev-parse", "HEAD"]);
    git(d.path(), &["checkout", "-qb", "feat/headlamp"]);
    let hr = d.path().join("apps/base/headlamp/helmrelease.yaml");
    let text = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(&hr, text.replace("interval: 30m", "interval: 10m")).unwrap();
    git(d.path(), &["commit", "-qam", "headlamp: the fix"]);
    (d, main)
}

/// A copy of a snapshot whose GitRepository is at `sha` on main.
fn snapshot_at(name: &str, sha: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&snapshot_dir(name), d.path()).unwrap();
    let f = d.path().join("flux-system/gitrepository/flux-system.yaml");
    let text = std::fs::read_to_string(&f).unwrap();
    let old = "8c1f0e3a9b27d4c6e5f1a0b9d8c7e6f5a4b3c2d1";
    assert!(text.contains(old));
    std::fs::write(&f, text.replace(old, sha)).unwrap();
    d
}

fn with_gitops(dir: &Path) -> DoctorOptions {
    DoctorOptions {
        gitops: Some(dir.to_path_buf()),
        ..DoctorOptions::default()
    }
}

#[tokio::test]
async fn feature_branch_fix_not_on_main() {
    let (repo, main) = gitops_repo();
    let fix = git(repo.path(), &["rev-parse", "HEAD"]);
    let snap = snapshot_at("feature-branch", &main);
    let report = doctor_at(snap.path(), &with_gitops(repo.path())).await;
    assert_eq!(
        report.rule_ids(),
        ["flux-source-revision"],
        "{}",
        report.to_text(false)
    );
    let f = &report.findings()[0];
    let expected = format!(
        "Flux is at main@{}; your fix {} (\"headlamp: the fix\") to apps/base/headlamp is on feat/headlamp, not on main: merge it",
        &main[..8],
        &fix[..8]
    );
    assert!(f.message.starts_with(&expected), "{}", f.message);
    assert_eq!(f.object, "GitRepository/flux-system/flux-system");
    assert!(
        f.fix.starts_with("merge feat/headlamp into main"),
        "{}",
        f.fix
    );

    // same from main's checkout: what matters is the branches, not where HEAD is
    git(repo.path(), &["checkout", "-q", "main"]);
    let report = doctor_at(snap.path(), &with_gitops(repo.path())).await;
    assert_eq!(report.rule_ids(), ["flux-source-revision"]);

    // merged, and Flux at the merge: healthy
    git(repo.path(), &["merge", "-q", "--ff-only", "feat/headlamp"]);
    let merged = snapshot_at("feature-branch", &fix);
    let report = doctor_at(merged.path(), &with_gitops(repo.path())).await;
    assert!(report.rule_ids().is_empty(), "{}", report.to_text(false));

    // merged but Flux still at the old main: main is ahead of Flux
    let report = doctor_at(snap.path(), &with_gitops(repo.path())).await;
    let f = &report.findings()[0];
    assert!(
        f.message.starts_with(&format!(
            "Flux is at main@{}; main is at {}, 1 commit ahead",
            &main[..8],
            &fix[..8]
        )),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn local_commit_not_pushed() {
    let (origin, main) = gitops_repo();
    git(origin.path(), &["checkout", "-q", "main"]);
    git(origin.path(), &["branch", "-qD", "feat/headlamp"]);
    let d = tempfile::tempdir().unwrap();
    let clone = d.path().join("clone");
    let out = Command::new("git")
        .args(["clone", "-q", "-b", "main"])
        .arg(origin.path())
        .arg(&clone)
        .output()
        .unwrap();
    assert!(out.status.success());
    let hr = clone.join("apps/base/headlamp/helmrelease.yaml");
    let text = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(&hr, text.replace("timeout: 5m", "timeout: 10m")).unwrap();
    git(&clone, &["commit", "-qam", "headlamp: longer timeout"]);
    let snap = snapshot_at("feature-branch", &main);
    let report = doctor_at(snap.path(), &with_gitops(&clone)).await;
    // the clone's main is one commit ahead of origin/main, which is what Flux runs
    assert_eq!(report.rule_ids(), ["flux-source-revision"]);
    let f = &report.findings()[0];
    assert!(
        f.message.ends_with(&format!(
            "origin/main is still at {}: not pushed.",
            &main[..8]
        )),
        "{}",
        f.message
    );
    assert!(f.fix.starts_with("`git push origin main`"), "{}", f.fix);
}

#[tokio::test]
async fn healthy_with_gitops_at_head_is_clean_and_not_a_repo_cannot_run() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&project_root().join("fixtures/gitops"), d.path()).unwrap();
    git(d.path(), &["init", "-q", "-b", "main"]);
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "init"]);
    let head = git(d.path(), &["rev-parse", "HEAD"]);
    let snap = snapshot_at("healthy", &head);
    let report = doctor_at(snap.path(), &with_gitops(d.path())).await;
    assert!(report.rule_ids().is_empty(), "{}", report.to_text(false));
    assert!(report.checks[0].ran);

    let plain = tempfile::tempdir().unwrap();
    let view = SnapshotView::open(snap.path()).unwrap();
    let e = doctor::run(&view, &with_gitops(plain.path()))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not inside a git repository"), "{e}");
}
