//! Flux `patches` that lint applies without kustomize (`gitops::flux_patch`) give exactly the objects the real
//! kustomize builds: each case is read both ways, through `gitops::load` and through `flux_build::Workspace::build`
//! (`kubectl kustomize`, as lint built every Flux patch before). Skips with a reason without kubectl (fails instead
//! with HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::collections::BTreeMap;
use std::path::Path;

use headlamp_e2e::gitops::{self, Object, flux_build, flux_patch};
use headlamp_e2e::testing::{kubectl, skip};
use serde_json::Value;

use headlamp_e2e::testing::write_file as write;

const KS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: flux-system}
spec:
  interval: 1m
  path: ./app
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
";

const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: cloudflared
  namespace: tunnel
  annotations: {}
spec:
  replicas: 2
  progressDeadlineSeconds: 1000000
  template:
    metadata:
      labels: {app: cloudflared}
    spec:
      securityContext:
        runAsUser: 65532
        big: 9007199254740993
        half: 1.5
        exp: 1e3
        octal: 0777
        quoted: \"0777\"
        word: yes
        day: 2001-12-14
      containers:
        - name: cloudflared
          image: cloudflare/cloudflared:2025.1.0
          args: [tunnel, run]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cloudflared-metrics
  namespace: tunnel
  annotations: {team: infra}
spec:
  replicas: 1
  template:
    spec:
      containers: [{name: m, image: prom/statsd-exporter}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cloudflared, namespace: tunnel}
data: {replicas: \"3\"}
";

/// Each case: the `patches:` block of the Flux Kustomization (and any other spec fields).
const CASES: [(&str, &str); 7] = [
    (
        "the fixture's e2e patch",
        "  patches:
    - target: {kind: Deployment, name: cloudflared}
      patch: |
        - op: replace
          path: /spec/replicas
          value: 0
",
    ),
    (
        "a pattern, group and version, every number of the patched objects",
        "  patches:
    - target: {group: apps, version: v1, kind: Deploy.*, name: cloudflared.*, namespace: tun.*}
      patch: |
        - op: add
          path: /metadata/labels
          value: {tier: edge}
    - target: {name: cloudflared, kind: Deployment}
      patch: |
        - op: add
          path: /spec/template/spec/containers/0/args/-
          value: --metrics=0.0.0.0:2000
",
    ),
    (
        "patches in order, remove and nested values",
        "  patches:
    - target: {kind: Deployment, name: cloudflared}
      patch: |
        - op: remove
          path: /spec/template/spec/securityContext/word
        - op: replace
          path: /spec/template/spec/containers/0/image
          value: cloudflare/cloudflared:2025.2.0
    - target: {kind: Deployment}
      patch: |
        - op: add
          path: /spec/template/spec/tolerations
          value:
            - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
",
    ),
    (
        "JSON text",
        "  patches:
    - target: {kind: ConfigMap, name: cloudflared}
      patch: '[{\"op\": \"add\", \"path\": \"/data/extra\", \"value\": \"x\"}, {\"op\": \"replace\", \"path\": \"/data/replicas\", \"value\": \"4\"}]'
",
    ),
    (
        "a target nothing matches",
        "  patches:
    - target: {kind: StatefulSet}
      patch: |
        - op: replace
          path: /spec/replicas
          value: 0
",
    ),
    (
        "with a target namespace and a name prefix (patches first, kustomize's order)",
        "  targetNamespace: edge
  namePrefix: home-
  patches:
    - target: {kind: Deployment, name: cloudflared, namespace: tunnel}
      patch: |
        - op: replace
          path: /spec/replicas
          value: 1
",
    ),
    (
        "annotations left empty",
        "  patches:
    - target: {kind: Deployment, name: cloudflared-metrics}
      patch: |
        - op: remove
          path: /metadata/annotations/team
",
    ),
];

/// By id, an empty `metadata.annotations` left out: the kustomize build adds an origin annotation to every object
/// (to name its file) and removes it again, which drops a map that was empty, patched or not (kustomize without
/// origin annotations keeps it; no rule reads an empty map).
fn by_id(objects: impl IntoIterator<Item = (String, Value)>) -> BTreeMap<String, Value> {
    objects
        .into_iter()
        .map(|(id, mut v)| {
            if let Some(m) = v["metadata"].as_object_mut()
                && m.get("annotations")
                    .is_some_and(|a| a == &serde_json::json!({}))
            {
                m.remove("annotations");
            }
            (id, v)
        })
        .collect()
}

#[test]
fn patches_applied_here_are_what_kustomize_builds() {
    if kubectl().is_none() {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    }
    for (name, patches) in CASES {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "app/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [app.yaml]\n",
        );
        write(d.path(), "app/app.yaml", APP);
        let ks: Value = serde_norway::from_str(&format!("{KS}{patches}")).unwrap();
        let spec = &ks["spec"];
        let plan = match flux_patch::plan(spec) {
            Ok(plan) => plan,
            Err(why) => panic!("{name}: not applied here: {why:?}"),
        };
        let in_app = |t: &gitops::Tree| -> Vec<Object> {
            t.objects
                .iter()
                .filter(|o| o.file.starts_with("app"))
                .cloned()
                .collect()
        };

        // the path as read without its Flux Kustomization, then patched here
        let mut here = in_app(&gitops::load(d.path()).unwrap());
        if let Err(why) = plan.apply(&mut here) {
            panic!("{name}: not applied here: {why:?}");
        }
        gitops::apply_flux_kustomization(&mut here, spec);
        let here = by_id(here.into_iter().map(|o| (o.id(), o.value)));

        // the real kustomize, as lint built every Flux patch before
        let ws = flux_build::Workspace::new(&d.path().canonicalize().unwrap());
        let Ok(built) = ws.build(Path::new("app"), spec) else {
            panic!("{name}: kustomize builds it");
        };
        let built = by_id(built.objects.into_iter().map(|b| {
            let o = Object::plain(b.value, "app/app.yaml");
            (o.id(), o.value)
        }));
        assert_eq!(
            here.keys().collect::<Vec<_>>(),
            built.keys().collect::<Vec<_>>(),
            "{name}: the same objects"
        );
        for (id, v) in &built {
            assert_eq!(&here[id], v, "{name}: {id}");
        }

        // and the tree as lint reads it, with the Flux Kustomization, is that
        write(d.path(), "clusters/home/app.yaml", format!("{KS}{patches}"));
        let tree = gitops::load(d.path()).unwrap();
        assert!(tree.findings.is_empty(), "{name}: {:#?}", tree.findings);
        let loaded = by_id(in_app(&tree).into_iter().map(|o| (o.id(), o.value)));
        assert_eq!(loaded, built, "{name}: as loaded");
    }
}

#[test]
fn a_patch_kustomize_refuses_is_reported_as_before() {
    if kubectl().is_none() {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    }
    // a replace of a field the object does not have: not applied here; kustomize's own error is the finding
    let d = tempfile::tempdir().unwrap();
    let patches = "  patches:
    - target: {kind: Deployment, name: cloudflared}
      patch: |
        - op: replace
          path: /spec/paused/really
          value: true
";
    write(d.path(), "clusters/home/app.yaml", format!("{KS}{patches}"));
    write(d.path(), "app/app.yaml", APP);
    let tree = gitops::load(d.path()).unwrap();
    let rules: Vec<&str> = tree.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["flux-kustomization-build"], "{:#?}", tree.findings);
    assert!(
        tree.findings[0]
            .message
            .contains("kustomize-controller cannot build"),
        "{}",
        tree.findings[0].message
    );
}
