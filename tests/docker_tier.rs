//! Docker tier: the real engine, no registry. A tiny image is built here from Debian's static busybox and run through
//! the same code path as k3s ([`start_container`]): start, log wait, ports, exec, copy-out, labels, and removal on
//! drop, on panic and on SIGINT; plus the git server reached from a container over the Docker bridge.
//!
//! Without Docker (or without a static busybox) each test prints why it is skipped, unless
//! `HEADLAMP_E2E_REQUIRE_DOCKER=1`, which turns that into a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use headlamp_e2e::cluster::{
    self, Container, LABEL, RUN_LABEL, RunId, bridge_gateway, count_labelled_containers,
    docker_reachable, start_container,
};
use headlamp_e2e::gitserver::{GitRepo, GitServer};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::{ContainerRequest, GenericImage, ImageExt};

/// Local only, never pulled: nothing upstream is called this.
const TESTBOX_NAME: &str = "headlamp-e2e-testbox";
const TESTBOX_TAG: &str = "local";

const REQUIRE_ENV: &str = "HEADLAMP_E2E_REQUIRE_DOCKER";
const SIGINT_CHILD_ENV: &str = "HEADLAMP_E2E_TEST_SIGINT_RUN";
const PROBE_CHILD_ENV: &str = "HEADLAMP_E2E_TEST_PROBE_CHILD";

// ---------------------------------------------------------------------------------------------------------------
// Setup: Docker reachable, static busybox, the testbox image.

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// `Some(())` when the tier can run; otherwise prints the reason (or panics when Docker is required).
async fn docker_tier() -> Option<()> {
    let reason = match docker_reachable(Duration::from_secs(5)).await {
        Err(e) => cluster::docker_unreachable_message(&e),
        Ok(()) => match testbox_image() {
            Ok(()) => return Some(()),
            Err(e) => format!("cannot build the {TESTBOX_NAME}:{TESTBOX_TAG} image: {e}"),
        },
    };
    if required() {
        panic!("{REQUIRE_ENV}=1 but the Docker tier cannot run: {reason}");
    }
    eprintln!("skipped: {reason}");
    None
}

macro_rules! require_docker {
    () => {
        if docker_tier().await.is_none() {
            return;
        }
    };
}

/// Whether `path` is an ELF executable without a program interpreter (statically linked).
fn is_static_elf(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[5] != 1 {
        return false; // not ELF, or not little-endian
    }
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(|b| u64::from_le_bytes(b) as usize)
    };
    let (phoff, phentsize, phnum) = match bytes[4] {
        2 => (u64_at(0x20), u16_at(0x36), u16_at(0x38)),
        1 => (u32_at(0x1c), u16_at(0x2a), u16_at(0x2c)),
        _ => return false,
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return false;
    };
    const PT_INTERP: usize = 3;
    (0..phnum).all(|i| u32_at(phoff + i * phentsize).is_some_and(|p_type| p_type != PT_INTERP))
}

/// A static busybox: `$HEADLAMP_E2E_BUSYBOX`, the system's if static, or Debian's `busybox-static` package
/// downloaded (`apt-get download`, no root needed) and unpacked into the cargo target dir.
fn static_busybox() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("HEADLAMP_E2E_BUSYBOX").map(PathBuf::from) {
        return if is_static_elf(&path) {
            Ok(path)
        } else {
            Err(format!(
                "HEADLAMP_E2E_BUSYBOX={} is not a static ELF executable",
                path.display()
            ))
        };
    }
    for candidate in ["/bin/busybox", "/usr/bin/busybox"] {
        if is_static_elf(Path::new(candidate)) {
            return Ok(candidate.into());
        }
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("busybox-static");
    let cached = cache.join("root/bin/busybox");
    if is_static_elf(&cached) {
        return Ok(cached);
    }
    eprintln!("no static busybox on this system: fetching Debian's busybox-static package");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let download = std::process::Command::new("apt-get")
        .args(["download", "busybox-static"])
        .current_dir(&cache)
        .output()
        .map_err(|e| {
            format!(
                "apt-get is not available ({e}); install busybox-static or set HEADLAMP_E2E_BUSYBOX"
            )
        })?;
    if !download.status.success() {
        return Err(format!(
            "`apt-get download busybox-static` failed ({}): {}; run `apt-get update`, install busybox-static, \
             or set HEADLAMP_E2E_BUSYBOX",
            download.status,
            String::from_utf8_lossy(&download.stderr).trim()
        ));
    }
    let deb = std::fs::read_dir(&cache)
        .map_err(|e| format!("{}: {e}", cache.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download produced no .deb")?;
    let unpack = std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(cache.join("root"))
        .output()
        .map_err(|e| format!("dpkg-deb is not available: {e}"))?;
    if !unpack.status.success() || !is_static_elf(&cached) {
        return Err(format!(
            "unpacking {} gave no static bin/busybox: {}",
            deb.display(),
            String::from_utf8_lossy(&unpack.stderr).trim()
        ));
    }
    Ok(cached)
}

/// Build `headlamp-e2e-testbox:local` once per test process: `FROM scratch`, busybox with its applets as
/// symlinks in /bin, `/tmp`, and `STOPSIGNAL SIGKILL` so stopping it (watchdog) is immediate.
fn testbox_image() -> Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT.get_or_init(build_testbox).clone()
}

fn build_testbox() -> Result<(), String> {
    let started = Instant::now();
    let busybox = static_busybox()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bin = dir.path().join("rootfs/bin");
    let tmp = dir.path().join("rootfs/tmp");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    std::fs::copy(&busybox, bin.join("busybox")).map_err(|e| e.to_string())?;
    let list = std::process::Command::new(&busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("running {} --list: {e}", busybox.display()))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if !applet.is_empty() && applet != "busybox" && !applet.contains('/') {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).map_err(|e| e.to_string())?;
        }
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
            .map_err(|e| e.to_string())?;
    }
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nSTOPSIGNAL SIGKILL\n\
         LABEL org.opencontainers.image.title=headlamp-e2e-testbox\nCMD [\"sh\"]\n",
    )
    .map_err(|e| e.to_string())?;
    let tag = format!("{TESTBOX_NAME}:{TESTBOX_TAG}");
    let build = std::process::Command::new("docker")
        .args(["build", "-q", "-t", &tag])
        .arg(dir.path())
        .output()
        .map_err(|e| format!("the docker CLI is needed to build the test image: {e}"))?;
    if !build.status.success() {
        return Err(format!(
            "docker build failed ({}): {}",
            build.status,
            String::from_utf8_lossy(&build.stderr).trim()
        ));
    }
    eprintln!(
        "built {tag} from {} in {:?}",
        busybox.display(),
        started.elapsed()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

/// A testbox container request running `script` under `sh -c`, ready when stdout shows `ready_line`, with `ports`
/// published on random host ports.
fn testbox_with_ports(
    script: &str,
    ready_line: &str,
    ports: &[u16],
) -> ContainerRequest<GenericImage> {
    let image = ports.iter().fold(
        GenericImage::new(TESTBOX_NAME, TESTBOX_TAG)
            .with_wait_for(WaitFor::message_on_stdout(ready_line)),
        |image, port| image.with_exposed_port(port.tcp()),
    );
    image
        .with_cmd(["sh", "-c", script])
        .with_startup_timeout(Duration::from_secs(30))
}

fn testbox(script: &str, ready_line: &str) -> ContainerRequest<GenericImage> {
    testbox_with_ports(script, ready_line, &[])
}

/// A testbox that prints `ready` and then idles.
fn idle_testbox() -> ContainerRequest<GenericImage> {
    testbox("echo ready; exec sleep 600", "ready")
}

/// Leftovers of this run, waiting up to 5 s for removals in flight.
async fn assert_no_leftovers(run: &RunId) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let count = count_labelled_containers(Some(run))
            .await
            .expect("list containers");
        if count == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{count} container(s) with {RUN_LABEL}={run} left over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn inspect_labels(id: &str) -> Option<std::collections::HashMap<String, String>> {
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .ok()?;
    match docker.inspect_container(id, None).await {
        Ok(info) => Some(info.config.and_then(|c| c.labels).unwrap_or_default()),
        Err(_) => None,
    }
}

/// Run this test binary's helper test `name` (an ignored test) as a child process with `envs`.
fn child_test(name: &str, envs: &[(&str, &str)]) -> std::process::Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

// ---------------------------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn starts_waits_for_a_log_line_execs_and_copies_out() {
    require_docker!();
    let run = RunId::generate();
    let started = Instant::now();
    let c = start_container(
        testbox(
            "echo starting >&2; sleep 0.3; echo testbox-ready; exec sleep 600",
            "testbox-ready",
        ),
        &run,
    )
    .await
    .expect("testbox starts");
    // The ready line was waited for: it is in the logs already.
    let (stdout, stderr) = c.logs().await.expect("logs");
    assert!(String::from_utf8_lossy(&stdout).contains("testbox-ready"));
    assert!(String::from_utf8_lossy(&stderr).contains("starting"));
    assert!(started.elapsed() >= Duration::from_millis(300));

    let out = c
        .exec(["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"])
        .await
        .expect("exec");
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.stdout_lossy(), "to-stdout\n");
    assert_eq!(out.stderr_lossy(), "to-stderr\n");
    assert!(!out.success());

    let out = c
        .exec([
            "sh",
            "-c",
            "printf 'line one\\nline two\\n' > /tmp/report.txt",
        ])
        .await
        .expect("exec");
    assert!(out.success(), "{out:?}");
    let copied = c.copy_file_out("/tmp/report.txt").await.expect("copy out");
    assert_eq!(copied, b"line one\nline two\n");
    let missing = c
        .copy_file_out("/tmp/nope.txt")
        .await
        .expect_err("no such file");
    assert!(missing.to_string().contains(c.name()), "{missing}");

    drop(c);
    assert_no_leftovers(&run).await;
}

#[tokio::test]
async fn containers_are_labelled_named_and_removed_on_drop() {
    require_docker!();
    let run = RunId::generate();
    let c = start_container(idle_testbox(), &run)
        .await
        .expect("testbox starts");
    let labels = inspect_labels(c.id()).await.expect("inspect");
    assert_eq!(labels.get(LABEL).map(String::as_str), Some("true"));
    assert_eq!(
        labels.get(RUN_LABEL).map(String::as_str),
        Some(run.as_str())
    );
    assert!(
        c.name().starts_with(&format!("headlamp-e2e-{run}-")),
        "{}",
        c.name()
    );
    assert_eq!(c.image_ref(), "headlamp-e2e-testbox:local");
    assert_eq!(
        count_labelled_containers(Some(&run)).await.expect("count"),
        1
    );
    assert!(count_labelled_containers(None).await.expect("count all") >= 1);

    let id = c.id().to_owned();
    drop(c);
    // Drop is synchronous: the container is gone when it returns.
    assert!(
        inspect_labels(&id).await.is_none(),
        "container {id} still exists after drop"
    );
    assert_no_leftovers(&run).await;

    // Explicit removal reports instead of logging.
    let c = start_container(idle_testbox(), &run)
        .await
        .expect("testbox starts");
    c.remove().await.expect("remove");
    assert_no_leftovers(&run).await;
}

#[tokio::test]
async fn failed_start_leaves_nothing_behind() {
    require_docker!();
    let run = RunId::generate();
    let request = GenericImage::new(TESTBOX_NAME, TESTBOX_TAG)
        .with_wait_for(WaitFor::message_on_stdout("a line that never comes"))
        .with_cmd(["sleep", "600"])
        .with_startup_timeout(Duration::from_secs(1));
    let err = start_container(request, &run)
        .await
        .expect_err("never ready");
    let message = err.to_string();
    assert!(
        message.contains(&format!("headlamp-e2e-{run}-")),
        "{message}"
    );
    assert!(message.contains("headlamp-e2e-testbox:local"), "{message}");
    assert_no_leftovers(&run).await;
}

#[tokio::test]
async fn published_port_serves_http_to_the_host() {
    require_docker!();
    headlamp_e2e::install_crypto_provider();
    let run = RunId::generate();
    let request = testbox_with_ports(
        "mkdir -p /www && echo hello-over-http > /www/index.html && echo httpd-up && exec httpd -f -p 8080 -h /www",
        "httpd-up",
        &[8080],
    );
    let c = start_container(request, &run).await.expect("httpd starts");
    let port = c.host_port(8080.tcp()).await.expect("published port");
    let url = format!("http://127.0.0.1:{port}/index.html");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => break r.text().await.expect("body"),
            other if Instant::now() > deadline => panic!("GET {url}: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(body, "hello-over-http\n");
    drop(c);
    assert_no_leftovers(&run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_when_a_task_panics_while_holding_it() {
    require_docker!();
    let run = RunId::generate();
    let task_run = run.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let task = tokio::spawn(async move {
        let c = start_container(idle_testbox(), &task_run)
            .await
            .expect("testbox starts");
        let _ = tx.send(c.id().to_owned());
        panic!("deliberate panic while holding container {}", c.name());
    });
    let id = rx.await.expect("task started the container");
    let err = task.await.expect_err("task panicked");
    assert!(err.is_panic());
    assert!(
        inspect_labels(&id).await.is_none(),
        "container {id} survived the panic"
    );
    assert_no_leftovers(&run).await;
}

#[tokio::test]
async fn removed_when_a_thread_without_runtime_panics_while_holding_it() {
    require_docker!();
    let run = RunId::generate();
    let c: Container<GenericImage> = start_container(idle_testbox(), &run)
        .await
        .expect("testbox starts");
    let id = c.id().to_owned();
    let thread = std::thread::spawn(move || {
        let name = c.name().to_owned();
        let _held = c;
        panic!("deliberate panic in a plain thread holding container {name}");
    });
    let joined = tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("join");
    assert!(joined.is_err(), "thread panicked");
    assert!(
        inspect_labels(&id).await.is_none(),
        "container {id} survived the panic"
    );
    assert_no_leftovers(&run).await;
}

/// Child side of `removed_on_sigint`: start a labelled container, announce it, wait to be interrupted.
#[tokio::test]
#[ignore = "helper: run by removed_on_sigint as a child process"]
async fn sigint_child() {
    let Ok(run) = std::env::var(SIGINT_CHILD_ENV) else {
        return;
    };
    let run = RunId::new(run).expect("run id");
    let c = start_container(idle_testbox(), &run)
        .await
        .expect("testbox starts");
    println!("CHILD-READY {}", c.name());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::time::sleep(Duration::from_secs(120)).await;
    panic!("not interrupted within 120 s");
}

#[tokio::test]
async fn removed_on_sigint_by_the_watchdog() {
    require_docker!();
    let run = RunId::generate();
    let mut child = child_test("sigint_child", &[(SIGINT_CHILD_ENV, run.as_str())])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child test process");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("CHILD-READY ") {
                let _ = tx.send(line);
            }
        }
    });
    let ready = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
        .await
        .expect("join");
    if ready.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        // SIGKILL leaks by design: sweep what the child started.
        let _ = cluster::remove_labelled_containers(Some(&run)).await;
        panic!("child never reported its container");
    }
    assert_eq!(
        count_labelled_containers(Some(&run)).await.expect("count"),
        1
    );
    // Let the watchdog thread (spawned when the container was registered) install its signal handler.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    return None;
                }
            }
        }
    })
    .await
    .expect("join");
    let Some(status) = status else {
        let _ = cluster::remove_labelled_containers(Some(&run)).await;
        panic!("child did not exit within 30 s of SIGINT");
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(2),
        "child ends by SIGINT after cleanup: {status:?}"
    );
    eprintln!(
        "child removed its container and exited {:?} after SIGINT",
        started.elapsed()
    );
    assert_no_leftovers(&run).await;
}

#[tokio::test]
async fn git_server_is_reachable_from_a_container_on_the_bridge() {
    require_docker!();
    let gateway = bridge_gateway().await.expect("bridge gateway");
    let root = tempfile::tempdir().expect("tempdir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gitops");
    let repo = GitRepo::create_from_dir(&fixtures, &root.path().join("fixtures.git"))
        .await
        .expect("repo");
    let server = GitServer::start(root.path(), gateway.into())
        .await
        .expect("git server");
    let url = format!(
        "{}/info/refs?service=git-upload-pack",
        server.url("fixtures")
    );
    assert!(url.starts_with(&format!("http://{gateway}:")), "{url}");

    let run = RunId::generate();
    let c = start_container(idle_testbox(), &run)
        .await
        .expect("testbox starts");
    let out = c
        .exec(["wget", "-q", "-O-", &url])
        .await
        .expect("exec wget");
    assert!(
        out.success(),
        "wget {url} from the container failed: {out:?}"
    );
    let body = out.stdout_lossy();
    assert!(
        body.starts_with("001e# service=git-upload-pack\n"),
        "{body:?}"
    );
    assert!(
        body.contains(&repo.head_sha().await.expect("sha")),
        "{body:?}"
    );
    drop(c);
    drop(server);
    assert_no_leftovers(&run).await;
}

#[tokio::test]
async fn docker_reachable_answers_for_the_engine_here() {
    require_docker!();
    let started = Instant::now();
    docker_reachable(Duration::from_secs(10))
        .await
        .expect("reachable");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Child side of `docker_host_pointing_at_a_closed_port_fails_fast`.
#[tokio::test]
#[ignore = "helper: run by docker_host_pointing_at_a_closed_port_fails_fast as a child process"]
async fn docker_host_probe_child() {
    if std::env::var(PROBE_CHILD_ENV).is_err() {
        return;
    }
    let started = Instant::now();
    let err = docker_reachable(Duration::from_secs(10))
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(err.starts_with("DOCKER_HOST=tcp://127.0.0.1:1: "), "{err}");
    println!("PROBE-ERROR {err}");
}

/// `docker_reachable` reads `DOCKER_HOST` from the environment: set it in a child process, not in this one.
#[test]
fn docker_host_pointing_at_a_closed_port_fails_fast() {
    let started = Instant::now();
    let output = child_test(
        "docker_host_probe_child",
        &[(PROBE_CHILD_ENV, "1"), ("DOCKER_HOST", "tcp://127.0.0.1:1")],
    )
    .output()
    .expect("spawn child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("PROBE-ERROR DOCKER_HOST=tcp://127.0.0.1:1: "),
        "{stdout}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn static_elf_detection() {
    // The test binary itself is dynamically linked on glibc targets; a text file is not ELF.
    let exe = std::env::current_exe().expect("exe");
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert!(!is_static_elf(&exe), "{} looks static", exe.display());
    }
    assert!(!is_static_elf(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("Cargo.toml")
            .as_path()
    ));
    assert!(!is_static_elf(Path::new("/nonexistent")));
}
