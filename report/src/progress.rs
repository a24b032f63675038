//! Live progress of a run: `[flux install] started` … `[flux install] done in 12.3s`, through `tracing` and,
//! optionally, straight to stderr (or any writer). Each finished phase's timing is kept for the report.
//!
//! ```
//! # use headlamp_e2e_report::Progress;
//! let progress = Progress::new();
//! {
//!     let _p = progress.phase("flux install");
//!     // … work; the phase is logged as done when `_p` drops (as failed if the thread panics)
//! }
//! // an early return through `?` needs the result to be seen:
//! let r: Result<u32, String> = progress.phase("k3s start").finish(Ok(1));
//! assert_eq!(progress.timings().len(), 2);
//! # let _ = r;
//! ```

use std::fmt::Display;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::redact::redact;
use crate::outcome::PhaseTiming;
use crate::table::format_duration;

struct Inner {
    echo: Option<Box<dyn Write + Send>>,
    timings: Vec<PhaseTiming>,
}

/// Phase logger and timing collector. Cheap to clone; clones share the timings.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Mutex<Inner>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("timings", &self.lock().timings)
            .finish_non_exhaustive()
    }
}

impl Progress {
    /// Log through `tracing` only.
    pub fn new() -> Self {
        Progress {
            inner: Arc::new(Mutex::new(Inner {
                echo: None,
                timings: Vec::new(),
            })),
        }
    }

    /// Log through `tracing` and also write each line to stderr (for runs without a tracing subscriber).
    pub fn with_stderr() -> Self {
        Progress::with_writer(std::io::stderr())
    }

    /// Log through `tracing` and also write each line to `writer`.
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        let p = Progress::new();
        p.lock().echo = Some(Box::new(writer));
        p
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while logging must not hide the timings of the phases before it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn echo(&self, line: &str) {
        if let Some(w) = self.lock().echo.as_mut() {
            let _ = writeln!(w, "{line}");
            let _ = w.flush();
        }
    }

    /// Start a phase; it ends when the guard is finished or dropped.
    pub fn phase(&self, name: impl Into<String>) -> PhaseGuard {
        let name = name.into();
        tracing::info!(phase = %name, "[{name}] started");
        self.echo(&format!("[{name}] started"));
        PhaseGuard {
            progress: self.clone(),
            name,
            start: Instant::now(),
            finished: false,
        }
    }

    /// Run `work` as the phase `name`, logging done or failed (with the error) from its result.
    pub async fn run<T, E: Display>(
        &self,
        name: impl Into<String>,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let guard = self.phase(name);
        guard.finish(work.await)
    }

    /// The phases finished so far, in the order they finished.
    pub fn timings(&self) -> Vec<PhaseTiming> {
        self.lock().timings.clone()
    }

    fn end(&self, name: &str, elapsed: Duration, error: Option<String>) {
        let took = format_duration(elapsed);
        let ok = error.is_none();
        match error {
            None => {
                tracing::info!(phase = %name, seconds = elapsed.as_secs_f64(), "[{name}] done in {took}");
                self.echo(&format!("[{name}] done in {took}"));
            }
            Some(e) => {
                let e = redact(&e);
                tracing::error!(phase = %name, seconds = elapsed.as_secs_f64(), "[{name}] failed after {took}: {e}");
                self.echo(&format!("[{name}] failed after {took}: {e}"));
            }
        }
        self.lock().timings.push(PhaseTiming {
            name: name.to_string(),
            duration: elapsed,
            ok,
        });
    }
}

/// A running phase. Dropping it logs `done` (or `failed` while the thread panics); [`PhaseGuard::finish`] and
/// [`PhaseGuard::fail`] log the outcome of a `Result` explicitly.
#[must_use = "a phase ends when its guard drops: bind it (`let _p = …`), not `let _ = …`"]
pub struct PhaseGuard {
    progress: Progress,
    name: String,
    start: Instant,
    finished: bool,
}

impl std::fmt::Debug for PhaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhaseGuard")
            .field("name", &self.name)
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl PhaseGuard {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    /// End the phase as done.
    pub fn done(mut self) {
        self.finished = true;
        self.progress.end(&self.name, self.elapsed(), None);
    }
    /// End the phase as failed with `error` (redacted in the log).
    pub fn fail(mut self, error: &dyn Display) {
        self.finished = true;
        self.progress
            .end(&self.name, self.elapsed(), Some(error.to_string()));
    }
    /// End the phase from `result` and hand it back: `progress.phase("x").finish(step().await)?`.
    pub fn finish<T, E: Display>(self, result: Result<T, E>) -> Result<T, E> {
        match &result {
            Ok(_) => self.done(),
            Err(e) => self.fail(e),
        }
        result
    }
}

impl Drop for PhaseGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let error = std::thread::panicking().then(|| "panicked".to_string());
        self.progress.end(&self.name, self.elapsed(), error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn is_done_line(line: &str, phase: &str) -> bool {
        let re = regex::Regex::new(&format!(r"^\[{}\] done in \d+\.\ds$", regex::escape(phase)))
            .unwrap();
        re.is_match(line)
    }

    #[test]
    fn drop_logs_started_and_done_with_elapsed() {
        let buf = Buf::default();
        let progress = Progress::with_writer(buf.clone());
        {
            let _p = progress.phase("flux install");
        }
        let text = buf.text();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "[flux install] started");
        assert!(is_done_line(lines[1], "flux install"), "{text}");
        let t = progress.timings();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "flux install");
        assert!(t[0].ok);
    }

    #[test]
    fn finish_logs_failures_with_the_redacted_error() {
        let buf = Buf::default();
        let progress = Progress::with_writer(buf.clone());
        let r: Result<(), String> = progress
            .phase("headlamp ready")
            .finish(Err("401 for Authorization: Bearer abcdef".to_string()));
        assert!(r.is_err());
        let ok: Result<u8, String> = progress.phase("second").finish(Ok(7));
        assert_eq!(ok, Ok(7));
        let text = buf.text();
        let failed = regex::Regex::new(
            r"\[headlamp ready\] failed after \d+\.\ds: 401 for Authorization: Bearer <redacted>\n",
        )
        .unwrap();
        assert!(failed.is_match(&text), "{text}");
        assert!(!text.contains("abcdef"));
        let t = progress.timings();
        assert_eq!(t.iter().map(|p| p.ok).collect::<Vec<_>>(), [false, true]);
    }

    #[test]
    fn panic_inside_a_phase_is_logged_as_failed() {
        let buf = Buf::default();
        let progress = Progress::with_writer(buf.clone());
        let p2 = progress.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _p = p2.phase("boom");
            panic!("test panic");
        }));
        assert!(r.is_err());
        assert!(buf.text().contains("[boom] failed after"), "{}", buf.text());
        assert!(!progress.timings()[0].ok);
    }

    #[tokio::test]
    async fn run_wraps_a_future() {
        let progress = Progress::new();
        let v = progress
            .run("sleep", async {
                tokio::time::sleep(Duration::from_millis(120)).await;
                Ok::<_, String>(3)
            })
            .await;
        assert_eq!(v, Ok(3));
        let t = progress.timings();
        assert!(t[0].duration >= Duration::from_millis(100));
        let e = progress.run("bad", async { Err::<(), _>("nope") }).await;
        assert_eq!(e, Err("nope"));
        assert!(!progress.timings()[1].ok);
    }
}
