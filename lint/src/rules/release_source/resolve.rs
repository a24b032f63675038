//! Where a HelmRelease's chart comes from, as helm-controller resolves it (see the parent module), before any I/O.

use serde_json::Value;

use crate::finding::Severity;
use crate::gitops::{Object, Tree};

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
