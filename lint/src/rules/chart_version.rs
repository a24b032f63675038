//! `chart-version-not-pinned`: a HelmRelease's chart version is a range (`0.41.x`, `>=0.41.0`, `*`): Flux would
//! install whatever the repository serves next, unreviewed. A missing version means "latest" to Flux: the same finding
//! (the release is not rendered; the other releases are). A range is still rendered, at the newest matching chart at
//! hand ([`crate::chart::ChartStore::newest_at_hand`]), so the other rules run on it.

use crate::finding::{Finding, Severity};
use crate::rules::input::{LintInput, Release};

pub const RULE: &str = "chart-version-not-pinned";
/// A chart version that is exact in form but names a build that moves (`v0.0.0-latest`, `1.0.0-nightly`): warning.
pub const MUTABLE_RULE: &str = "chart-version-mutable";

/// `chart-version-mutable`: an exact-looking chart version whose pre-release names a moving build
/// ([`super::image::moving_tag`]: `v0.0.0-latest`, as some projects publish their main branch). Flux installs it
/// as exact, but the registry can serve another chart under the same version: what runs is not what was reviewed,
/// and a cached render (here, or helm-controller's) is not the chart of today. A warning, not an error: the
/// version is valid and whether the tag really moves is the publisher's choice.
pub fn check_mutable(input: &LintInput) -> Vec<Finding> {
    input
        .releases
        .iter()
        .filter(|r| r.digest.is_none())
        .filter_map(|r| {
            let v = r.pinned_version()?;
            let pre = semver::Version::parse(v).ok()?.pre;
            if pre.is_empty() || !super::image::moving_tag(pre.as_str()) {
                return None;
            }
            let shown = r.chart_version.as_deref().unwrap_or(v);
            let (file, object, path) = version_place(r);
            Some(
                Finding::new(MUTABLE_RULE, Severity::Warning)
                    .file(file)
                    .object(object)
                    .path(path)
                    .message(format!(
                        "chart {} version `{shown}` is exact in form, but its pre-release `{pre}` names a build that moves: the registry can serve another chart under the same version, so what Flux installs is not what was reviewed (and lint rendered the chart it has, which may be older)",
                        r.chart_name
                    ))
                    .fix("pin a released chart version (or an OCI digest), and let Renovate propose bumps as reviewed PRs"),
            )
        })
        .collect()
}

/// Where a finding about a release's chart version belongs: the field the user edits, in the object it is written
/// in — the HelmRelease (`spec.chart.spec.version`), or the OCIRepository (`spec.ref.semver`) / HelmChart
/// (`spec.version`) its `spec.chartRef` names, in that object's own file. (file, object id, path).
pub fn version_place(r: &Release) -> (String, String, String) {
    match &r.version_source {
        Some((file, id)) => {
            // `OCIRepository spec.ref.semver` → `spec.ref.semver`
            let path = r
                .version_path
                .split_once(' ')
                .map_or(r.version_path.as_str(), |(_, p)| p);
            (file.clone(), id.clone(), path.to_string())
        }
        None => (r.file(), r.id(), r.version_path.clone()),
    }
}

/// The fix: the field to edit, in the words of the object it is in, with an example version of this chart only (the
/// newest matching chart lint has at hand), never another chart's.
fn pin_fix(r: &Release) -> String {
    let example = r.range_pick.as_deref().unwrap_or("<exact version>");
    let what = if r.version_path.starts_with("OCIRepository") {
        // source-controller: `ref.semver` wins over `ref.tag` (v1.9.4 api/v1/ocirepository_types.go), so the semver
        // must go for the tag to count
        format!(
            "pin the OCIRepository to one chart version: replace its spec.ref (`semver`, a moving tag, or none) with `ref.tag: {example}`"
        )
    } else if r.version_path.starts_with("HelmChart") {
        format!(
            "set the HelmChart's spec.version to one exact chart version (`version: {example}`)"
        )
    } else {
        format!("set spec.chart.spec.version to one exact chart version (`version: {example}`)")
    };
    format!("{what}, and let Renovate propose bumps as reviewed PRs")
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    let mut out: Vec<(Finding, Vec<String>)> = Vec::new();
    // a digest pins an OCI chart exactly; no chart name: the source finding says why
    for r in input
        .releases
        .iter()
        .filter(|r| r.pinned_version().is_none() && r.digest.is_none() && !r.chart_name.is_empty())
    {
        let v = r.chart_version.as_deref().unwrap_or("");
        let message = if v.is_empty() {
            format!(
                "chart {} has no version: Flux installs the newest chart the repository serves",
                r.chart_name
            )
        } else {
            let rendered = match &r.range_pick {
                Some(pick) => format!("lint rendered it at {pick}, the newest matching chart it has (Flux installs the newest its repository serves), so the other rules ran on that chart"),
                None => "no chart at hand matches it, so the chart-rendered rules were skipped for this release".to_string(),
            };
            // `latest` (an OCIRepository `ref.tag`) is no range but a tag that moves: said as it is
            let what = if super::image::moving_tag(v)
                && !v.contains(['*', 'x', 'X', '<', '>', '=', '~', '^', ' '])
            {
                "is a tag that moves, not a version: Flux installs whatever chart it names at each reconciliation, without review"
            } else {
                "is a range: Flux installs whatever newest chart matches it, without review"
            };
            format!("chart {} version `{v}` {what}; {rendered}", r.chart_name)
        };
        let (file, object, path) = version_place(r);
        let f = Finding::new(RULE, Severity::Error)
            .file(file)
            .object(object)
            .path(path)
            .message(message)
            .fix(pin_fix(r));
        // one source used by several HelmReleases is one finding, naming them
        let user = r.version_source.is_some().then(|| r.id());
        match out.iter_mut().find(|(g, _)| {
            (&g.file, &g.object, &g.path, &g.message, &g.fix)
                == (&f.file, &f.object, &f.path, &f.message, &f.fix)
        }) {
            Some((_, users)) => users.extend(user),
            None => out.push((f, user.into_iter().collect())),
        }
    }
    out.into_iter()
        .map(|(mut f, users)| {
            if !users.is_empty() {
                f.message = format!("{} (the chart of {})", f.message, users.join(", "));
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::input::testutil::*;

    /// Issue 19 (mutable versions): `v0.0.0-latest` is exact in form, so it passed as pinned; it names a build
    /// that moves. A warning (the version is valid); a release version and an ordinary pre-release are clean,
    /// and an OCI digest pins it whatever the tag.
    #[test]
    fn a_pre_release_that_names_a_moving_build_is_a_warning() {
        let mut r = helmrelease("{}");
        for v in ["0.41.0", "v0.41.0", "0.42.0-rc.1", "1.0.0-alpha"] {
            r.chart_version = Some(v.into());
            assert!(
                check_mutable(&input(vec![], vec![r.clone()])).is_empty(),
                "{v}"
            );
        }
        for v in ["v0.0.0-latest", "0.0.0-nightly.20260101"] {
            r.chart_version = Some(v.into());
            let f = check_mutable(&input(vec![], vec![r.clone()]));
            assert_eq!(f.len(), 1, "{v}");
            assert_eq!(f[0].severity, Severity::Warning);
            assert!(
                f[0].message.contains(&format!("`{v}` is exact in form")),
                "{}",
                f[0].message
            );
            // exact in form: not also a range error
            assert!(check(&input(vec![], vec![r.clone()])).is_empty(), "{v}");
        }
        r.digest = Some("sha256:0123".into());
        assert!(check_mutable(&input(vec![], vec![r.clone()])).is_empty());
        // `latest` (an OCIRepository ref.tag) stays an error, said as a tag that moves, not a range
        r.digest = None;
        r.chart_version = Some("latest".into());
        let f = check(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("`latest` is a tag that moves"),
            "{}",
            f[0].message
        );
    }

    /// Issue 19: the fix names the field to edit, with an example version of this chart only.
    #[test]
    fn the_fix_names_the_field_and_no_other_charts_version() {
        let mut r = helmrelease("{}");
        r.chart_name = "podinfo".into();
        r.chart_version = Some("6.x".into());
        let f = check(&input(vec![], vec![r.clone()]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path, "spec.chart.spec.version");
        assert!(f[0].fix.contains("spec.chart.spec.version"), "{}", f[0].fix);
        assert!(f[0].fix.contains("<exact version>"), "{}", f[0].fix);
        assert!(!f[0].fix.contains("0.41"), "{}", f[0].fix);
        // an OCIRepository's semver: the finding is on the OCIRepository's field, in its file, once for the two
        // HelmReleases that use it
        r.version_path = "OCIRepository spec.ref.semver".into();
        r.version_source = Some(("apps/oci.yaml".into(), "OCIRepository/apps/podinfo".into()));
        r.range_pick = Some("6.5.4".into());
        let mut other = r.clone();
        other.object.value["metadata"]["name"] = "podinfo-2".into();
        let f = check(&input(vec![], vec![r, other]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            (f[0].file.as_str(), f[0].object.as_str(), f[0].path.as_str()),
            (
                "apps/oci.yaml",
                "OCIRepository/apps/podinfo",
                "spec.ref.semver"
            )
        );
        assert!(f[0].fix.contains("`ref.tag: 6.5.4`"), "{}", f[0].fix);
        assert!(
            f[0].message.contains(
                "(the chart of HelmRelease/headlamp/headlamp, HelmRelease/headlamp/podinfo-2)"
            ),
            "{}",
            f[0].message
        );
    }

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
