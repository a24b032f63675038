//! Without kubectl, a Flux Kustomization's patches that need kustomize are a warning, never an abort; the JSON
//! patches lint applies itself (`gitops::flux_patch`) need no kubectl. Alone in its test binary: it changes
//! KUBECTL_BIN for its process.

use headlamp_e2e::gitops;

use headlamp_e2e::testing::write_file as write;

#[test]
fn without_kubectl_the_patches_are_a_warning_not_an_abort() {
    let d = tempfile::tempdir().unwrap();
    let ks = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps\n  sourceRef: {kind: GitRepository, name: flux-system}\n  patches:\n    - target: {kind: Deployment, name: d}\n      patch: |\n";
    // a strategic merge patch: only kustomize applies it
    write(
        d.path(),
        "clusters/e2e/apps.yaml",
        format!(
            "{ks}        apiVersion: apps/v1\n        kind: Deployment\n        metadata: {{name: d}}\n        spec: {{replicas: 0}}\n"
        ),
    );
    // the same as a JSON patch, in another tree
    let json = tempfile::tempdir().unwrap();
    write(
        json.path(),
        "clusters/e2e/apps.yaml",
        format!("{ks}        - op: replace\n          path: /spec/replicas\n          value: 0\n"),
    );
    for dir in [d.path(), json.path()] {
        write(
            dir,
            "apps/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec: {replicas: 2}\n",
        );
    }
    // SAFETY: the only test of this binary; no other thread reads the environment meanwhile
    let old = std::env::var_os("KUBECTL_BIN");
    unsafe { std::env::set_var("KUBECTL_BIN", "/nonexistent/kubectl") };
    let t = gitops::load(d.path());
    let applied = gitops::load(json.path());
    match old {
        Some(v) => unsafe { std::env::set_var("KUBECTL_BIN", v) },
        None => unsafe { std::env::remove_var("KUBECTL_BIN") },
    }
    let t = t.unwrap();
    assert_eq!(t.findings.len(), 1, "{:#?}", t.findings);
    assert_eq!(t.findings[0].rule, "flux-kustomization-build");
    assert_eq!(
        t.findings[0].severity,
        headlamp_e2e::finding::Severity::Warning
    );
    assert!(t.findings[0].message.contains("patches were NOT applied"));
    let d: Vec<_> = t
        .objects
        .iter()
        .filter(|o| o.id() == "Deployment/n/d")
        .collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].value["spec"]["replicas"], 2);

    let applied = applied.unwrap();
    assert!(applied.findings.is_empty(), "{:#?}", applied.findings);
    let d: Vec<_> = applied
        .objects
        .iter()
        .filter(|o| o.id() == "Deployment/n/d")
        .collect();
    assert_eq!(d[0].value["spec"]["replicas"], 0);
}
