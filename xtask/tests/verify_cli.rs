//! `cargo xtask verify` when it cannot run: no kubeconfig, an unreachable API server, bad arguments. Each exits 2
//! with one clear line, and the machine formats still print their one document.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Run `xtask verify …` with no ambient kubeconfig: an empty HOME, no KUBECONFIG, not in a pod.
fn verify(args: &[&str], home: &std::path::Path) -> (Output, Duration) {
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("verify")
        .args(args)
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .expect("xtask runs");
    (o, started.elapsed())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const TOKEN: &str = "kubeconfig-user-token-0123456789abcdef";

/// A kubeconfig whose API server is a closed port on this machine.
fn unreachable_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: home\nclusters:\n- name: home\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\ncontexts:\n- name: home\n  context: {{cluster: home, user: me}}\nusers:\n- name: me\n  user: {{token: {TOKEN}}}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_missing_kubeconfig_file_exits_2_naming_it() {
    let home = tempfile::tempdir().unwrap();
    let (o, _) = verify(&["--kubeconfig", "/nonexistent/kubeconfig"], home.path());
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: verify could not run: cannot connect to the cluster: kubeconfig /nonexistent/kubeconfig"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    println!("{err}");
}

#[test]
fn no_kubeconfig_at_all_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let (o, _) = verify(&[], home.path());
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: verify could not run: cannot connect to the cluster"),
        "{err}"
    );
    println!("{err}");
}

#[test]
fn an_unreachable_api_server_exits_2_quickly_and_says_where() {
    let home = tempfile::tempdir().unwrap();
    let kc = unreachable_kubeconfig(home.path());
    let kc = kc.to_str().unwrap();
    let (o, took) = verify(&["--kubeconfig", kc, "--timeout", "20s"], home.path());
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("reading Secret headlamp/headlamp-login-token")
            && err.contains("API server https://127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "the kubeconfig's token leaked: {err}");
    // a refused connection is not waited out (kube retries nothing here); well within the 20 s timeout
    assert!(took < Duration::from_secs(20), "took {took:?}");
    println!("{err}");

    let (o, _) = verify(&["--kubeconfig", kc, "--format", "json"], home.path());
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["exit_code"], 2);
    assert!(
        v["error"].as_str().unwrap().contains("reading Secret"),
        "{v}"
    );

    let (o, _) = verify(&["--kubeconfig", kc, "--format", "junit"], home.path());
    assert_eq!(o.status.code(), Some(2));
    let xml = text(&o.stdout);
    assert!(
        xml.contains("could-not-run") && xml.contains("<failure"),
        "{xml}"
    );
}

#[test]
fn bad_arguments_are_refused_before_contacting_anything() {
    let home = tempfile::tempdir().unwrap();
    let (o, _) = verify(&["--url", "headlamp.example.net"], home.path());
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--url headlamp.example.net is not a URL"),
        "{err}"
    );

    let (o, _) = verify(&["--url", "https://h", "--service"], home.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("cannot be used with"),
        "{}",
        text(&o.stderr)
    );

    let (o, _) = verify(&["--timeout", "soon"], home.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("is not a duration"));
}
