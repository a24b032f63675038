//! `chart-version-not-pinned`: a HelmRelease's chart version is a range (`0.41.x`, `>=0.41.0`, `*`): Flux would
//! install whatever the repository serves next, unreviewed. A missing version means "latest" to Flux: the same finding
//! (the release is not rendered; the other releases are). A range is still rendered, at the newest matching chart at
//! hand ([`crate::chart::ChartStore::newest_at_hand`]), so the other rules run on it.

use super::LintInput;
use crate::finding::{Finding, Severity};

pub const RULE: &str = "chart-version-not-pinned";

pub fn check(input: &LintInput) -> Vec<Finding> {
    input
        .releases
        .iter()
        // a digest pins an OCI chart exactly; no chart name: the source finding says why
        .filter(|r| r.pinned_version().is_none() && r.digest.is_none() && !r.chart_name.is_empty())
        .map(|r| {
            let v = r.chart_version.as_deref().unwrap_or("");
            let message = if v.is_empty() {
                format!("chart {} has no version: Flux installs the newest chart the repository serves", r.chart_name)
            } else {
                let rendered = match &r.range_pick {
                    Some(pick) => format!("lint rendered it at {pick}, the newest matching chart it has (Flux installs the newest its repository serves), so the other rules ran on that chart"),
                    None => "no chart at hand matches it, so the chart-rendered rules were skipped for this release".to_string(),
                };
                format!(
                    "chart {} version `{v}` is a range: Flux installs whatever newest chart matches it, without review; {rendered}",
                    r.chart_name
                )
            };
            Finding::new(RULE, Severity::Error)
                .file(r.file())
                .object(r.id())
                .path(r.version_path.clone())
                .message(message)
                .fix("pin one exact chart version (e.g. `version: 0.41.0`) and let Renovate propose bumps as reviewed PRs")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn ranges_are_errors_exact_versions_are_not() {
        let mut r = helmrelease("{}");
        assert!(check(&input(vec![], vec![r.clone()])).is_empty());
        r.chart_version = Some("0.41.x".into());
        let f = check(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("`0.41.x` is a range"));
    }

    #[test]
    fn a_range_is_rendered_at_the_newest_matching_chart_at_hand() {
        let store = crate::chart::ChartStore {
            charts_dir: crate::chart::bundled_charts_dir(),
            cache_dir: None,
            offline: true,
            ..Default::default()
        };
        // data/upstream/charts holds headlamp 0.26.0 … 0.45.0
        for (range, want) in [
            ("0.41.x", Some("0.41.0")),
            (">=0.40.0 <0.42.0", Some("0.41.0")),
            (">= 0.40.0, < 0.42.0", Some("0.41.0")),
            ("~0.39", Some("0.39.0")),
            ("^0.38.0", Some("0.38.0")),
            ("*", Some("0.45.0")),
            ("0.99.x", None),
            ("0.41.0", None),
            ("not a range", None),
        ] {
            assert_eq!(
                store.newest_at_hand("headlamp", None, range).as_deref(),
                want,
                "{range}"
            );
        }
        let mut r = helmrelease("{}");
        r.chart_version = Some("0.41.x".into());
        r.range_pick = store.newest_at_hand("headlamp", None, "0.41.x");
        assert_eq!(r.render_version(), Some("0.41.0"));
        assert!(r.renderable());
        let f = check(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1, "a range stays an error");
        assert!(
            f[0].message
                .contains("rendered it at 0.41.0, the newest matching chart it has"),
            "{}",
            f[0].message
        );
    }
}
