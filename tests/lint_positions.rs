//! Issue 20: every finding of the fixtures has the line and column where the user edits it, and `--format github` /
//! `--format sarif` carry them (the SARIF validated against the OASIS SARIF 2.1.0 schema). Render tier: the real
//! `helm template` and chart archives; skips with a reason when they are missing (fails with
//! HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::path::{Path, PathBuf};

use headlamp_e2e::finding::Finding;
use headlamp_e2e::lint;
use headlamp_e2e::report::findings::{to_github, to_sarif};
use headlamp_e2e::testing::{copy_tree, project_root, render_tools};

fn fixtures(rel: &str) -> PathBuf {
    project_root().join("fixtures").join(rel)
}

async fn lint_dir(dir: &Path) -> Option<Vec<Finding>> {
    let (helm, store) = render_tools("headlamp", "0.41.0")?;
    let report = lint::lint(dir, &store, Some(&helm))
        .await
        .expect("lint runs");
    Some(report.findings)
}

/// (rule, file, line, column) of the finding of `rule` on `object`.
fn at<'a>(findings: &'a [Finding], rule: &str, object: &str) -> (&'a str, u32, u32) {
    let f = findings
        .iter()
        .find(|f| f.rule == rule && f.object == object)
        .unwrap_or_else(|| panic!("no {rule} on {object}: {findings:#?}"));
    (
        f.file.as_str(),
        f.line.unwrap_or_else(|| panic!("{f:#?} has no line")),
        f.column.unwrap_or_else(|| panic!("{f:#?} has no column")),
    )
}

/// The text of line `line` of `file` in `dir`.
fn line_of(dir: &Path, file: &str, line: u32) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .nth(line as usize - 1)
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn every_finding_of_the_fixtures_has_a_line() {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for group in ["broken", "layouts"] {
        for e in std::fs::read_dir(fixtures(group)).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            }
        }
    }
    dirs.sort();
    let mut seen = 0;
    for dir in dirs {
        let (helm, store) = match render_tools("headlamp", "0.41.0") {
            Some(t) => t,
            None => return,
        };
        let Ok(report) = lint::lint(&dir, &store, Some(&helm)).await else {
            continue; // a layout without objects of its own (sops) cannot run
        };
        for f in &report.findings {
            seen += 1;
            assert!(
                f.file.is_empty() || (f.line.is_some() && f.column.is_some()),
                "{}: {f:#?} has no position",
                dir.display()
            );
            if let Some(line) = f.line {
                assert!(
                    !line_of(&dir, &f.file, line).trim().is_empty(),
                    "{}: {f:#?} points at an empty line",
                    dir.display()
                );
            }
        }
    }
    assert!(seen >= 15, "the fixtures have findings ({seen})");
}

#[tokio::test]
async fn each_kind_of_finding_is_at_the_line_the_user_edits() {
    // a HelmRelease value, and the flags of the image that pinned tag runs: the tag
    let dir = fixtures("broken/pinned-image-tag");
    let Some(f) = lint_dir(&dir).await else {
        return;
    };
    let hr = "HelmRelease/headlamp/headlamp";
    assert_eq!(
        at(&f, "image-tag-override", hr),
        ("helmrelease.yaml", 29, 7)
    );
    assert_eq!(line_of(&dir, "helmrelease.yaml", 29).trim(), "tag: v0.38.0");
    assert_eq!(
        at(&f, "image-flag-unsupported", "Deployment/headlamp/headlamp"),
        ("helmrelease.yaml", 29, 7)
    );

    // a chart's own volumeMounts that no value set (the values set extraVolumeMounts): the HelmRelease's values line
    let dir = fixtures("broken/extra-volumes");
    let Some(f) = lint_dir(&dir).await else {
        return;
    };
    assert_eq!(
        at(&f, "rootfs-unwritable-path", "Deployment/headlamp/headlamp"),
        ("helmrelease.yaml", 29, 3)
    );
    assert_eq!(line_of(&dir, "helmrelease.yaml", 29).trim(), "values:");

    // the values a rendered object got from the user: the key in the values
    let dir = fixtures("broken/admin-and-typo");
    let Some(f) = lint_dir(&dir).await else {
        return;
    };
    assert_eq!(
        at(
            &f,
            "rbac-not-read-only",
            "ClusterRoleBinding/headlamp-admin"
        ),
        ("helmrelease.yaml", 35, 7)
    );
    assert_eq!(
        at(&f, "manifest-unknown-field", "Deployment/headlamp/headlamp"),
        ("helmrelease.yaml", 46, 7)
    );

    // a plain manifest a Flux Kustomization built (kustomize's origin annotation names its file): the field
    let dir = fixtures("layouts/template");
    let Some(f) = lint_dir(&dir).await else {
        return;
    };
    let file = "kubernetes/apps/tools/headlamp/app/rbac.yaml";
    assert_eq!(
        at(
            &f,
            "rbac-not-read-only",
            "ClusterRoleBinding/headlamp-admin"
        ),
        (file, 15, 3)
    );
    assert_eq!(line_of(&dir, file, 15).trim(), "name: cluster-admin");

    // objects a kustomization with a configMapGenerator built (named by the kustomization file): their source
    // files among its resources; a values key from the generated ConfigMap: its line in the values file
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixtures("layouts/inputs"), d.path()).unwrap();
    let app = "kubernetes/apps/tools/headlamp/app";
    let values = d.path().join(app).join("values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, format!("{text}extraVolumes:\n  - name: x\n")).unwrap();
    let values_line = text.lines().count() as u32 + 1;
    let Some(f) = lint_dir(d.path()).await else {
        return;
    };
    let hr = "HelmRelease/tools/headlamp";
    let unknown: Vec<&Finding> = f
        .iter()
        .filter(|x| x.rule == "values-unknown-key")
        .collect();
    let from_values = unknown
        .iter()
        .find(|x| x.path == "extraVolumes")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(
        (
            from_values.file.as_str(),
            from_values.line,
            from_values.column
        ),
        (
            format!("{app}/values.yaml").as_str(),
            Some(values_line),
            Some(1)
        )
    );
    let probe = unknown
        .iter()
        .find(|x| x.path == "livenessProbe")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(
        (probe.file.as_str(), probe.line, probe.column),
        (
            format!("{app}/helmrelease.yaml").as_str(),
            Some(29),
            Some(5)
        )
    );
    assert_eq!(
        at(&f, "object-conflict", "Service/tools/headlamp"),
        (format!("{app}/service.yaml").as_str(), 5, 3)
    );
    let missing = f
        .iter()
        .find(|x| x.rule == "values-from-incomplete" && x.object == hr)
        .unwrap();
    assert_eq!(
        line_of(d.path(), &missing.file, missing.line.unwrap()).trim(),
        "- kind: Secret"
    );
}

#[tokio::test]
async fn github_and_sarif_put_a_pinned_tag_and_an_ignored_value_at_their_lines() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixtures("broken/pinned-image-tag"), d.path()).unwrap();
    let hr = d.path().join("helmrelease.yaml");
    let text = std::fs::read_to_string(&hr).unwrap();
    // an ignored value, after the pinned tag (line 29)
    let edited = text.replace(
        "      tag: v0.38.0\n",
        "      tag: v0.38.0\n    extraVolumes:\n      - name: x\n",
    );
    assert_ne!(edited, text);
    std::fs::write(&hr, edited).unwrap();
    let Some(f) = lint_dir(d.path()).await else {
        return;
    };
    let gh = to_github(&f, "gitops");
    assert!(
        gh.lines().all(|l| l.starts_with("::")),
        "only workflow commands: {gh}"
    );
    assert!(
        gh.contains(
            "::warning file=gitops/helmrelease.yaml,line=29,col=7,title=image-tag-override::"
        ),
        "{gh}"
    );
    assert!(
        gh.contains(
            "::error file=gitops/helmrelease.yaml,line=30,col=5,title=values-unknown-key::"
        ),
        "{gh}"
    );
    let sarif = to_sarif(&f, "gitops", "0.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let region = |rule: &str| {
        let r = results
            .iter()
            .find(|r| r["ruleId"] == rule)
            .unwrap_or_else(|| panic!("{sarif:#}"));
        let loc = &r["locations"][0]["physicalLocation"];
        (
            loc["artifactLocation"]["uri"].as_str().unwrap().to_string(),
            loc["region"]["startLine"].as_u64().unwrap(),
            loc["region"]["startColumn"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        region("image-tag-override"),
        ("gitops/helmrelease.yaml".to_string(), 29, 7)
    );
    assert_eq!(
        region("values-unknown-key"),
        ("gitops/helmrelease.yaml".to_string(), 30, 5)
    );
    // valid SARIF 2.1.0 (the OASIS schema, data/upstream/sarif)
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project_root().join("data/upstream/sarif/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// A tree of `(path, text)` files in a temporary directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

const HELM_REPOSITORY: &str = "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: headlamp
  namespace: headlamp
spec:
  interval: 1h
  url: https://kubernetes-sigs.github.io/headlamp/
";

/// Issue 19: a HelmRelease whose chartRef is an OCIRepository with `ref.semver`: the range is the OCIRepository's
/// `spec.ref.semver`, in its own file, and the fix says to set `ref.tag`.
#[tokio::test]
async fn an_oci_semver_is_placed_at_the_oci_repository() {
    let d = tree(&[
        (
            "apps/oci.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  interval: 1h\n  url: oci://ghcr.io/headlamp-k8s/charts/headlamp\n  ref:\n    semver: \"0.41.x\"\n",
        ),
        (
            "apps/release.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  interval: 1h\n  chartRef:\n    kind: OCIRepository\n    name: headlamp\n  values:\n    replicaCount: 1\n",
        ),
    ]);
    let Some(f) = lint_dir(d.path()).await else {
        return;
    };
    let range = f
        .iter()
        .find(|x| x.rule == "chart-version-not-pinned")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(
        at(
            &f,
            "chart-version-not-pinned",
            "OCIRepository/headlamp/headlamp"
        ),
        ("apps/oci.yaml", 10, 5)
    );
    assert!(range.fix.contains("`ref.tag: 0.41.0`"), "{}", range.fix);
    assert!(
        range
            .message
            .contains("(the chart of HelmRelease/headlamp/headlamp)"),
        "{}",
        range.message
    );
}

/// Issue 19: a value an overlay's patch sets (flux2-kustomize-helm-example's `apps/production/podinfo-values.yaml`
/// shape) is placed in the patch, not at the base's HelmRelease kustomize's origin annotation names.
#[tokio::test]
async fn a_value_an_overlay_patch_sets_is_placed_in_the_patch() {
    let d = tree(&[
        (
            "apps/base/release.yaml",
            &format!(
                "{HELM_REPOSITORY}---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: headlamp\n      sourceRef:\n        kind: HelmRepository\n        name: headlamp\n"
            ),
        ),
        (
            "apps/base/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n",
        ),
        (
            "apps/production/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\npatches:\n  - path: values.yaml\n    target:\n      kind: HelmRelease\n",
        ),
        (
            "apps/production/values.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  chart:\n    spec:\n      version: \">=0.41.0 <0.42.0\"\n  values:\n    extraVolumes: []\n",
        ),
    ]);
    let Some(f) = lint_dir(d.path()).await else {
        return;
    };
    let hr = "HelmRelease/headlamp/headlamp";
    assert_eq!(
        at(&f, "chart-version-not-pinned", hr),
        ("apps/production/values.yaml", 9, 7)
    );
    let unknown = f
        .iter()
        .find(|x| x.rule == "values-unknown-key" && x.path == "extraVolumes")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(
        (unknown.file.as_str(), unknown.line, unknown.column),
        ("apps/production/values.yaml", Some(11), Some(5))
    );
}

/// Issue 19: a valuesFrom ConfigMap a configMapGenerator makes with kustomize's hash suffix, its name rewritten in
/// the HelmRelease by a `configurations` nameReference (cluster-template's shape): a values key from it is placed in
/// the values file.
#[tokio::test]
async fn a_value_from_a_hashed_generated_config_map_is_placed_in_its_file() {
    let d = tree(&[
        (
            "apps/demo/app/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: headlamp\nresources:\n  - helmrelease.yaml\nconfigMapGenerator:\n  - name: demo-values\n    files:\n      - values.yaml=./helm/values.yaml\nconfigurations:\n  - ./helm/kustomizeconfig.yaml\n",
        ),
        (
            "apps/demo/app/helm/kustomizeconfig.yaml",
            "nameReference:\n  - kind: ConfigMap\n    version: v1\n    fieldSpecs:\n      - path: spec/valuesFrom/name\n        kind: HelmRelease\n",
        ),
        (
            "apps/demo/app/helm/values.yaml",
            "replicaCount: 1\nextraVolumes: []\n",
        ),
        (
            "apps/demo/app/helmrelease.yaml",
            &format!(
                "{HELM_REPOSITORY}---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: headlamp\n      version: 0.41.0\n      sourceRef:\n        kind: HelmRepository\n        name: headlamp\n  valuesFrom:\n    - kind: ConfigMap\n      name: demo-values\n"
            ),
        ),
    ]);
    let Some(f) = lint_dir(d.path()).await else {
        return;
    };
    let unknown = f
        .iter()
        .find(|x| x.rule == "values-unknown-key" && x.path == "extraVolumes")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(
        (unknown.file.as_str(), unknown.line, unknown.column),
        ("apps/demo/app/helm/values.yaml", Some(2), Some(1))
    );
}
