//! Render tier: the real `helm template` and the real chart archives. Skips with a reason when helm or the charts are
//! missing, fails instead with HEADLAMP_E2E_REQUIRE_TOOLS=1 (CI).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use headlamp_e2e::Error;
use headlamp_e2e::finding::{Finding, Severity};
use headlamp_e2e::lint;
use headlamp_e2e::testing::{copy_tree, project_root, render_tools};
use rstest::rstest;

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

/// A copy of fixtures/gitops whose HelmRelease text went through `edit`.
fn variant(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixtures("gitops"), d.path()).unwrap();
    let hr = d.path().join("apps/base/headlamp/helmrelease.yaml");
    let text = std::fs::read_to_string(&hr).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&hr, edited).unwrap();
    d
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    let mut r: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    r.dedup();
    r
}

#[tokio::test]
async fn fixtures_gitops_is_clean() {
    let Some(findings) = lint_dir(&fixtures("gitops")).await else {
        return;
    };
    // flux-source-branch may warn when this checkout itself is on a feature branch; nothing else may appear.
    let unexpected: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule != "flux-source-branch")
        .collect();
    assert!(
        unexpected.is_empty(),
        "fixtures/gitops must lint clean: {unexpected:#?}"
    );
}

#[rstest]
#[case::pinned_image_tag("pinned-image-tag", &[("image-flag-unsupported", "spec.template.spec.containers[0].args"), ("image-tag-override", "image.tag")])]
#[case::readonly_home("readonly-home", &[("rootfs-unwritable-path", "volumeMounts")])]
#[case::extra_volumes("extra-volumes", &[("values-unknown-key", "extraVolumeMounts"), ("values-unknown-key", "extraVolumes"), ("rootfs-unwritable-path", "volumeMounts")])]
#[case::admin_and_typo("admin-and-typo", &[("rbac-not-read-only", "clusterRoleBinding.clusterRoleName"), ("manifest-unknown-field", "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem")])]
#[case::version_range("version-range", &[("chart-version-not-pinned", "spec.chart.spec.version")])]
#[tokio::test]
async fn broken_variant_yields_its_rules(#[case] name: &str, #[case] expected: &[(&str, &str)]) {
    let Some(findings) = lint_dir(&fixtures(&format!("broken/{name}"))).await else {
        return;
    };
    for (rule, path) in expected {
        assert!(
            findings.iter().any(|f| f.rule == *rule && f.path == *path),
            "{name}: expected {rule} at {path}, got {findings:#?}"
        );
    }
    assert!(
        findings.iter().any(|f| f.severity == Severity::Error),
        "{name} must fail the lint"
    );
    let allowed: Vec<&str> = expected.iter().map(|(r, _)| *r).collect();
    for f in &findings {
        assert!(
            allowed.contains(&f.rule.as_str()) || f.rule == "flux-source-branch",
            "{name}: unexpected {f:#?}"
        );
    }
}

#[tokio::test]
async fn extra_volumes_names_the_real_keys() {
    let Some(findings) = lint_dir(&fixtures("broken/extra-volumes")).await else {
        return;
    };
    let unknown: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "values-unknown-key")
        .collect();
    assert_eq!(unknown.len(), 2);
    assert!(
        unknown
            .iter()
            .any(|f| f.fix == "rename `extraVolumes` to `volumes`")
    );
    assert!(
        unknown
            .iter()
            .any(|f| f.fix == "rename `extraVolumeMounts` to `volumeMounts`")
    );
}

#[tokio::test]
async fn unknown_key_is_exact_consumed_undeclared_keys_are_not_reported() {
    // config.tlsCertPath is not in values.yaml but the template reads it; config.bogus is read by nothing.
    let d = variant(|t| {
        t.replacen(
            "    ingress:\n",
            "    config:\n      tlsCertPath: /certs/tls.crt\n      bogus: true\n    ingress:\n",
            1,
        )
    });
    let Some(findings) = lint_dir(d.path()).await else {
        return;
    };
    let paths: Vec<&str> = findings
        .iter()
        .filter(|f| f.rule == "values-unknown-key")
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["config.bogus"], "{findings:#?}");
}

#[tokio::test]
async fn image_tag_equal_to_app_version_only_warns() {
    let d = variant(|t| {
        t.replacen(
            "  values:\n",
            "  values:\n    image:\n      tag: v0.41.0\n",
            1,
        )
    });
    let Some(findings) = lint_dir(d.path()).await else {
        return;
    };
    assert_eq!(rules(&findings), ["image-tag-override"], "{findings:#?}");
    assert!(findings[0].message.contains("appVersion 0.41.0"));
}

#[tokio::test]
async fn missing_chart_version_cannot_run() {
    let d = variant(|t| t.replacen("      version: 0.41.0\n", "", 1));
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let e = lint::lint(d.path(), &store, Some(&helm)).await.unwrap_err();
    assert!(matches!(e, Error::MissingChartVersion { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("apps/base/headlamp/helmrelease.yaml"),
        "{e}"
    );
}

#[tokio::test]
async fn chart_not_in_cache_nor_repository_cannot_run() {
    let d = variant(|t| t.replacen("version: 0.41.0", "version: 0.0.1", 1));
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let e = lint::lint(d.path(), &store, Some(&helm)).await.unwrap_err();
    assert!(
        e.to_string().contains("chart headlamp 0.0.1 not found"),
        "{e}"
    );
}

/// Lint must cost at most 5 `helm template` runs of the same chart and values (the budget), measured side
/// by side. `cargo xtask bench-lint` prints the same numbers.
#[tokio::test]
async fn lint_costs_at_most_five_helm_templates() {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let dir = fixtures("gitops");
    let tree = headlamp_e2e::gitops::load(&dir).unwrap();
    let hr = tree
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .next()
        .unwrap();
    let release = lint::Release::from_object(hr, Some(&tree)).unwrap();
    let chart = store.local(&headlamp_e2e::chart::ChartRef {
        name: "headlamp".into(),
        version: "0.41.0".into(),
        repo_url: None,
    });
    let chart = chart.unwrap();
    let (mut l, mut h) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        lint::lint(&dir, &store, Some(&helm)).await.unwrap();
        l.push(t.elapsed());
        let t = Instant::now();
        helm.template(
            &chart,
            &release.release_name,
            &release.namespace,
            &release.values,
        )
        .await
        .unwrap();
        h.push(t.elapsed());
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (l, h) = (median(l), median(h));
    eprintln!(
        "lint median {l:?}, helm template median {h:?}, ratio {:.2}",
        l.as_secs_f64() / h.as_secs_f64()
    );
    assert!(
        l.as_secs_f64() <= 5.0 * h.as_secs_f64(),
        "lint {l:?} > 5 × helm template {h:?}"
    );
    assert!(l < Duration::from_secs(1), "lint took {l:?}");
}
