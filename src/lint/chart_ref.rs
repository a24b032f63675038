//! `chart-ref-unsafe`: a HelmRelease's chart name, chart version or HelmRepository reference is not a plain name
//! (it has `/`, `\`, `..` or a control character, e.g. `chart: ../../../x/evil`). Flux would refuse it; here it
//! would become part of a cache path. Such a release is reported and never rendered: its names touch no file.

use super::{LintInput, Release};
use crate::chart::plain_name;
use crate::finding::{Finding, Severity};

pub const RULE: &str = "chart-ref-unsafe";

/// The fields of `r` that are not plain names: (path in the HelmRelease, value).
pub fn unsafe_fields(r: &Release) -> Vec<(&'static str, String)> {
    let source = &r.object.value["spec"]["chart"]["spec"]["sourceRef"];
    let mut out = Vec::new();
    if !plain_name(&r.chart_name) {
        out.push(("spec.chart.spec.chart", r.chart_name.clone()));
    }
    if let Some(v) = &r.chart_version
        && !plain_name(v)
    {
        out.push(("spec.chart.spec.version", v.clone()));
    }
    for key in ["name", "namespace"] {
        if let Some(v) = source[key].as_str()
            && !plain_name(v)
        {
            out.push((
                if key == "name" {
                    "spec.chart.spec.sourceRef.name"
                } else {
                    "spec.chart.spec.sourceRef.namespace"
                },
                v.to_string(),
            ));
        }
    }
    out
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    input
        .releases
        .iter()
        .flat_map(|r| {
            unsafe_fields(r).into_iter().map(move |(path, value)| {
                Finding::new(RULE, Severity::Error)
                    .file(r.file())
                    .object(r.id())
                    .path(path)
                    .message(format!(
                        "{path} is {value:?}, not a plain name (no `/`, `\\`, `..` or control characters): the release was not rendered, and the name was not used in any path"
                    ))
                    .fix("use the chart's own name and an exact version (e.g. `chart: headlamp`, `version: 0.41.0`), and the HelmRepository's name")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn traversal_in_name_version_and_source_is_an_error() {
        let r = helmrelease("{}");
        assert!(check(&input(vec![], vec![r.clone()])).is_empty());
        for bad in ["../../../x/evil", "/etc/evil", "a\\b", "x\0y", ".."] {
            let mut r = r.clone();
            r.chart_name = bad.into();
            let f = check(&input(vec![], vec![r]));
            assert_eq!(f.len(), 1, "{bad}");
            assert_eq!(f[0].path, "spec.chart.spec.chart");
        }
        let mut r2 = r.clone();
        r2.chart_version = Some("0.41.0/../../x".into());
        r2.object.value["spec"]["chart"]["spec"]["sourceRef"]["name"] = "../repo".into();
        let f = check(&input(vec![], vec![r2]));
        let paths: Vec<&str> = f.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["spec.chart.spec.version", "spec.chart.spec.sourceRef.name"]
        );
    }
}
