//! The GitOps tree read as kustomize-controller v1.9.4 applies it: Flux `patches`/`components` built with the real
//! kustomize (kubectl), postBuild substitution, one object per identity, a base read once through its overlay,
//! kustomize resources outside their root. Cases that need kubectl skip without it (fail with
//! HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::path::PathBuf;

use headlamp_e2e::gitops::{self, Object};
use headlamp_e2e::testing::{copy_tree, project_root, skip, tools_required};

fn kubectl() -> Option<()> {
    let bin = std::env::var_os("KUBECTL_BIN").unwrap_or_else(|| "kubectl".into());
    match std::process::Command::new(&bin)
        .args(["version", "--client"])
        .output()
    {
        Ok(o) if o.status.success() => Some(()),
        _ => skip("kubectl not found (set KUBECTL_BIN)"),
    }
}

fn fixture(rel: &str) -> PathBuf {
    project_root().join("fixtures").join(rel)
}

use headlamp_e2e::testing::write_file as write;

fn one<'a>(t: &'a gitops::Tree, id: &str) -> &'a Object {
    let found: Vec<&Object> = t.objects.iter().filter(|o| o.id() == id).collect();
    assert_eq!(
        found.len(),
        1,
        "{id}: {:?}",
        t.objects.iter().map(Object::id).collect::<Vec<_>>()
    );
    found[0]
}

#[test]
fn the_overlays_fixture_is_read_as_flux_applies_it() {
    if kubectl().is_none() {
        return;
    }
    let t = gitops::load(&fixture("layouts/overlays")).unwrap();
    assert!(t.findings.is_empty(), "{:#?}", t.findings);
    let ids: Vec<String> = t.objects.iter().map(Object::id).collect();
    assert_eq!(ids.len(), 9, "{ids:?}");
    // the base is read once, through the overlay (no second, unpatched HelmRelease)
    let hr = one(&t, "HelmRelease/headlamp/headlamp");
    assert_eq!(
        hr.file,
        PathBuf::from("apps/base/headlamp/helmrelease.yaml")
    );
    // `${HEADLAMP_VERSION:=0.41.0}`: the default; the overlay's patch `${HEADLAMP_REPLICAS:=1}` from substitute
    assert_eq!(hr.value["spec"]["chart"]["spec"]["version"], "0.41.0");
    assert_eq!(hr.value["spec"]["values"]["replicaCount"], 1);
    // the Flux patch, with `${CLUSTER_NAME}` from the cluster-settings ConfigMap
    assert_eq!(
        hr.value["spec"]["values"]["podAnnotations"]["cluster"],
        "home"
    );
    // the component's TLS and the Secret's (base64) SECRET_DOMAIN
    let ing = one(&t, "Ingress/headlamp/headlamp");
    assert_eq!(
        ing.value["spec"]["rules"][0]["host"],
        "headlamp.example.org"
    );
    assert_eq!(
        ing.value["spec"]["tls"][0]["hosts"][0],
        "headlamp.example.org"
    );
    // kustomize's origin annotation is gone again
    assert!(ing.value["metadata"].get("annotations").is_none());
}

#[test]
fn an_unresolved_variable_is_a_warning_and_the_render_goes_on() {
    if kubectl().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixture("layouts/overlays"), d.path()).unwrap();
    let ing = d.path().join("apps/base/headlamp/ingress.yaml");
    let text = std::fs::read_to_string(&ing).unwrap();
    std::fs::write(&ing, text.replace("${SECRET_DOMAIN}", "${SECRET_DOMIAN}")).unwrap();
    let t = gitops::load(d.path()).unwrap();
    let rules: Vec<(&str, &str, &str)> = t
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.object.as_str(), f.file.as_str()))
        .collect();
    assert_eq!(
        rules,
        [(
            "flux-substitution-unresolved",
            "Ingress/headlamp/headlamp",
            "apps/base/headlamp/ingress.yaml"
        )]
    );
    assert!(t.findings[0].message.contains("${SECRET_DOMIAN}"));
    assert!(
        t.findings[0]
            .message
            .contains("Kustomization/flux-system/apps")
    );
    // non-strict: the empty string, as kustomize-controller substitutes it; the TLS host still has the right name
    let ing = one(&t, "Ingress/headlamp/headlamp");
    assert_eq!(ing.value["spec"]["rules"][0]["host"], "headlamp.");
    assert_eq!(
        ing.value["spec"]["tls"][0]["hosts"][0],
        "headlamp.example.org"
    );
}

#[test]
fn a_missing_or_encrypted_source_is_a_warning_naming_it_never_its_values() {
    if kubectl().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixture("layouts/overlays"), d.path()).unwrap();
    // the Secret SOPS-encrypted, and a second ConfigMap that is not in the tree
    write(
        d.path(),
        "clusters/home/cluster-secrets.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: cluster-secrets, namespace: flux-system}\ndata:\n  SECRET_DOMAIN: ENC[AES256_GCM,data:bm90LXJlYWw=,iv:AAAA,tag:AAAA,type:str]\nsops:\n  version: 3.10.2\n",
    );
    let ks = d.path().join("clusters/home/apps.yaml");
    let text = std::fs::read_to_string(&ks).unwrap();
    std::fs::write(
        &ks,
        text.replace(
            "      - kind: Secret\n",
            "      - kind: ConfigMap\n        name: region-settings\n      - kind: ConfigMap\n        name: optional-settings\n        optional: true\n      - kind: Secret\n",
        ),
    )
    .unwrap();
    let t = gitops::load(d.path()).unwrap();
    let got: Vec<(&str, &str)> = t
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.path.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "flux-substitution-source",
                "spec.postBuild.substituteFrom[1]"
            ),
            (
                "flux-substitution-source",
                "spec.postBuild.substituteFrom[3]"
            )
        ],
        "{:#?}",
        t.findings
    );
    assert!(
        t.findings[0]
            .message
            .contains("ConfigMap/flux-system/region-settings")
    );
    assert!(
        t.findings[1].message.contains("SOPS-encrypted")
            && t.findings[1].message.contains("SECRET_DOMAIN")
    );
    // a source missing from the tree may be a real problem (a warning); a SOPS-encrypted one needs no change (a note)
    use headlamp_e2e::finding::Severity;
    assert_eq!(t.findings[0].severity, Severity::Warning);
    assert_eq!(t.findings[1].severity, Severity::Info);
    for f in &t.findings {
        assert!(!f.message.contains("ENC["), "{}", f.message);
    }
    // the encrypted variable stays a reference
    let ing = one(&t, "Ingress/headlamp/headlamp");
    assert_eq!(
        ing.value["spec"]["rules"][0]["host"],
        "headlamp.${SECRET_DOMAIN}"
    );
}

#[test]
fn a_patch_that_does_not_apply_is_an_error_on_the_flux_kustomization() {
    if kubectl().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixture("layouts/overlays"), d.path()).unwrap();
    let ks = d.path().join("clusters/home/apps.yaml");
    let text = std::fs::read_to_string(&ks).unwrap();
    std::fs::write(
        &ks,
        text.replace(
            "../../../components/ingress-tls",
            "../../../components/nope",
        ),
    )
    .unwrap();
    let t = gitops::load(d.path()).unwrap();
    assert_eq!(t.findings.len(), 1, "{:#?}", t.findings);
    let f = &t.findings[0];
    assert_eq!(
        (f.rule.as_str(), f.severity, f.object.as_str()),
        (
            "flux-kustomization-build",
            headlamp_e2e::finding::Severity::Error,
            "Kustomization/flux-system/apps"
        )
    );
    assert!(f.message.contains("components/nope"), "{}", f.message);
    // the temporary build directory is not shown
    assert!(
        !f.message.contains("headlamp-e2e-flux-build"),
        "{}",
        f.message
    );
    // the path is still linted (without the Flux patches)
    one(&t, "HelmRelease/headlamp/headlamp");
}

#[test]
fn a_resource_file_outside_the_kustomization_root_is_reported_as_flux_and_kustomize_see_it() {
    if kubectl().is_none() && tools_required() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    write(
        d.path(),
        "apps/headlamp/kustomization.yaml",
        "resources:\n  - ../common/namespace.yaml\n  - cm.yaml\n",
    );
    write(
        d.path(),
        "apps/headlamp/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: headlamp}\n",
    );
    write(
        d.path(),
        "apps/common/namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: headlamp}\n",
    );
    let t = gitops::load(d.path()).unwrap();
    assert_eq!(t.findings.len(), 1, "{:#?}", t.findings);
    let f = &t.findings[0];
    assert_eq!(f.rule, "kustomize-resource-outside-root");
    assert_eq!(f.severity, headlamp_e2e::finding::Severity::Warning);
    assert_eq!(
        (f.file.as_str(), f.path.as_str()),
        ("apps/headlamp/kustomization.yaml", "resources[0]")
    );
    assert!(
        f.message.contains("kustomize-controller builds it"),
        "{}",
        f.message
    );
    // Flux builds it, so it is linted
    one(&t, "Namespace/headlamp");
    // what kubectl kustomize (the default load restrictor) says about the same directory
    if kubectl().is_some() {
        let bin = std::env::var_os("KUBECTL_BIN").unwrap_or_else(|| "kubectl".into());
        let o = std::process::Command::new(bin)
            .arg("kustomize")
            .arg(d.path().join("apps/headlamp"))
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("is not in or below"));
    }
}

#[test]
fn the_same_object_twice_is_one_two_clusters_are_two() {
    let t = gitops::load(&fixture("gitops")).unwrap();
    // clusters/home and clusters/e2e each define Kustomization flux-system/headlamp, with different specs: both kept
    let ks: Vec<&Object> = t
        .objects
        .iter()
        .filter(|o| o.id() == "Kustomization/flux-system/headlamp")
        .collect();
    assert_eq!(ks.len(), 2);
    // the base both follow is the same for both (but for the e2e patch): one HelmRelease
    one(&t, "HelmRelease/headlamp/headlamp");
}
