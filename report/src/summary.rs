//! The GitHub Actions step summary: a markdown table of assertions and the failures, appended to the file named by
//! `$GITHUB_STEP_SUMMARY` (other steps write there too, so it is never truncated).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::redact::redact;
use crate::outcome::{Outcome, PhaseTiming, RunReport};
use crate::table::format_duration;
use crate::{Error, Result};

/// The environment variable GitHub Actions sets to the step summary file.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";

/// The step summary file, when running in GitHub Actions (`$GITHUB_STEP_SUMMARY` set and not empty).
pub fn step_summary_path() -> Option<PathBuf> {
    std::env::var_os(GITHUB_STEP_SUMMARY)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// A fenced code block whose fence is longer than any backtick run inside `text`.
fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}\n", text.trim_end())
}

/// The markdown of a run: heading with the verdict, phase timings, the assertion table, then each failure's message
/// in a code block. Redacted.
pub fn step_summary_markdown(report: &RunReport) -> String {
    let c = report.counts();
    let (icon, word) = if report.is_success() {
        ("✅", "passed")
    } else {
        ("❌", "failed")
    };
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## {icon} headlamp-e2e {}: {word}\n",
        cell(&report.name)
    );
    let _ = writeln!(md, "**{c}** in {}\n", format_duration(report.duration()));

    let phases: Vec<_> = report
        .phases
        .iter()
        .map(|p| (None, p))
        .chain(
            report
                .scenarios
                .iter()
                .flat_map(|s| s.phases.iter().map(move |p| (Some(s.name.as_str()), p))),
        )
        .collect();
    if !phases.is_empty() {
        md.push_str("| Phase | Time | |\n| --- | ---: | --- |\n");
        for (scenario, p) in phases {
            let name = match scenario {
                Some(s) => format!("{s}: {}", p.name),
                None => p.name.clone(),
            };
            let ok = if p.ok { "✅" } else { "❌" };
            let _ = writeln!(
                md,
                "| {} | {} | {ok} |",
                cell(&name),
                format_duration(p.duration)
            );
        }
        md.push('\n');
        md.push_str(&gantt(report));
    }

    if report.assertions().next().is_some() {
        md.push_str("| Scenario | Assertion | Result | Time |\n| --- | --- | --- | ---: |\n");
        for a in report.assertions() {
            let result = match &a.outcome {
                Outcome::Passed => "✅ pass".to_string(),
                Outcome::Failed { .. } => "❌ **fail**".to_string(),
                Outcome::Skipped { reason } => format!("⏭️ skip: {}", cell(&redact(reason))),
            };
            let _ = writeln!(
                md,
                "| {} | `{}` | {result} | {} |",
                cell(&a.scenario),
                cell(&a.name).replace('`', "'"),
                format_duration(a.duration)
            );
        }
        md.push('\n');
    }

    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        md.push_str("### Failures\n\n");
        for a in failures {
            if let Outcome::Failed { message } = &a.outcome {
                let _ = writeln!(md, "#### {} / {}\n", cell(&a.scenario), cell(&a.name));
                md.push_str(&fenced(&redact(message)));
                md.push('\n');
            }
        }
    }
    md
}

/// A name inside a Mermaid gantt (a section or a task): one line, without what ends a task name (`:`), starts a
/// comment (`%%`, `#`) or ends the code fence (a backtick); at most 60 characters.
fn gantt_name(text: &str) -> String {
    let t: String = redact(text)
        .chars()
        .map(|c| match c {
            ':' | ';' | '#' | '%' | '`' | '<' | '>' | '&' | '"' | '\\' | '{' | '}' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let t: String = t.chars().take(60).collect();
    if t.is_empty() { "-".into() } else { t }
}

/// A Mermaid `gantt` of the run (GitHub renders Mermaid in step summaries): the setup phases, then each scenario's
/// phases, each bar as long as its phase. Phases run one after another, so each starts where the one before ended
/// (`dateFormat x`: milliseconds from the run's start, then the phase's duration in `ms`, as Mermaid's gantt reads
/// a task's `<start>, <duration>`); a failed phase is `crit` (red). Empty without phases.
pub fn gantt(report: &RunReport) -> String {
    let sections: Vec<(&str, &[PhaseTiming])> = std::iter::once(("setup", &report.phases[..]))
        .chain(
            report
                .scenarios
                .iter()
                .map(|s| (s.name.as_str(), &s.phases[..])),
        )
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if sections.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "```mermaid\ngantt\n    title Phases\n    dateFormat x\n    axisFormat %H:%M:%S\n",
    );
    let mut at: u128 = 0;
    for (section, phases) in sections {
        let _ = writeln!(md, "    section {}", gantt_name(section));
        for p in phases {
            let ms = p.duration.as_millis().max(1);
            let tag = if p.ok { "" } else { "crit, " };
            let _ = writeln!(
                md,
                "    {} {} :{tag}{at}, {ms}ms",
                gantt_name(&p.name),
                format_duration(p.duration)
            );
            at += ms;
        }
    }
    md.push_str("```\n\n");
    md
}

/// Append the step summary of `report` to `path` (created if missing, never truncated).
pub fn append_step_summary(path: &Path, report: &RunReport) -> Result<()> {
    let md = step_summary_markdown(report);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(md.as_bytes())
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::tests::sample;
    use crate::outcome::{Assertion, RunReport};
    use std::time::Duration;

    #[test]
    fn markdown_has_table_and_failures() {
        let md = step_summary_markdown(&sample());
        assert!(md.starts_with("## ❌ headlamp-e2e e2e: failed\n"), "{md}");
        assert!(md.contains("**1 passed, 1 failed, 1 skipped** in 20.3s"));
        assert!(md.contains("| k3s start | 20.3s | ✅ |"));
        assert!(md.contains("| Scenario | Assertion | Result | Time |"));
        assert!(md.contains("| baseline | `headlamp-ready` | ✅ pass | 1.2s |"));
        assert!(md.contains("| baseline | `rbac-headlamp-list-secrets` | ❌ **fail** | 0.1s |"));
        assert!(md.contains(
            "| token-rotation | `old-token-rejected` | ⏭️ skip: no second token | 0.0s |"
        ));
        assert!(md.contains(
            "### Failures\n\n#### baseline / rbac-headlamp-list-secrets\n\n```text\nlist-secrets via headlamp: expected 403 Forbidden, got 200 OK\n"
        ));
        assert!(!md.contains("s3cr3t-token"));
        assert!(md.contains("Bearer <redacted>"));
    }

    #[test]
    fn the_gantt_has_setup_then_each_scenario_one_after_another() {
        let phase = |name: &str, secs: u64, ok: bool| PhaseTiming {
            name: name.into(),
            duration: Duration::from_secs(secs),
            ok,
        };
        let mut r = RunReport::new("e2e");
        r.record_phase(None, phase("k3s start", 20, true));
        r.record_phase(None, phase("flux: install", 30, true));
        r.record_phase(Some("baseline"), phase("apply", 5, true));
        r.record_phase(Some("readonly-home"), phase("wait `ready` %% x", 7, false));
        let md = step_summary_markdown(&r);
        let g = gantt(&r);
        assert!(md.contains(&g));
        assert_eq!(
            g,
            "```mermaid\ngantt\n    title Phases\n    dateFormat x\n    axisFormat %H:%M:%S\n\
             \x20   section setup\n\
             \x20   k3s start 20.0s :0, 20000ms\n\
             \x20   flux install 30.0s :20000, 30000ms\n\
             \x20   section baseline\n\
             \x20   apply 5.0s :50000, 5000ms\n\
             \x20   section readonly-home\n\
             \x20   wait ready x 7.0s :crit, 55000, 7000ms\n\
             ```\n\n"
        );
        assert_eq!(gantt(&RunReport::new("empty")), "");
    }

    #[test]
    fn cells_and_fences_escape_markdown() {
        assert_eq!(cell("a|b\nc"), "a\\|b<br>c");
        let f = fenced("has ``` inside");
        assert!(f.starts_with("````text\n"), "{f}");
        assert!(f.ends_with("\n````\n"));
    }

    #[test]
    fn passing_run_says_passed() {
        let mut r = RunReport::new("nightly");
        r.push(Assertion::passed("baseline", "a", Duration::from_secs(1)));
        let md = step_summary_markdown(&r);
        assert!(md.starts_with("## ✅ headlamp-e2e nightly: passed"));
        assert!(!md.contains("### Failures"));
    }

    #[test]
    fn append_appends_and_does_not_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("step_summary.md");
        std::fs::write(&path, "# earlier step\n\n").unwrap();
        append_step_summary(&path, &sample()).unwrap();
        append_step_summary(&path, &sample()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# earlier step\n\n## ❌"));
        assert_eq!(text.matches("## ❌ headlamp-e2e").count(), 2);
        // a missing file is created
        let fresh = dir.path().join("new.md");
        append_step_summary(&fresh, &sample()).unwrap();
        assert!(fresh.exists());
    }

    #[test]
    fn append_reports_the_path_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir/summary.md");
        let err = append_step_summary(&path, &sample()).unwrap_err();
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }
}
