//! `lint`: the static tier. Read the GitOps dir, render each HelmRelease with its real chart, apply the rules.
//!
//! The pipeline ([`prepare`]) does all I/O (chart lookup, `helm template`) and produces a [`LintInput`]; every rule is a
//! plain `fn(&LintInput) -> Vec<Finding>` over it, so rules are unit-tested on hand-made inputs.

pub mod chart_ref;
pub mod chart_version;
pub mod flags;
pub mod flux_source;
pub mod image;
pub mod manifest_fields;
pub mod psa;
pub mod rbac;
pub mod rootfs;
pub mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use serde_json::Value;

use crate::chart::{self, Chart, ChartRef, ChartStore, Helm};
use crate::error::{Error, Result};
use crate::finding::{self, Finding, Summary};
use crate::gitops::{self, Object, Origin, Tree};

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
    pub values: Value,
    /// The chart, when it was rendered.
    pub chart: Option<Chart>,
    pub rendered: Vec<Object>,
    /// Values paths the chart provably ignores (see [`values::unused_candidates`]), with a suggested real key.
    pub unused_values: Vec<values::UnusedValue>,
}

impl Release {
    /// Parse a HelmRelease object (helm.toolkit.fluxcd.io) into a release, without rendering.
    pub fn from_object(object: &Object, tree: Option<&Tree>) -> Result<Release> {
        let v = &object.value;
        let spec = &v["spec"];
        let name = object.name().to_string();
        let hr_ns = object.namespace().unwrap_or("default").to_string();
        let target = spec["targetNamespace"].as_str().filter(|s| !s.is_empty());
        let release_name = match (spec["releaseName"].as_str(), target) {
            (Some(r), _) if !r.is_empty() => r.to_string(),
            (_, Some(t)) => format!("{t}-{name}"),
            _ => name.clone(),
        };
        let chart_spec = &spec["chart"]["spec"];
        let invalid = |message: &str| Error::HelmReleaseInvalid {
            file: object.file.clone(),
            object: object.id(),
            message: message.to_string(),
        };
        if chart_spec.is_null() {
            return Err(invalid(if spec["chartRef"].is_object() {
                "spec.chartRef (OCIRepository/HelmChart) is not supported; use spec.chart.spec"
            } else {
                "spec.chart.spec is missing"
            }));
        }
        let chart_name = chart_spec["chart"]
            .as_str()
            .ok_or_else(|| invalid("spec.chart.spec.chart is missing"))?
            .to_string();
        let chart_version = match &chart_spec["version"] {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let source = &chart_spec["sourceRef"];
        let repo_url = tree.and_then(|t| {
            let src_name = source["name"].as_str()?;
            let src_ns = source["namespace"].as_str().unwrap_or(&hr_ns);
            t.find("source.toolkit.fluxcd.io", "HelmRepository")
                .find(|o| o.name() == src_name && o.namespace().unwrap_or("default") == src_ns)
                .and_then(|o| o.value["spec"]["url"].as_str().map(str::to_string))
        });
        let values = match &spec["values"] {
            Value::Null => Value::Object(Default::default()),
            other => other.clone(),
        };
        Ok(Release {
            object: object.clone(),
            release_name,
            namespace: target.map(str::to_string).unwrap_or(hr_ns),
            chart_name,
            chart_version,
            repo_url,
            values,
            chart: None,
            rendered: Vec::new(),
            unused_values: Vec::new(),
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
        self.pinned_version().is_some() && chart_ref::unsafe_fields(self).is_empty()
    }

    /// The chart version when it is an exact version (a pin), not a range.
    pub fn pinned_version(&self) -> Option<&str> {
        self.chart_version
            .as_deref()
            .filter(|v| semver::Version::parse(v.trim_start_matches('v')).is_ok())
    }
}

/// Everything the rules look at.
#[derive(Debug, Default)]
pub struct LintInput {
    pub root: PathBuf,
    /// Plain manifests of the GitOps dir (HelmReleases included).
    pub objects: Vec<Object>,
    pub releases: Vec<Release>,
}

impl LintInput {
    /// Plain and rendered objects together.
    pub fn all_objects(&self) -> impl Iterator<Item = &Object> {
        self.objects
            .iter()
            .chain(self.releases.iter().flat_map(|r| r.rendered.iter()))
    }
}

/// A rule: stable id and the check.
pub struct Rule {
    pub id: &'static str,
    pub check: fn(&LintInput) -> Vec<Finding>,
}

/// All rules, in report order.
pub const RULES: &[Rule] = &[
    Rule {
        id: chart_ref::RULE,
        check: chart_ref::check,
    },
    Rule {
        id: chart_version::RULE,
        check: chart_version::check,
    },
    Rule {
        id: values::RULE,
        check: values::check,
    },
    Rule {
        id: image::TAG_RULE,
        check: image::check_tag_override,
    },
    Rule {
        id: image::FLAG_RULE,
        check: image::check_flags,
    },
    Rule {
        id: rootfs::RULE,
        check: rootfs::check,
    },
    Rule {
        id: manifest_fields::RULE,
        check: manifest_fields::check,
    },
    Rule {
        id: psa::RULE,
        check: psa::check,
    },
    Rule {
        id: rbac::RULE,
        check: rbac::check,
    },
    Rule {
        id: flux_source::RULE,
        check: flux_source::check,
    },
];

/// Apply every rule. Reports all findings, not the first.
pub fn run_rules(input: &LintInput) -> Vec<Finding> {
    let mut findings: Vec<Finding> = RULES.iter().flat_map(|r| (r.check)(input)).collect();
    finding::sort(&mut findings);
    findings.dedup();
    findings
}

/// What `lint` returns.
#[derive(Debug)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    pub summary: Summary,
    pub elapsed: Duration,
}

/// Read `root`, fetch and render every HelmRelease, run the rules.
pub async fn lint(root: &Path, store: &ChartStore, helm: Option<&Helm>) -> Result<LintReport> {
    let started = Instant::now();
    let tree = gitops::load(root)?;
    let input = prepare(tree, store, helm).await?;
    let findings = run_rules(&input);
    let mut summary = Summary::of(&findings);
    let rendered = input.releases.iter().filter(|r| r.chart.is_some()).count();
    summary
        .counts
        .insert("objects".into(), input.objects.len() as u64);
    summary
        .counts
        .insert("helmreleases".into(), input.releases.len() as u64);
    summary.counts.insert("rendered".into(), rendered as u64);
    Ok(LintReport {
        findings,
        summary,
        elapsed: started.elapsed(),
    })
}

/// Turn a loaded tree into rule input: parse HelmReleases, fetch charts and render them (concurrently).
/// `helm` may be `None` only when the tree has no HelmRelease to render.
pub async fn prepare(tree: Tree, store: &ChartStore, helm: Option<&Helm>) -> Result<LintInput> {
    let mut releases = Vec::new();
    for o in tree.find("helm.toolkit.fluxcd.io", "HelmRelease") {
        let r = Release::from_object(o, Some(&tree))?;
        if r.chart_version.is_none() {
            return Err(Error::MissingChartVersion {
                file: o.file.clone(),
                object: o.id(),
            });
        }
        releases.push(r);
    }
    let to_render = releases.iter().any(Release::renderable);
    let helm = match (helm, to_render) {
        (Some(h), _) => Some(h.clone()),
        (None, true) => Some(Helm::locate()?),
        (None, false) => None,
    };
    // each chart archive is read once per (chart, version), however many releases use it
    let mut charts: HashMap<ChartRef, Chart> = HashMap::new();
    for r in releases.iter().filter(|r| r.renderable()) {
        let cref = chart_ref(r);
        if let std::collections::hash_map::Entry::Vacant(slot) = charts.entry(cref) {
            let chart = load_chart(slot.key(), store).await?;
            slot.insert(chart);
        }
    }
    // all releases at once; the processes are bounded by `Helm`'s slots (available_parallelism)
    let releases = try_join_all(releases.into_iter().map(|r| {
        let helm = helm.clone();
        let chart = charts.get(&chart_ref(&r)).cloned();
        async move {
            match (r.renderable(), helm, chart) {
                (true, Some(h), Some(chart)) => render_release_with(r, chart, &h).await,
                _ => Ok(r),
            }
        }
    }))
    .await?;
    Ok(LintInput {
        root: tree.root,
        objects: tree.objects,
        releases,
    })
}

/// The chart a release asks for (its pin, its repository).
pub fn chart_ref(r: &Release) -> ChartRef {
    ChartRef {
        name: r.chart_name.clone(),
        version: r.pinned_version().unwrap_or_default().to_string(),
        repo_url: r.repo_url.clone(),
    }
}

/// Fetch the archive and read what the rules need from it.
async fn load_chart(cref: &ChartRef, store: &ChartStore) -> Result<Chart> {
    let path = store.fetch(cref).await?;
    chart::read_chart(&path)
}

/// Fetch the chart and render the release (no analysis). Returns the chart archive path and helm's output too.
pub async fn render(
    r: Release,
    store: &ChartStore,
    helm: &Helm,
) -> Result<(Release, PathBuf, String)> {
    let chart = load_chart(&chart_ref(&r), store).await?;
    let path = chart.path.clone();
    let (r, text) = render_with(r, chart, helm).await?;
    Ok((r, path, text))
}

/// Render the release with its chart (through the render cache). Returns helm's output too.
pub async fn render_with(mut r: Release, chart: Chart, helm: &Helm) -> Result<(Release, String)> {
    let base_text = helm
        .render(&chart, &r.release_name, &r.namespace, &r.values)
        .await?;
    let rendered = chart::split_rendered(&base_text)?;
    let release_id = format!(
        "{}/{}",
        r.object.namespace().unwrap_or("default"),
        r.object.name()
    );
    r.rendered = rendered
        .into_iter()
        .filter(|(_, v)| v["kind"].is_string())
        .map(|(template, value)| Object {
            value,
            file: r.object.file.clone(),
            origin: Origin::Rendered {
                release: release_id.clone(),
                template,
            },
        })
        .collect();
    r.chart = Some(chart);
    Ok((r, base_text))
}

/// Fetch the chart, render the release, and settle which values keys the chart ignores.
pub async fn render_release(r: Release, store: &ChartStore, helm: &Helm) -> Result<Release> {
    let chart = load_chart(&chart_ref(&r), store).await?;
    render_release_with(r, chart, helm).await
}

/// [`render_release`] with the chart already read.
pub async fn render_release_with(r: Release, chart: Chart, helm: &Helm) -> Result<Release> {
    let (mut r, base_text) = render_with(r, chart, helm).await?;
    let Some(chart) = r.chart.clone() else {
        return Ok(r);
    };

    // values-unknown-key, exactly: a candidate is reported only when removing it leaves the output unchanged.
    let rendered_values: Vec<&Value> = r.rendered.iter().map(|o| &o.value).collect();
    let candidates: Vec<values::Candidate> =
        values::unused_candidates(&r.values, &chart.defaults, chart.schema.as_ref())
            .into_iter()
            .filter(|c| !values::appears_in(&c.path, &r.values, &rendered_values))
            .collect();
    if !candidates.is_empty() {
        let without = |paths: &[&values::Candidate]| {
            let mut v = r.values.clone();
            for c in paths {
                values::remove_path(&mut v, &c.path);
            }
            v
        };
        let all: Vec<&values::Candidate> = candidates.iter().collect();
        let all_removed = helm
            .render(&chart, &r.release_name, &r.namespace, &without(&all))
            .await?;
        let unused: Vec<&values::Candidate> = if all_removed == base_text {
            all
        } else if candidates.len() == 1 {
            Vec::new()
        } else {
            let outputs = try_join_all(candidates.iter().map(|c| {
                let v = without(&[c]);
                let (chart, release, ns) = (&chart, &r.release_name, &r.namespace);
                async move { helm.render(chart, release, ns, &v).await }
            }))
            .await?;
            candidates
                .iter()
                .zip(outputs)
                .filter(|(_, out)| *out == base_text)
                .map(|(c, _)| c)
                .collect()
        };
        r.unused_values = unused
            .into_iter()
            .map(|c| values::UnusedValue {
                path: c.path.clone(),
                suggestion: c.suggestion.clone(),
            })
            .collect();
    }
    Ok(r)
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
