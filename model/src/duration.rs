//! Durations as Go and Flux write them (`1m0s`, `10m0s`, `300ms`) and as people say them (`12m`, `2d3h`).

use std::time::Duration;

use jiff::Timestamp;

/// A duration as Go's `time.Duration.String()` prints it (`1m0s`, `10m0s`, `1h0m0s`, `30s`, `1.5s`, `0s`): the form
/// Flux writes back and the form in helm-controller's messages.
pub fn go_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d < Duration::from_secs(1) {
        let ns = d.as_nanos();
        return if ns < 1_000 {
            format!("{ns}ns")
        } else if ns < 1_000_000 {
            format!("{}µs", trim_fraction(ns, 1_000))
        } else {
            format!("{}ms", trim_fraction(ns, 1_000_000))
        };
    }
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let secs = if d.subsec_nanos() == 0 {
        s.to_string()
    } else {
        let frac = format!("{:09}", d.subsec_nanos());
        format!("{s}.{}", frac.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

fn trim_fraction(ns: u128, unit: u128) -> String {
    let whole = ns / unit;
    let rest = ns % unit;
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let frac = format!("{rest:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Parse a Go duration as Flux prints it (`10m0s`, `1h2m3.5s`, `300ms`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let n: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let factor = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += n * factor;
        rest = tail;
    }
    Some(Duration::from_secs_f64(total))
}

/// The time from `since` (an RFC 3339 string) to `now`; zero when `since` is in the future.
pub fn age(since: &str, now: Timestamp) -> Option<Duration> {
    let t: Timestamp = since.parse().ok()?;
    let d = now.duration_since(t);
    Some(Duration::try_from(d).unwrap_or(Duration::ZERO))
}

/// A duration as people say it: `45s`, `12m`, `1h5m`, `2d3h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => {
            let (m, r) = (s / 60, s % 60);
            if r == 0 || m >= 10 {
                format!("{m}m")
            } else {
                format!("{m}m{r}s")
            }
        }
        3600..86400 => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 {
                format!("{h}h")
            } else {
                format!("{h}h{m}m")
            }
        }
        _ => {
            let (d, h) = (s / 86400, (s % 86400) / 3600);
            if h == 0 {
                format!("{d}d")
            } else {
                format!("{d}d{h}h")
            }
        }
    }
}
