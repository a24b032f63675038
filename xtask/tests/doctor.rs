//! `doctor`, `snapshot` and `unstick` as a user runs them: exit codes, JSON shape, refusals, no secrets printed.
//! No cluster: doctor reads the hand-written snapshots; the cluster commands are pointed at an unreachable server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use headlamp_e2e::testing::{copy_tree, git, project_root, render_tools, with_tools};
use rstest::rstest;

fn xtask(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null());
    with_tools(&mut cmd).output().expect("xtask runs")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn snapshot(name: &str) -> String {
    project_root()
        .join("fixtures/snapshots")
        .join(name)
        .display()
        .to_string()
}

fn show(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr))
}

#[test]
fn help_lists_the_commands() {
    let out = text(&xtask(&["--help"]).stdout);
    for cmd in ["doctor", "snapshot", "unstick"] {
        assert!(out.contains(cmd), "{out}");
    }
}

#[rstest]
#[case::healthy("healthy", 0)]
#[case::feature_branch_without_gitops("feature-branch", 0)]
#[case::pinned_image_tag("pinned-image-tag", 1)]
#[case::readonly_home("readonly-home", 1)]
#[case::readonly_home_tmp_only("readonly-home-tmp-only", 1)]
#[case::extra_volumes("extra-volumes", 1)]
#[case::stuck_helmrelease("stuck-helmrelease", 1)]
#[case::crashloop("crashloop", 1)]
fn doctor_snapshot_exit_codes(#[case] name: &str, #[case] code: i32) {
    let o = xtask(&["doctor", "--snapshot", &snapshot(name)]);
    assert_eq!(o.status.code(), Some(code), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(out.contains("[1/4] source revision"), "{out}");
    assert!(out.contains("[4/4] pods and logs"), "{out}");
    assert_eq!(code == 0, out.contains(": 0 errors, 0 warnings"), "{out}");
}

fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", show(o)))
}

#[rstest]
#[case::healthy("healthy", &[])]
#[case::pinned_image_tag("pinned-image-tag", &["image-flag-unsupported"])]
#[case::extra_volumes("extra-volumes", &["rootfs-unwritable-path"])]
#[case::stuck_helmrelease("stuck-helmrelease", &["helmrelease-stuck"])]
#[case::crashloop("crashloop", &["pod-crashloop"])]
fn doctor_json_has_lints_shape(#[case] name: &str, #[case] rules: &[&str]) {
    let o = xtask(&[
        "doctor",
        "--snapshot",
        &snapshot(name),
        "--no-render",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(i32::from(!rules.is_empty())),
        "{}",
        show(&o)
    );
    let v = json_of(&o);
    let findings = v["findings"].as_array().expect("findings");
    let got: Vec<&str> = findings.iter().filter_map(|f| f["rule"].as_str()).collect();
    assert_eq!(got, rules);
    for f in findings {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "file", "fix", "message", "object", "path", "rule", "severity"
            ],
            "{f}"
        );
    }
    assert_eq!(v["summary"]["errors"].as_u64(), Some(rules.len() as u64));
    assert!(v["summary"]["warnings"].is_u64());
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(checks, ["source", "release", "values", "pods"]);
    assert_eq!(v["checks"][0]["status"], "skipped", "no --gitops");
    assert_eq!(v["checks"][2]["status"], "skipped", "--no-render");
    assert_eq!(v["capturedAt"], "2025-11-27T20:00:00Z");
    assert_eq!(v["context"], "home");
}

#[test]
fn doctor_json_with_the_chart_rendered() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let o = xtask(&[
        "doctor",
        "--snapshot",
        &snapshot("pinned-image-tag"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v = json_of(&o);
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert_eq!(rules, ["image-flag-unsupported", "image-tag-override"]);
    assert_eq!(v["summary"]["warnings"], 1);
    // healthy: no finding at all, exit 0
    let o = xtask(&["doctor", "--snapshot", &snapshot("healthy")]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

#[test]
fn doctor_with_gitops_names_the_branch_to_merge() {
    let repo = tempfile::tempdir().unwrap();
    copy_tree(&project_root().join("fixtures/gitops"), repo.path()).unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "initial"]);
    let main = git(repo.path(), &["rev-parse", "HEAD"]);
    git(repo.path(), &["checkout", "-qb", "feat/headlamp"]);
    let hr = repo.path().join("apps/base/headlamp/helmrelease.yaml");
    let t = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(&hr, t.replace("interval: 30m", "interval: 10m")).unwrap();
    git(repo.path(), &["commit", "-qam", "the fix"]);

    let snap = tempfile::tempdir().unwrap();
    copy_tree(Path::new(&snapshot("feature-branch")), snap.path()).unwrap();
    let f = snap
        .path()
        .join("flux-system/gitrepository/flux-system.yaml");
    let t = std::fs::read_to_string(&f).unwrap();
    std::fs::write(
        &f,
        t.replace("8c1f0e3a9b27d4c6e5f1a0b9d8c7e6f5a4b3c2d1", &main),
    )
    .unwrap();

    let o = xtask(&[
        "doctor",
        "--snapshot",
        &snap.path().display().to_string(),
        "--gitops",
        &repo.path().display().to_string(),
        "--no-render",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(out.contains("error[flux-source-revision]"), "{out}");
    assert!(
        out.contains("is on feat/headlamp, not on main: merge it"),
        "{out}"
    );
}

fn assert_cannot_run(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", show(o));
    let err = text(&o.stderr);
    assert!(err.contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn doctor_cannot_run_cases() {
    let o = xtask(&["doctor", "--snapshot", "/nonexistent/snap"]);
    assert_cannot_run(&o, "not a snapshot directory");
    assert_eq!(text(&o.stderr).trim().lines().count(), 1, "one clear line");
    let o = xtask(&["doctor", "--snapshot", &snapshot("healthy"), "-n", "nope"]);
    assert_cannot_run(&o, "no HelmRelease in namespace nope");
    let o = xtask(&[
        "doctor",
        "--snapshot",
        &snapshot("healthy"),
        "--context",
        "x",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "clap refuses --snapshot with --context"
    );
    let o = xtask(&[
        "doctor",
        "--snapshot",
        &snapshot("healthy"),
        "--gitops",
        "/nonexistent/repo",
    ]);
    assert_cannot_run(&o, "/nonexistent/repo");
    let o = xtask(&[
        "doctor",
        "--snapshot",
        "/nonexistent/snap",
        "--format",
        "json",
    ]);
    let v = json_of(&o);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("not a snapshot directory")
    );
}

/// A kubeconfig with a token, for a server nothing listens on.
fn unreachable_kubeconfig(dir: &Path) -> PathBuf {
    let p = dir.join("kubeconfig");
    std::fs::write(
        &p,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:9\", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: tok-9f8e7d6c5b4a-secret}\ncontexts:\n- name: home\n  context: {cluster: c, user: u}\ncurrent-context: home\n",
    )
    .unwrap();
    p
}

#[test]
fn cluster_commands_fail_cleanly_without_printing_credentials() {
    let d = tempfile::tempdir().unwrap();
    let kc = unreachable_kubeconfig(d.path());
    let kc = kc.display().to_string();
    let out = d.path().join("snap");
    for args in [
        vec!["doctor", "--kubeconfig", &kc],
        vec![
            "snapshot",
            "--kubeconfig",
            &kc,
            "--out",
            out.to_str().unwrap(),
        ],
        vec!["doctor", "--kubeconfig", &kc, "--context", "nope"],
    ] {
        let o = xtask(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
        let all = show(&o);
        assert!(!all.contains("tok-9f8e7d6c5b4a-secret"), "{all}");
        assert!(!all.contains("panicked"), "{all}");
    }
    assert!(!out.exists(), "no half-written snapshot");
    let o = xtask(&[
        "unstick",
        "headlamp",
        "--yes",
        "--kubeconfig",
        &kc,
        "--timeout",
        "5s",
    ]);
    assert_eq!(o.status.code(), Some(1), "a failed step: {}", show(&o));
    assert!(text(&o.stdout).contains("[1/7] read"), "{}", show(&o));
    assert!(!show(&o).contains("tok-9f8e7d6c5b4a-secret"));
}

#[test]
fn unstick_refuses_without_a_terminal() {
    let o = xtask(&["unstick", "headlamp", "-n", "headlamp"]);
    assert_cannot_run(&o, "stdin is not a terminal");
    assert!(text(&o.stderr).contains("--yes"));
    assert!(text(&o.stdout).is_empty(), "nothing done, nothing printed");
    let o = xtask(&["unstick", "headlamp", "--timeout", "ten minutes"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("is not a duration"));
}

/// The three real states of Headlamp v0.41.0 with a read-only root, through the CLI: the crash on /tmp is an error that
/// names the /tmp line as the cause; the server running with the `.config` lines is a warning; clean is nothing.
#[rstest]
#[case::crash_on_tmp("readonly-home", "error", "Failed to create static dir")]
#[case::running_with_config_errors("readonly-home-tmp-only", "warning", "This is not a crash")]
fn doctor_json_real_states_have_their_severity(
    #[case] name: &str,
    #[case] severity: &str,
    #[case] needle: &str,
) {
    let o = xtask(&[
        "doctor",
        "--snapshot",
        &snapshot(name),
        "--no-render",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v = json_of(&o);
    let findings = v["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{v}");
    assert_eq!(findings[0]["rule"], "rootfs-unwritable-path");
    assert_eq!(findings[0]["severity"], severity);
    let message = findings[0]["message"].as_str().unwrap_or("");
    assert!(message.contains(needle), "{message}");
    let (errors, warnings) = if severity == "error" { (1, 0) } else { (0, 1) };
    assert_eq!(v["summary"]["errors"].as_u64(), Some(errors));
    assert_eq!(v["summary"]["warnings"].as_u64(), Some(warnings));
}
