use super::*;

use crate::flux::flux_kustomization::cluster_name;
use crate::flux::substitute;
use crate::test_support::write_file as write;

/// Issue 19 cause 6, the fluxcd/flux2-kustomize-helm-example shape: `clusters/production/apps.yaml` applies
/// `apps/production`, which lists `../base/podinfo`; `apps/base/adminer` is listed by no overlay. Only what the
/// clusters deploy is linted; the orphan is one info line.
#[test]
fn a_base_no_cluster_deploys_is_not_linted_and_is_one_info_line() {
    let d = tempfile::tempdir().unwrap();
    let hr = |name: &str| {
        format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}, namespace: {name}}}\nspec:\n  chart: {{spec: {{chart: {name}, sourceRef: {{kind: HelmRepository, name: {name}}}}}}}\n"
        )
    };
    write(
        d.path(),
        "clusters/production/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps/production\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    );
    write(
        d.path(),
        "apps/production/kustomization.yaml",
        "resources:\n  - ../base/podinfo\n",
    );
    write(
        d.path(),
        "apps/base/podinfo/kustomization.yaml",
        "resources:\n  - release.yaml\n",
    );
    write(d.path(), "apps/base/podinfo/release.yaml", hr("podinfo"));
    write(
        d.path(),
        "apps/base/adminer/kustomization.yaml",
        "resources:\n  - release.yaml\n",
    );
    write(d.path(), "apps/base/adminer/release.yaml", hr("adminer"));
    let t = load(d.path()).unwrap();
    let releases: Vec<&str> = t
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .map(Object::name)
        .collect();
    assert_eq!(releases, ["podinfo"], "{:#?}", t.objects);
    let notes: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.rule == NOT_DEPLOYED_RULE)
        .collect();
    assert_eq!(notes.len(), 1, "{:#?}", t.findings);
    assert_eq!(notes[0].severity, Severity::Info);
    assert!(
        notes[0].message.contains("1 file ")
            && notes[0].message.contains("apps/base/adminer/release.yaml"),
        "{}",
        notes[0].message
    );
    // without any Flux Kustomization everything is linted, as before
    std::fs::remove_file(d.path().join("clusters/production/apps.yaml")).unwrap();
    let t = load(d.path()).unwrap();
    assert_eq!(t.find("helm.toolkit.fluxcd.io", "HelmRelease").count(), 2);
    assert!(t.findings.iter().all(|f| f.rule != NOT_DEPLOYED_RULE));
}

/// Issue 19, the onedr0p/cluster-template layout (fixtures/layouts/cluster-template): `cluster-apps` applies
/// `./kubernetes/apps` (no kustomization there: kustomize-controller generates one), whose namespace directories
/// `kubernetes/apps/<namespace>/kustomization.yaml` set `namespace:` and add the `../../components/sops`
/// component. kustomize builds that path and names each object's origin file (`namespace.yaml`, `ks.yaml`), not
/// the namespace kustomization: it was reported as `gitops-not-deployed` although cluster-apps deploys it.
#[test]
fn a_namespace_kustomization_the_cluster_apps_path_builds_is_deployed() {
    let d = tempfile::tempdir().unwrap();
    crate::test_support::copy_tree(
        &crate::test_support::project_root().join("fixtures/layouts/cluster-template"),
        d.path(),
    )
    .unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    if crate::test_support::kubectl().is_none() {
        crate::test_support::skip::<()>(
            "kubectl cannot run (kustomize builds the namespace kustomizations)",
        );
        return;
    }
    let t = load(d.path()).unwrap();
    let not_deployed: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.rule == NOT_DEPLOYED_RULE)
        .collect();
    assert!(not_deployed.is_empty(), "{not_deployed:#?}");
    let mut ids: Vec<String> = t.objects.iter().map(Object::id).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "ConfigMap/default/echo-env",
            "ConfigMap/kube-system/reloader-env",
            "Kustomization/default/echo",
            "Kustomization/flux-system/cluster-apps",
            "Kustomization/kube-system/reloader",
            "Namespace/default",
            "Namespace/kube-system",
            "Secret/default/cluster-secrets",
            "Secret/kube-system/cluster-secrets",
        ],
        "{:#?}",
        t.findings
    );
}

/// Issue 19, the LukeEvansTech/talos-cluster layout (fixtures/layouts/external-secrets): the `cluster-secrets`
/// Secret the children substitute from is a placeholder in the tree, and an ExternalSecret of the same name in
/// the same namespace writes the real one (with keys the placeholder lacks) in the cluster. A variable missing
/// from the placeholder is not reported (10 of the repository's 16 warnings were these); one info note per
/// source says why. Without the ExternalSecret the same variable is still a warning.
#[test]
fn a_source_an_external_secret_writes_leaves_its_unknown_variables_unreported() {
    if crate::test_support::kubectl().is_none() {
        crate::test_support::skip::<()>(
            "kubectl cannot run (kustomize builds the namespace kustomizations)",
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    crate::test_support::copy_tree(
        &crate::test_support::project_root().join("fixtures/layouts/external-secrets"),
        d.path(),
    )
    .unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    let t = load(d.path()).unwrap();
    let unresolved: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.rule == substitute::UNRESOLVED_RULE)
        .collect();
    assert!(unresolved.is_empty(), "{unresolved:#?}");
    let cm = t
        .find("", "ConfigMap")
        .find(|o| o.name() == "seedbox-targets")
        .unwrap_or_else(|| panic!("{:#?}", t.objects));
    // the placeholder's value where it has the key; a reference where only the store has it
    assert_eq!(cm.value["data"]["HOST"], "seedbox.example.com");
    assert_eq!(cm.value["data"]["TARGET"], "${ONYX_ADDR}:9100");
    let notes: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.rule == substitute::SOURCE_RULE)
        .collect();
    assert_eq!(notes.len(), 1, "{:#?}", t.findings);
    assert_eq!(notes[0].severity, Severity::Info);
    assert_eq!(notes[0].object, "Kustomization/observability/seedbox");
    assert!(
        notes[0].message.contains(
            "substituteFrom Secret cluster-secrets is written in the cluster by ExternalSecret cluster-secrets of the Kustomization's namespace (kubernetes/components/global-vars/cluster-secrets-externalsecret.yaml), over the copy in the tree"
        ),
        "{}",
        notes[0].message
    );

    // no ExternalSecret: the placeholder is all there is, and ONYX_ADDR is empty in the cluster too
    let component = d.path().join("kubernetes/components/global-vars");
    std::fs::remove_file(component.join("cluster-secrets-externalsecret.yaml")).unwrap();
    std::fs::write(
        component.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [./cluster-secrets.yaml]\n",
    )
    .unwrap();
    let t = load(d.path()).unwrap();
    let unresolved: Vec<(&str, Severity)> = t
        .findings
        .iter()
        .filter(|f| f.rule == substitute::UNRESOLVED_RULE)
        .map(|f| (f.object.as_str(), f.severity))
        .collect();
    assert_eq!(
        unresolved,
        [("ConfigMap/observability/seedbox-targets", Severity::Warning)],
        "{:#?}",
        t.findings
    );
    assert!(
        t.findings
            .iter()
            .filter(|f| f.rule == substitute::UNRESOLVED_RULE)
            .all(|f| f.message.contains("${ONYX_ADDR}"))
    );
    assert!(t.findings.iter().all(|f| f.rule != substitute::SOURCE_RULE));
}

/// Issue 19 cause 7 (the last false warnings of the evaluation): a remote base left out (no
/// `--allow-remote-bases`) is nothing the user must change, since Flux fetches it. It is an `info` note, one
/// text for every base (grouped), naming the base as its object: the same base from two kustomizations is one
/// finding with two places. The rest of the kustomization is linted.
#[test]
fn a_remote_base_left_out_is_one_grouped_info_note_naming_it() {
    if crate::test_support::kubectl().is_none() {
        crate::test_support::skip::<()>("kubectl cannot run (kustomize builds the kustomizations)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let base =
        "https://github.com/kubernetes-csi/external-snapshotter//client/config/crd?ref=v8.2.0";
    for app in ["a", "b"] {
        write(
            d.path(),
            &format!("{app}/kustomization.yaml"),
            format!("resources:\n  - cm.yaml\n  - {base}\n"),
        );
        write(
            d.path(),
            &format!("{app}/cm.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {app}, namespace: n}}\n"),
        );
    }
    let t = load(d.path()).unwrap();
    let mut ids: Vec<String> = t.objects.iter().map(Object::id).collect();
    ids.sort();
    assert_eq!(ids, ["ConfigMap/n/a", "ConfigMap/n/b"]);
    assert!(
        t.findings.iter().all(|f| f.severity == Severity::Info),
        "{:#?}",
        t.findings
    );
    let notes: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.rule == KUSTOMIZATION_BUILD_RULE)
        .collect();
    assert_eq!(notes.len(), 2, "{:#?}", t.findings);
    assert!(
        notes
            .iter()
            .all(|n| n.object == base && n.path == "resources[1]")
    );
    assert_eq!(notes[0].message, notes[1].message);
    assert!(
        notes[0].fix.contains("--allow-remote-bases"),
        "{}",
        notes[0].fix
    );
    let merged = crate::finding::merge_places(t.findings.clone());
    assert_eq!(merged.len(), 1, "{merged:#?}");
    assert_eq!(
        merged[0].places,
        ["a/kustomization.yaml", "b/kustomization.yaml"]
    );
}

/// Issue 19: a Flux Kustomization whose `sourceRef.kind` is `ExternalArtifact` (Flux 2.7+; kustomize-controller
/// v1.9.4 accepts OCIRepository, GitRepository, Bucket and ExternalArtifact) was skipped silently. It is one
/// `info` note per Kustomization with one text (grouped), saying what was not checked and why; a Git source is
/// followed as before, with no note.
#[test]
fn a_kustomization_from_an_external_artifact_is_a_grouped_note() {
    let d = tempfile::tempdir().unwrap();
    let ks = |name: &str, kind: &str| {
        format!(
            "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: ./apps\n  sourceRef: {{kind: {kind}, name: {name}}}\n"
        )
    };
    write(
        d.path(),
        "clusters/home/apps.yaml",
        [
            ks("apps", "GitRepository"),
            ks("generated", "ExternalArtifact"),
            ks("rendered", "ExternalArtifact"),
            ks("oci", "OCIRepository"),
        ]
        .concat(),
    );
    write(
        d.path(),
        "apps/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n",
    );
    let t = load(d.path()).unwrap();
    assert!(t.objects.iter().any(|o| o.id() == "ConfigMap/n/c"));
    let notes: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.rule == OTHER_SOURCE_RULE)
        .collect();
    let objects: Vec<&str> = notes.iter().map(|n| n.object.as_str()).collect();
    assert_eq!(
        objects,
        [
            "Kustomization/flux-system/oci",
            "Kustomization/flux-system/rendered",
            "Kustomization/flux-system/generated"
        ],
        "{:#?}",
        t.findings
    );
    assert!(notes.iter().all(|n| n.severity == Severity::Info));
    let external: Vec<&&Finding> = notes
        .iter()
        .filter(|n| n.message.contains("ExternalArtifact"))
        .collect();
    assert_eq!(external.len(), 2);
    assert_eq!(external[0].message, external[1].message);
    assert!(
        external[0].message.contains("cannot fetch")
            && external[0].message.contains("was not checked"),
        "{}",
        external[0].message
    );
}

/// Issue 19 ("deployed to two clusters is one finding that lists its places and clusters"), the
/// fluxcd/flux2-kustomize-helm-example layout: `clusters/<name>/flux-system` applies `clusters/<name>`, whose
/// `apps.yaml` applies `apps/<name>`, an overlay of `apps/base/podinfo`. The tree names the clusters that deploy
/// each file (findings name them); one cluster names none.
#[test]
fn each_file_names_the_clusters_that_deploy_it() {
    let d = tempfile::tempdir().unwrap();
    let ks = |name: &str, path: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n"
        )
    };
    for c in ["production", "staging"] {
        write(
            d.path(),
            &format!("clusters/{c}/flux-system/gotk-sync.yaml"),
            ks("flux-system", &format!("./clusters/{c}")),
        );
        write(
            d.path(),
            &format!("clusters/{c}/apps.yaml"),
            ks("apps", &format!("./apps/{c}")),
        );
        write(
            d.path(),
            &format!("apps/{c}/kustomization.yaml"),
            "resources:\n  - ../base/podinfo\n",
        );
    }
    write(
        d.path(),
        "apps/base/podinfo/kustomization.yaml",
        "resources:\n  - release.yaml\n",
    );
    write(
        d.path(),
        "apps/base/podinfo/release.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: podinfo, namespace: podinfo}\n",
    );
    std::fs::create_dir(d.path().join(".git")).unwrap();
    let t = load(d.path()).unwrap();
    let of = |f: &str| -> Vec<&str> {
        t.clusters
            .get(f)
            .map(|c| c.iter().map(String::as_str).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        of("apps/base/podinfo/release.yaml"),
        ["production", "staging"],
        "{:#?}",
        t.clusters
    );
    assert_eq!(
        of("clusters/staging/apps.yaml"),
        ["staging"],
        "{:#?}",
        t.clusters
    );
    assert_eq!(
        t.find("", "ConfigMap").count(),
        1,
        "one object: {:#?}",
        t.objects
    );
    // one cluster: nothing to tell apart
    std::fs::remove_dir_all(d.path().join("clusters/staging")).unwrap();
    let t = load(d.path()).unwrap();
    assert!(t.clusters.is_empty(), "{:#?}", t.clusters);
    assert_eq!(
        cluster_name(Path::new("clusters/home/flux-system/gotk-sync.yaml")).as_deref(),
        Some("home")
    );
    assert_eq!(
        cluster_name(Path::new("kubernetes/main/flux/config/cluster.yaml")).as_deref(),
        Some("main")
    );
    assert_eq!(
        cluster_name(Path::new("kubernetes/flux/cluster/ks.yaml")),
        None
    );
    assert_eq!(cluster_name(Path::new("clusters/home.yaml")), None);
}

/// Issue 19, measured on LukeEvansTech/talos-cluster: a child Kustomization whose source is another Git
/// repository (`GitRepository apc-fleet`, `path: ./kubernetes`, a fleet repo) was followed into this checkout's
/// `./kubernetes`: every child there was read again as committed, without the parent's patches (323 false
/// `flux-substitution-unresolved`, 442 HelmReleases counted for 239). It is not followed, and one note says why.
#[test]
fn a_kustomization_from_another_git_repository_is_not_followed_here() {
    if crate::test_support::kubectl().is_none() {
        crate::test_support::skip::<()>(
            "kubectl cannot run (kustomize builds the parent's patches)",
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "kubernetes/flux/cluster/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: cluster-apps, namespace: flux-system}\nspec:\n  path: ./kubernetes/apps\n  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  patches:\n    - patch: |-\n        apiVersion: kustomize.toolkit.fluxcd.io/v1\n        kind: Kustomization\n        metadata: {name: _}\n        spec:\n          postBuild:\n            substitute: {TIMEZONE: UTC}\n      target: {group: kustomize.toolkit.fluxcd.io, kind: Kustomization}\n",
    );
    write(
        d.path(),
        "kubernetes/apps/obs/fleet/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: fleet-sync, namespace: obs}\nspec:\n  path: ./kubernetes\n  sourceRef: {kind: GitRepository, name: apc-fleet}\n",
    );
    write(
        d.path(),
        "kubernetes/apps/obs/echo/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: echo, namespace: obs}\nspec:\n  path: ./kubernetes/apps/obs/echo/app\n  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  postBuild:\n    substitute: {APP: echo}\n",
    );
    write(
        d.path(),
        "kubernetes/apps/obs/kustomization.yaml",
        "resources: [./echo/ks.yaml, ./fleet/ks.yaml]\n",
    );
    write(
        d.path(),
        "kubernetes/apps/obs/echo/app/kustomization.yaml",
        "resources: [./cm.yaml]\n",
    );
    write(
        d.path(),
        "kubernetes/apps/obs/echo/app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: echo, namespace: obs}\ndata: {TZ: \"${TIMEZONE}\", NAME: \"${APP}\"}\n",
    );
    std::fs::create_dir(d.path().join(".git")).unwrap();
    let t = load(d.path()).unwrap();
    let cms: Vec<&Object> = t.find("", "ConfigMap").collect();
    assert_eq!(cms.len(), 1, "{cms:#?}");
    assert_eq!(cms[0].value["data"]["TZ"], "UTC", "{:#?}", cms[0].value);
    assert!(
        t.findings
            .iter()
            .all(|f| f.rule != substitute::UNRESOLVED_RULE),
        "{:#?}",
        t.findings
    );
    let notes: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.rule == OTHER_SOURCE_RULE)
        .collect();
    assert_eq!(notes.len(), 1, "{:#?}", t.findings);
    assert_eq!(notes[0].object, "Kustomization/obs/fleet-sync");
    assert!(
        notes[0].message.contains("GitRepository/apc-fleet"),
        "{}",
        notes[0].message
    );
}

#[test]
fn follows_kustomization_resources_and_not_other_files() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "app/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
    );
    write(
        d.path(),
        "app/a.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    );
    // a patch file that is not listed must not be read as an object
    write(
        d.path(),
        "app/patch.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
    );
    write(
        d.path(),
        "clusters/c/sync.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n---\n# only a comment\n",
    );
    let t = load(d.path()).unwrap();
    let ids: Vec<_> = t.objects.iter().map(Object::id).collect();
    assert_eq!(ids, ["Namespace/a", "ConfigMap/n/c"]);
    assert_eq!(t.objects[0].file, PathBuf::from("app/a.yaml"));
}

#[test]
fn missing_resource_is_an_error_naming_the_kustomization() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "kustomization.yaml", "resources: [nope.yaml]\n");
    let e = load(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("kustomization.yaml") && e.contains("nope.yaml"),
        "{e}"
    );
}

#[test]
fn yaml_error_has_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n",
    );
    let e = load(d.path()).unwrap_err();
    match e {
        Error::Model(headlamp_e2e_model::Error::Yaml { file, line, .. }) => {
            assert_eq!(file, PathBuf::from("bad.yaml"));
            assert!(line >= 4, "line {line}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn flux_kustomization_paths_are_followed_from_the_repository_root() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    write(
        d.path(),
        "k/apps/tools/kustomization.yaml",
        "resources: [./hl/ks.yaml]\n",
    );
    write(
        d.path(),
        "k/apps/tools/hl/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: hl, namespace: flux-system}\nspec: {path: ./k/apps/tools/hl/app, targetNamespace: tools, sourceRef: {kind: GitRepository, name: flux-system}}\n",
    );
    write(
        d.path(),
        "k/apps/tools/hl/app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    // DIR below the repository root: spec.path is still relative to the root
    let t = load(&d.path().join("k/apps")).unwrap();
    let ids: Vec<_> = t.objects.iter().map(Object::id).collect();
    assert_eq!(
        ids,
        ["Kustomization/flux-system/hl", "ConfigMap/tools/c"],
        "{:?}",
        t.warnings
    );
    assert_eq!(t.objects[1].file, PathBuf::from("tools/hl/app/cm.yaml"));
}

#[test]
fn missing_dir_is_reported() {
    let e = load(Path::new("/nonexistent/gitops")).unwrap_err();
    assert!(matches!(e, Error::GitopsDirMissing(_)));
}

#[test]
fn a_yaml_bomb_is_reported_where_it_is() {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = "a".to_string();
    for n in ["b", "c", "d", "e", "f", "g", "h", "i"] {
        text.push_str(&format!("  {n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = n.to_string();
    }
    let e = parse_yaml_documents(&text, Path::new("bomb.yaml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("bomb.yaml:6:10: YAML syntax error: repetition limit exceeded"),
        "{e}"
    );
    assert!(e.to_string().contains("YAML bomb"), "{e}");
}
