//! `cargo xtask e2e` without a cluster: listing, selection errors, and the Docker-unreachable exit.

use std::process::Command;
use std::time::{Duration, Instant};

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("xtask runs")
}

#[test]
fn list_prints_every_scenario_with_a_description() {
    let o = xtask(&["e2e", "--list"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for id in [
        "baseline",
        "pinned-image-tag",
        "readonly-home",
        "extra-volumes",
        "stuck-helmrelease",
        "feature-branch",
    ] {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("{id} missing: {out}"));
        assert!(line.len() > id.len() + 10, "{line}");
    }
}

#[test]
fn unknown_scenario_and_bad_shard_exit_2() {
    let o = xtask(&["e2e", "--scenario", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown scenario `nope`"));
    let o = xtask(&["e2e", "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn no_docker_exits_2_within_10s_with_the_hint() {
    // a run writes its report even when setup fails: into a temp dir, not the source tree
    let runs = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["e2e", "--scenario", "baseline", "--out"])
        .arg(runs.path())
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .output()
        .expect("xtask runs");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Docker is not reachable ("), "{err}");
    assert!(
        err.contains("e2e needs a Docker engine; `cargo xtask lint` runs without one"),
        "{err}"
    );
}

// ---------------------------------------------------------------- e2e --kubeconfig refusals

/// A plain-HTTP API server on a local port answering `GET path` from `routes` (404 Status otherwise), one
/// connection per request. Returns its URL and the request lines it saw.
fn fake_api(
    routes: Vec<(&'static str, &'static str)>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            log.lock().unwrap().push(line.trim().to_string());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("");
            let (code, body) = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => ("200 OK", body.to_string()),
                None => (
                    "404 Not Found",
                    r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","reason":"NotFound","code":404}"#.to_string(),
                ),
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn kubeconfig_for(dir: &std::path::Path, server: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: kind-spare\nclusters:\n- name: spare\n  cluster: {{server: '{server}'}}\ncontexts:\n- name: kind-spare\n  context: {{cluster: spare, user: me}}\nusers:\n- name: me\n  user: {{token: not-a-real-token-0123456789}}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn kubeconfig_run_refuses_a_cluster_with_flux_unless_disposable_and_touches_nothing() {
    let (server, seen) = fake_api(vec![
        (
            "/api/v1/namespaces/flux-system",
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"flux-system"}}"#,
        ),
        (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinitionList","metadata":{},"items":[{"metadata":{"name":"kustomizations.kustomize.toolkit.fluxcd.io"},"spec":{"group":"kustomize.toolkit.fluxcd.io","names":{"plural":"kustomizations","kind":"Kustomization"},"scope":"Namespaced","versions":[]}}]}"#,
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig_for(dir.path(), &server);
    let started = Instant::now();
    // a run writes its report even when refused: into the temp dir, not the source tree
    let out = dir.path().join("runs");
    let out = out.to_str().unwrap();
    let o = xtask(&[
        "e2e",
        "--scenario",
        "baseline",
        "--kubeconfig",
        &kc,
        "--git-address",
        "127.0.0.1",
        "--out",
        out,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refusing to run on this cluster: it already has namespace flux-system, Flux CRDs (kustomizations.kustomize.toolkit.fluxcd.io)."),
        "{err}"
    );
    assert!(err.contains("--i-know-this-cluster-is-disposable"), "{err}");
    assert!(!err.contains("not-a-real-token"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|l| l.starts_with("GET ")),
        "{seen:?}"
    );
    println!("{err}");
}

#[test]
fn kubeconfig_run_refusals_before_any_cluster_call() {
    let o = xtask(&["e2e", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--kubeconfig /nonexistent/kubeconfig: no such file")
    );
    let o = xtask(&["e2e", "--i-know-this-cluster-is-disposable"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--kubeconfig"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // an unreachable server: exit 2 naming what it tried
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig_for(dir.path(), "http://127.0.0.1:1");
    let out = dir.path().join("runs");
    let o = xtask(&[
        "e2e",
        "--kubeconfig",
        &kc,
        "--git-address",
        "127.0.0.1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("reading Namespace flux-system"), "{err}");
    println!("{err}");
}

#[test]
fn help_shows_the_budget_the_image_cache_and_the_registry_mirror() {
    let o = xtask(&["e2e", "--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--budget <DURATION>",
        "--image-cache <DIR>",
        "--registry-mirror <URL>",
    ] {
        assert!(out.contains(flag), "{flag} missing: {out}");
    }
}

#[test]
fn a_bad_budget_or_a_mirror_with_credentials_exits_2_before_docker() {
    let o = xtask(&["e2e", "--budget", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "e2e",
            "--scenario",
            "baseline",
            "--registry-mirror",
            "https://user:s3cret@mirror.example.com",
        ])
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .output()
        .expect("xtask runs");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds credentials") && !err.contains("s3cret"),
        "{err}"
    );
}

/// `replay`: a committed trace agrees (exit 0) with the time each wait was met; a trace cut short disagrees
/// (exit 1); a bad line is exit 2 with its number.
#[test]
fn replay_exits_0_1_2() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trace = root.join("fixtures/traces/stuck-helmrelease.jsonl");
    let o = xtask(&["replay", trace.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("10 wait helmReleaseProgressing     met after 42s (t=51s)"),
        "{out}"
    );
    assert!(
        out.contains("agrees: 5 of 5 waits met within their deadlines"),
        "{out}"
    );
    let o = xtask(&["replay", "--format", "json", trace.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["agrees"], true);

    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&trace).unwrap();
    let cut: Vec<&str> = text
        .lines()
        .take_while(|l| !l.contains("\"step\":\"09 wait"))
        .collect();
    let cut_path = dir.path().join("cut.jsonl");
    std::fs::write(&cut_path, cut.join("\n")).unwrap();
    let o = xtask(&["replay", cut_path.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "09 wait helmReleaseQueued          NOT MET within 3m: nothing recorded for this step"
        ),
        "{out}"
    );

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{\"t_ms\": 1, \"kind\"\n", cut[0])).unwrap();
    let o = xtask(&["replay", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.jsonl: line 2: not a trace record"),
        "{err}"
    );
}
