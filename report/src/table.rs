//! The result table for the terminal ([`RunReport::to_table`]) and the durations every rendering prints
//! ([`format_duration`]).

use std::fmt::Write as _;
use std::time::Duration;

use crate::outcome::{Outcome, RunReport};
use headlamp_e2e_model::redact::redact;

impl RunReport {
    /// The result table for the terminal: aligned columns scenario, assertion, result, time; then each failure's
    /// message and the totals. `color` adds ANSI styles (only when stdout is a terminal).
    pub fn to_table(&self, color: bool) -> String {
        render_table(self, color, true)
    }

    /// [`Self::to_table`] without its last line (the ok/FAILED totals), for a command that states its own verdict.
    pub fn to_table_without_totals(&self, color: bool) -> String {
        render_table(self, color, false)
    }
}

/// `0.4s`, `12.3s`, `2m03.4s`, `1h02m03s`.
pub fn format_duration(d: Duration) -> String {
    let tenths = d.as_millis().div_ceil(100);
    let secs = tenths / 10;
    if secs < 60 {
        format!("{}.{}s", secs, tenths % 10)
    } else if secs < 3600 {
        format!("{}m{:02}.{}s", secs / 60, secs % 60, tenths % 10)
    } else {
        format!("{}h{:02}m{:02}s", secs / 3600, (secs / 60) % 60, secs % 60)
    }
}

fn render_table(report: &RunReport, color: bool, totals: bool) -> String {
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, s: &str| -> String {
        if color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    };
    let bold = Style::new().bold();
    let green = AnsiColor::Green.on_default().bold();
    let red = AnsiColor::Red.on_default().bold();
    let yellow = AnsiColor::Yellow.on_default().bold();

    let header = ["SCENARIO", "ASSERTION", "RESULT", "TIME"];
    let rows: Vec<[String; 4]> = report
        .assertions()
        .map(|a| {
            [
                a.scenario.clone(),
                a.name.clone(),
                a.outcome.label().to_string(),
                format_duration(a.duration),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Pad the plain text first, then paint: ANSI codes must not count as width.
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let rpad =
        |s: &str, w: usize| format!("{}{s}", " ".repeat(w.saturating_sub(s.chars().count())));

    let mut out = String::new();
    let head = format!(
        "{}  {}  {}  {}",
        pad(header[0], widths[0]),
        pad(header[1], widths[1]),
        pad(header[2], widths[2]),
        rpad(header[3], widths[3])
    );
    let _ = writeln!(out, "{}", paint(bold, &head));
    for (row, a) in rows.iter().zip(report.assertions()) {
        let style = match a.outcome {
            Outcome::Passed => green,
            Outcome::Failed { .. } => red,
            Outcome::Skipped { .. } => yellow,
        };
        let _ = writeln!(
            out,
            "{}  {}  {}  {}",
            pad(&row[0], widths[0]),
            pad(&row[1], widths[1]),
            paint(style, &pad(&row[2], widths[2])),
            rpad(&row[3], widths[3])
        );
    }

    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{}", paint(bold, "Failures:"));
        for a in failures {
            if let Outcome::Failed { message } = &a.outcome {
                let _ = writeln!(out, "  {} {}/{}", paint(red, "FAIL"), a.scenario, a.name);
                for line in redact(message).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    let skipped: Vec<_> = report
        .assertions()
        .filter_map(|a| match &a.outcome {
            Outcome::Skipped { reason } => Some((a, reason)),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "\n{}", paint(bold, "Skipped:"));
        for (a, reason) in skipped {
            let _ = writeln!(out, "  {}/{}: {}", a.scenario, a.name, redact(reason));
        }
    }
    if !totals {
        return out;
    }
    let c = report.counts();
    let verdict = if report.is_success() {
        paint(green, "ok")
    } else {
        paint(red, "FAILED")
    };
    let _ = writeln!(
        out,
        "\n{verdict}: {c} in {}",
        format_duration(report.duration())
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::tests::sample;

    #[test]
    fn durations_format_compactly() {
        assert_eq!(format_duration(Duration::ZERO), "0.0s");
        assert_eq!(format_duration(Duration::from_millis(40)), "0.1s");
        assert_eq!(format_duration(Duration::from_millis(12_300)), "12.3s");
        assert_eq!(format_duration(Duration::from_millis(123_400)), "2m03.4s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h02m03s");
    }

    #[test]
    fn table_columns_are_aligned() {
        let t = sample().to_table(false);
        assert!(!t.contains('\u{1b}'));
        let lines: Vec<&str> = t.lines().take(4).collect();
        assert_eq!(
            lines[0].trim_end(),
            "SCENARIO        ASSERTION                   RESULT  TIME"
        );
        assert_eq!(
            lines[1],
            "baseline        headlamp-ready              PASS    1.2s"
        );
        assert_eq!(
            lines[2],
            "baseline        rbac-headlamp-list-secrets  FAIL    0.1s"
        );
        assert_eq!(
            lines[3],
            "token-rotation  old-token-rejected          SKIP    0.0s"
        );
        // every column starts at the same offset on every row
        for col in ["ASSERTION", "RESULT", "TIME"] {
            let at = lines[0].find(col).unwrap();
            for l in &lines[1..] {
                assert_eq!(&l[at - 2..at], "  ", "{l}");
            }
        }
        assert!(t.contains("Failures:\n  FAIL baseline/rbac-headlamp-list-secrets\n    list-secrets via headlamp: expected 403 Forbidden, got 200 OK\n"));
        assert!(t.contains("Skipped:\n  token-rotation/old-token-rejected: no second token"));
        assert!(
            t.trim_end()
                .ends_with("FAILED: 1 passed, 1 failed, 1 skipped in 20.3s")
        );
    }

    #[test]
    fn table_redacts_and_colors_only_when_asked() {
        let plain = sample().to_table(false);
        assert!(!plain.contains("s3cr3t-token"), "{plain}");
        assert!(plain.contains("Authorization: Bearer <redacted>"));
        let colored = sample().to_table(true);
        assert!(colored.contains('\u{1b}'));
        assert!(!colored.contains("s3cr3t-token"));
        // colour codes wrap padded cells, so stripping them gives the plain table
        let stripped = strip_ansi(&colored);
        assert_eq!(stripped, plain);
    }

    fn strip_ansi(s: &str) -> String {
        let re = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();
        re.replace_all(s, "").into_owned()
    }
}
