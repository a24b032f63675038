//! The journal under the scenario runner with a scripted environment: the reports on disk after every assertion, and
//! after a signal mid-scenario.

use std::path::PathBuf;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};

use super::*;
use crate::finding::Finding;
use crate::scenario::runner::{Env, RunOptions, run_all_observed};
use crate::scenario::{Check, Commit, DoctorStep, Merge, Reconcile, UnstickStep, Wait};

/// An environment whose first wait fails, and whose second wait is where the signal arrives: it calls
/// [`Journal::interrupt`] as the signal watcher would, then reads the reports on disk.
struct Fake {
    journal: Journal,
    dir: PathBuf,
    waits: usize,
    /// junit.xml as it was on disk during the first wait (the run still going)
    seen_mid_run: Option<String>,
}

impl Env for Fake {
    async fn commit(&mut self, _c: &Commit) -> Result<String, String> {
        Ok("abc".into())
    }
    async fn merge(&mut self, _m: &Merge) -> Result<String, String> {
        Ok("def".into())
    }
    async fn reconcile(&mut self, _r: &Reconcile) -> Result<(), String> {
        Ok(())
    }
    async fn wait(&mut self, _w: &Wait) -> Result<String, String> {
        self.waits += 1;
        match self.waits {
            1 => {
                self.seen_mid_run = std::fs::read_to_string(self.dir.join("junit.xml")).ok();
                Err("HelmRelease headlamp/headlamp Ready: not within 900s: last seen Ready=False InstallFailed".into())
            }
            _ => {
                // CI's step timeout: SIGTERM while this wait runs
                self.journal.interrupt("SIGTERM");
                // what the step reports as the process goes down is not recorded any more
                Err("connection refused".into())
            }
        }
    }
    async fn doctor(&mut self, _d: &DoctorStep) -> Result<Vec<Finding>, String> {
        Ok(Vec::new())
    }
    async fn unstick(&mut self, _u: &UnstickStep) -> Result<Duration, String> {
        Ok(Duration::ZERO)
    }
    async fn check(&mut self, _c: Check) -> Vec<(String, Result<(), String>)> {
        vec![("a".into(), Ok(()))]
    }
    async fn collect_artifacts(&mut self, s: &str) -> Result<PathBuf, String> {
        Ok(self.dir.join(s))
    }
    async fn reset(&mut self, _s: &str) -> Result<(), String> {
        Ok(())
    }
}

fn scenario(name: &str, body: &str) -> Scenario {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(format!("{name}.yaml"));
    std::fs::write(
        &p,
        format!("name: {name}\ndescription: test\nsteps:\n{body}"),
    )
    .unwrap();
    crate::scenario::load_file(&p).unwrap()
}

const BODY: &str = "  - commit: {message: break, edits: [{file: a.yaml, remove: x}]}\n  - wait: {for: helmReleaseReady, within: 15m}\n  - check: no-restarts\n";

/// (name, kind, message) of every test case of `suite`.
fn cases(report: &Report, suite: &str) -> Vec<(String, &'static str, String)> {
    let s = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == suite)
        .unwrap_or_else(|| panic!("no suite {suite}"));
    s.test_cases
        .iter()
        .map(|c| {
            let (kind, msg) = match &c.status {
                TestCaseStatus::Success { .. } => ("pass", String::new()),
                TestCaseStatus::NonSuccess { kind, message, .. } => (
                    match kind {
                        NonSuccessKind::Failure => "fail",
                        NonSuccessKind::Error => "error",
                    },
                    message.as_deref().unwrap_or_default().to_string(),
                ),
                TestCaseStatus::Skipped { message, .. } => {
                    ("skip", message.as_deref().unwrap_or_default().to_string())
                }
            };
            (c.name.as_str().to_string(), kind, msg)
        })
        .collect()
}

#[tokio::test]
async fn a_sigterm_mid_scenario_leaves_junit_with_the_finished_the_failed_and_the_never_run() {
    let out = tempfile::tempdir().unwrap();
    let summary = out.path().join("step-summary.md");
    let scenarios = [
        scenario("s1", BODY),
        scenario("s2", BODY),
        scenario("s3", BODY),
    ];
    let journal = Journal::new(out.path(), "e2e t", &scenarios, Some(summary.clone()));
    let mut setup = RunReport::new("e2e t");
    setup.record_phase(
        None,
        PhaseTiming {
            name: "k3s v1.35.5-k3s1 start".into(),
            duration: Duration::from_secs(20),
            ok: true,
        },
    );
    journal.setup_done(&setup);
    let mut env = Fake {
        journal: journal.clone(),
        dir: out.path().to_path_buf(),
        waits: 0,
        seen_mid_run: None,
    };
    let mut observer = journal.clone();
    run_all_observed(&mut env, &scenarios, RunOptions::default(), &mut observer).await;
    assert_eq!(journal.interrupted().as_deref(), Some("SIGTERM"));

    // written while s1's wait ran: valid, the commit passed, the wait running, the rest not run yet
    let mid = Report::deserialize_from_str(env.seen_mid_run.as_deref().unwrap()).unwrap();
    let s1 = cases(&mid, "s1");
    assert_eq!(s1[0], ("01 commit break".into(), "pass", String::new()));
    assert_eq!(s1[1].0, "02 wait helmReleaseReady");
    assert_eq!(s1[1].1, "skip");
    assert!(s1[1].2.starts_with("running for "), "{s1:?}");
    assert_eq!(s1[2].0, "03 check no-restarts");
    assert!(s1[2].2.starts_with("not run yet"), "{s1:?}");
    assert_eq!(cases(&mid, "s3").len(), 3);

    // after the signal
    let text = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let report = Report::deserialize_from_str(&text).unwrap();
    let s1 = cases(&report, "s1");
    let kinds: Vec<(&str, &str)> = s1.iter().map(|(n, k, _)| (n.as_str(), *k)).collect();
    assert_eq!(
        kinds,
        [
            ("01 commit break", "pass"),
            ("02 wait helmReleaseReady", "fail"),
            ("03 check no-restarts", "skip"),
            ("artifacts", "pass"),
        ]
    );
    assert!(s1[1].2.contains("InstallFailed"), "{s1:?}");
    assert_eq!(s1[2].2, "an earlier step failed");
    let s2 = cases(&report, "s2");
    assert_eq!(s2[0], ("01 commit break".into(), "pass", String::new()));
    assert_eq!(s2[1].0, "02 wait helmReleaseReady");
    assert_eq!(s2[1].1, "fail");
    assert!(
        s2[1].2.starts_with("interrupted by SIGTERM after "),
        "{s2:?}"
    );
    let never = "never ran: the run was stopped by SIGTERM before it";
    assert_eq!(s2[2], ("03 check no-restarts".into(), "skip", never.into()));
    assert_eq!(s2.len(), 3, "nothing recorded after the signal: {s2:?}");
    let s3 = cases(&report, "s3");
    assert_eq!(s3.len(), 3);
    assert!(
        s3.iter().all(|(_, k, m)| *k == "skip" && m == never),
        "{s3:?}"
    );
    assert_eq!((report.tests, report.failures, report.skipped), (10, 2, 5));

    // the step summary once, even if the run then reaches its end; the table and summary.md beside junit.xml
    journal.finish();
    let md = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(md.matches("headlamp-e2e e2e").count(), 1, "{md}");
    assert!(md.contains("interrupted by SIGTERM"), "{md}");
    assert!(out.path().join(SUMMARY_APPENDED).is_file());
    let table = std::fs::read_to_string(out.path().join("results.txt")).unwrap();
    assert!(table.contains("SKIP") && table.contains("FAIL"), "{table}");
    assert!(out.path().join("summary.md").is_file());
    // no temporary file left behind
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_signal_during_setup_fails_setup_and_skips_every_step() {
    let out = tempfile::tempdir().unwrap();
    let scenarios = [scenario("s1", BODY)];
    let journal = Journal::new(out.path(), "e2e t", &scenarios, None);
    journal.interrupt("SIGINT");
    let text = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let report = Report::deserialize_from_str(&text).unwrap();
    assert_eq!(
        cases(&report, "setup"),
        [(
            "setup".to_string(),
            "fail",
            "interrupted by SIGINT during setup".to_string()
        )]
    );
    assert_eq!(cases(&report, "s1").len(), 3);
    assert!(!journal.report().is_success());
}

#[tokio::test]
async fn a_real_sigterm_writes_the_interrupted_report() {
    let out = tempfile::tempdir().unwrap();
    let scenarios = [scenario("s1", BODY)];
    let journal = Journal::new(out.path(), "e2e t", &scenarios, None);
    journal.setup_done(&RunReport::new("e2e t"));
    let watcher = watch_signals(journal.clone()).unwrap();
    // SAFETY: kill(2) on this process with a signal whose handler is installed above (tokio's): nothing else reacts
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(rc, 0);
    let (name, code) = tokio::time::timeout(Duration::from_secs(60), watcher)
        .await
        .expect("the watcher saw the signal");
    assert_eq!((name, code), ("SIGTERM", 143));
    let text = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let report = Report::deserialize_from_str(&text).unwrap();
    let s1 = cases(&report, "s1");
    assert!(
        s1.iter()
            .all(|(_, k, m)| *k == "skip"
                && m == "never ran: the run was stopped by SIGTERM before it"),
        "{s1:?}"
    );
}

#[test]
fn atomic_writes_replace_the_file_and_leave_it_private() {
    let out = tempfile::tempdir().unwrap();
    let p = out.path().join("junit.xml");
    write_atomic(&p, b"one").unwrap();
    write_atomic(&p, b"two").unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
}
