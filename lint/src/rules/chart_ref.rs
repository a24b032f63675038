//! `chart-ref-unsafe`: a HelmRelease's chart name, chart version or HelmRepository reference is not a plain name
//! (it has `/`, `\`, `..` or a control character, e.g. `chart: ../../../x/evil`). Flux would refuse it; here it
//! would become part of a cache path. Such a release is reported and never rendered: its names touch no file.

use crate::finding::{Finding, Severity};
use crate::rules::input::LintInput;
pub use crate::rules::input::{name_path, unsafe_fields};

pub const RULE: &str = "chart-ref-unsafe";

pub fn check(input: &LintInput) -> Vec<Finding> {
    input
        .releases
        .iter()
        .flat_map(|r| {
            unsafe_fields(r).into_iter().map(move |(path, value)| {
                Finding::new(RULE, Severity::Error)
                    .file(r.file())
                    .object(r.id())
                    .path(path.clone())
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
    use super::*;
    use crate::rules::input::testutil::*;

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

    #[test]
    fn chart_ref_releases_name_the_source_field() {
        // resolved from an OCIRepository: the name comes from spec.url, the version from spec.ref.tag
        let mut r = helmrelease("{}");
        let spec = r.object.value["spec"].as_object_mut().unwrap();
        spec.remove("chart");
        spec.insert(
            "chartRef".into(),
            serde_json::json!({"kind": "OCIRepository", "name": "../x"}),
        );
        r.version_path = "OCIRepository spec.ref.tag".into();
        r.chart_name = "../evil".into();
        r.chart_version = Some("1.0.0/../..".into());
        let f = check(&input(vec![], vec![r.clone()]));
        let paths: Vec<&str> = f.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "OCIRepository spec.url",
                "OCIRepository spec.ref.tag",
                "spec.chartRef.name"
            ]
        );
        r.version_path = "HelmChart spec.version".into();
        assert_eq!(name_path(&r), "HelmChart spec.chart");
    }
}
