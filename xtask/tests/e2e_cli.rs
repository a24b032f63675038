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
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["e2e", "--scenario", "baseline"])
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
