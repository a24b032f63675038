//! Helpers for this project's own tests (render tier and CLI tests). Not part of the harness API.
//!
//! Everything a test reads lives in the repository: the upstream copies under `data/upstream/` (their provenance in
//! `data/upstream/provenance.json`, checked by `tests/upstream_data.rs`) and the fixtures. helm is `$HELM_BIN`, else
//! `helm` on PATH; the chart archives are `$HEADLAMP_E2E_CHARTS`, else the project's `data/upstream/charts`. With
//! `HEADLAMP_E2E_REQUIRE_TOOLS=1` a missing tool fails the test; otherwise the test is skipped with a printed reason.

use std::path::{Path, PathBuf};

pub mod mock_api;

/// The project root.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support/ is in the project root")
        .to_path_buf()
}

/// The project's copies of upstream data (`data/upstream/`).
pub fn upstream_dir() -> PathBuf {
    project_root().join("data/upstream")
}

/// Flux v2.9.4's components (`flux install --export`), as the GitOps fixture commits them.
pub fn flux_components_file() -> PathBuf {
    project_root().join("fixtures/gitops/clusters/home/flux-system/gotk-components.yaml")
}

pub fn tools_required() -> bool {
    std::env::var("HEADLAMP_E2E_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// Skip (print why and return None) or, when tools are required, panic.
pub fn skip<T>(reason: &str) -> Option<T> {
    if tools_required() {
        panic!("HEADLAMP_E2E_REQUIRE_TOOLS=1 but {reason}");
    }
    eprintln!("SKIP: {reason}");
    None
}

/// Write `text` to `dir/rel`, creating the directories on the way (the trees tests build). Returns the path.
pub fn write_file(dir: &Path, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("creating a test directory");
    }
    std::fs::write(&p, text).expect("writing a test file");
    p
}

/// Write a `/bin/sh` script (`body` after the `#!/bin/sh` line) to `path`, executable: the stand-in tools of tests
/// (a helm that logs its runs, a kubectl that fails). Panics on an I/O error (tests only).
pub fn script(path: &Path, body: &str) -> PathBuf {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("writing a test script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .expect("making a test script executable");
    }
    path.to_path_buf()
}

/// Copy a directory tree (fixtures into a temp dir, to vary them).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// Run git in `dir` for a test (fixed identity, no signing, `main` as the default branch); panics with git's stderr
/// when it fails; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.net",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The cache directory child processes of tests use: one under the system temp dir, shared by test runs (entries are
/// written atomically, so runs at once are safe), never the user's.
pub fn test_cache_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("headlamp-e2e-test-cache")
}

/// kubectl (for `kubectl kustomize`): `$KUBECTL_BIN`, `kubectl` on PATH, else where fetch-helm installs it; `None`
/// when none of them runs.
pub fn kubectl() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("KUBECTL_BIN")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        Some(PathBuf::from("kubectl")),
        std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".cache/headlamp-e2e-tools/bin/kubectl")),
    ];
    candidates.into_iter().flatten().find(|k| {
        std::process::Command::new(k)
            .args(["version", "--client"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}
