//! The values check: every lint rule (`values-unknown-key`, `image-flag-unsupported`, `rootfs-unwritable-path`,
//! `image-tag-override`, `rbac-not-read-only`, …) applied to the live HelmRelease, rendered through the lint pipeline
//! ([`lint::render_release`]) with the chart version it runs: `status.lastAttemptedRevision`, else the spec's pin.
//! When helm or the chart is unavailable the check leaves a note (no finding, no failure).

use std::path::PathBuf;

use serde_json::Value;

use super::check::{Check, object_id};
use super::options::Render;
use crate::error::Result;
use crate::gitops::Object;
use crate::lint::{self, LintInput, Release};
use crate::view::{self, ClusterView, HELMRELEASE, HELMREPOSITORY};

/// The rule ids this check can report (all lint rules).
pub fn rules() -> Vec<&'static str> {
    lint::RULES.iter().map(|r| r.id).collect()
}

/// The chart version the release runs: `status.lastAttemptedRevision` when it is an exact version (build metadata
/// dropped), else the spec's exact pin.
pub fn running_chart_version(hr: &Value) -> Option<String> {
    let exact = |s: &str| {
        let s = s.split('+').next().unwrap_or(s).trim();
        semver::Version::parse(s.trim_start_matches('v'))
            .is_ok()
            .then(|| s.to_string())
    };
    hr["status"]["lastAttemptedRevision"]
        .as_str()
        .and_then(exact)
        .or_else(|| {
            hr["spec"]["chart"]["spec"]["version"]
                .as_str()
                .and_then(exact)
        })
}

pub async fn check(view: &dyn ClusterView, releases: &[Value], render: &Render) -> Result<Check> {
    let check = Check::new("values", "values of the live HelmRelease", rules());
    let (helm, store) = match render {
        Render::Off => return Ok(check.skipped("rendering is off".into())),
        Render::Unavailable(why) => {
            return Ok(check.skipped(format!("cannot render the chart: {why}")));
        }
        Render::Tools { helm, store } => (helm, store),
    };
    let mut check = check;
    for hr in releases {
        let id = object_id(hr);
        let (ns, name) = (view::namespace_of(hr), view::name_of(hr));
        let object = Object::plain(
            hr.clone(),
            PathBuf::from(view.location(&HELMRELEASE, ns, name)),
        );
        let mut release = match Release::from_object(&object, None) {
            Ok(r) => r,
            Err(e) => {
                check.notes.push(format!("{id} not rendered: {e}"));
                continue;
            }
        };
        let Some(version) = running_chart_version(hr) else {
            check.notes.push(format!(
                "{id} not rendered: neither status.lastAttemptedRevision nor spec.chart.spec.version is an exact chart version"
            ));
            continue;
        };
        release.chart_version = Some(version.clone());
        let source = &hr["spec"]["chart"]["spec"]["sourceRef"];
        if source["kind"] == "HelmRepository"
            && let Some(src_name) = source["name"].as_str()
        {
            let src_ns = source["namespace"].as_str().or(ns);
            release.repo_url = view
                .get(&HELMREPOSITORY, src_ns, src_name)
                .await?
                .and_then(|r| r["spec"]["url"].as_str().map(str::to_string));
        }
        let rendered = match lint::render_release(release, store, helm).await {
            Ok(r) => r,
            Err(e) => {
                check.notes.push(format!(
                    "{id} not rendered with chart {} {version}: {e}",
                    hr["spec"]["chart"]["spec"]["chart"].as_str().unwrap_or("?")
                ));
                continue;
            }
        };
        let input = LintInput {
            root: PathBuf::from(view.target()),
            objects: vec![object],
            releases: vec![rendered],
            problems: Vec::new(),
            checkout: None,
            plain_fields: None,
            clusters: Default::default(),
        };
        check.findings.extend(lint::run_rules(&input));
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_version_prefers_what_runs() {
        let hr = serde_json::json!({"spec": {"chart": {"spec": {"version": "0.41.x"}}},
            "status": {"lastAttemptedRevision": "0.41.0"}});
        assert_eq!(running_chart_version(&hr).as_deref(), Some("0.41.0"));
        let hr =
            serde_json::json!({"spec": {"chart": {"spec": {"version": "0.41.0"}}}, "status": {}});
        assert_eq!(running_chart_version(&hr).as_deref(), Some("0.41.0"));
        let hr = serde_json::json!({"spec": {"chart": {"spec": {"version": "0.41.x"}}}});
        assert_eq!(running_chart_version(&hr), None);
        let hr = serde_json::json!({"status": {"lastAttemptedRevision": "0.41.0+8c1f0e3a9b27"}});
        assert_eq!(running_chart_version(&hr).as_deref(), Some("0.41.0"));
    }
}
