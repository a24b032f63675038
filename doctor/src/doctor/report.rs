//! [`run`]: every check in the debugging order, and the [`DoctorReport`] it makes (text and JSON).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::check::{Check, PodsCheck};
use super::options::DoctorOptions;
use super::{pods, release, source, values};
use crate::error::{Error, Result};
use crate::finding::{self, Finding, Summary};
use crate::view::{self, ClusterView, HELMRELEASE};

/// What `doctor` found.
#[derive(Debug, Clone)]
pub struct DoctorReport {
    /// `cluster:<context>` or the snapshot directory.
    pub target: String,
    pub context: String,
    pub namespace: String,
    pub captured_at: Timestamp,
    pub checks: Vec<Check>,
    pub helmreleases: usize,
    pub pods: usize,
    pub elapsed: Duration,
}

impl DoctorReport {
    /// All findings, in check order.
    pub fn findings(&self) -> Vec<Finding> {
        self.checks
            .iter()
            .flat_map(|c| c.findings.iter().cloned())
            .collect()
    }
    pub fn summary(&self) -> Summary {
        let mut s = Summary::of(&self.findings());
        s.counts
            .insert("helmreleases".into(), self.helmreleases as u64);
        s.counts.insert("pods".into(), self.pods as u64);
        s.counts
            .insert("duration_ms".into(), self.elapsed.as_millis() as u64);
        s
    }
    /// Sorted, de-duplicated rule ids of the findings.
    pub fn rule_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.findings().into_iter().map(|f| f.rule).collect();
        ids.sort();
        ids.dedup();
        ids
    }
    /// 0 when there is no error (and, with `strict`, no warning); else 1.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.findings().is_empty())
    }

    /// The JSON document: lint's `findings` and `summary`, plus `checks` and what was read.
    pub fn to_json(&self) -> Value {
        let mut v = finding::to_json(&self.findings(), &self.summary());
        if let Value::Object(m) = &mut v {
            m.insert("target".into(), json!(self.target));
            m.insert("context".into(), json!(self.context));
            m.insert("namespace".into(), json!(self.namespace));
            m.insert("capturedAt".into(), json!(self.captured_at.to_string()));
            m.insert(
                "checks".into(),
                Value::Array(
                    self.checks
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "title": c.title,
                                "rules": c.rules,
                                "status": check_status(c),
                                "findings": c.findings.len(),
                                "notes": c.notes,
                            })
                        })
                        .collect(),
                ),
            );
        }
        v
    }

    /// The text report: each check in order, its findings with their fixes, its notes.
    pub fn to_text(&self, color: bool) -> String {
        use crate::report::redact::for_terminal;
        use anstyle::{AnsiColor, Style};
        let paint = |style: Style, s: &str| -> String {
            if color {
                format!("{style}{s}{style:#}")
            } else {
                s.to_string()
            }
        };
        let bold = Style::new().bold();
        let green = AnsiColor::Green.on_default();
        let red = AnsiColor::Red.on_default().bold();
        let dim = Style::new().dimmed();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {} (context {}, namespace {}, state at {})\n",
            paint(bold, "doctor"),
            for_terminal(&self.target),
            for_terminal(&self.context),
            for_terminal(&self.namespace),
            self.captured_at
        );
        let n = self.checks.len();
        for (i, c) in self.checks.iter().enumerate() {
            let status = match check_status(c) {
                "ok" => paint(green, "ok"),
                "skipped" => paint(dim, "not checked"),
                _ => paint(
                    red,
                    &format!(
                        "{} finding{}",
                        c.findings.len(),
                        if c.findings.len() == 1 { "" } else { "s" }
                    ),
                ),
            };
            let rules = if c.rules.len() > 3 {
                "every lint rule".to_string()
            } else {
                c.rules.join(", ")
            };
            let _ = writeln!(
                out,
                "[{}/{n}] {} ({rules}): {status}",
                i + 1,
                paint(bold, c.title),
            );
            for note in &c.notes {
                let note = for_terminal(note);
                let _ = writeln!(out, "      {}", paint(dim, &format!("note: {note}")));
            }
            if !c.findings.is_empty() {
                for line in finding::to_text(&c.findings, color).lines() {
                    if line.is_empty() {
                        continue;
                    }
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        let s = Summary::of(&self.findings());
        let _ = writeln!(
            out,
            "\ndoctor {}: {} error{}, {} warning{} ({} HelmRelease{}, {} pod{}) in {:.2}s",
            self.target,
            s.errors,
            if s.errors == 1 { "" } else { "s" },
            s.warnings,
            if s.warnings == 1 { "" } else { "s" },
            self.helmreleases,
            if self.helmreleases == 1 { "" } else { "s" },
            self.pods,
            if self.pods == 1 { "" } else { "s" },
            self.elapsed.as_secs_f64()
        );
        out
    }
}

fn check_status(c: &Check) -> &'static str {
    if !c.findings.is_empty() {
        "findings"
    } else if !c.ran {
        "skipped"
    } else {
        "ok"
    }
}

/// Run every check, in the debugging order.
pub async fn run(view: &dyn ClusterView, opts: &DoctorOptions) -> Result<DoctorReport> {
    let started = Instant::now();
    // one instant for the whole run (a live view's captured_at is the clock)
    let now = view.captured_at();
    let ns = opts.namespace.as_str();
    let releases = view.list(&HELMRELEASE, Some(ns)).await?;
    if releases.is_empty() {
        return Err(Error::Other(format!(
            "no HelmRelease in namespace {ns} of {} (context {}): check -n and --context",
            view.target(),
            view.context()
        )));
    }
    let pod_list = view.list(&view::POD, Some(ns)).await?;

    let source = source::check(view, &releases, opts.gitops.as_deref()).await?;
    let release = release::check(view, &releases, opts.stuck_after, now).await?;
    let mut values = values::check(view, &releases, &opts.render).await?;
    let mut pods = pods::check(view, ns, &releases, &pod_list).await?;
    merge_log_evidence(&mut values, &mut pods);
    let mut checks = vec![source, release, values, pods.check];
    // whatever a check quotes (condition and event messages, log lines, errors) goes through the one redaction
    for c in &mut checks {
        c.findings = std::mem::take(&mut c.findings)
            .into_iter()
            .map(Finding::redacted)
            .collect();
        for n in &mut c.notes {
            *n = crate::report::redact::redact(n);
        }
    }

    Ok(DoctorReport {
        target: view.target(),
        context: view.context().to_string(),
        namespace: ns.to_string(),
        captured_at: now,
        checks,
        helmreleases: releases.len(),
        pods: pod_list.len(),
        elapsed: started.elapsed(),
    })
}

/// De-duplicate by (rule, object): a log finding the render also made is folded into the render's finding (the more
/// specific one); the others stay in the pods check. Findings within one source are all kept.
fn merge_log_evidence(values: &mut Check, pods: &mut PodsCheck) {
    let mut merged = 0;
    for e in pods.evidence.drain(..) {
        let same = values
            .findings
            .iter_mut()
            .find(|f| f.rule == e.finding.rule && f.object == e.finding.object);
        match same {
            Some(f) => {
                f.message
                    .push_str(&format!("\nSeen in the cluster: {}", e.evidence));
                merged += 1;
            }
            None => {
                let dup = pods
                    .check
                    .findings
                    .iter()
                    .any(|f| f.rule == e.finding.rule && f.object == e.finding.object);
                if !dup {
                    pods.check.findings.push(e.finding);
                }
            }
        }
    }
    if merged > 0 {
        pods.check.notes.push(format!(
            "{merged} finding{} from the logs confirm{} the values check above (merged into it)",
            if merged == 1 { "" } else { "s" },
            if merged == 1 { "s" } else { "" },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::check::{Evidence, error};
    use crate::duration::{age, parse_go_duration};

    /// doctor over the live API (a fake API server serving each snapshot) finds what it finds on the snapshot, and
    /// sends nothing but GET requests.
    #[tokio::test]
    async fn live_doctor_is_read_only_and_agrees_with_the_snapshot() {
        use crate::view::fake::FakeApi;
        use crate::view::{LiveView, SnapshotView};
        for name in [
            "healthy",
            "pinned-image-tag",
            "readonly-home",
            "readonly-home-tmp-only",
            "extra-volumes",
            "stuck-helmrelease",
            "crashloop",
        ] {
            let dir = crate::test_support::project_root()
                .join("fixtures/snapshots")
                .join(name);
            let snap = SnapshotView::open(&dir).unwrap();
            let offline = run(&snap, &DoctorOptions::default()).await.unwrap();
            let (client, server) = FakeApi::new(snap).start();
            let live = LiveView::new(client, "home");
            let report = run(&live, &DoctorOptions::default()).await.unwrap();
            let requests = server.finish().await;
            assert!(requests.len() > 3, "{requests:?}");
            // on a live view the stuck check measures against the clock: the fixtures' Progressing releases
            // (3 and 12 minutes at capture) are long stuck by now; every other finding is the same
            let without_stuck = |ids: Vec<String>| -> Vec<String> {
                ids.into_iter().filter(|i| i != release::RULE).collect()
            };
            assert_eq!(
                without_stuck(report.rule_ids()),
                without_stuck(offline.rule_ids()),
                "{name}"
            );
            if offline.rule_ids().iter().any(|i| i == release::RULE) {
                assert!(report.rule_ids().iter().any(|i| i == release::RULE));
            }
            assert!(
                report.findings().iter().all(|f| f.file == "cluster:home"),
                "{name}"
            );
            assert_eq!(report.target, "cluster:home");
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m0s"), Some(Duration::from_secs(600)));
        assert_eq!(parse_go_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("10x"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn age_is_measured_to_the_given_now() {
        let now: Timestamp = "2025-11-27T20:00:00Z".parse().unwrap();
        assert_eq!(
            age("2025-11-27T19:48:00Z", now),
            Some(Duration::from_secs(720))
        );
        assert_eq!(age("2025-11-27T20:01:00Z", now), Some(Duration::ZERO));
        assert_eq!(age("yesterday", now), None);
    }

    fn f(rule: &str, object: &str, msg: &str) -> Finding {
        error(rule).object(object).message(msg)
    }

    #[test]
    fn log_findings_fold_into_render_findings_with_the_same_rule_and_object() {
        let mut values = Check::new("values", "values", vec![]);
        values.findings.push(f(
            "rootfs-unwritable-path",
            "Deployment/headlamp/headlamp",
            "render says",
        ));
        let mut pods = PodsCheck {
            check: Check::new("pods", "pods", vec![]),
            evidence: vec![
                Evidence {
                    finding: f(
                        "rootfs-unwritable-path",
                        "Deployment/headlamp/headlamp",
                        "log",
                    ),
                    evidence: "pod x: `mkdir …`".into(),
                },
                Evidence {
                    finding: f("pod-crashloop", "Deployment/headlamp/headlamp", "a"),
                    evidence: String::new(),
                },
                Evidence {
                    finding: f("pod-crashloop", "Deployment/headlamp/headlamp", "b"),
                    evidence: String::new(),
                },
            ],
        };
        merge_log_evidence(&mut values, &mut pods);
        assert_eq!(values.findings.len(), 1);
        assert!(
            values.findings[0]
                .message
                .ends_with("Seen in the cluster: pod x: `mkdir …`")
        );
        assert_eq!(pods.check.findings.len(), 1, "{:?}", pods.check.findings);
        assert_eq!(pods.check.findings[0].message, "a");
        assert_eq!(pods.check.notes.len(), 1);
    }
}
