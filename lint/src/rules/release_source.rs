//! Where a HelmRelease's chart comes from, as helm-controller resolves it, and what happens when it cannot be had.
//!
//! Sources (helm-controller v1.6.3 `api/v2/helmrelease_types.go`: `spec.chart` xor `spec.chartRef`):
//! - `spec.chart.spec` with `sourceRef` → a `HelmRepository` (`spec.url` http(s), or `type: oci` with an `oci://`
//!   URL: the chart is `<url>/<chart>`);
//! - `spec.chartRef` → an `OCIRepository` (`spec.url: oci://…/<chart>`; `spec.ref`: `digest` takes precedence over
//!   `semver`, `semver` over `tag`, and `tag` defaults to `latest` — source-controller v1.9.4
//!   `api/v1/ocirepository_types.go`, `OCIRepositoryRef`) or a `HelmChart` (`spec.chart`, `spec.version`,
//!   `spec.sourceRef` to a HelmRepository).
//!
//! A source reference without a namespace means the HelmRelease's namespace.
//!
//! Rules here report what the pipeline could not do for one release; every other release is still linted:
//! - `chart-unavailable`: the chart archive could not be had (not local, repository unreachable, digest-only pin);
//! - `render-failed`: `helm template` failed on the release's values;
//! - `helmrelease-source-missing`: no `sourceRef`/`chartRef`, or the source it names is not in the tree;
//! - `helmrelease-invalid`: the HelmRelease cannot be read as one (no chart name).

use crate::error::Error;
use crate::finding::{Finding, Severity};
use crate::gitops::Object;
use crate::rules::input::{LintInput, Release, pipeline_findings as of_rule};

pub mod resolve;

pub use resolve::{INVALID_RULE, Resolved, SOURCE_RULE, resolve, split_oci_url};

pub const UNAVAILABLE_RULE: &str = "chart-unavailable";
pub const RENDER_RULE: &str = "render-failed";

/// The finding for a release whose chart could not be fetched or rendered: `chart-unavailable` or `render-failed`.
pub fn failure(r: &Release, e: &Error) -> Finding {
    let cause = crate::redact::redact(&e.to_string());
    let (rule, message, fix) = match e {
        Error::Tools(headlamp_e2e_tools::Error::HelmTemplate { .. }) => (
            RENDER_RULE,
            format!("helm template failed for chart {} {}, so no chart-rendered rule ran for this release: {cause}", r.chart_name, r.chart_version.as_deref().unwrap_or("")),
            "fix the values helm names above (a schema error names the key); `helm template` with the same values shows the same error".to_string(),
        ),
        _ => (
            UNAVAILABLE_RULE,
            format!("chart {} {} could not be had, so this release was not rendered (the other releases were): {cause}", r.chart_name, r.chart_version.as_deref().unwrap_or("")),
            format!(
                "put `{}-{}.tgz` in $HEADLAMP_E2E_CHARTS (e.g. `helm pull` it on a machine that reaches the repository), or check the source's URL and the version",
                r.chart_name,
                // the version as written: `helm pull --version v1.19.6` writes `<name>-v1.19.6.tgz`
                r.chart_version
                    .as_deref()
                    .filter(|_| r.pinned_version().is_some())
                    .unwrap_or("<version>")
            ),
        ),
    };
    Finding::new(rule, Severity::Error)
        .file(r.file())
        .object(r.id())
        .path(if r.object.value["spec"]["chartRef"].is_object() {
            "spec.chartRef"
        } else {
            "spec.chart"
        })
        .message(message)
        .fix(fix)
}

/// A HelmRelease that could not be read as a release at all.
pub fn invalid(o: &Object, e: &Error) -> Finding {
    Finding::new(INVALID_RULE, Severity::Error)
        .file(o.file_display())
        .object(o.id())
        .path("spec")
        .message(format!("{e}; it was not linted"))
        .fix("give the HelmRelease spec.chart.spec.chart (or spec.chartRef)")
}

pub fn check_unavailable(input: &LintInput) -> Vec<Finding> {
    of_rule(input, UNAVAILABLE_RULE)
}
pub fn check_render(input: &LintInput) -> Vec<Finding> {
    of_rule(input, RENDER_RULE)
}
pub fn check_source(input: &LintInput) -> Vec<Finding> {
    of_rule(input, SOURCE_RULE)
}
pub fn check_invalid(input: &LintInput) -> Vec<Finding> {
    of_rule(input, INVALID_RULE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::Tree;
    use serde_json::Value;

    /// eval5 F-2: the fix names the file `helm pull --version v1.19.6` writes, the version as written.
    #[test]
    fn the_unavailable_fix_names_the_file_helm_pull_writes() {
        let mut r = crate::rules::input::testutil::helmrelease("{}");
        r.chart_name = "cert-manager".into();
        r.chart_version = Some("v1.19.6".into());
        let e = headlamp_e2e_tools::Error::ChartNotFound {
            chart: "cert-manager".into(),
            version: "1.19.6".into(),
            tried: "x".into(),
        }
        .into();
        let f = failure(&r, &e);
        assert!(f.fix.contains("`cert-manager-v1.19.6.tgz`"), "{f:?}");
    }

    fn tree(yaml: &str) -> Tree {
        crate::rules::input::testutil::tree(yaml, "t.yaml")
    }

    fn spec(yaml: &str) -> Value {
        crate::yaml::parse_yaml_documents(yaml, std::path::Path::new("hr.yaml"))
            .unwrap()
            .remove(0)
    }

    const OCI: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: headlamp, namespace: tools}\nspec:\n  url: oci://ghcr.io/home-ops/charts-mirror/headlamp\n  ref: {tag: 0.42.0}\n";

    #[test]
    fn oci_repository_chart_ref_gives_name_from_url_and_version_from_tag() {
        let t = tree(OCI);
        let s = spec("chartRef: {kind: OCIRepository, name: headlamp}\n");
        let r = resolve(&s, "tools", Some(&t));
        assert_eq!(r.problem, None);
        assert_eq!(r.chart_name.as_deref(), Some("headlamp"));
        assert_eq!(r.chart_version.as_deref(), Some("0.42.0"));
        assert_eq!(
            r.repo_url.as_deref(),
            Some("oci://ghcr.io/home-ops/charts-mirror")
        );
        // another namespace: not found, an error finding (the chart is unknown)
        let r = resolve(&s, "default", Some(&t));
        assert_eq!(r.chart_name, None);
        let (sev, msg, _) = r.problem.unwrap();
        assert_eq!(sev, Severity::Error);
        assert!(
            msg.contains("OCIRepository default/headlamp, which is not in the tree"),
            "{msg}"
        );
    }

    #[test]
    fn oci_ref_semver_wins_over_tag_and_digest_is_kept() {
        let t = tree(&OCI.replace(
            "ref: {tag: 0.42.0}",
            "ref: {tag: 0.42.0, semver: '>=0.40.0', digest: 'sha256:abc'}",
        ));
        let s = spec("chartRef: {kind: OCIRepository, name: headlamp}\n");
        let r = resolve(&s, "tools", Some(&t));
        assert_eq!(r.chart_version.as_deref(), Some(">=0.40.0"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        let t = tree(&OCI.replace("ref: {tag: 0.42.0}", "ref: {}"));
        assert_eq!(resolve(&s, "tools", Some(&t)).chart_version, None);
    }

    #[test]
    fn helm_chart_ref_and_oci_helm_repository() {
        let t = tree(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: hl, namespace: flux-system}\nspec: {chart: headlamp, version: 0.41.0, sourceRef: {kind: HelmRepository, name: charts}}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\nspec: {type: oci, url: 'oci://ghcr.io/org/charts'}\n",
        );
        let s = spec("chartRef: {kind: HelmChart, name: hl, namespace: flux-system}\n");
        let r = resolve(&s, "tools", Some(&t));
        assert_eq!(r.problem, None);
        assert_eq!(
            (
                r.chart_name.as_deref(),
                r.chart_version.as_deref(),
                r.repo_url.as_deref()
            ),
            (
                Some("headlamp"),
                Some("0.41.0"),
                Some("oci://ghcr.io/org/charts")
            )
        );
    }

    #[test]
    fn no_source_ref_and_source_not_in_tree_are_findings() {
        let t = tree(OCI);
        let r = resolve(
            &spec("chart: {spec: {chart: headlamp, version: 0.41.0}}\n"),
            "x",
            Some(&t),
        );
        let (sev, msg, _) = r.problem.unwrap();
        assert_eq!(sev, Severity::Error);
        assert!(msg.contains("has no sourceRef"), "{msg}");
        let r = resolve(
            &spec(
                "chart: {spec: {chart: headlamp, version: 0.41.0, sourceRef: {kind: HelmRepository, name: nope}}}\n",
            ),
            "x",
            Some(&t),
        );
        let (sev, msg, _) = r.problem.unwrap();
        assert_eq!(sev, Severity::Warning);
        assert!(
            msg.contains("HelmRepository x/nope, which is not in the tree"),
            "{msg}"
        );
        // the chart is still known: it can be rendered from a local archive
        assert_eq!(r.chart_name.as_deref(), Some("headlamp"));
        let r = resolve(&spec("interval: 1h\n"), "x", Some(&t));
        assert!(r.problem.unwrap().1.contains("neither spec.chart.spec"));
    }

    #[test]
    fn oci_url_split() {
        assert_eq!(
            split_oci_url("oci://ghcr.io/a/b/headlamp/"),
            Some(("oci://ghcr.io/a/b".into(), "headlamp".into()))
        );
        assert_eq!(split_oci_url("https://x/y"), None);
        assert_eq!(split_oci_url("oci://ghcr.io"), None);
    }
}
