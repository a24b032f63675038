//! What the rules look at: the [`LintInput`] the pipeline prepares, with its [`Release`]s (a HelmRelease as the rules
//! see it: its chart, its values, its rendered objects), the findings the pipeline made on the way
//! ([`pipeline_findings`]), and the readings of an object the rules share ([`pod_spec`], [`pointer_to_path`]).

#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;

use serde_json::Value;

use crate::chart::{self, Chart, ChartRef, plain_name};
use crate::error::{Error, Result};
use crate::finding::{self, Finding};
#[cfg(test)]
use crate::gitops::{self, Origin};
use crate::gitops::{Object, Tree};
use crate::rules::flux_source::checkout::Checkout;
use crate::rules::release_source::resolve::{INVALID_RULE, SOURCE_RULE, resolve};
use crate::rules::values_from::merge::merged_values;

/// A HelmRelease as the rules see it: its spec, and (when it could be rendered) its chart and rendered objects.
#[derive(Debug, Clone)]
pub struct Release {
    pub object: Object,
    /// `helm` release name (spec.releaseName, else `[targetNamespace-]name`, as Flux computes it).
    pub release_name: String,
    /// Namespace the chart is installed into (spec.targetNamespace, else the HelmRelease's namespace).
    pub namespace: String,
    pub chart_name: String,
    pub chart_version: Option<String>,
    /// The HelmRepository's URL, when the tree has it.
    pub repo_url: Option<String>,
    /// An OCIRepository `spec.ref.digest` pin.
    pub digest: Option<String>,
    /// Field path the chart version is read from (`spec.chart.spec.version`, `OCIRepository spec.ref.tag`, …).
    pub version_path: String,
    /// The OCIRepository or HelmChart the version is written in, when it is not the HelmRelease: (file, id).
    pub version_source: Option<(String, String)>,
    /// What the pipeline could not do for this release (source, fetch, render), as findings.
    pub problems: Vec<Finding>,
    pub values: Value,
    /// The chart, when it was rendered.
    pub chart: Option<Chart>,
    pub rendered: Vec<Object>,
    /// Values paths the chart provably ignores (see [`crate::rules::values::unused_candidates`]), with a suggested real key.
    pub unused_values: Vec<UnusedValue>,
    /// Values paths the chart does not define that could not be checked: its output is random per render in a way
    /// lint cannot mask ([`crate::rules::values::probe_unused`]); one `info` note names them.
    pub unchecked_values: Vec<Vec<String>>,
    /// For a version range: the newest matching chart at hand, which the release is rendered at (as Flux would
    /// install it; `chart-version-not-pinned` still reports the range). See [`crate::chart::ChartStore::newest_at_hand`].
    pub range_pick: Option<String>,
}

impl Release {
    /// Parse a HelmRelease object (helm.toolkit.fluxcd.io) into a release, without rendering.
    pub fn from_object(object: &Object, tree: Option<&Tree>) -> Result<Release> {
        let v = &object.value;
        let spec = &v["spec"];
        let name = object.name().to_string();
        let hr_ns = object.namespace().unwrap_or("default").to_string();
        let target = spec["targetNamespace"].as_str().filter(|s| !s.is_empty());
        // helm-controller `GetReleaseName()` then `release.ShortenName` (a derived name over 53 characters is cut
        // and hashed); an explicit spec.releaseName is limited to 53 by the CRD and used as it is
        let (release_name, name_from) = match (spec["releaseName"].as_str(), target) {
            (Some(r), _) if !r.is_empty() => (r.to_string(), "spec.releaseName"),
            (_, Some(t)) => (
                chart::shorten_release_name(&format!("{t}-{name}")),
                "metadata.name",
            ),
            _ => (chart::shorten_release_name(&name), "metadata.name"),
        };
        let resolved = resolve(spec, &hr_ns, tree);
        let invalid = |message: &str| Error::HelmReleaseInvalid {
            file: object.file.clone(),
            object: object.id(),
            message: message.to_string(),
        };
        let chart_name = match (&resolved.chart_name, &resolved.problem) {
            (Some(n), _) => n.clone(),
            // the source could not be followed: the finding says why; nothing is rendered
            (None, Some(_)) => String::new(),
            (None, None) => return Err(invalid("spec.chart.spec.chart is missing")),
        };
        let mut problems: Vec<Finding> = resolved
            .problem
            .iter()
            .map(|(severity, message, fix)| {
                Finding::new(SOURCE_RULE, *severity)
                    .file(object.file_display())
                    .object(object.id())
                    .path(if spec["chart"]["spec"].is_object() {
                        "spec.chart.spec.sourceRef"
                    } else {
                        "spec.chartRef"
                    })
                    .message(message.clone())
                    .fix(fix.clone())
            })
            .collect();
        // valuesFrom (ConfigMaps/Secrets of the tree) merged in order, then spec.values, as helm-controller does
        let (values, from_problems) = merged_values(object, tree);
        problems.extend(from_problems);
        let namespace = target.map(str::to_string).unwrap_or(hr_ns);
        // the release name and the namespace are helm's arguments: one that Helm or Kubernetes refuses is a finding
        // and the release is never rendered ([`Release::renderable`])
        let ns_from = if target.is_some() {
            "spec.targetNamespace"
        } else {
            "metadata.namespace"
        };
        for (path, value, problem) in [
            (
                name_from,
                &release_name,
                chart::release_name_problem(&release_name),
            ),
            (ns_from, &namespace, chart::namespace_problem(&namespace)),
        ] {
            if let Some(why) = problem {
                problems.push(
                    Finding::new(INVALID_RULE, finding::Severity::Error)
                        .file(object.file_display())
                        .object(object.id())
                        .path(path)
                        .message(format!(
                            "{path} gives {value:?}: {why}; helm-controller cannot install it, and lint did not render it"
                        ))
                        .fix(if path == "spec.releaseName" {
                            "set spec.releaseName to a valid release name (e.g. `headlamp`), or remove it to use the HelmRelease's name"
                        } else {
                            "use a name of lowercase letters, digits and `-` (at most 53 characters for a release, 63 for a namespace)"
                        }),
                );
            }
        }
        Ok(Release {
            object: object.clone(),
            release_name,
            namespace,
            chart_name,
            chart_version: resolved.chart_version,
            repo_url: resolved.repo_url,
            digest: resolved.digest,
            version_path: resolved.version_path,
            version_source: resolved.version_source,
            problems,
            values,
            chart: None,
            rendered: Vec::new(),
            unused_values: Vec::new(),
            unchecked_values: Vec::new(),
            range_pick: None,
        })
    }

    pub fn id(&self) -> String {
        self.object.id()
    }
    pub fn file(&self) -> String {
        self.object.file_display()
    }
    /// Rendered by lint: an exact version, and names that are plain (`chart-ref-unsafe` reports the others; their names
    /// never reach a path).
    pub fn renderable(&self) -> bool {
        !self.chart_name.is_empty()
            && self.render_version().is_some()
            && unsafe_fields(self).is_empty()
            && self.helm_arguments_valid()
    }

    /// The release name and namespace are ones Helm and Kubernetes accept ([`chart::release_name_problem`],
    /// [`chart::namespace_problem`]): they are helm's arguments, so nothing else ever reaches its command line.
    pub fn helm_arguments_valid(&self) -> bool {
        chart::release_name_problem(&self.release_name).is_none()
            && chart::namespace_problem(&self.namespace).is_none()
    }

    /// The chart version lint renders: the pin, else the newest chart at hand that the range matches.
    pub fn render_version(&self) -> Option<&str> {
        self.pinned_version().or(self.range_pick.as_deref())
    }

    /// The chart version when it is an exact version (a pin), not a range; a leading `v` is dropped (`v0.41.0` is
    /// chart 0.41.0, archive `headlamp-0.41.0.tgz`).
    pub fn pinned_version(&self) -> Option<&str> {
        self.chart_version
            .as_deref()
            .map(|v| v.strip_prefix('v').unwrap_or(v))
            .filter(|v| semver::Version::parse(v).is_ok())
    }
}

/// A candidate the render proved unused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedValue {
    pub path: Vec<String>,
    pub suggestion: Option<String>,
}

/// Field path the chart name came from: `spec.chart.spec.chart`, or the source `spec.chartRef` names (an
/// OCIRepository's `spec.url` ends in the chart name; a HelmChart has `spec.chart`). See
/// [`resolve`].
pub fn name_path(r: &Release) -> String {
    if r.version_path.starts_with("OCIRepository") {
        "OCIRepository spec.url".into()
    } else if r.version_path.starts_with("HelmChart") {
        "HelmChart spec.chart".into()
    } else {
        "spec.chart.spec.chart".into()
    }
}

/// The fields of `r` that are not plain names: (path of the field the value came from, value).
pub fn unsafe_fields(r: &Release) -> Vec<(String, String)> {
    let spec = &r.object.value["spec"];
    let mut out = Vec::new();
    if !plain_name(&r.chart_name) {
        out.push((name_path(r), r.chart_name.clone()));
    }
    if let Some(v) = &r.chart_version
        && !plain_name(v)
    {
        // `spec.chart.spec.version`, `OCIRepository spec.ref.tag`/`semver`, `HelmChart spec.version`
        out.push((r.version_path.clone(), v.clone()));
    }
    let (reference, at) = if spec["chart"]["spec"].is_object() {
        (
            &spec["chart"]["spec"]["sourceRef"],
            "spec.chart.spec.sourceRef",
        )
    } else {
        (&spec["chartRef"], "spec.chartRef")
    };
    for key in ["name", "namespace"] {
        if let Some(v) = reference[key].as_str()
            && !plain_name(v)
        {
            out.push((format!("{at}.{key}"), v.to_string()));
        }
    }
    out
}

/// Everything the rules look at.
#[derive(Debug, Default)]
pub struct LintInput {
    pub root: PathBuf,
    /// Plain manifests of the GitOps dir (HelmReleases included).
    pub objects: Vec<Object>,
    pub releases: Vec<Release>,
    /// HelmReleases that could not be read as releases, as findings (the others are still linted), and what reading
    /// the tree as Flux reads it found ([`Tree::findings`], reported by the [`crate::rules::kustomize`] rules).
    pub problems: Vec<Finding>,
    /// The git checkout holding `root`, when `lint` read it ahead (else `flux-source-branch` reads it).
    pub checkout: Option<Checkout>,
    /// `manifest-unknown-field`/`manifest-invalid` findings of the plain objects, when [`crate::engine::pipeline::prepare`] computed them
    /// while the releases rendered (else the rule computes them).
    pub plain_fields: Option<Vec<Finding>>,
    /// The clusters that deploy each file, when the tree has two or more ([`Tree::clusters`]): findings name them.
    pub clusters: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl LintInput {
    /// Plain and rendered objects together.
    pub fn all_objects(&self) -> impl Iterator<Item = &Object> {
        self.objects
            .iter()
            .chain(self.releases.iter().flat_map(|r| r.rendered.iter()))
    }
}

/// The findings of `rule` that the pipeline made (reading the tree, preparing and rendering the releases): the rules
/// that report them only pick them out.
pub fn pipeline_findings(input: &LintInput, rule: &str) -> Vec<Finding> {
    input
        .problems
        .iter()
        .chain(input.releases.iter().flat_map(|r| r.problems.iter()))
        .filter(|f| f.rule == rule)
        .cloned()
        .collect()
}

/// The chart a release asks for (its pin, its repository).
pub fn chart_ref(r: &Release) -> ChartRef {
    ChartRef {
        name: r.chart_name.clone(),
        version: r.render_version().unwrap_or_default().to_string(),
        repo_url: r.repo_url.clone(),
    }
}

/// Pod templates of a workload object: (json pointer to the PodSpec, the PodSpec value).
pub fn pod_spec(o: &Object) -> Option<(&'static str, &Value)> {
    let ptr = match (o.group(), o.kind()) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            "/spec/template/spec"
        }
        ("batch", "CronJob") => "/spec/jobTemplate/spec/template/spec",
        ("", "Pod") => "/spec",
        ("", "PodTemplate") => "/template/spec",
        _ => return None,
    };
    o.value
        .pointer(ptr)
        .filter(|v| v.is_object())
        .map(|v| (ptr, v))
}

/// A JSON pointer as a kubectl-style field path: `/spec/containers/0/image` → `spec.containers[0].image`.
pub fn pointer_to_path(ptr: &str) -> String {
    let mut out = String::new();
    for seg in ptr.split('/').filter(|s| !s.is_empty()) {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Hand-made rule inputs.
    use super::*;

    pub fn obj(yaml: &str) -> Object {
        let v = gitops::parse_yaml_documents(yaml, Path::new("t.yaml"))
            .unwrap()
            .remove(0);
        Object::plain(v, "apps/base/headlamp/x.yaml")
    }

    /// A tree of every document of `yaml`, all read from `file`.
    pub fn tree(yaml: &str, file: &str) -> Tree {
        let objects = gitops::parse_yaml_documents(yaml, Path::new("t.yaml"))
            .unwrap()
            .into_iter()
            .map(|v| Object::plain(v, file))
            .collect();
        Tree {
            objects,
            ..Tree::default()
        }
    }

    pub fn rendered(yaml: &str) -> Object {
        let mut o = obj(yaml);
        o.file = "apps/base/headlamp/helmrelease.yaml".into();
        o.origin = Origin::Rendered {
            release: "headlamp/headlamp".into(),
            template: Some("headlamp/templates/deployment.yaml".into()),
        };
        o
    }

    pub fn helmrelease(values_yaml: &str) -> Release {
        let text = format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  chart:\n    spec:\n      chart: headlamp\n      version: 0.41.0\n      sourceRef: {{kind: HelmRepository, name: headlamp}}\n  values:\n{}",
            values_yaml
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        );
        let mut o = obj(&text);
        o.file = "apps/base/headlamp/helmrelease.yaml".into();
        Release::from_object(&o, None).unwrap()
    }

    pub fn input(objects: Vec<Object>, releases: Vec<Release>) -> LintInput {
        LintInput {
            root: PathBuf::from("."),
            objects,
            releases,
            problems: Vec::new(),
            checkout: None,
            plain_fields: None,
            clusters: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn release_name_and_namespace_follow_flux() {
        let r = helmrelease("{}");
        assert_eq!(
            (r.release_name.as_str(), r.namespace.as_str()),
            ("headlamp", "headlamp")
        );
        let mut o = r.object.clone();
        o.value["spec"]["targetNamespace"] = "tools".into();
        let r = Release::from_object(&o, None).unwrap();
        assert_eq!(
            (r.release_name.as_str(), r.namespace.as_str()),
            ("tools-headlamp", "tools")
        );
        o.value["spec"]["releaseName"] = "hl".into();
        assert_eq!(Release::from_object(&o, None).unwrap().release_name, "hl");
    }

    #[test]
    fn pinned_version_accepts_exact_only() {
        let mut r = helmrelease("{}");
        assert_eq!(r.pinned_version(), Some("0.41.0"));
        for range in ["0.41.x", ">=0.41.0", "~0.41", "*", "^0.41.0"] {
            r.chart_version = Some(range.into());
            assert_eq!(r.pinned_version(), None, "{range}");
        }
    }

    #[test]
    fn pointer_to_path_is_kubectl_style() {
        assert_eq!(
            pointer_to_path("/spec/template/spec/containers/0/securityContext"),
            "spec.template.spec.containers[0].securityContext"
        );
    }
}
