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

// Strategic-merge patches on Flux kinds (docs/upstream-notes/kustomize-merge2.md; a "case" is one of its §7, whose
// outputs kubectl v1.35.2 printed): applied here from the objects' values and texts, and built by kustomize.

/// Case 01's HelmRelease, named `name` in `namespace` (none: no namespace).
fn hr(name: &str, namespace: Option<&str>) -> String {
    let ns = namespace.map_or(String::new(), |n| format!("  namespace: {n}\n"));
    format!(
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
{ns}spec:
  interval: 30m
  values:
    a: 1
    m:
      x: 1
      y: 2
    l:
      - name: a
        v: 1
      - name: b
        v: 2
"
    )
}

/// A HelmRelease of case 01 with other `values` (indented as `values:`' content).
fn hr_values(values: &str) -> String {
    format!(
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: apps
spec:
  interval: 30m
  values:
{values}"
    )
}

/// The head of a patch for case 01's HelmRelease.
const PH: &str = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: apps
";

/// One `spec.patches` entry of a Flux Kustomization: the patch text as a block scalar, and a flow `target`.
fn entry(patch: &str, target: Option<&str>) -> String {
    let mut out = String::from("    - patch: |-\n");
    for line in patch.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("        {line}\n"));
        }
    }
    if let Some(t) = target {
        out.push_str(&format!("      target: {t}\n"));
    }
    out
}

fn patches(entries: &[String]) -> String {
    format!("  patches:\n{}", entries.concat())
}

/// Child Kustomizations of a cluster-template repository, one plain, one with its own postBuild, patches and
/// decryption; a HelmRelease and a ConfigMap beside them (not selected).
const CHILDREN: [&str; 4] = [
    "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cilium
  namespace: flux-system
spec:
  interval: 1h
  path: ./kubernetes/apps/kube-system/cilium/app
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  targetNamespace: kube-system
  wait: false
",
    "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: echo
  namespace: default
spec:
  dependsOn:
    - name: cilium
      namespace: flux-system
  interval: 1h
  path: ./kubernetes/apps/default/echo/app
  postBuild:
    substitute:
      APP: echo
    substituteFrom:
      - name: echo-vars
        kind: ConfigMap
        optional: true
  patches:
    - patch: |-
        - op: replace
          path: /spec/replicas
          value: 0
      target:
        kind: Deployment
  decryption:
    provider: sops
    secretRef:
      name: other
  deletionPolicy: Delete
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
",
    "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: echo
  namespace: default
spec:
  interval: 1h
  chart:
    spec:
      chart: app-template
      version: 3.7.3
      sourceRef:
        kind: HelmRepository
        name: bjw-s
        namespace: flux-system
",
    "apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
  namespace: flux-system
data:
  TIMEZONE: Etc/UTC
",
];

/// The HelmRelease patch of the cluster-template `cluster-apps` Kustomization (its `spec.patches[0].patch.spec.patches`).
const CT_HELM_PATCH: &str = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: _
spec:
  install:
    crds: CreateReplace
    strategy:
      name: RetryOnFailure
  upgrade:
    cleanupOnFail: true
    remediation:
      retries: 2
";

/// The Kustomization patch of the cluster-template `cluster-apps` Kustomization, holding [`CT_HELM_PATCH`].
fn ct_kustomization_patch() -> String {
    let mut inner = String::new();
    for line in CT_HELM_PATCH.lines() {
        inner.push_str(&format!("        {line}\n"));
    }
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: _
spec:
  decryption:
    provider: sops
    secretRef:
      name: sops-age
  deletionPolicy: WaitForTermination
  postBuild:
    substituteFrom:
      - name: cluster-secrets
        kind: Secret
  patches:
    - patch: |-
{inner}      target:
        group: helm.toolkit.fluxcd.io
        kind: HelmRelease
"
    )
}

/// Each case: name, the path's resources, its Flux Kustomization's `patches:` block (and any other spec fields).
fn sm_cases() -> Vec<(&'static str, Vec<String>, String)> {
    let r0 = || vec![hr("app", Some("apps"))];
    let one = |p: String| patches(&[entry(&p, None)]);
    vec![
        (
            "01 maps merge, scalars replaced, a list of maps with names replaced whole",
            r0(),
            one(format!(
                "{PH}\nspec:\n  interval: 5m\n  values:\n    m:\n      y: 20\n      z: 30\n    l:\n      - name: b\n        v: 3\n"
            )),
        ),
        (
            "02 null, ~ and an empty value delete",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    a: null\n    m:\n      x: ~\n    l:\n    absent: null\n"
            )),
        ),
        (
            "03 a subtree added: its nulls and $patch: delete maps dropped",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    new:\n      k: 1\n      gone: null\n      sub:\n        $patch: delete\n        q: 1\n      rep:\n        $patch: replace\n        r: 1\n      lst:\n        - name: x\n          gone: null\n"
            )),
        ),
        (
            "05 $patch: delete on a nested map",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    m:\n      $patch: delete\n      x: 5\n"
            )),
        ),
        (
            "06 $patch: replace on a nested map",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    m:\n      $patch: replace\n      z: 3\n"
            )),
        ),
        (
            "08 $patch: merge",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    m:\n      $patch: merge\n      z: 3\n"
            )),
        ),
        (
            "13 with a target the patch's own apiVersion, kind, name and namespace do not matter",
            r0(),
            patches(&[entry(
                "apiVersion: foo/v9\nkind: Whatever\nmetadata:\n  name: not-important\n  namespace: elsewhere\n\nspec:\n  interval: 1m\n",
                Some("{kind: HelmRelease, name: app}"),
            )]),
        ),
        (
            "14 a target selecting several objects",
            vec![
                hr("app", Some("apps")),
                hr("app2", Some("apps")),
                hr("zzz", Some("apps")),
            ],
            patches(&[entry(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: any\n\nspec:\n  interval: 2m\n",
                Some("{kind: HelmRelease, name: app.*}"),
            )]),
        ),
        (
            "15 several documents, each by its own id",
            vec![hr("app", Some("apps")), hr("app2", Some("apps"))],
            one(format!(
                "{PH}\nspec:\n  interval: 1m\n---\n{}\nspec:\n  interval: 2m\n",
                PH.replace("name: app", "name: app2")
            )),
        ),
        (
            "18 no target, namespace default, an object without one",
            vec![hr("app", None)],
            one(format!(
                "{}\nspec:\n  interval: 1m\n",
                PH.replace("apps", "default")
            )),
        ),
        (
            "29 lists added, emptied, removed",
            vec![hr_values("    l1: [1, 2]\n    l2: [1, 2]\n")],
            one(format!(
                "{PH}\nspec:\n  values:\n    l1: []\n    l2: null\n    l3: [x]\n"
            )),
        ),
        (
            "30 an empty map in the patch, an empty map in the object",
            vec![hr_values("    m: {}\n    n:\n      k: 1\n")],
            one(format!(
                "{PH}\nspec:\n  values:\n    m:\n      k: 2\n    n: {{}}\n"
            )),
        ),
        (
            "32 a Flux Kustomization: lists replaced, maps merged",
            vec![
                "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ks
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  healthChecks:
    - kind: Deployment
      name: a
      namespace: x
  postBuild:
    substitute:
      A: \"1\"
    substituteFrom:
      - kind: ConfigMap
        name: vars
"
                .to_string(),
            ],
            patches(&[entry(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: not-used\nspec:\n  prune: false\n  healthChecks:\n    - kind: Deployment\n      name: b\n      namespace: x\n  postBuild:\n    substitute:\n      B: \"2\"\n",
                Some("{group: kustomize.toolkit.fluxcd.io, kind: Kustomization}"),
            )]),
        ),
        (
            "35 two entries in order",
            r0(),
            patches(&[
                entry(
                    &format!("{PH}\nspec:\n  values:\n    m:\n      z: 1\n"),
                    None,
                ),
                entry(
                    &format!("{PH}\nspec:\n  values:\n    m:\n      $patch: replace\n      w: 2\n"),
                    None,
                ),
            ]),
        ),
        (
            "37 spec: null, labels: null (no target)",
            vec![hr("app", Some("apps")).replace(
                "  namespace: apps\n",
                "  namespace: apps\n  labels:\n    k: v\n",
            )],
            one(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n\nmetadata:\n  name: app\n  namespace: apps\n  labels: null\nspec: null\n"
                    .to_string(),
            ),
        ),
        (
            "38 a list with a null, a list of scalars",
            vec![hr_values("    l: [1, 2]\n")],
            one(format!("{PH}\nspec:\n  values:\n    l:\n      - null\n      - 3\n")),
        ),
        (
            "41 keys whose value in the object is null",
            vec![hr_values("    m: null\n    l: ~\n")],
            one(format!(
                "{PH}\nspec:\n  values:\n    m:\n      k: 1\n    l: [1]\n"
            )),
        ),
        (
            "42 an object without a namespace, a target",
            vec![hr("app", None)],
            patches(&[entry(
                &format!("{PH}\nspec:\n  interval: 1m\n"),
                Some("{kind: HelmRelease}"),
            )]),
        ),
        (
            "43 a target that selects nothing",
            r0(),
            patches(&[entry(
                &format!("{PH}\nspec:\n  interval: 1m\n"),
                Some("{kind: HelmRelease, name: nope}"),
            )]),
        ),
        (
            "47b the patch names the id before targetNamespace and namePrefix",
            vec![hr("app", None)],
            format!(
                "  targetNamespace: apps\n  namePrefix: p-\n{}",
                one(
                    "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\n\nspec:\n  interval: 1m\n"
                        .to_string()
                )
            ),
        ),
        (
            "labels and annotations of strings with a target (case 27 without the null)",
            vec![hr("app", Some("apps")).replace(
                "  namespace: apps\n",
                "  namespace: apps\n  labels:\n    keep: \"1\"\n    drop: x\n",
            )],
            patches(&[entry(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n\nmetadata:\n  name: renamed\n  namespace: other\n  labels:\n    add: \"2\"\n    drop: y\n  annotations:\n    note: hi\n",
                Some("{kind: HelmRelease}"),
            )]),
        ),
        (
            "04 $patch: delete at the root, by id",
            vec![hr("app", Some("apps")), hr("other", Some("apps"))],
            one(format!("{PH}\n$patch: delete\n")),
        ),
        (
            "07 $patch: replace at the root is a no-op",
            r0(),
            one(format!("{PH}\n$patch: replace\nspec:\n  interval: 1m\n")),
        ),
        (
            "27b metadata without a target: null deletes, an int stays an int",
            vec![hr("app", Some("apps")).replace(
                "  namespace: apps\n",
                "  namespace: apps\n  labels:\n    keep: \"1\"\n    drop: x\n  annotations:\n    a: b\n",
            )],
            one(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n\nmetadata:\n  name: app\n  namespace: apps\n  labels:\n    drop: null\n    add: 2\n    t: ~\n  annotations: null\n"
                    .to_string(),
            ),
        ),
        (
            "34 $patch: delete with a target deletes every selected object",
            vec![
                hr("app", Some("apps")),
                hr("app2", Some("apps")),
                hr("keep", Some("apps")),
            ],
            patches(&[entry(
                "apiVersion: v1\nkind: HelmRelease\nmetadata:\n  name: x\n\n$patch: delete\n",
                Some("{name: app.*}"),
            )]),
        ),
        (
            "39 a JSON object text",
            r0(),
            one(
                r#"{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "app", "namespace": "apps"}, "spec": {"values": {"a": "2", "m": {"x": null}}}}"#
                    .to_string(),
            ),
        ),
        (
            "40 $patch: replace after the other keys",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    m:\n      x: 7\n      $patch: replace\n"
            )),
        ),
        (
            "empty maps added, strings that start with a digit, a JSON 6902 patch before",
            r0(),
            patches(&[
                "    - patch: |-\n        - op: replace\n          path: /spec/values/a\n          value: 7\n      target: {kind: HelmRelease}\n"
                    .to_string(),
                entry(
                    &format!(
                        "{PH}\nspec:\n  timeout: 5m30s\n  chart:\n    spec:\n      version: 1.2.3\n  values:\n    e: {{}}\n    n:\n      gone: null\n    mem: 512Mi\n    x: _y\n    word: on\n    y: n\n"
                    ),
                    None,
                ),
            ]),
        ),
        (
            "cluster-template: the cluster-apps patch on child Kustomizations",
            CHILDREN.iter().map(|c| c.to_string()).collect(),
            patches(&[entry(
                &ct_kustomization_patch(),
                Some("{group: kustomize.toolkit.fluxcd.io, kind: Kustomization}"),
            )]),
        ),
        (
            "cluster-template: the inner HelmRelease patch on HelmReleases",
            vec![
                CHILDREN[2].to_string(),
                "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: cilium
  namespace: kube-system
spec:
  interval: 1h
  chartRef:
    kind: OCIRepository
    name: cilium
  install:
    remediation:
      retries: 3
  upgrade:
    cleanupOnFail: false
    remediation:
      retries: 3
      strategy: rollback
  values:
    hubble:
      enabled: true
    operator:
      replicas: 1
"
                .to_string(),
                CHILDREN[3].to_string(),
            ],
            patches(&[entry(
                CT_HELM_PATCH,
                Some("{group: helm.toolkit.fluxcd.io, kind: HelmRelease}"),
            )]),
        ),
    ]
}

/// The objects of the resources as this crate reads them (`app/r<i>.yaml`), after `patches` applied here.
fn sm_here(d: &Path, resources: &[String], spec: &Value) -> Result<Vec<Object>, String> {
    write(
        d,
        "app/kustomization.yaml",
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [{}]\n",
            (0..resources.len())
                .map(|i| format!("r{i}.yaml"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let mut objects = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let file = format!("app/r{i}.yaml");
        write(d, &file, r);
        for v in headlamp_e2e_yaml::parse_documents(r).unwrap() {
            objects.push(Object::plain(v, &file));
        }
    }
    let plan = flux_patch::plan(spec).map_err(|e| format!("plan: {}", e.0))?;
    plan.apply_with(&mut objects, |o| {
        std::fs::read_to_string(d.join(&o.file)).ok()
    })
    .map_err(|e| format!("apply: {}", e.0))?;
    Ok(objects)
}

#[test]
fn strategic_merge_patches_applied_here_are_what_kustomize_builds() {
    if kubectl().is_none() {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    }
    for (name, resources, patches) in sm_cases() {
        let d = tempfile::tempdir().unwrap();
        let ks: Value = serde_norway::from_str(&format!("{KS}{patches}")).unwrap();
        let spec = &ks["spec"];
        let mut here = match sm_here(d.path(), &resources, spec) {
            Ok(objects) => objects,
            Err(why) => panic!("{name}: not applied here: {why}"),
        };
        gitops::apply_flux_kustomization(&mut here, spec);
        let here = by_id(here.into_iter().map(|o| (o.id(), o.value)));

        let ws = flux_build::Workspace::new(&d.path().canonicalize().unwrap());
        let built = match ws.build(Path::new("app"), spec) {
            Ok(built) => built,
            Err(e) => panic!("{name}: kustomize does not build it: {e:?}"),
        };
        let built = by_id(built.objects.into_iter().map(|b| {
            let o = Object::plain(b.value, "app/r0.yaml");
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
    }
}

#[test]
fn strategic_merge_patches_left_to_kustomize() {
    let r0 = || vec![hr("app", Some("apps"))];
    let one = |p: String| patches(&[entry(&p, None)]);
    let cases: Vec<(&str, Vec<String>, String)> = vec![
        (
            "22 a number replacing a quoted string keeps the quotes",
            vec![hr_values("    s: \"1\"\n")],
            one(format!("{PH}\nspec:\n  values:\n    s: 2\n")),
        ),
        (
            "23 a map patched with a scalar: kustomize's error",
            r0(),
            one(format!("{PH}\nspec:\n  values:\n    m: 5\n")),
        ),
        (
            "24 a comment holding a schema",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    l: # {{\"type\": \"array\", \"x-kubernetes-patch-strategy\": \"merge\", \"x-kubernetes-patch-merge-key\": \"name\"}}\n      - name: b\n        v: 3\n"
            )),
        ),
        (
            "24c a comment holding a schema, in the object",
            vec![hr("app", Some("apps")).replace(
                "    l:\n",
                "    l: # {\"type\": \"array\", \"x-kubernetes-patch-strategy\": \"merge\", \"x-kubernetes-patch-merge-key\": \"name\"}\n",
            )],
            one(format!("{PH}\nspec:\n  values:\n    l:\n      - name: b\n        v: 3\n")),
        ),
        (
            "25 a nested built-in type",
            vec![hr_values(
                "    extra:\n      apiVersion: apps/v1\n      kind: Deployment\n      spec:\n        template:\n          spec:\n            containers:\n              - name: a\n                image: x\n",
            )],
            one(format!(
                "{PH}\nspec:\n  values:\n    extra:\n      spec:\n        template:\n          spec:\n            containers:\n              - name: b\n                image: z\n"
            )),
        ),
        (
            "26 nulls of the object: `key:` dropped, `key: null` kept",
            vec![hr_values("    a: 1\n    empty:\n    nul: null\n    deep:\n      e:\n")],
            one(format!("{PH}\nspec:\n  values:\n    a: 2\n")),
        ),
        (
            "27c labels and annotations with a target: rewritten as strings",
            r0(),
            patches(&[entry(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n\nmetadata:\n  name: app\n  labels:\n    drop: null\n    add: 2\n  annotations: null\n",
                Some("{kind: HelmRelease}"),
            )]),
        ),
        (
            "28 scalars that read otherwise in YAML 1.1",
            r0(),
            one(format!(
                "{PH}\nspec:\n  values:\n    oct: 0777\n    und: 1_000\n    date: 2024-01-01\n"
            )),
        ),
        (
            "36 no target, a patch renaming the object",
            r0(),
            one(format!(
                "{}\nspec:\n  interval: 1m\n",
                PH.replace("name: app", "name: renamed")
            )),
        ),
        (
            "47 the patch names the id after targetNamespace",
            vec![hr("app", None)],
            format!(
                "  targetNamespace: apps\n  namePrefix: p-\n{}",
                one(format!("{PH}\nspec:\n  interval: 1m\n"))
            ),
        ),
        (
            "09 an unknown $patch",
            r0(),
            one(format!("{PH}\nspec:\n  values:\n    m:\n      $patch: bogus\n")),
        ),
        (
            "16 several documents with a target",
            r0(),
            patches(&[entry(
                &format!("{PH}\nspec:\n  interval: 1m\n---\n{PH}\nspec:\n  interval: 2m\n"),
                Some("{kind: HelmRelease}"),
            )]),
        ),
        (
            "44 no document",
            r0(),
            patches(&[entry("# nothing here\n", None)]),
        ),
        (
            "a Deployment selected beside a HelmRelease",
            vec![hr("app", Some("apps")), APP.to_string()],
            patches(&[entry(
                &format!("{PH}\nspec:\n  interval: 1m\n"),
                Some("{name: app|cloudflared}"),
            )]),
        ),
    ];
    // why each is declined
    let whys = [
        "a number or boolean replaces a string",
        "a map, list and scalar meet",
        "schema",
        "schema",
        ".spec.values.extra has an apiVersion and kind",
        ".spec.values.deep.e is null",
        "metadata.labels that kustomize rewrites",
        "a plain scalar may read otherwise",
        "no object is HelmRelease apps/renamed",
        "no object is HelmRelease apps/app",
        "not delete, replace or merge",
        "several strategic merge documents with a target",
        "not one YAML document",
        "Deployment/tunnel/cloudflared: not a Flux kind",
    ];
    assert_eq!(cases.len(), whys.len());
    for ((name, resources, patches), want) in cases.into_iter().zip(whys) {
        let d = tempfile::tempdir().unwrap();
        let ks: Value = serde_norway::from_str(&format!("{KS}{patches}")).unwrap();
        match sm_here(d.path(), &resources, &ks["spec"]) {
            Ok(objects) => panic!(
                "{name}: applied here: {:#?}",
                objects.iter().map(|o| &o.value).collect::<Vec<_>>()
            ),
            Err(why) => assert!(why.contains(want), "{name}: {why}"),
        }
    }
}
