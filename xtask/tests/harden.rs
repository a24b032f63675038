//! Hostile and broken inputs through the CLI, as issue 10 lists them: a helm that hangs or fails, an API server that
//! accepts and never answers, a hostile GitOps tree, a chart name that tries to leave the cache, secrets planted in a
//! snapshot. Each must end (exit 2 within its deadline, or a finding) and print no secret.
//!
//! No timing assertion: a command that does not end is killed by [`run`] after a generous watchdog and the test fails
//! for the hang, not for a duration.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use headlamp_e2e::testing::{copy_tree, project_root, render_tools, with_tools};

/// Far above every deadline the tests set (2–3 s): reaching it means the command hangs.
const WATCHDOG: Duration = Duration::from_secs(90);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("HEADLAMP_E2E_HELM_TIMEOUT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    with_tools(&mut cmd);
    cmd
}

/// Run `cmd`; a run that outlives [`WATCHDOG`] is killed and fails the test.
fn run(cmd: &mut Command) -> Run {
    let mut child = cmd.spawn().expect("xtask runs");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("xtask did not end: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    headlamp_e2e::testing::script(&dir.join(name), body)
}

fn fixtures_gitops() -> String {
    project_root().join("fixtures/gitops").display().to_string()
}

fn process_gone(pid: i32) -> bool {
    for _ in 0..300 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// No `helm version` runs first: the first render is the first helm process, and its deadline ends the lint.
#[test]
fn a_helm_that_hangs_ends_lint_with_exit_2() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("sleep.pid");
    let helm = script(
        d.path(),
        "helm",
        &format!("sleep 300 & echo $! > {}; wait", pidfile.display()),
    );
    let r = run(xtask()
        .args(["lint", "--gitops", &fixtures_gitops()])
        .env("HELM_BIN", &helm)
        .env("HEADLAMP_E2E_HELM_TIMEOUT", "2s"));
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.stderr.contains(" template ")
            && r.stderr.contains("did not finish within 2s and was killed"),
        "{}",
        r.show()
    );
    assert!(!r.stderr.contains("version --short"), "{}", r.show());
    assert!(
        r.stderr.contains("HEADLAMP_E2E_HELM_TIMEOUT"),
        "{}",
        r.show()
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_gone(pid), "helm's child {pid} was left running");
}

#[test]
fn a_helm_that_hangs_on_template_is_killed_and_leaves_no_values_file() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let helm = script(
        d.path(),
        "helm",
        "case \"$1\" in version) echo v4.1.4;; *) cat > /dev/null; sleep 300;; esac",
    );
    let r = run(xtask()
        .args(["lint", "--gitops", &fixtures_gitops()])
        .env("HELM_BIN", &helm)
        .env("TMPDIR", &tmp)
        .env("HEADLAMP_E2E_HELM_TIMEOUT", "2s"));
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.stderr.contains(" template ") && r.stderr.contains("did not finish within 2s"),
        "{}",
        r.show()
    );
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "files left in TMPDIR: {left:?}");
}

#[test]
fn a_helm_that_fails_is_reported_with_what_it_said() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let helm = script(
        d.path(),
        "helm",
        "echo 'Error: plugin \"x\" exited: boom' >&2; exit 1",
    );
    let r = run(xtask()
        .args(["lint", "--gitops", &fixtures_gitops()])
        .env("HELM_BIN", &helm));
    // helm starts, so it is not "not found"; what it said is the release's render-failed finding (each release is
    // rendered on its own, and a failing render is a finding on it, exit 1, never silence)
    assert_eq!(r.code, Some(1), "{}", r.show());
    assert!(
        r.stdout.contains("render-failed")
            && r.stdout
                .contains("helm said: Error: plugin \"x\" exited: boom"),
        "{}",
        r.show()
    );
    assert!(!r.stderr.contains("helm not found"), "{}", r.show());
    assert!(!r.stdout.contains("helm not found"), "{}", r.show());
}

#[test]
fn the_timeout_setting_must_be_a_duration() {
    let r = run(xtask()
        .args(["lint", "--gitops", &fixtures_gitops()])
        .env("HEADLAMP_E2E_HELM_TIMEOUT", "soon"));
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.stderr
            .contains("HEADLAMP_E2E_HELM_TIMEOUT=\"soon\" is not a positive Go duration"),
        "{}",
        r.show()
    );
}

/// A TCP listener on 127.0.0.1 that accepts every connection and never answers; and a kubeconfig for it.
fn silent_api_server(dir: &Path) -> (PathBuf, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in accepting.incoming().flatten() {
            held.push(s);
        }
    });
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: silent\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: silent\n  context: {{cluster: silent, user: u}}\ncurrent-context: silent\nusers:\n- name: u\n  user: {{token: MARKER-KUBECONFIG-TOKEN}}\n"
        ),
    )
    .unwrap();
    (kubeconfig, listener)
}

#[test]
fn doctor_snapshot_and_unstick_against_a_silent_api_server_end_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let (kubeconfig, _listener) = silent_api_server(d.path());
    let kc = kubeconfig.display().to_string();
    let out = d.path().join("snap").display().to_string();
    for (args, what) in [
        (
            vec![
                "doctor",
                "--kubeconfig",
                &kc,
                "--timeout",
                "3s",
                "--no-render",
            ],
            "doctor",
        ),
        (
            vec![
                "snapshot",
                "--kubeconfig",
                &kc,
                "--timeout",
                "3s",
                "--out",
                &out,
            ],
            "snapshot",
        ),
        (
            vec![
                "unstick",
                "headlamp",
                "--yes",
                "--kubeconfig",
                &kc,
                "--timeout",
                "3s",
            ],
            "unstick",
        ),
    ] {
        let r = run(xtask().args(&args));
        assert_eq!(r.code, Some(2), "{what}: {}", r.show());
        assert!(
            r.all().contains("timed out"),
            "{what}: no word of the deadline: {}",
            r.show()
        );
        assert!(!r.all().contains("MARKER"), "{what}: {}", r.show());
    }
    assert!(!d.path().join("snap/snapshot.yaml").exists());
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

/// Symlink loops to `..` and `.`, a FIFO, a link to /dev/zero, links to /etc: lint ends, reads none of them, and says
/// what it skipped. With a 1 GB manifest (sparse) it stops with exit 2 naming the file and the limit.
#[cfg(unix)]
#[test]
fn a_hostile_tree_ends_and_reads_nothing_outside() {
    use std::os::unix::fs::symlink;
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("gitops");
    std::fs::create_dir_all(root.join("apps/sub")).unwrap();
    std::fs::write(
        root.join("apps/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n",
    )
    .unwrap();
    symlink("..", root.join("apps/sub/up1")).unwrap();
    symlink("..", root.join("apps/sub/up2")).unwrap();
    symlink(".", root.join("apps/here")).unwrap();
    symlink("/etc", root.join("apps/etc")).unwrap();
    symlink("/etc/passwd", root.join("apps/passwd.yaml")).unwrap();
    symlink("/dev/zero", root.join("apps/zero.yaml")).unwrap();
    mkfifo(&root.join("apps/fifo.yaml"));
    let gitops = root.display().to_string();
    let r = run(xtask().args(["lint", "--gitops", &gitops]));
    assert_eq!(r.code, Some(0), "{}", r.show());
    for skipped in [
        "apps/etc",
        "apps/passwd.yaml",
        "apps/zero.yaml",
        "apps/fifo.yaml",
    ] {
        assert!(
            r.stderr.contains(&format!("skipping {skipped}")),
            "{skipped}: {}",
            r.show()
        );
    }
    assert!(r.stdout.contains("(1 objects"), "{}", r.show());
    assert!(!r.all().contains("root:x:0:0"), "{}", r.show());

    std::fs::File::create(root.join("apps/huge.yaml"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let r = run(xtask().args(["lint", "--gitops", &gitops]));
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.stderr.contains("huge.yaml") && r.stderr.contains("over the 128 MiB limit"),
        "{}",
        r.show()
    );
}

/// `chart: ../../../x/evil` is a finding; nothing is written outside the cache (nor in it).
#[test]
fn a_chart_name_cannot_leave_the_cache() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("repo/gitops");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("hr.yaml"),
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: evil, namespace: flux-system}\nspec: {url: 'http://127.0.0.1:9/'}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: x, namespace: default}\nspec:\n  chart:\n    spec:\n      chart: ../../../x/evil\n      version: 1.0.0\n      sourceRef: {kind: HelmRepository, name: evil, namespace: flux-system}\n",
    )
    .unwrap();
    let cache = d.path().join("cache");
    let r = run(xtask()
        .args(["lint", "--gitops", &root.display().to_string()])
        .env("HEADLAMP_E2E_CACHE", &cache)
        .env_remove("HEADLAMP_E2E_CHARTS"));
    assert_eq!(r.code, Some(1), "{}", r.show());
    assert!(r.stdout.contains("error[chart-ref-unsafe]"), "{}", r.show());
    let mut entries: Vec<String> = walk(d.path())
        .into_iter()
        .map(|p| p.strip_prefix(d.path()).unwrap().display().to_string())
        .collect();
    entries.sort();
    assert_eq!(entries, ["repo/gitops/hr.yaml"], "files written");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn doctor_on_a_file_says_it_is_not_a_directory() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("snapshot.tar");
    std::fs::write(&f, "x").unwrap();
    let r = run(xtask().args(["doctor", "--snapshot", &f.display().to_string()]));
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.stderr.contains("is a file, not a directory"),
        "{}",
        r.show()
    );
}

/// Secrets planted in a snapshot's condition, event and log (a multi-line PEM block, JSON, a Go map, a k3s token,
/// control characters): doctor prints none of them and escapes the control characters.
#[test]
fn doctor_prints_no_planted_secret() {
    let d = tempfile::tempdir().unwrap();
    let stuck = d.path().join("stuck");
    copy_tree(
        &project_root().join("fixtures/snapshots/stuck-helmrelease"),
        &stuck,
    )
    .unwrap();
    let hr = stuck.join("headlamp/helmrelease/headlamp.yaml");
    let text = std::fs::read_to_string(&hr).unwrap().replace(
        "message: Running 'install' action with timeout of 10m0s",
        "message: \"Running 'install' action with timeout of 10m0s; password=MARKER-COND1; url https://u:MARKER-COND2@x.example \\e[2J\"",
    );
    assert!(text.contains("MARKER-COND1"));
    std::fs::write(&hr, text).unwrap();

    let crash = d.path().join("crash");
    copy_tree(&project_root().join("fixtures/snapshots/crashloop"), &crash).unwrap();
    let log = walk(&crash.join("headlamp/pod"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let mut t = std::fs::read_to_string(&log).unwrap();
    t.push_str(concat!(
        "loaded -----BEGIN RSA PRIVATE KEY-----\n",
        "MARKERPEMBODYLINEONE0123456789\n",
        "MARKERPEMBODYLINETWO0123456789\n",
        "-----END RSA PRIVATE KEY-----\n",
        "{\"level\":\"error\",\"message\":\"oidc: clientSecret: MARKER-LOG1 password=MARKER-LOG2;x\"}\n",
        "joined K10abcdef0123456789::server:MARKER-K3S\n",
        "map[Authorization:[Bearer MARKER-GOMAP] Cookie:[s=MARKER-COOKIE; t=u]]\n",
        "{\"Authorization\":[\"Bearer MARKER-JSONHDR\"]} ghp_MARKERabcdefghijklmnopqrstuvwxyz\n",
    ));
    std::fs::write(&log, t).unwrap();

    for (snap, rule) in [(&stuck, "helmrelease-stuck"), (&crash, "pod-crashloop")] {
        for format in ["text", "json"] {
            let r = run(xtask().args([
                "doctor",
                "--snapshot",
                &snap.display().to_string(),
                "--no-render",
                "--format",
                format,
            ]));
            assert_eq!(r.code, Some(1), "{}", r.show());
            assert!(r.stdout.contains(rule), "{}", r.show());
            assert!(!r.all().contains("MARKER"), "{}", r.show());
            assert!(!r.all().contains('\u{1b}'), "{}", r.show());
        }
    }
}

/// Ctrl-C (SIGINT to the CLI) kills the helm it runs, children included, and the CLI leaves with 130.
#[cfg(unix)]
#[test]
fn ctrl_c_kills_helm_and_its_children() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("sleep.pid");
    let helm = script(
        d.path(),
        "helm",
        &format!("sleep 300 & echo $! > {}; wait", pidfile.display()),
    );
    let mut child = xtask()
        .args(["lint", "--gitops", &fixtures_gitops()])
        .env("HELM_BIN", &helm)
        .env("HEADLAMP_E2E_HELM_TIMEOUT", "5m")
        .spawn()
        .expect("xtask runs");
    let started = Instant::now();
    while !pidfile.exists()
        || std::fs::read_to_string(&pidfile)
            .unwrap_or_default()
            .trim()
            .is_empty()
    {
        assert!(started.elapsed() < WATCHDOG, "helm never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            panic!("xtask did not end on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_gone(pid), "helm's child {pid} outlived Ctrl-C");
}

/// `doctor --timeout` bounds helm too: a helm that hangs (here on `version`, while doctor looks for it) ends with the
/// doctor's deadline, not helm's own.
#[test]
fn doctor_timeout_bounds_a_hanging_helm() {
    let d = tempfile::tempdir().unwrap();
    let helm = script(d.path(), "helm", "sleep 300");
    let snap = project_root()
        .join("fixtures/snapshots/healthy")
        .display()
        .to_string();
    let r = run(xtask()
        .args(["doctor", "--snapshot", &snap, "--timeout", "2s"])
        .env("HELM_BIN", &helm)
        .env("HEADLAMP_E2E_HELM_TIMEOUT", "5m"));
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.stderr.contains("timed out after 2s (--timeout)"),
        "{}",
        r.show()
    );
}
