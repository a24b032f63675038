//! `chart-version-not-pinned`: a HelmRelease's chart version is a range (`0.41.x`, `>=0.41.0`, `*`): Flux would
//! install whatever the repository serves next, unreviewed. A missing version means "latest" to Flux: the same finding
//! (the release is not rendered; the other releases are).

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
                format!(
                    "chart {} version `{v}` is a range: Flux installs whatever newest chart matches it, without review; chart-rendered rules were skipped for this release",
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
}
