//! The one way this crate runs an external program (helm, kubectl, git): [`Cmd`] with a deadline, run by
//! [`Cmd::run`] (async) or [`Cmd::run_blocking`].
//!
//! - Every run has a deadline: [`default_timeout`] (120 s, or `$HEADLAMP_E2E_HELM_TIMEOUT` as a Go duration) unless
//!   the caller sets one. On expiry the whole process group is killed (the program and every child it started) and
//!   the error names the command and the deadline.
//! - The program runs in its own process group, so a terminal's Ctrl-C does not reach it directly: the CLI calls
//!   [`kill_all`] on Ctrl-C and before it exits, which kills every group still running.
//! - Input goes through stdin ([`Cmd::stdin`]), so no temporary file is left behind (`helm template --values -`).
//!
//! Everything is in [`Cmd`] and [`run_blocking`](Cmd::run_blocking), one function; helm's concurrency limit and its
//! render cache wrap it ([`crate::chart::Helm`]).

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The deadline of one external command when nothing else is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Environment variable overriding [`DEFAULT_TIMEOUT`] (Go duration syntax: `90s`, `5m`, `1m30s`).
pub const TIMEOUT_ENV: &str = "HEADLAMP_E2E_HELM_TIMEOUT";

/// The heap a short-lived Go tool may reach before its garbage collector runs ([`Cmd::short_lived_go`]): a render
/// of the Headlamp chart peaks at about 50 MiB of RSS either way.
pub const GO_MEMORY_LIMIT: &str = "128MiB";

/// Why an external command did not give an output.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{command}` did not finish within {} and was killed (with its child processes); raise ${TIMEOUT_ENV} (e.g. {TIMEOUT_ENV}=5m) if it is just slow",
        crate::duration::go_duration(*after)
    )]
    TimedOut { command: String, after: Duration },
    /// `$HEADLAMP_E2E_HELM_TIMEOUT` is not a duration.
    #[error("{0}")]
    BadTimeout(String),
    /// The program wrote more than [`Cmd::max_stdout`] bytes to stdout; it was killed there.
    #[error(
        "`{command}` wrote more than {} MiB to its output, the limit for it; it was stopped there",
        limit / (1024 * 1024)
    )]
    OutputTooLarge { command: String, limit: u64 },
    #[error("`{command}` was interrupted")]
    Cancelled { command: String },
    #[error("{command}: {source}")]
    Io {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// `Command::spawn`, again (up to 5 times, 20 ms apart) while exec fails with "Text file busy" (ETXTBSY): a
/// program written a moment ago (a tool just installed, a test's stand-in script) can still be held open for writing
/// by a child that another thread forked meanwhile and that has not reached its own exec yet. That is transient by
/// nature; Go's maintainers advise retrying (golang/go#22315), and Rust's std has the same race
/// (rust-lang/rust#114554).
fn spawn_retrying_busy(c: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match c.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 4 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The deadline of an external command: `$HEADLAMP_E2E_HELM_TIMEOUT` when set, else [`DEFAULT_TIMEOUT`]. A value
/// that is not a Go duration is an error naming the variable.
pub fn default_timeout() -> Result<Duration, String> {
    timeout_from(std::env::var(TIMEOUT_ENV).ok())
}

fn timeout_from(value: Option<String>) -> Result<Duration, String> {
    match value {
        Some(v) if !v.trim().is_empty() => crate::duration::parse_go_duration(&v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!("{TIMEOUT_ENV}={v:?} is not a positive Go duration (e.g. 90s, 5m, 1m30s)")
            }),
        _ => Ok(DEFAULT_TIMEOUT),
    }
}

/// An external command to run.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    max_stdout: Option<u64>,
}

/// What a finished command gave.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }
    /// stdout as text, trimmed.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }
    /// stderr as text, trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
    /// What the program said about its failure: stderr, else stdout, else its exit status.
    pub fn complaint(&self) -> String {
        let e = self.stderr_text();
        if !e.is_empty() {
            return e;
        }
        let o = self.stdout_text();
        if !o.is_empty() {
            return o;
        }
        format!("no output, {}", self.status)
    }
}

/// The environment [`Cmd::short_lived_go`] adds, given whether the user's environment sets `GOGC` / `GOMEMLIMIT`:
/// both or nothing (a user's `GOGC=50` alone must not be joined by our memory limit).
pub fn short_lived_go_env(
    user_gogc: bool,
    user_memlimit: bool,
) -> Vec<(&'static str, &'static str)> {
    if user_gogc || user_memlimit {
        Vec::new()
    } else {
        vec![("GOGC", "off"), ("GOMEMLIMIT", GO_MEMORY_LIMIT)]
    }
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            program: PathBuf::from(program.as_ref()),
            args: Vec::new(),
            envs: Vec::new(),
            env_clear: false,
            dir: None,
            stdin: None,
            timeout: None,
            max_stdout: None,
        }
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((k.as_ref().to_os_string(), Some(v.as_ref().to_os_string())));
        self
    }
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.envs.push((k.as_ref().to_os_string(), None));
        self
    }
    /// For a Go program that runs one short job and exits (`helm template`, `kubectl kustomize`): its garbage
    /// collector waits until the heap reaches [`GO_MEMORY_LIMIT`] (`GOGC=off GOMEMLIMIT=…`), unless the user's
    /// environment sets `GOGC` or `GOMEMLIMIT` (theirs is kept). The output is the same; a render spends no CPU on
    /// collecting a heap that is freed at exit anyway (measured: a `helm template` loop of the fixture 50 times, 2 at a
    /// time, 2.5 s → 2.1 s). Go's soft memory limit (golang/go proposal 48409, design/48409-soft-memory-limit.md:
    /// "by setting GOGC=off, the Go runtime will always grow the heap to the full memory limit") still collects
    /// when a big chart gets there, so a process grows to about the limit, never without bound.
    pub fn short_lived_go(mut self) -> Self {
        let user = |k: &str| std::env::var_os(k).is_some();
        for (k, v) in short_lived_go_env(user("GOGC"), user("GOMEMLIMIT")) {
            self = self.env(k, v);
        }
        self
    }
    /// Start from an empty environment.
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self
    }
    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Self {
        self.dir = Some(d.as_ref().to_path_buf());
        self
    }
    /// Bytes written to the program's stdin (it gets /dev/null otherwise).
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }
    /// This command's deadline (instead of [`default_timeout`]).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }
    /// Read at most `limit` bytes of the program's stdout: when it writes more, its process group is killed at once
    /// and the run is [`ProcessError::OutputTooLarge`] (memory stays bounded by the limit, whatever it prints).
    pub fn max_stdout(mut self, limit: u64) -> Self {
        self.max_stdout = Some(limit);
        self
    }
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `program arg…` for messages (arguments are not secrets here: values travel on stdin).
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// A `tokio::process::Command` set up like [`run_blocking`](Cmd::run_blocking) does it (own process group,
    /// environment, directory), for the one long-lived streaming child (git http-backend); the caller registers
    /// the child with [`Running::track`].
    pub fn tokio_command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::from(self.std_command());
        c.kill_on_drop(true);
        c
    }

    fn std_command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.args);
        if self.env_clear {
            c.env_clear();
        }
        for (k, v) in &self.envs {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = &self.dir {
            c.current_dir(d);
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
        }
        c
    }

    fn deadline(&self) -> Result<Duration, ProcessError> {
        match self.timeout {
            Some(d) => Ok(d),
            None => default_timeout().map_err(ProcessError::BadTimeout),
        }
    }

    /// Run to completion or to the deadline, on a blocking thread; dropping the future kills the command.
    pub async fn run(self) -> Result<Output, ProcessError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let guard = CancelOnDrop(cancel.clone());
        let command = self.display();
        let r = tokio::task::spawn_blocking(move || self.run_until(&cancel))
            .await
            .map_err(|e| ProcessError::Io {
                command,
                source: std::io::Error::other(e.to_string()),
            })?;
        drop(guard);
        r
    }

    /// Run to completion or to the deadline (then the process group is killed).
    pub fn run_blocking(self) -> Result<Output, ProcessError> {
        self.run_until(&AtomicBool::new(false))
    }

    fn run_until(self, cancel: &AtomicBool) -> Result<Output, ProcessError> {
        let timeout = self.deadline()?;
        let command = self.display();
        let io = |source| ProcessError::Io {
            command: command.clone(),
            source,
        };
        let mut c = self.std_command();
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = spawn_retrying_busy(&mut c).map_err(|source| ProcessError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        let running = Running::track(child.id());
        let writer = match (child.stdin.take(), self.stdin) {
            (Some(mut pipe), Some(bytes)) => Some(std::thread::spawn(move || {
                // a program that exits without reading its input is not an error here
                let _ = pipe.write_all(&bytes);
            })),
            _ => None,
        };
        let overflow = Arc::new(AtomicBool::new(false));
        let out = match self.max_stdout {
            Some(limit) => bounded_reader(child.stdout.take(), limit, child.id(), overflow.clone()),
            None => reader(child.stdout.take()),
        };
        let err = stderr_reader(child.stderr.take());
        // a thread waits for the exit, so the run ends the moment the program does (no polling delay); this one
        // wakes at least every 20 ms for the deadline and cancellation
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(child.wait());
        });
        let status = loop {
            let left = timeout.saturating_sub(started.elapsed());
            match done_rx.recv_timeout(left.min(Duration::from_millis(20))) {
                Ok(status) => break status.map_err(io)?,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io(std::io::Error::other("lost the wait for the process")));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if cancel.load(Ordering::Relaxed) {
                running.kill();
                let _ = done_rx.recv();
                return Err(ProcessError::Cancelled { command });
            }
            if started.elapsed() >= timeout {
                running.kill();
                let _ = done_rx.recv();
                return Err(ProcessError::TimedOut {
                    command,
                    after: timeout,
                });
            }
        };
        // children it left behind would keep the pipes open: the group goes with its leader
        drop(running);
        if let Some(w) = writer {
            let _ = w.join();
        }
        let rest = timeout.saturating_sub(started.elapsed()) + Duration::from_secs(1);
        let stdout = out.recv_timeout(rest).unwrap_or_default();
        let stderr = err.recv_timeout(rest).unwrap_or_default();
        if let (true, Some(limit)) = (overflow.load(Ordering::SeqCst), self.max_stdout) {
            return Err(ProcessError::OutputTooLarge { command, limit });
        }
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    } else {
        let _ = tx.send(Vec::new());
    }
    rx
}

/// The most of a program's stderr kept ([`Cmd`] reads the rest and drops it): what it says about a failure is at its
/// start, and never this long.
pub const MAX_STDERR_BYTES: u64 = 4 * 1024 * 1024;

/// [`reader`], keeping at most `limit` bytes: past them `overflow` is set and the process group led by `pid` is
/// killed (its stdout is not drained: the program dies with it), and what was read is dropped.
fn bounded_reader<R: Read + Send + 'static>(
    pipe: Option<R>,
    limit: u64,
    pid: u32,
    overflow: Arc<AtomicBool>,
) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut pipe = pipe.take(limit + 1);
            let _ = pipe.read_to_end(&mut buf);
            if buf.len() as u64 > limit {
                overflow.store(true, Ordering::SeqCst);
                kill_group(pid);
                buf = Vec::new();
            }
            let _ = tx.send(buf);
        });
    } else {
        let _ = tx.send(Vec::new());
    }
    rx
}

/// [`reader`] for stderr, which is only ever a complaint: its first [`MAX_STDERR_BYTES`] are kept, the rest is read
/// and dropped (the program is never blocked on a full pipe).
fn stderr_reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut pipe).take(MAX_STDERR_BYTES).read_to_end(&mut buf);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            let _ = tx.send(buf);
        });
    } else {
        let _ = tx.send(Vec::new());
    }
    rx
}

struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Process groups started by [`Cmd`] and not finished yet.
static RUNNING: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// A running process group, registered for [`kill_all`]; dropping it kills what is left of the group.
#[derive(Debug)]
pub struct Running(Option<u32>);

impl Running {
    /// Register the process group led by `pid` (a child started with its own group).
    pub fn track(pid: u32) -> Running {
        if let Ok(mut s) = RUNNING.lock() {
            s.insert(pid);
        }
        Running(Some(pid))
    }
    /// Kill the whole group now.
    pub fn kill(&self) {
        if let Some(pid) = self.0 {
            kill_group(pid);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            kill_group(pid);
            if let Ok(mut s) = RUNNING.lock() {
                s.remove(&pid);
            }
        }
    }
}

fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Kill every process group [`Cmd`] started that is still running (on Ctrl-C, and before the CLI exits).
pub fn kill_all() {
    let pids: Vec<u32> = RUNNING
        .lock()
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    for pid in pids {
        kill_group(pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, body: &str) -> PathBuf {
        crate::test_support::script(&dir.join("tool"), body)
    }

    #[test]
    fn a_program_held_open_for_writing_is_busy_after_the_retries() {
        // the file stays open for writing for the whole call: every exec is ETXTBSY, and the error says so
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("tool");
        let mut held = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut held, b"#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = spawn_retrying_busy(&mut Command::new(&path)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ExecutableFileBusy);
        drop(held);
        let status = spawn_retrying_busy(&mut Command::new(&path))
            .unwrap()
            .wait()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn timeout_setting_is_a_go_duration() {
        assert_eq!(timeout_from(None), Ok(DEFAULT_TIMEOUT));
        assert_eq!(timeout_from(Some(String::new())), Ok(DEFAULT_TIMEOUT));
        assert_eq!(
            timeout_from(Some("1m30s".into())),
            Ok(Duration::from_secs(90))
        );
        let e = timeout_from(Some("90".into())).unwrap_err();
        assert!(e.contains(TIMEOUT_ENV) && e.contains("Go duration"), "{e}");
        assert!(timeout_from(Some("0s".into())).is_err());
    }

    #[test]
    fn a_short_lived_go_tool_collects_at_the_limit_unless_the_user_tuned_its_gc() {
        assert_eq!(
            short_lived_go_env(false, false),
            [("GOGC", "off"), ("GOMEMLIMIT", "128MiB")]
        );
        assert!(short_lived_go_env(true, false).is_empty());
        assert!(short_lived_go_env(false, true).is_empty());
        // and the program gets them (this test's own environment sets neither, or keeps its own)
        let d = tempfile::tempdir().unwrap();
        let p = script(d.path(), "echo \"$GOGC $GOMEMLIMIT\"");
        let o = Cmd::new(&p).short_lived_go().run_blocking().unwrap();
        let user = (std::env::var("GOGC").ok(), std::env::var("GOMEMLIMIT").ok());
        let expected = match user {
            (None, None) => "off 128MiB".to_string(),
            (g, m) => format!("{} {}", g.unwrap_or_default(), m.unwrap_or_default()),
        };
        assert_eq!(o.stdout_text(), expected);
    }

    #[test]
    fn output_status_and_stdin() {
        let d = tempfile::tempdir().unwrap();
        let p = script(d.path(), "cat; echo oops >&2; exit 3");
        let o = Cmd::new(&p)
            .stdin(b"hello".to_vec())
            .timeout(Duration::from_secs(30))
            .run_blocking()
            .unwrap();
        assert_eq!(o.stdout, b"hello");
        assert_eq!(o.stderr_text(), "oops");
        assert_eq!(o.status.code(), Some(3));
        assert_eq!(o.complaint(), "oops");
    }

    #[test]
    fn a_hanging_command_and_its_children_are_killed_at_the_deadline() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("child.pid");
        // a child that would outlive its parent, holding stdout open
        let p = script(
            d.path(),
            &format!("sleep 300 & echo $! > {}; wait", pidfile.display()),
        );
        let e = Cmd::new(&p)
            .arg("x")
            .timeout(Duration::from_millis(300))
            .run_blocking()
            .unwrap_err();
        assert!(matches!(e, ProcessError::TimedOut { .. }), "{e}");
        assert!(e.to_string().contains("did not finish within 300ms"), "{e}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // the grandchild is gone (kill 0 probes; a zombie reaped by init may linger briefly)
        let mut gone = false;
        for _ in 0..200 {
            // SAFETY: signal 0 only checks that the process exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                gone = true;
                break;
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.split_whitespace().nth(2) == Some("Z") {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone, "grandchild {pid} still runs");
    }

    #[test]
    fn output_past_the_cap_kills_the_program_and_names_the_limit() {
        let d = tempfile::tempdir().unwrap();
        // a program that never stops printing, and one that prints exactly the cap
        let endless = script(d.path(), "while :; do echo xxxxxxxxxxxxxxxxxxxxxxxx; done");
        let e = Cmd::new(&endless)
            .max_stdout(1024 * 1024)
            .timeout(Duration::from_secs(60))
            .run_blocking()
            .unwrap_err();
        assert!(
            matches!(e, ProcessError::OutputTooLarge { limit, .. } if limit == 1024 * 1024),
            "{e}"
        );
        assert!(e.to_string().contains("more than 1 MiB"), "{e}");
        let exact =
            crate::test_support::script(&d.path().join("exact"), "head -c 1048576 /dev/zero");
        let o = Cmd::new(&exact)
            .max_stdout(1024 * 1024)
            .timeout(Duration::from_secs(60))
            .run_blocking()
            .unwrap();
        assert_eq!(o.stdout.len(), 1024 * 1024);
    }

    #[tokio::test]
    async fn async_run_and_missing_program() {
        let o = Cmd::new("sh")
            .args(["-c", "printf ok"])
            .timeout(Duration::from_secs(30))
            .run()
            .await
            .unwrap();
        assert_eq!(o.stdout_text(), "ok");
        let e = Cmd::new("/nonexistent/helm")
            .timeout(Duration::from_secs(30))
            .run()
            .await
            .unwrap_err();
        assert!(
            e.to_string().starts_with("cannot run /nonexistent/helm"),
            "{e}"
        );
    }
}
