//! A generated GitOps repository of the cluster-template shape, at the scale of a real one (issue 22: 1,191 files,
//! ~350 Flux Kustomizations, 356 HelmReleases): what `cargo xtask gen-repo` writes and `cargo xtask bench-lint --repo`
//! measures. Same number of apps, same bytes.
//!
//! Each shape is taken from a public repository, as committed there:
//! - **onedr0p/cluster-template** at `ae73246416a137c84e98a5981b595e45ac330987` (`template/config/kubernetes/`): no
//!   `clusters/` directory, the entry point is `kubernetes/flux/cluster/ks.yaml`; `cluster-apps` (path
//!   `./kubernetes/apps`) patches **every** child Flux Kustomization with `decryption`, `deletionPolicy` and a
//!   `patches` entry of HelmRelease defaults (`install`/`rollback`/`upgrade`), so every child has `patches`; the
//!   namespace directory `kubernetes/apps/<ns>/kustomization.yaml` (`namespace:`, `components:`, `./<app>/ks.yaml`);
//!   the SOPS `cluster-secrets` Secret (`SECRET_DOMAIN`); an app's `ks.yaml` (`postBuild`, `targetNamespace`, `path`
//!   relative to the repository root), `app/kustomization.yaml`, `app/helmrelease.yaml` (`chartRef` to the app's
//!   own `app/ocirepository.yaml`, `"{{ .Release.Name }}.${SECRET_DOMAIN}"` hostnames).
//! - **onedr0p/home-ops** at `5757c6eec0640f45d93b12d34d7af5c7ba03c53d` (March 2025, when it still had the
//!   cluster-meta / cluster-apps pair of cluster-template): `kubernetes/flux/cluster/ks.yaml` (`cluster-meta` for
//!   `./kubernetes/flux/meta` with `targetNamespace: flux-system`, `cluster-apps` `dependsOn` it),
//!   `kubernetes/flux/meta/repositories/{helm,oci}` (HelmRepositories, the shared `app-template` OCIRepository that
//!   most apps' `chartRef` names in `flux-system`), `kubernetes/components/common` (a Component adding the Namespace
//!   and the `sops` directory to each namespace), `kubernetes/components/volsync` (PVC `${APP}` with
//!   `${VOLSYNC_CAPACITY:=5Gi}`) and `kubernetes/components/gatus/guarded` (a `configMapGenerator` named
//!   `${APP}-gatus-ep`), an app's `ks.yaml` with `commonMetadata`, `components`, `dependsOn` across namespaces,
//!   `postBuild.substitute` (`APP`, `GATUS_SUBDOMAIN`, `VOLSYNC_CAPACITY`), the bjw-s app-template `values`
//!   (`controllers.<app>.containers.app`, `defaultPodOptions`, `service`, `persistence`), an app directory with a
//!   `configMapGenerator` from `./resources/` (`default/beets/app`) and one with kustomize `patches`
//!   (`default/authelia/app`).
//!
//! The parent's patch adds `postBuild.substituteFrom: [cluster-secrets]` too (cluster-template's `ks.yaml` did
//! before it moved the Secret into a component; `fixtures/layouts/cluster-apps`), so every child reads the SOPS
//! Secret. An app's own `patches` are in its `app/kustomization.yaml`, not in its `ks.yaml`: `cluster-apps`' strategic
//! merge patch sets the child's `spec.patches`, a list whose items have no `name` (kyaml infers only `name` as an
//! associative key, kubernetes-sigs/kustomize `kyaml/yaml/rnode.go` `AssociativeSequenceKeys`), so kustomize replaces
//! it whole (`kyaml/yaml/merge2/merge2.go` `VisitList`, `NonAssociateList`: "Override value") and a child's own
//! `spec.patches` would never reach the cluster. `substituteFrom` items do have `name`: they merge.
//!
//! The ciphertext, keys and MACs are made up (not a real SOPS file: `ENC[...]` values and a `sops:` block of the
//! right shape). Image names and digests are made up too.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The default number of apps: the real repository of issue 22 has ~350 Flux Kustomizations.
pub const DEFAULT_APPS: u32 = 350;

/// The namespaces apps are spread over, in order (home-ops `kubernetes/apps/` at the commit above, without
/// `flux-system`, whose namespace is the Flux Kustomizations' own).
const NAMESPACES: [&str; 11] = [
    "default",
    "actions-runner-system",
    "cert-manager",
    "external-secrets",
    "kube-system",
    "network",
    "observability",
    "openebs-system",
    "rook-ceph",
    "system-upgrade",
    "volsync-system",
];

/// HelmRepositories of `kubernetes/flux/meta/repositories/helm` (names and URLs as home-ops has them).
const HELM_REPOSITORIES: [(&str, &str); 7] = [
    ("backube", "https://backube.github.io/helm-charts/"),
    ("headlamp", "https://kubernetes-sigs.github.io/headlamp/"),
    ("cilium", "https://helm.cilium.io"),
    (
        "external-dns",
        "https://kubernetes-sigs.github.io/external-dns",
    ),
    ("grafana", "https://grafana.github.io/helm-charts"),
    ("jetstack", "https://charts.jetstack.io/"),
    ("rook-ceph", "https://charts.rook.io/release"),
];

const SOPS_BLOCK: &str = "sops:
  age:
    - recipient: age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        bm90IGEgcmVhbCBrZXk=
        -----END AGE ENCRYPTED FILE-----
  lastmodified: \"2026-01-01T00:00:00Z\"
  mac: ENC[AES256_GCM,data:bm90LWEtbWFj,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
  encrypted_regex: ^(data|stringData)$
  mac_only_encrypted: true
  version: 3.10.2
";

/// Why a repository could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{0} is not empty: gen-repo writes into a new or empty directory (a file left from another run would change the repository)"
    )]
    NotEmpty(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One app of the repository, as the generator decides it from its index.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub namespace: &'static str,
    /// Its own `app/ocirepository.yaml` (cluster-template), else the shared `app-template` in flux-system (home-ops).
    pub own_source: bool,
    pub volsync: bool,
    pub gatus: bool,
    /// `dependsOn` the app before it (another namespace: named with its namespace).
    pub depends_on: Option<(String, &'static str)>,
    /// A `configMapGenerator` from `app/resources/config.yaml`.
    pub config_map: bool,
    /// kustomize `patches` in `app/kustomization.yaml`.
    pub patched: bool,
}

/// The app of index `i` (0-based). The mix is fixed so that 350 apps make about the real repository's 1,191 files.
fn app(i: u32) -> App {
    let ns = |i: u32| NAMESPACES[i as usize % NAMESPACES.len()];
    let name = |i: u32| format!("app-{i:03}");
    App {
        name: name(i),
        namespace: ns(i),
        own_source: i.is_multiple_of(4),
        volsync: i % 3 == 1,
        gatus: i % 5 == 2,
        depends_on: (i % 6 == 3).then(|| (name(i - 1), ns(i - 1))),
        config_map: i % 10 == 5,
        patched: i % 7 == 6,
    }
}

/// The generated repository: each file's path (relative to the repository root) and text.
#[derive(Debug, Clone)]
pub struct Repo {
    pub files: BTreeMap<PathBuf, String>,
    pub apps: Vec<App>,
}

/// What a repository holds, counted from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub files: usize,
    /// Flux `Kustomization` documents (`kustomize.toolkit.fluxcd.io`).
    pub flux_kustomizations: usize,
    pub helmreleases: usize,
}

impl Counts {
    /// Count the documents of `files` by their `apiVersion` and `kind` lines (top-level keys only).
    pub fn of<'a>(files: impl IntoIterator<Item = (&'a Path, &'a str)>) -> Counts {
        let mut c = Counts {
            files: 0,
            flux_kustomizations: 0,
            helmreleases: 0,
        };
        for (path, text) in files {
            c.files += 1;
            if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                continue;
            }
            for doc in text.split("\n---") {
                let top = |key: &str| {
                    doc.lines()
                        .find_map(|l| l.strip_prefix(key))
                        .map(str::trim)
                        .unwrap_or_default()
                };
                let (api, kind) = (top("apiVersion:"), top("kind:"));
                if kind == "Kustomization" && api.starts_with("kustomize.toolkit.fluxcd.io/") {
                    c.flux_kustomizations += 1;
                }
                if kind == "HelmRelease" && api.starts_with("helm.toolkit.fluxcd.io/") {
                    c.helmreleases += 1;
                }
            }
        }
        c
    }
}

impl Repo {
    pub fn counts(&self) -> Counts {
        Counts::of(self.files.iter().map(|(p, t)| (p.as_path(), t.as_str())))
    }

    /// Write every file under `out` (created; it must be empty or not exist).
    pub fn write(&self, out: &Path) -> Result<(), WriteError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WriteError::Io { path, source }
        };
        if out.exists() {
            let mut entries = std::fs::read_dir(out).map_err(io(out))?;
            if entries.next().is_some() {
                return Err(WriteError::NotEmpty(out.to_path_buf()));
            }
        }
        for (rel, text) in &self.files {
            let path = out.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        Ok(())
    }
}

fn app_dir(a: &App) -> PathBuf {
    PathBuf::from(format!("kubernetes/apps/{}/{}", a.namespace, a.name))
}

/// The repository with `apps` apps (at least one).
/// The chart every app's HelmRelease installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chart {
    /// bjw-s app-template through `chartRef` (the real repository's shape; no archive of it is at hand offline, so
    /// lint reports each release `chart-unavailable` and renders none).
    #[default]
    AppTemplate,
    /// Headlamp 0.41.0 from the `headlamp` HelmRepository (its archive ships with this project, so lint renders each
    /// release): the same layout, measured with its renders.
    Headlamp,
}

/// The repository with `apps` apps of the app-template chart ([`generate_with`]).
pub fn generate(apps: u32) -> Repo {
    generate_with(apps, Chart::AppTemplate)
}

/// The repository with `apps` apps installing `chart`.
pub fn generate_with(apps: u32, chart: Chart) -> Repo {
    let apps: Vec<App> = (0..apps.max(1))
        .map(app)
        .map(|mut a| {
            if chart == Chart::Headlamp {
                a.own_source = false;
            }
            a
        })
        .collect();
    let mut files = BTreeMap::new();
    let mut put = |path: &str, text: String| {
        files.insert(PathBuf::from(path), text);
    };

    put(
        "README.md",
        format!(
            "# bench repository\n\nWritten by `cargo xtask gen-repo --apps {}` (headlamp-e2e `src/benchrepo.rs`): the \
             onedr0p/cluster-template layout at the scale of a real home-ops repository. Made-up SOPS ciphertext; no \
             real key.\n",
            apps.len()
        ),
    );
    put(
        ".sops.yaml",
        "---\ncreation_rules:\n  - path_regex: kubernetes/.*\\.sops\\.ya?ml\n    encrypted_regex: \"^(data|stringData)$\"\n    mac_only_encrypted: true\n    key_groups:\n      - age:\n          - age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\n".into(),
    );
    put("kubernetes/flux/cluster/ks.yaml", CLUSTER_KS.into());

    // kubernetes/flux/meta: the repositories cluster-meta applies in flux-system
    put(
        "kubernetes/flux/meta/kustomization.yaml",
        kustomization(&["./repositories"]),
    );
    put(
        "kubernetes/flux/meta/repositories/kustomization.yaml",
        kustomization(&["./helm", "./oci"]),
    );
    let helm_files: Vec<String> = HELM_REPOSITORIES
        .iter()
        .map(|(n, _)| format!("./{n}.yaml"))
        .collect();
    put(
        "kubernetes/flux/meta/repositories/helm/kustomization.yaml",
        kustomization(&helm_files.iter().map(String::as_str).collect::<Vec<_>>()),
    );
    for (name, url) in HELM_REPOSITORIES {
        put(
            &format!("kubernetes/flux/meta/repositories/helm/{name}.yaml"),
            format!(
                "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 12h\n  url: {url}\n"
            ),
        );
    }
    put(
        "kubernetes/flux/meta/repositories/oci/kustomization.yaml",
        kustomization(&["./app-template.yaml"]),
    );
    put(
        "kubernetes/flux/meta/repositories/oci/app-template.yaml",
        oci_repository("app-template", Some("flux-system")),
    );

    // kubernetes/components
    put(
        "kubernetes/components/common/kustomization.yaml",
        component_resources(&["./namespace.yaml", "./sops"]),
    );
    put(
        "kubernetes/components/common/namespace.yaml",
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: not-used\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n    volsync.backube/privileged-movers: \"true\"\n".into(),
    );
    put(
        "kubernetes/components/common/sops/kustomization.yaml",
        kustomization(&["./cluster-secrets.sops.yaml"]),
    );
    put(
        "kubernetes/components/common/sops/cluster-secrets.sops.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n    name: cluster-secrets\nstringData:\n    SECRET_DOMAIN: ENC[AES256_GCM,data:bm90LXJlYWw=,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n    SECRET_CLUSTER_NAME: ENC[AES256_GCM,data:aG9tZQ==,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n{SOPS_BLOCK}"
        ),
    );
    put(
        "kubernetes/components/volsync/kustomization.yaml",
        component_resources(&["./pvc.yaml", "./replicationsource.yaml"]),
    );
    put("kubernetes/components/volsync/pvc.yaml", VOLSYNC_PVC.into());
    put(
        "kubernetes/components/volsync/replicationsource.yaml",
        VOLSYNC_SOURCE.into(),
    );
    put(
        "kubernetes/components/gatus/guarded/kustomization.yaml",
        GATUS_COMPONENT.into(),
    );
    put(
        "kubernetes/components/gatus/guarded/config.yaml",
        GATUS_CONFIG.into(),
    );

    // kubernetes/apps/<ns>/kustomization.yaml
    for ns in NAMESPACES {
        let mine: Vec<&App> = apps.iter().filter(|a| a.namespace == ns).collect();
        if mine.is_empty() {
            continue;
        }
        let mut t = format!(
            "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\ncomponents:\n  - ../../components/common\nresources:\n"
        );
        for a in mine {
            let _ = writeln!(t, "  - ./{}/ks.yaml", a.name);
        }
        put(&format!("kubernetes/apps/{ns}/kustomization.yaml"), t);
    }

    for a in &apps {
        let dir = app_dir(a).display().to_string();
        put(&format!("{dir}/ks.yaml"), app_ks(a));
        put(
            &format!("{dir}/app/kustomization.yaml"),
            app_kustomization(a, chart),
        );
        let hr = match chart {
            Chart::AppTemplate => helmrelease(a),
            Chart::Headlamp => headlamp_release(a),
        };
        put(&format!("{dir}/app/helmrelease.yaml"), hr);
        if a.own_source {
            put(
                &format!("{dir}/app/ocirepository.yaml"),
                oci_repository(&a.name, None),
            );
        }
        if a.config_map {
            put(
                &format!("{dir}/app/resources/config.yaml"),
                format!(
                    "# {name} configuration, mounted from the {name}-config ConfigMap\nlog_level: info\nbase_url: https://{name}.${{SECRET_DOMAIN}}\n",
                    name = a.name
                ),
            );
        }
    }
    Repo { files, apps }
}

/// cluster-meta and cluster-apps (home-ops 5757c6e), cluster-apps' patch for every child Kustomization as
/// cluster-template ae73246 writes it, plus the `substituteFrom: cluster-secrets` of the earlier template.
const CLUSTER_KS: &str = r#"---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-meta
  namespace: flux-system
spec:
  decryption:
    provider: sops
    secretRef:
      name: sops-age
  interval: 1h
  path: ./kubernetes/flux/meta
  prune: true
  retryInterval: 2m
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  targetNamespace: flux-system
  timeout: 5m
  wait: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-apps
  namespace: flux-system
spec:
  decryption:
    provider: sops
    secretRef:
      name: sops-age
  deletionPolicy: WaitForTermination
  dependsOn:
    - name: cluster-meta
      namespace: flux-system
  interval: 1h
  path: ./kubernetes/apps
  prune: true
  retryInterval: 2m
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  timeout: 5m
  wait: false
  patches:
    - # Add Kustomization defaults for all child Kustomizations
      patch: |-
        apiVersion: kustomize.toolkit.fluxcd.io/v1
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
                apiVersion: helm.toolkit.fluxcd.io/v2
                kind: HelmRelease
                metadata:
                  name: _
                spec:
                  install:
                    crds: CreateReplace
                    strategy:
                      name: RetryOnFailure
                  rollback:
                    cleanupOnFail: true
                    recreate: true
                  upgrade:
                    cleanupOnFail: true
                    crds: CreateReplace
                    strategy:
                      name: RemediateOnFailure
                    remediation:
                      remediateLastFailure: true
                      retries: 2
              target:
                group: helm.toolkit.fluxcd.io
                kind: HelmRelease
      target:
        group: kustomize.toolkit.fluxcd.io
        kind: Kustomization
"#;

const VOLSYNC_PVC: &str = r#"---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: "${APP}"
spec:
  accessModes: ["${VOLSYNC_ACCESSMODES:=ReadWriteOnce}"]
  dataSourceRef:
    kind: ReplicationDestination
    apiGroup: volsync.backube
    name: "${APP}-dst"
  resources:
    requests:
      storage: "${VOLSYNC_CAPACITY:=5Gi}"
  storageClassName: "${VOLSYNC_STORAGECLASS:=ceph-block}"
"#;

const VOLSYNC_SOURCE: &str = r#"---
apiVersion: volsync.backube/v1alpha1
kind: ReplicationSource
metadata:
  name: "${APP}"
spec:
  sourcePVC: "${APP}"
  trigger:
    schedule: "0 * * * *"
  restic:
    copyMethod: "${VOLSYNC_COPYMETHOD:=Snapshot}"
    pruneIntervalDays: 14
    repository: "${APP}-volsync-secret"
    volumeSnapshotClassName: "${VOLSYNC_SNAPSHOTCLASS:=csi-ceph-blockpool}"
    cacheCapacity: "${VOLSYNC_CACHE_CAPACITY:=4Gi}"
    storageClassName: "${VOLSYNC_STORAGECLASS:=ceph-block}"
    moverSecurityContext:
      runAsUser: ${VOLSYNC_PUID:=1000}
      runAsGroup: ${VOLSYNC_PGID:=1000}
      fsGroup: ${VOLSYNC_PGID:=1000}
    retain:
      hourly: 24
      daily: 7
"#;

const GATUS_COMPONENT: &str = r#"---
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
configMapGenerator:
  - name: ${APP}-gatus-ep
    files:
      - config.yaml=./config.yaml
    options:
      labels:
        gatus.io/enabled: "true"
generatorOptions:
  disableNameSuffixHash: true
"#;

const GATUS_CONFIG: &str = r#"endpoints:
  - name: "${APP}"
    group: guarded
    url: 1.1.1.1
    interval: 1m
    ui:
      hide-hostname: true
      hide-url: true
    dns:
      query-name: "${GATUS_SUBDOMAIN:=${APP}}.${SECRET_DOMAIN}"
      query-type: A
    conditions:
      - "len([BODY]) == 0"
"#;

fn kustomization(resources: &[&str]) -> String {
    let mut t =
        "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
            .to_string();
    for r in resources {
        let _ = writeln!(t, "  - {r}");
    }
    t
}

fn component_resources(resources: &[&str]) -> String {
    let mut t = "---\napiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n"
        .to_string();
    for r in resources {
        let _ = writeln!(t, "  - {r}");
    }
    t
}

fn oci_repository(name: &str, namespace: Option<&str>) -> String {
    let ns = namespace.map_or(String::new(), |n| format!("  namespace: {n}\n"));
    format!(
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: {name}\n{ns}spec:\n  interval: 15m\n  layerSelector:\n    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip\n    operation: copy\n  ref:\n    tag: 4.6.0\n  url: oci://ghcr.io/bjw-s-labs/helm/app-template\n"
    )
}

fn app_ks(a: &App) -> String {
    let mut t = format!(
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: &app {}\nspec:\n  commonMetadata:\n    labels:\n      app.kubernetes.io/name: *app\n",
        a.name
    );
    if a.volsync || a.gatus {
        t.push_str("  components:\n");
        if a.gatus {
            t.push_str("    - ../../../../components/gatus/guarded\n");
        }
        if a.volsync {
            t.push_str("    - ../../../../components/volsync\n");
        }
    }
    if let Some((name, ns)) = &a.depends_on {
        let _ = write!(
            t,
            "  dependsOn:\n    - name: {name}\n      namespace: {ns}\n"
        );
    }
    let _ = write!(
        t,
        "  interval: 1h\n  path: ./{}/app\n  postBuild:\n    substitute:\n      APP: *app\n",
        app_dir(a).display()
    );
    if a.gatus {
        let _ = writeln!(t, "      GATUS_SUBDOMAIN: {}", a.name.replace("app-", "a"));
    }
    if a.volsync {
        t.push_str("      VOLSYNC_CAPACITY: 5Gi\n");
    }
    let _ = write!(
        t,
        "  prune: true\n  retryInterval: 2m\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n  targetNamespace: {}\n  timeout: 5m\n  wait: false\n",
        a.namespace
    );
    t
}

fn app_kustomization(a: &App, chart: Chart) -> String {
    let mut resources = vec!["./helmrelease.yaml"];
    if a.own_source {
        resources.push("./ocirepository.yaml");
    }
    let mut t = kustomization(&resources);
    if a.config_map {
        let _ = write!(
            t,
            "configMapGenerator:\n  - name: {}-config\n    files:\n      - config.yaml=./resources/config.yaml\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
            a.name
        );
    }
    if a.patched {
        let _ = write!(
            t,
            "patches:\n  - patch: |-\n      - op: add\n        path: {}\n        value:\n          kubernetes.io/arch: amd64\n    target:\n      kind: HelmRelease\n      name: {}\n",
            match chart {
                Chart::AppTemplate => "/spec/values/defaultPodOptions/nodeSelector",
                Chart::Headlamp => "/spec/values/nodeSelector",
            },
            a.name
        );
    }
    t
}

fn helmrelease(a: &App) -> String {
    let source = if a.own_source {
        format!("    kind: OCIRepository\n    name: {}\n", a.name)
    } else {
        "    kind: OCIRepository\n    name: app-template\n    namespace: flux-system\n".into()
    };
    let mut persistence = String::from("    persistence:\n");
    if a.volsync {
        persistence.push_str("      config:\n        existingClaim: \"${APP}\"\n");
    }
    if a.config_map {
        let _ = write!(
            persistence,
            "      config-file:\n        type: configMap\n        name: {}-config\n        globalMounts:\n          - path: /config/config.yaml\n            subPath: config.yaml\n            readOnly: true\n",
            a.name
        );
    }
    persistence.push_str("      tmp:\n        type: emptyDir\n");
    // a made-up digest, distinct per app, stable across runs
    let digest: String = (0..4)
        .map(|k| format!("{:016x}", hash(&format!("{}/{k}", a.name))))
        .collect();
    format!(
        r#"---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
spec:
  chartRef:
{source}  interval: 1h
  values:
    controllers:
      {name}:
        annotations:
          reloader.stakater.com/auto: "true"
        containers:
          app:
            image:
              repository: ghcr.io/home-operations/{name}
              tag: 1.0.{minor}@sha256:{digest}
            env:
              APP_NAME: "${{APP}}"
              PORT: &port 8080
              TZ: Etc/UTC
            probes:
              liveness: &probes
                enabled: true
                custom: true
                spec:
                  httpGet:
                    path: /healthz
                    port: *port
                  periodSeconds: 10
                  timeoutSeconds: 1
                  failureThreshold: 3
              readiness: *probes
            securityContext:
              allowPrivilegeEscalation: false
              readOnlyRootFilesystem: true
              capabilities: {{ drop: ["ALL"] }}
            resources:
              requests:
                cpu: 10m
              limits:
                memory: 256Mi
    defaultPodOptions:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        fsGroup: 1000
        fsGroupChangePolicy: OnRootMismatch
    service:
      app:
        ports:
          http:
            port: *port
    route:
      app:
        hostnames:
          - "{{{{ .Release.Name }}}}.${{SECRET_DOMAIN}}"
        parentRefs:
          - name: envoy-internal
            namespace: network
{persistence}"#,
        name = a.name,
        minor = a.name.len() % 10,
    )
}

/// An app's HelmRelease of the Headlamp chart ([`Chart::Headlamp`]): the read-only posture of
/// `fixtures/gitops/apps/base/headlamp/helmrelease.yaml`, one release per app.
fn headlamp_release(a: &App) -> String {
    format!(
        r#"---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
spec:
  interval: 30m
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
        namespace: flux-system
  values:
    fullnameOverride: "${{APP}}"
    config:
      oidc:
        secret:
          name: "${{APP}}-oidc"
    serviceAccount:
      create: true
      name: {name}
    clusterRoleBinding:
      create: true
      clusterRoleName: view
    podSecurityContext:
      runAsNonRoot: true
      seccompProfile:
        type: RuntimeDefault
    securityContext:
      runAsNonRoot: true
      runAsUser: 100
      runAsGroup: 101
      privileged: false
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop:
          - ALL
    volumes:
      - name: home
        emptyDir: {{}}
      - name: tmp
        emptyDir: {{}}
    volumeMounts:
      - name: home
        mountPath: /home/headlamp
      - name: tmp
        mountPath: /tmp
"#,
        name = a.name
    )
}

/// FNV-1a of `s`: a stable made-up number (std's hasher may change between Rust releases).
fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_size_is_the_real_repositorys() {
        let r = generate(DEFAULT_APPS);
        let c = r.counts();
        // the real one: 1,191 files, ~350 Flux Kustomizations, 356 HelmReleases
        assert!((1150..=1250).contains(&c.files), "{c:?}");
        assert_eq!(c.flux_kustomizations, 352, "{c:?}");
        assert_eq!(c.helmreleases, 350, "{c:?}");
    }

    #[test]
    fn the_same_size_gives_the_same_bytes_and_another_size_another_repository() {
        assert_eq!(generate(20).files, generate(20).files);
        assert_ne!(generate(20).files, generate(21).files);
    }

    #[test]
    fn each_app_shape_occurs_and_every_app_is_listed_by_its_namespace() {
        let r = generate(30);
        for (what, n) in [
            ("own source", r.apps.iter().filter(|a| a.own_source).count()),
            ("volsync", r.apps.iter().filter(|a| a.volsync).count()),
            ("gatus", r.apps.iter().filter(|a| a.gatus).count()),
            (
                "dependsOn",
                r.apps.iter().filter(|a| a.depends_on.is_some()).count(),
            ),
            (
                "configMapGenerator",
                r.apps.iter().filter(|a| a.config_map).count(),
            ),
            ("patches", r.apps.iter().filter(|a| a.patched).count()),
        ] {
            assert!(n > 0 && n < 30, "{what}: {n}");
        }
        for a in &r.apps {
            let ns = &r.files[&PathBuf::from(format!(
                "kubernetes/apps/{}/kustomization.yaml",
                a.namespace
            ))];
            assert!(ns.contains(&format!("  - ./{}/ks.yaml\n", a.name)), "{ns}");
            // a dependency names an app that exists, in its namespace
            if let Some((dep, dep_ns)) = &a.depends_on {
                assert!(
                    r.apps
                        .iter()
                        .any(|b| &b.name == dep && b.namespace == *dep_ns)
                );
            }
        }
    }

    #[test]
    fn write_refuses_a_directory_that_holds_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("old.yaml"), "x: 1\n").unwrap();
        let err = generate(1).write(d.path()).unwrap_err();
        assert!(matches!(err, WriteError::NotEmpty(_)), "{err}");
        let empty = d.path().join("new");
        generate(1).write(&empty).unwrap();
        assert!(empty.join("kubernetes/flux/cluster/ks.yaml").is_file());
    }
}
