//! Issue 22 (lint speed), as a user runs `cargo xtask lint` on a cluster-template repository twice: the second run
//! takes every kustomize build from the cache (`$HEADLAMP_E2E_CACHE/kustomize`) and starts no kustomize process,
//! with the same findings; `--no-cache` builds everything again; a changed file is built again, the rest is not; no
//! Flux Kustomization is built twice (a child whose parent patches it is built once, as Flux applies it). The
//! kustomize processes are counted by a `KUBECTL_BIN` wrapper that logs its arguments. Skips without kubectl (fails
//! with HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::path::{Path, PathBuf};
use std::process::Command;

use headlamp_e2e::benchrepo;
use headlamp_e2e::testing::{kubectl, skip, with_tools};

struct Setup {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    cache: PathBuf,
    wrapper: PathBuf,
    log: PathBuf,
}

fn setup(apps: u32) -> Option<Setup> {
    let Some(real) = kubectl() else {
        return skip("kubectl not found (set KUBECTL_BIN)");
    };
    let real = real.canonicalize().unwrap_or(real);
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    benchrepo::generate(apps).write(&repo).unwrap();
    let log = d.path().join("kubectl.log");
    let wrapper = d.path().join("kubectl");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(Setup {
        cache: d.path().join("cache"),
        repo,
        wrapper,
        log,
        _dir: d,
    })
}

impl Setup {
    /// One lint run: its JSON findings (the summary's timing left out) and the kustomize processes it started.
    fn lint(&self, extra: &[&str]) -> (serde_json::Value, usize) {
        std::fs::write(&self.log, "").unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(["lint", "--gitops"])
            .arg(&self.repo)
            .args(["--format", "json"])
            .args(extra)
            .env("NO_COLOR", "1");
        with_tools(&mut cmd)
            .env("KUBECTL_BIN", &self.wrapper)
            .env("HEADLAMP_E2E_CACHE", &self.cache);
        let o = cmd.output().expect("xtask runs");
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "lint could not run: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let started = std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| *l == "kustomize")
            .count();
        (report["findings"].clone(), started)
    }

    fn entries(&self) -> usize {
        std::fs::read_dir(self.cache.join("kustomize"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn app_file(repo: &Path, app: &str, file: &str) -> PathBuf {
    // the layout: kubernetes/apps/<namespace>/<app>/app/<file>
    let apps = repo.join("kubernetes/apps");
    for ns in std::fs::read_dir(&apps).unwrap() {
        let p = ns.unwrap().path().join(app).join("app").join(file);
        if p.is_file() {
            return p;
        }
    }
    panic!("{app}/app/{file} not found under {}", apps.display());
}

#[test]
fn a_warm_lint_builds_nothing_again_and_finds_the_same() {
    let Some(s) = setup(7) else { return };
    // most of the layout is built without kustomize (`gitops::kustomize_here`); `labels` is not, so two apps'
    // directories go to kustomize
    for app in ["app-003", "app-005"] {
        let k = app_file(&s.repo, app, "kustomization.yaml");
        let text = std::fs::read_to_string(&k).unwrap();
        std::fs::write(
            &k,
            format!("{text}labels:\n  - pairs:\n      team: media\n"),
        )
        .unwrap();
    }
    let (cold, cold_started) = s.lint(&[]);
    assert!(cold_started >= 2, "a cold lint builds them with kustomize");
    // none is built twice, though cluster-apps patches every child (the walk reads each as committed, Flux applies
    // it patched): the two app directories, and the gatus component the walk finds (at most twice each)
    assert!(
        cold_started <= 5,
        "{cold_started} kustomize processes for two app directories"
    );
    assert!(s.entries() > 0, "the builds are stored");

    let (warm, warm_started) = s.lint(&[]);
    assert_eq!(warm_started, 0, "a warm lint starts no kustomize");
    assert_eq!(warm, cold, "the same findings from the cache");

    let (uncached, uncached_started) = s.lint(&["--no-cache"]);
    assert_eq!(
        uncached_started, cold_started,
        "--no-cache builds everything"
    );
    assert_eq!(uncached, cold);

    // one app changed: its build runs again, no other
    let hr = app_file(&s.repo, "app-003", "helmrelease.yaml");
    let text = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(&hr, format!("{text}\n# changed\n")).unwrap();
    let (_, changed_started) = s.lint(&[]);
    assert_eq!(
        changed_started, 1,
        "after one file changed: its directory as Flux builds it, nothing else"
    );
}

/// A copy of `dir` as a repository of its own (a `.git` directory at its top).
fn repository(dir: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    headlamp_e2e::testing::copy_tree(dir, d.path()).unwrap();
    if !d.path().join(".git").exists() {
        std::fs::create_dir(d.path().join(".git")).unwrap();
    }
    d
}

fn lint_findings(dir: &Path, extra: &[&str], cache: &Path) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["lint", "--gitops"])
        .arg(dir)
        .args(["--format", "json"])
        .args(extra)
        .env("NO_COLOR", "1");
    with_tools(&mut cmd).env("HEADLAMP_E2E_CACHE", cache);
    let o = cmd.output().expect("xtask runs");
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "lint {} could not run: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    report["findings"].clone()
}

/// The Done-when of issue 22: the fast path (Flux patches applied in-process, builds in parallel, the build cache,
/// cold and then warm) finds exactly what building every Flux Kustomization with kustomize, one at a time, finds, on
/// every layout fixture and on the generated cluster-template repository.
#[test]
fn the_fast_path_finds_what_kustomize_alone_finds_on_every_layout() {
    if kubectl().is_none() {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    }
    let layouts = headlamp_e2e::testing::project_root().join("fixtures/layouts");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&layouts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "{dirs:?}");
    let generated = tempfile::tempdir().unwrap();
    benchrepo::generate(14).write(generated.path()).unwrap();
    dirs.push(generated.path().to_path_buf());
    for dir in dirs {
        let repo = repository(&dir);
        let cache = tempfile::tempdir().unwrap();
        let reference = lint_findings(repo.path(), &["--kustomize-everything"], cache.path());
        let cold = lint_findings(repo.path(), &[], cache.path());
        let warm = lint_findings(repo.path(), &[], cache.path());
        assert_eq!(cold, reference, "{}: cold", dir.display());
        assert_eq!(warm, reference, "{}: warm", dir.display());
    }
}
