//! Kustomizations built without kustomize (`gitops::kustomize_here`) give exactly the objects, and the origin files,
//! that the real kustomize builds (`kubectl kustomize --load-restrictor LoadRestrictionsNone`, kustomize v5.7.1):
//! each case is built both ways. The shapes are cluster-template's (ae73246) and home-ops' (5757c6e): a namespace
//! directory with `namespace:` and the `common` component (a `Namespace` named `not-used`, a SOPS Secret in a
//! sub-kustomization), an app with Flux's `components` (volsync's resources, gatus' `configMapGenerator` without
//! hash), an app `configMapGenerator`. Skips without kubectl (fails with HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use headlamp_e2e::gitops::kustomize_here;
use headlamp_e2e::testing::{kubectl, skip, write_file as write};
use serde_json::Value;

/// The shared tree: components, an app, a namespace directory.
fn tree(d: &Path) {
    write(
        d,
        "components/common/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./namespace.yaml\n  - ./sops\n",
    );
    write(
        d,
        "components/common/namespace.yaml",
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: not-used\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n",
    );
    write(
        d,
        "components/common/sops/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./cluster-secrets.sops.yaml\n",
    );
    write(
        d,
        "components/common/sops/cluster-secrets.sops.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: cluster-secrets\nstringData:\n    SECRET_DOMAIN: ENC[AES256_GCM,data:bm90,iv:AAAA,tag:AAAA,type:str]\nsops:\n    lastmodified: \"2024-01-01T00:00:00Z\"\n    version: 3.9.0\n",
    );
    write(
        d,
        "components/volsync/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./pvc.yaml\n  - ./replicationsource.yaml\n",
    );
    write(
        d,
        "components/volsync/pvc.yaml",
        "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: \"${APP}\"\nspec:\n  accessModes: [\"${VOLSYNC_ACCESSMODES:=ReadWriteOnce}\"]\n  resources:\n    requests:\n      storage: \"${VOLSYNC_CAPACITY:=5Gi}\"\n",
    );
    write(
        d,
        "components/volsync/replicationsource.yaml",
        "---\napiVersion: volsync.backube/v1alpha1\nkind: ReplicationSource\nmetadata:\n  name: \"${APP}\"\nspec:\n  sourcePVC: \"${APP}\"\n  trigger:\n    schedule: \"0 * * * *\"\n  restic:\n    pruneIntervalDays: 14\n    moverSecurityContext:\n      runAsUser: ${VOLSYNC_PUID:=1000}\n      fsGroup: 1000\n",
    );
    write(
        d,
        "components/gatus/kustomization.yaml",
        "---\napiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nconfigMapGenerator:\n  - name: ${APP}-gatus-ep\n    files:\n      - config.yaml=./config.yaml\n    options:\n      labels:\n        gatus.io/enabled: \"true\"\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
    );
    write(
        d,
        "components/gatus/config.yaml",
        "endpoints:\n  - name: \"${APP}\"\n    url: 1.1.1.1\n    conditions:\n      - \"len([BODY]) == 0\"\n",
    );
    write(
        d,
        "apps/media/kustomization.yaml",
        "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: media\ncomponents:\n  - ../../components/common\nresources:\n  - ./plex/ks.yaml\n",
    );
    write(
        d,
        "apps/media/plex/ks.yaml",
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: plex\nspec:\n  interval: 1h\n  path: ./apps/media/plex/app\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n  targetNamespace: media\n",
    );
    write(
        d,
        "apps/media/plex/app/kustomization.yaml",
        "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./helmrelease.yaml\nconfigMapGenerator:\n  - name: plex-config\n    files:\n      - ./resources/config.yaml\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
    );
    write(
        d,
        "apps/media/plex/app/resources/config.yaml",
        "a: 1\nb: \"${X}\"\n",
    );
    write(
        d,
        "apps/media/plex/app/helmrelease.yaml",
        "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: plex\n  namespace: other\nspec:\n  interval: 1h\n  values:\n    env:\n      PORT: &port 8080\n      TZ: Etc/UTC\n    service:\n      port: *port\n    day: 2024-01-02\n    octal: 0777\n    word: yes\n",
    );
}

/// `kubectl kustomize` of `dir` (its kustomization replaced by `kus` when given), by id, each with its origin file.
fn kubectl_build(
    kubectl: &Path,
    root: &Path,
    dir: &str,
    kus: Option<&str>,
) -> BTreeMap<String, (Value, Option<PathBuf>)> {
    let work = tempfile::tempdir().unwrap();
    headlamp_e2e::testing::copy_tree(root, work.path()).unwrap();
    let file = work.path().join(dir).join("kustomization.yaml");
    let mut text = match kus {
        Some(k) => k.to_string(),
        None => std::fs::read_to_string(&file).unwrap(),
    };
    text.push_str("\nbuildMetadata: [originAnnotations]\n");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(kubectl)
        .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(work.path().join(dir))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = headlamp_e2e::yaml::parse_documents(&String::from_utf8_lossy(&out.stdout)).unwrap();
    docs.into_iter()
        .map(|mut v| {
            let origin = v["metadata"]["annotations"]
                .as_object_mut()
                .and_then(|a| a.remove("config.kubernetes.io/origin"));
            if v["metadata"]["annotations"]
                .as_object()
                .is_some_and(|a| a.is_empty())
            {
                v["metadata"].as_object_mut().unwrap().remove("annotations");
            }
            let origin: Option<PathBuf> = origin
                .and_then(|o| headlamp_e2e::yaml::parse_documents(o.as_str().unwrap()).ok())
                .and_then(|d| {
                    d.first()
                        .and_then(|o| o["path"].as_str().map(PathBuf::from))
                });
            let ids = kustomize_here::ids(&[kustomize_here::Res {
                value: v.clone(),
                origin: None,
            }]);
            let id = ids.keys().next().unwrap().clone();
            (id, (v, origin))
        })
        .collect()
}

fn here(root: &Path, dir: &str, kus: Option<&str>) -> BTreeMap<String, (Value, Option<PathBuf>)> {
    let root = root.canonicalize().unwrap();
    let built = match kus {
        Some(k) => {
            let map: serde_json::Map<String, Value> = serde_norway::from_str(k).unwrap();
            kustomize_here::build(&root, Path::new(dir), &map, &Default::default())
        }
        None => kustomize_here::build_dir(&root, Path::new(dir), &Default::default()),
    };
    let built = built.unwrap_or_else(|why| panic!("{dir}: not built here: {why:?}"));
    built
        .objects
        .into_iter()
        .map(|o| {
            let ids = kustomize_here::ids(std::slice::from_ref(&o));
            (ids.keys().next().unwrap().clone(), (o.value, o.origin))
        })
        .collect()
}

#[test]
fn kustomizations_built_here_are_what_kustomize_builds() {
    let Some(k) = kubectl() else {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    tree(d.path());
    let cases: [(&str, &str, Option<&str>, usize); 4] = [
        ("namespace directory", "apps/media", None, 3),
        ("app with a generator", "apps/media/plex/app", None, 2),
        (
            // what kustomize-controller writes for the app's Flux Kustomization: targetNamespace, components
            "app as Flux builds it",
            "apps/media/plex/app",
            Some(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./helmrelease.yaml\nconfigMapGenerator:\n  - name: plex-config\n    files:\n      - ./resources/config.yaml\ngeneratorOptions:\n  disableNameSuffixHash: true\nnamespace: media\ncomponents:\n  - ../../../../components/volsync\n  - ../../../../components/gatus\n",
            ),
            5,
        ),
        (
            // Flux's generated kustomization for a directory without one (cluster-apps' `./apps`)
            "generated for a directory",
            "apps",
            Some(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - media\n",
            ),
            3,
        ),
    ];
    // the generated one needs a directory without a kustomization file: kubectl reads the one written
    for (name, dir, kus, objects) in cases {
        let want = kubectl_build(&k, d.path(), dir, kus);
        assert_eq!(want.len(), objects, "{name}: {:#?}", want.keys());
        let got = here(d.path(), dir, kus);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}: the same objects"
        );
        for (id, w) in &want {
            assert_eq!(&got[id], w, "{name}: {id}");
        }
    }
}

#[test]
fn what_is_not_certain_is_left_to_kustomize() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path());
    let root = d.path().canonicalize().unwrap();
    let declined = |kus: &str| {
        let map: serde_json::Map<String, Value> = serde_norway::from_str(kus).unwrap();
        kustomize_here::build(
            &root,
            Path::new("apps/media/plex/app"),
            &map,
            &Default::default(),
        )
        .is_err()
    };
    // a hashed generated name, a prefix, images, a role binding under a namespace, a remote base, a missing file
    assert!(declined(
        "configMapGenerator:\n  - name: x\n    files: [resources/config.yaml]\n"
    ));
    assert!(declined("resources: [helmrelease.yaml]\nnamePrefix: a-\n"));
    assert!(declined(
        "resources: [helmrelease.yaml]\nimages: [{name: a, newTag: b}]\n"
    ));
    write(
        d.path(),
        "apps/media/plex/app/rb.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects: [{kind: ServiceAccount, name: default}]\n",
    );
    assert!(declined("resources: [rb.yaml]\nnamespace: media\n"));
    assert!(!declined("resources: [rb.yaml]\n"));
    assert!(declined("resources: [https://github.com/a/b//c?ref=v1]\n"));
    assert!(declined("resources: [missing.yaml]\n"));
    assert!(declined("resources: [../../../../../outside.yaml]\n"));
    // two objects with one id: kustomize refuses it, in its words
    assert!(declined(
        "resources: [helmrelease.yaml, helmrelease.yaml]\n"
    ));
    // a symlink on the way
    std::os::unix::fs::symlink(
        "helmrelease.yaml",
        d.path().join("apps/media/plex/app/link.yaml"),
    )
    .unwrap();
    assert!(declined("resources: [link.yaml]\n"));
}
