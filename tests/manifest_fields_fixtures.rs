//! The fixture GitOps tree is the reference of a correct setup: `manifest-unknown-field` and `manifest-invalid` must
//! find nothing in it, neither in its plain manifests nor in what the real charts render from it (render tier: skips
//! with a reason without helm or the chart archives, fails instead with HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::path::{Path, PathBuf};

use headlamp_e2e::chart::{ChartRef, ChartStore, Helm};
use headlamp_e2e::gitops;
use headlamp_e2e::lint::manifest_fields::{self, INVALID_RULE, RULE};
use headlamp_e2e::lint::{self, LintInput};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gitops")
}

#[test]
fn fixture_manifests_have_no_unknown_fields() {
    let tree = gitops::load(&fixtures()).expect("load fixtures/gitops");
    assert!(!tree.objects.is_empty());
    // Every object is checked, except kinds without a schema here (Traefik's IngressRoute).
    let unchecked: Vec<String> = tree
        .objects
        .iter()
        .filter(|o| !manifest_fields::knows(o.api_version(), o.kind()))
        .map(|o| o.id())
        .collect();
    assert_eq!(unchecked, ["IngressRoute/headlamp/headlamp"]);
    let input = LintInput {
        root: tree.root,
        objects: tree.objects,
        releases: Vec::new(),
        problems: Vec::new(),
        checkout: None,
        plain_fields: None,
        clusters: Default::default(),
    };
    let findings: Vec<_> = manifest_fields::check(&input)
        .into_iter()
        .filter(|f| f.rule == RULE || f.rule == INVALID_RULE)
        .collect();
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_typo_in_a_fixture_manifest_is_found() {
    let tree = gitops::load(&fixtures()).expect("load fixtures/gitops");
    let mut objects = tree.objects;
    let cloudflared = objects
        .iter_mut()
        .find(|o| o.id() == "Deployment/headlamp/cloudflared")
        .expect("the cloudflared Deployment");
    cloudflared.value["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] =
        true.into();
    let input = LintInput {
        root: tree.root,
        objects,
        releases: Vec::new(),
        problems: Vec::new(),
        checkout: None,
        plain_fields: None,
        clusters: Default::default(),
    };
    let findings = manifest_fields::check(&input);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].path,
        "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"
    );
    assert_eq!(findings[0].file, "apps/base/headlamp/cloudflared.yaml");
}

/// The fixture tree with the HelmRelease at `version` and its values edited by `edit`, rendered; `None` (with a
/// printed reason) when the chart archive is missing.
async fn rendered(
    (helm, store): &(Helm, ChartStore),
    version: &str,
    edit: impl Fn(&mut Value),
) -> Option<LintInput> {
    let chart = ChartRef {
        name: "headlamp".into(),
        version: version.into(),
        repo_url: None,
    };
    if store.local(&chart).is_none() {
        eprintln!("skipped: no headlamp-{version}.tgz in the chart directory");
        return None;
    }
    let mut tree = gitops::load(&fixtures()).expect("load fixtures/gitops");
    let hr = tree
        .objects
        .iter_mut()
        .find(|o| o.is("helm.toolkit.fluxcd.io", "HelmRelease"))
        .expect("the HelmRelease");
    hr.value["spec"]["chart"]["spec"]["version"] = version.into();
    edit(&mut hr.value["spec"]["values"]);
    Some(
        lint::prepare(tree, store, Some(helm))
            .await
            .expect("render"),
    )
}

#[tokio::test]
async fn rendered_chart_output_has_no_unknown_fields() {
    let Some(tools) = headlamp_e2e::testing::render_tools("headlamp", "0.41.0") else {
        return;
    };
    let mut rendered_versions = 0;
    for version in ["0.38.0", "0.41.0", "0.42.0", "0.45.0"] {
        let Some(input) = rendered(&tools, version, |_| {}).await else {
            continue;
        };
        rendered_versions += 1;
        let checked = input.releases[0]
            .rendered
            .iter()
            .filter(|o| manifest_fields::knows(o.api_version(), o.kind()))
            .count();
        assert!(
            checked >= 3,
            "chart {version}: only {checked} rendered objects checked"
        );
        let findings = manifest_fields::check(&input);
        assert!(findings.is_empty(), "chart {version}: {findings:#?}");
    }
    assert!(
        rendered_versions > 0 || !headlamp_e2e::testing::tools_required(),
        "no chart archive to render (HEADLAMP_E2E_REQUIRE_TOOLS=1)"
    );
}

#[tokio::test]
async fn a_miscased_value_passed_through_by_the_chart_is_found() {
    let Some(tools) = headlamp_e2e::testing::render_tools("headlamp", "0.41.0") else {
        return;
    };
    let Some(input) = rendered(&tools, "0.41.0", |values| {
        let sc = &mut values["securityContext"];
        if let Some(m) = sc.as_object_mut() {
            let v = m.remove("readOnlyRootFilesystem").unwrap_or(true.into());
            m.insert("readOnlyRootFileSystem".into(), v);
        }
    })
    .await
    else {
        return;
    };
    let findings = manifest_fields::check(&input);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f.rule, RULE);
    assert_eq!(f.object, "Deployment/headlamp/headlamp");
    assert_eq!(
        f.path,
        "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"
    );
    assert_eq!(f.file, "apps/base/headlamp/helmrelease.yaml");
    assert!(
        f.message
            .contains("did you mean \"readOnlyRootFilesystem\""),
        "{}",
        f.message
    );
    assert!(
        f.fix.contains("rename `securityContext.readOnlyRootFileSystem` to `securityContext.readOnlyRootFilesystem` in spec.values of HelmRelease headlamp/headlamp"),
        "{}",
        f.fix
    );
}
