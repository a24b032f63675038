//! `chart-version-not-pinned`: a HelmRelease's chart version is a range (`0.41.x`, `>=0.41.0`, `*`): Flux would
//! install whatever the repository serves next, unreviewed. (A missing version stops the lint: nothing to render.)

use super::LintInput;
use crate::finding::{Finding, Severity};

pub const RULE: &str = "chart-version-not-pinned";

pub fn check(input: &LintInput) -> Vec<Finding> {
    input
        .releases
        .iter()
        .filter(|r| r.pinned_version().is_none())
        .map(|r| {
            let v = r.chart_version.as_deref().unwrap_or("");
            let message = if v.is_empty() {
                format!("chart {} has no version: Flux installs the newest chart the repository serves", r.chart_name)
            } else {
                format!(
                    "chart {} version `{v}` is a range: Flux installs whatever newest chart matches it, without review; chart-rendered rules were skipped for this release",
                    r.chart_name
                )
            };
            Finding::new(RULE, Severity::Error)
                .file(r.file())
                .object(r.id())
                .path("spec.chart.spec.version")
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
}
