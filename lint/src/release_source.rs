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

use serde_json::Value;

use super::{LintInput, Release};
use crate::error::Error;
use crate::finding::{Finding, Severity};
use crate::gitops::{Object, Tree};

pub const UNAVAILABLE_RULE: &str = "chart-unavailable";
pub const RENDER_RULE: &str = "render-failed";
pub const SOURCE_RULE: &str = "helmrelease-source-missing";
pub const INVALID_RULE: &str = "helmrelease-invalid";

/// What a HelmRelease's chart reference resolves to, before any I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub chart_name: Option<String>,
    pub chart_version: Option<String>,
    /// The repository URL the chart is fetched from: an http(s) Helm repository (index.yaml), or an `oci://`
    /// repository the chart name is appended to.
    pub repo_url: Option<String>,
    /// An OCIRepository `ref.digest` (it wins over tag and semver).
    pub digest: Option<String>,
    /// Where the version came from, as a field path of the HelmRelease or its source (for findings).
    pub version_path: String,
    /// The source object the version is written in when it is not the HelmRelease (an OCIRepository, a HelmChart):
    /// (its file, its id), where a finding about the version is placed.
    pub version_source: Option<(String, String)>,
    /// Why the source could not be followed (a `helmrelease-source-missing` finding): (severity, message, fix).
    pub problem: Option<(Severity, String, String)>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A source object of the tree: `kind` in source.toolkit.fluxcd.io named by `reference` (namespace defaults to `ns`).
fn find_source<'a>(
    tree: &'a Tree,
    kind: &'a str,
    reference: &'a Value,
    ns: &'a str,
) -> Option<&'a Object> {
    let name = reference["name"].as_str()?;
    let ns = reference["namespace"].as_str().unwrap_or(ns);
    tree.find("source.toolkit.fluxcd.io", kind)
        .find(|o| o.name() == name && o.namespace().unwrap_or("default") == ns)
}

/// `oci://host/path/chart` → (`oci://host/path`, `chart`).
pub fn split_oci_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("oci://")?;
    let (repo, chart) = rest.trim_end_matches('/').rsplit_once('/')?;
    (!chart.is_empty()).then(|| (format!("oci://{repo}"), chart.to_string()))
}

fn missing(
    severity: Severity,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Option<(Severity, String, String)> {
    Some((severity, message.into(), fix.into()))
}

/// Resolve `spec.chart.spec` or `spec.chartRef` of a HelmRelease (`spec`, namespace `ns`) against `tree`.
pub fn resolve(spec: &Value, ns: &str, tree: Option<&Tree>) -> Resolved {
    let chart_spec = &spec["chart"]["spec"];
    if chart_spec.is_object() {
        return from_chart_spec(chart_spec, ns, tree, "spec.chart.spec");
    }
    let chart_ref = &spec["chartRef"];
    let mut r = Resolved {
        version_path: "spec.chartRef".into(),
        ..Resolved::default()
    };
    let Some(kind) = chart_ref["kind"].as_str() else {
        r.problem = missing(
            Severity::Error,
            "the HelmRelease has neither spec.chart.spec (chart + sourceRef) nor spec.chartRef: helm-controller has no chart to install",
            "add spec.chart.spec {chart, version, sourceRef: {kind: HelmRepository, name}} or spec.chartRef {kind: OCIRepository, name}",
        );
        return r;
    };
    let ref_ns = chart_ref["namespace"].as_str().unwrap_or(ns).to_string();
    let name = chart_ref["name"].as_str().unwrap_or("");
    let Some(tree) = tree else {
        r.problem = missing(
            Severity::Warning,
            format!(
                "spec.chartRef names {kind} {ref_ns}/{name}; without the GitOps tree it cannot be followed"
            ),
            "lint the GitOps directory that holds the source",
        );
        return r;
    };
    match kind {
        "OCIRepository" => {
            let Some(o) = find_source(tree, "OCIRepository", chart_ref, ns) else {
                r.problem = missing(
                    Severity::Error,
                    format!(
                        "spec.chartRef names OCIRepository {ref_ns}/{name}, which is not in the tree: the chart (and its version) is unknown, so the release was not rendered"
                    ),
                    format!(
                        "add the OCIRepository {ref_ns}/{name} (spec.url: oci://…/<chart>, spec.ref.tag: <version>) to the tree, or fix spec.chartRef"
                    ),
                );
                return r;
            };
            let url = o.value["spec"]["url"].as_str().unwrap_or("");
            let Some((repo, chart)) = split_oci_url(url) else {
                r.problem = missing(
                    Severity::Error,
                    format!(
                        "OCIRepository {} has spec.url {url:?}, not oci://<registry>/<path>/<chart>",
                        o.id()
                    ),
                    "set spec.url to the chart's OCI address, e.g. oci://ghcr.io/<org>/charts/headlamp",
                );
                return r;
            };
            let reference = &o.value["spec"]["ref"];
            r.version_source = Some((o.location(), o.id()));
            r.chart_name = Some(chart);
            r.repo_url = Some(repo);
            r.digest = text(&reference["digest"]);
            // digest > semver > tag > "latest" (source-controller v1.9.4, api/v1/ocirepository_types.go)
            (r.chart_version, r.version_path) = if let Some(s) = text(&reference["semver"]) {
                (Some(s), "OCIRepository spec.ref.semver".into())
            } else if let Some(t) = text(&reference["tag"]) {
                (Some(t), "OCIRepository spec.ref.tag".into())
            } else {
                (None, "OCIRepository spec.ref.tag".into())
            };
            r
        }
        "HelmChart" => {
            let Some(o) = find_source(tree, "HelmChart", chart_ref, ns) else {
                r.problem = missing(
                    Severity::Error,
                    format!(
                        "spec.chartRef names HelmChart {ref_ns}/{name}, which is not in the tree: the chart is unknown, so the release was not rendered"
                    ),
                    format!("add the HelmChart {ref_ns}/{name} to the tree, or fix spec.chartRef"),
                );
                return r;
            };
            let hc_ns = o.namespace().unwrap_or("default").to_string();
            let mut r = from_chart_spec(&o.value["spec"], &hc_ns, Some(tree), "HelmChart spec");
            r.version_source = Some((o.location(), o.id()));
            r
        }
        other => {
            r.problem = missing(
                Severity::Error,
                format!(
                    "spec.chartRef.kind is {other:?}: helm-controller accepts OCIRepository or HelmChart"
                ),
                "set spec.chartRef.kind to OCIRepository (or HelmChart)",
            );
            r
        }
    }
}

/// `spec.chart.spec` of a HelmRelease, or a HelmChart's spec (same fields): chart, version, sourceRef.
fn from_chart_spec(spec: &Value, ns: &str, tree: Option<&Tree>, at: &str) -> Resolved {
    let mut r = Resolved {
        chart_name: text(&spec["chart"]),
        chart_version: text(&spec["version"]),
        version_path: format!("{at}.version"),
        ..Resolved::default()
    };
    let source = &spec["sourceRef"];
    let Some(name) = source["name"].as_str() else {
        r.problem = missing(
            Severity::Error,
            format!(
                "{at} has no sourceRef: helm-controller does not know where to fetch chart {} from",
                r.chart_name.as_deref().unwrap_or("?")
            ),
            format!("add {at}.sourceRef {{kind: HelmRepository, name: <repository>}}"),
        );
        return r;
    };
    let kind = source["kind"].as_str().unwrap_or("HelmRepository");
    let Some(tree) = tree else {
        return r;
    };
    if kind != "HelmRepository" {
        // GitRepository/Bucket sources: the chart is a path in that artifact, which lint cannot fetch.
        r.problem = missing(
            Severity::Warning,
            format!(
                "{at}.sourceRef is a {kind}: the chart lives in that artifact, which lint does not fetch; the chart is looked up locally by name and version only"
            ),
            format!(
                "put {}-<version>.tgz in $HEADLAMP_E2E_CHARTS to lint it",
                r.chart_name.as_deref().unwrap_or("<chart>")
            ),
        );
        return r;
    }
    match find_source(tree, "HelmRepository", source, ns) {
        Some(o) => {
            let url = o.value["spec"]["url"].as_str().map(str::to_string);
            // `type: oci` (or an oci:// URL): the chart is `<url>/<chart>` in a registry, no index.yaml
            r.repo_url = url;
        }
        None => {
            let src_ns = source["namespace"].as_str().unwrap_or(ns);
            r.problem = missing(
                Severity::Warning,
                format!(
                    "{at}.sourceRef names HelmRepository {src_ns}/{name}, which is not in the tree: Flux fails the release if it does not exist in the cluster; the chart was looked up locally only"
                ),
                format!(
                    "add the HelmRepository {src_ns}/{name} to the tree (or fix sourceRef.name/namespace)"
                ),
            );
        }
    }
    r
}

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

use super::pipeline_findings as of_rule;

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

    /// eval5 F-2: the fix names the file `helm pull --version v1.19.6` writes, the version as written.
    #[test]
    fn the_unavailable_fix_names_the_file_helm_pull_writes() {
        let mut r = crate::testutil::helmrelease("{}");
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
        super::super::testutil::tree(yaml, "t.yaml")
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
