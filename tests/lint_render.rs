//! Render tier: the real `helm template` and the real chart archives. Skips with a reason when helm or the charts are
//! missing, fails instead with HEADLAMP_E2E_REQUIRE_TOOLS=1 (CI).

use std::path::{Path, PathBuf};

use headlamp_e2e::finding::{Finding, Severity};
use headlamp_e2e::lint;
use headlamp_e2e::lint::Error;
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

/// Issue 19: a version range is still an error, but the release is rendered at the newest matching chart at hand
/// (data/upstream/charts: 0.41.0 for `0.41.x`), so the rules on its render run too.
#[tokio::test]
async fn a_version_range_is_rendered_at_the_newest_matching_chart() {
    let d = variant(|t| {
        t.replace("version: 0.41.0", "version: \"0.41.x\"")
            .replacen(
                "  values:\n",
                "  values:\n    image:\n      tag: v0.38.0\n",
                1,
            )
    });
    let Some(findings) = lint_dir(d.path()).await else {
        return;
    };
    let range = findings
        .iter()
        .find(|f| f.rule == "chart-version-not-pinned")
        .expect("the range is still an error");
    assert_eq!(range.severity, Severity::Error);
    assert!(
        range.message.contains("rendered it at 0.41.0"),
        "{}",
        range.message
    );
    // the render ran: the pinned old image under chart 0.41.0 is found
    assert!(
        findings.iter().any(|f| f.rule == "image-flag-unsupported"),
        "{findings:#?}"
    );
}

/// Lint every HelmRelease of `dir` with the chart version its HelmRelease pins.
async fn lint_dir_at(dir: &Path, version: &str) -> Option<Vec<Finding>> {
    let (helm, store) = render_tools("headlamp", version)?;
    Some(
        lint::lint(dir, &store, Some(&helm))
            .await
            .expect("lint runs")
            .findings,
    )
}

fn rootfs(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.rule == "rootfs-unwritable-path")
        .collect()
}

/// Mistake 2 as the write-up tells it (only /tmp writable) is a warning: Headlamp v0.41.0 starts and serves; it logs
/// the two `.config` lines on every start and runs without its user-plugins directory.
#[tokio::test]
async fn readonly_home_tmp_only_is_a_warning_not_a_crash() {
    let Some(findings) = lint_dir(&fixtures("broken/readonly-home")).await else {
        return;
    };
    let r = rootfs(&findings);
    assert_eq!(r.len(), 1, "{findings:#?}");
    assert_eq!(r[0].severity, Severity::Warning);
    assert_eq!(r[0].path, "volumeMounts");
    assert!(
        r[0].message.contains("still starts and serves"),
        "{}",
        r[0].message
    );
    assert!(
        findings.iter().all(|f| f.severity == Severity::Warning),
        "{findings:#?}"
    );
}

/// The same values on the pinned chart and on a bumped one: chart 0.42.0+ mounts an emptyDir at /tmp itself when
/// readOnlyRootFilesystem is true (its templates/_helpers.tpl `headlamp.tmpVolumeContext`), so what crashes on
/// 0.41.0 only warns there. The model reads the real render, not chart versions.
#[tokio::test]
async fn bumped_chart_mounts_tmp_itself() {
    let nothing_writable = |version: &'static str| {
        move |t: &str| {
            let t = t.replace("version: 0.41.0", &format!("version: {version}"));
            let start = t.find("    volumes:\n").expect("volumes in the fixture");
            let end = t.find("    service:\n").expect("service after the volumes");
            format!("{}{}", &t[..start], &t[end..])
        }
    };
    let pinned = variant(nothing_writable("0.41.0"));
    let Some(findings) = lint_dir_at(pinned.path(), "0.41.0").await else {
        return;
    };
    let r = rootfs(&findings);
    assert_eq!(r.len(), 1, "{findings:#?}");
    assert_eq!(r[0].severity, Severity::Error);
    assert!(
        r[0].message.contains(
            "`Failed to create static dir`: `mkdir /tmp/.headlamp<digits>: read-only file system`"
        ),
        "{}",
        r[0].message
    );
    assert!(r[0].message.contains("not the cause"), "{}", r[0].message);
    for version in ["0.42.0", "0.45.0"] {
        let bumped = variant(nothing_writable(version));
        let Some(findings) = lint_dir_at(bumped.path(), version).await else {
            return;
        };
        let r = rootfs(&findings);
        assert_eq!(r.len(), 1, "{version}: {findings:#?}");
        assert_eq!(
            r[0].severity,
            Severity::Warning,
            "{version}: {}",
            r[0].message
        );
        assert!(
            r[0].message.contains(&format!("Headlamp v{version}")),
            "{}",
            r[0].message
        );
    }
    // extraVolumes on 0.42.0: still silently dropped, but /tmp comes from the chart: no crash
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixtures("broken/extra-volumes"), d.path()).unwrap();
    let hr = d.path().join("helmrelease.yaml");
    let text = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(&hr, text.replace("version: 0.41.0", "version: 0.42.0")).unwrap();
    let Some(findings) = lint_dir_at(d.path(), "0.42.0").await else {
        return;
    };
    let r = rootfs(&findings);
    assert_eq!(r.len(), 1, "{findings:#?}");
    assert_eq!(r[0].severity, Severity::Warning);
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.rule == "values-unknown-key")
            .count(),
        2
    );
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
    // the real risk, not "pinned to v0.41.0, but … v0.41.0"
    assert!(
        findings[0]
            .message
            .contains("the appVersion of chart headlamp 0.41.0: harmless today, but a chart bump will not move the image"),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn missing_chart_version_is_a_finding_not_an_abort() {
    let d = variant(|t| t.replacen("      version: 0.41.0\n", "", 1));
    let Some(findings) = lint_dir(d.path()).await else {
        return;
    };
    assert_eq!(
        rules(&findings),
        ["chart-version-not-pinned"],
        "{findings:#?}"
    );
    assert_eq!(findings[0].file, "apps/base/headlamp/helmrelease.yaml");
    assert!(
        findings[0].message.contains("has no version"),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_leading_v_in_the_version_is_the_same_chart() {
    let d = variant(|t| t.replacen("version: 0.41.0", "version: v0.41.0", 1));
    let Some(findings) = lint_dir(d.path()).await else {
        return;
    };
    let unexpected: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule != "flux-source-branch")
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

#[tokio::test]
async fn chart_not_in_cache_nor_repository_is_a_finding_on_that_release() {
    let d = variant(|t| t.replacen("version: 0.41.0", "version: 0.0.1", 1));
    let Some(findings) = lint_dir(d.path()).await else {
        return;
    };
    assert_eq!(rules(&findings), ["chart-unavailable"], "{findings:#?}");
    assert!(
        findings[0]
            .message
            .contains("chart headlamp 0.0.1 not found"),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn an_empty_dir_or_one_without_objects_cannot_run() {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let e = lint::lint(d.path(), &store, Some(&helm)).await.unwrap_err();
    assert!(matches!(e, Error::NothingToLint { files: 0, .. }), "{e}");
    std::fs::write(d.path().join("values.yaml"), "replicaCount: 1\n").unwrap();
    let e = lint::lint(d.path(), &store, Some(&helm)).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no Kubernetes objects found (1 YAML file read"),
        "{e}"
    );
}

/// fixtures/layouts/isolation: Headlamp from an OCIRepository (`spec.chartRef`) next to releases that cannot be
/// rendered (an unreachable OCI registry, helm template failing on the values, no version, no sourceRef). Each of
/// those is a finding on its own release; Headlamp is rendered and linted clean.
#[tokio::test]
async fn one_bad_release_never_aborts_the_rest() {
    let Some((helm, mut store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    // the network path for real: `helm pull oci://127.0.0.1:9/…` (nothing listens there)
    let cache = tempfile::tempdir().unwrap();
    store.offline = false;
    store.cache_dir = Some(cache.path().to_path_buf());
    let report = lint::lint(&fixtures("layouts/isolation"), &store, Some(&helm))
        .await
        .expect("lint runs");
    let got: Vec<(&str, &str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.file.as_str(), f.rule.as_str(), f.path.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "broken-values/helmrelease.yaml",
                "render-failed",
                "spec.chartRef"
            ),
            (
                "grafana/helmrelease.yaml",
                "chart-unavailable",
                "spec.chart"
            ),
            (
                "no-source/helmrelease.yaml",
                "chart-unavailable",
                "spec.chart"
            ),
            (
                "no-source/helmrelease.yaml",
                "helmrelease-source-missing",
                "spec.chart.spec.sourceRef"
            ),
            (
                "unpinned/helmrelease.yaml",
                "chart-version-not-pinned",
                "spec.chart.spec.version"
            ),
        ],
        "{:#?}",
        report.findings
    );
    let f = |rule: &str| report.findings.iter().find(|f| f.rule == rule).unwrap();
    assert!(
        f("render-failed")
            .message
            .contains("/replicaCount': got string, want integer"),
        "{:#?}",
        report.findings
    );
    let grafana = f("chart-unavailable");
    assert!(
        grafana
            .message
            .contains("oci://127.0.0.1:9/grafana-charts/grafana (helm pull, version 9.2.1)")
            && grafana.message.contains("connection refused"),
        "{grafana:#?}"
    );
    // the file named as the version is written (`v9.2.1`), the name `helm pull --version v9.2.1` gives; lint finds
    // `grafana-9.2.1.tgz` too
    assert!(grafana.fix.contains("grafana-v9.2.1.tgz"), "{grafana:#?}");
    assert_eq!(report.summary.counts["helmreleases"], 5);
    // Headlamp, from the OCIRepository's URL (last segment) and tag, rendered from $HEADLAMP_E2E_CHARTS
    assert_eq!(report.summary.counts["rendered"], 1);
}

/// fixtures/layouts/template: the community cluster-template layout. `kubernetes/apps/tools/kustomization.yaml` lists
/// `./headlamp/ks.yaml`, a Flux Kustomization whose `spec.path` is the app directory (relative to the repository
/// root) with `targetNamespace: tools`. Headlamp comes from an OCIRepository `chartRef`; an unrelated release's
/// registry is unreachable. The login ServiceAccount bound to cluster-admin is found because targetNamespace puts its
/// token Secret and the ServiceAccount in `tools`, the namespace the binding names.
#[tokio::test]
async fn the_template_layout_is_followed_through_flux_kustomizations() {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    let report = lint::lint(&fixtures("layouts/template"), &store, Some(&helm))
        .await
        .expect("lint runs");
    let got: Vec<(&str, &str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.file.as_str(), f.rule.as_str(), f.object.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "kubernetes/apps/tools/echo/app/helmrelease.yaml",
                "chart-unavailable",
                "HelmRelease/tools/echo"
            ),
            // chart 0.41.0 renders a ClusterRoleBinding `{fullname}-admin` = headlamp-admin too: Helm would
            // refuse to install over the plain one
            (
                "kubernetes/apps/tools/headlamp/app/rbac.yaml",
                "object-conflict",
                "ClusterRoleBinding/headlamp-admin"
            ),
            (
                "kubernetes/apps/tools/headlamp/app/rbac.yaml",
                "rbac-not-read-only",
                "ClusterRoleBinding/headlamp-admin"
            ),
        ],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.summary.counts["helmreleases"], 2);
    assert_eq!(report.summary.counts["rendered"], 1);
}

/// A helm that logs each run as `RELEASE NAMESPACE` to `runs` in `dir`, then runs the real one.
fn logging_helm(dir: &Path, real: &Path) -> PathBuf {
    headlamp_e2e::testing::script(
        &dir.join("helm"),
        &format!(
            // `template --namespace=NS --values - -- RELEASE CHART`
            "echo \"$6 ${{2#--namespace=}}\" >> '{}'\nexec '{}' \"$@\"",
            dir.join("runs").display(),
            real.display()
        ),
    )
}

fn logged_runs(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_release_rendered_ahead_of_the_tree_is_rendered_once() {
    let Some((helm, store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    // fixtures/gitops: its HelmRelease renders while kubectl builds clusters/e2e's patches, and lint then waits for
    // that render instead of running helm again
    let log = tempfile::tempdir().unwrap();
    let counted =
        headlamp_e2e::chart::Helm::new(logging_helm(log.path(), &helm.bin)).with_cache(None);
    let report = lint::lint(&fixtures("gitops"), &store, Some(&counted))
        .await
        .expect("lint runs");
    assert_eq!(report.summary.counts["rendered"], 1);
    assert_eq!(logged_runs(log.path()), ["headlamp headlamp"]);

    // a Flux Kustomization that moves the HelmRelease to another namespace: the walk does not predict it (no render
    // in the namespace the file names); it is rendered once, where Flux installs it
    let d = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "apps/hl/hr.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: hl, namespace: tools}\nspec:\n  chart: {spec: {chart: headlamp, version: 0.41.0, sourceRef: {kind: HelmRepository, name: headlamp}}}\n",
        ),
        (
            "apps/hl/repo.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: headlamp, namespace: tools}\nspec: {url: https://kubernetes-sigs.github.io/headlamp/}\n",
        ),
        (
            "clusters/home/hl.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: hl, namespace: flux-system}\nspec:\n  path: ./apps/hl\n  targetNamespace: other\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
        ),
    ] {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let log = tempfile::tempdir().unwrap();
    let counted =
        headlamp_e2e::chart::Helm::new(logging_helm(log.path(), &helm.bin)).with_cache(None);
    let report = lint::lint(d.path(), &store, Some(&counted))
        .await
        .expect("lint runs");
    assert_eq!(
        report.summary.counts["rendered"], 1,
        "{:#?}",
        report.findings
    );
    assert_eq!(logged_runs(log.path()), ["hl other"]);
}
