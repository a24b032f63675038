//! `chart-schema-not-checked`: a chart whose `values.schema.json` (its own or a subchart's) refers to documents by
//! URL is rendered with `--skip-schema-validation` ([`crate::chart::Chart::remote_schema_refs`]): lint contacts no
//! host the tree does not name as a chart source, and offline helm's fetch of them fails the render although the
//! values are not at fault (bjw-s app-template 3.1.0 `$ref`s raw.githubusercontent.com). One `info` note per chart
//! and version says the values were not checked against that schema. helm-controller v1.6.3 validates with helm's
//! `pkg/chart/common/util/jsonschema.go` (helm v4), which loads `http`/`https` references: in the cluster they are
//! fetched and checked.

use crate::finding::{Finding, Severity};
use crate::rules::input::LintInput;

pub const RULE: &str = "chart-schema-not-checked";

/// One note per (chart, version) with remote schema references, on the first release that uses it.
pub fn check(input: &LintInput) -> Vec<Finding> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for r in &input.releases {
        let Some(chart) = &r.chart else { continue };
        if chart.remote_schema_refs.is_empty()
            || seen.contains(&(chart.name.as_str(), chart.version.as_str()))
        {
            continue;
        }
        seen.push((&chart.name, &chart.version));
        let users: Vec<String> = input
            .releases
            .iter()
            .filter(|o| {
                o.chart
                    .as_ref()
                    .is_some_and(|c| c.name == chart.name && c.version == chart.version)
            })
            .map(|o| o.id())
            .collect();
        const SHOWN: usize = 5;
        let mut urls: Vec<String> = chart
            .remote_schema_refs
            .iter()
            .take(SHOWN)
            .map(|u| format!("`{u}`"))
            .collect();
        if chart.remote_schema_refs.len() > SHOWN {
            urls.push(format!(
                "and {} more",
                chart.remote_schema_refs.len() - SHOWN
            ));
        }
        out.push(
            Finding::new(RULE, Severity::Info)
                .file(r.file())
                .object(r.id())
                .path("spec.chart")
                .message(format!(
                    "chart {} {} has a values schema that refers to documents by URL ({}); lint does not fetch them, so the values of {} release{} ({}) were rendered without checking them against the chart's schema. Flux's helm-controller fetches and checks them in the cluster.",
                    chart.name,
                    chart.version,
                    urls.join(", "),
                    users.len(),
                    if users.len() == 1 { "" } else { "s" },
                    users.join(", "),
                ))
                .fix(format!(
                    "nothing to change; to check the values yourself run `helm template` of chart {} {} where those URLs can be reached",
                    chart.name, chart.version
                )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// eval5 F-1: one `info` note per chart and version naming the URLs and every release that uses the chart; a
    /// chart whose schema is local gets none.
    #[test]
    fn one_note_per_chart_with_remote_schema_references() {
        let (_d, remote) = crate::chart::test_charts::pack("remote-schema", &[]);
        let local = r#"{"type": "object"}"#;
        let (_e, plain) =
            crate::chart::test_charts::pack("remote-schema", &[("values.schema.json", local)]);
        let release = |name: &str, chart: &crate::chart::Chart| {
            let mut r = crate::rules::input::testutil::helmrelease("replicas: 2");
            r.object.value["metadata"]["name"] = serde_json::json!(name);
            r.chart = Some(chart.clone());
            r
        };
        let input = LintInput {
            releases: vec![release("a", &remote), release("b", &remote)],
            ..Default::default()
        };
        let notes = check(&input);
        assert_eq!(notes.len(), 1, "{notes:#?}");
        assert_eq!(notes[0].severity, Severity::Info);
        let m = &notes[0].message;
        assert!(
            m.contains("chart remote-schema 0.1.0")
                && m.contains("`https://example.invalid/x.json`")
                && m.contains("2 releases"),
            "{m}"
        );
        let input = LintInput {
            releases: vec![release("a", &plain)],
            ..Default::default()
        };
        assert!(check(&input).is_empty());
    }
}
