//! Install Flux v2.9.4 into a cluster: apply the components (CRDs first), then wait for each controller Deployment
//! in `flux-system` to be Available.
//!
//! The components come from a file (a GitOps repo's `gotk-components.yaml`, as this project's fixture commits it:
//! `flux install --export` output, four controllers) or else from the release's
//! `install.yaml` (all controllers), downloaded once into the per-user cache and checked against [`INSTALL_SHA256`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, Client};
use sha2::{Digest, Sha256};

use super::conditions::is_deployment_available;
use super::wait::wait_for;
use crate::apply::{Applied, ApplyOptions, apply_yaml};
use crate::error::{Error, Result};

/// The Flux release the harness installs.
pub const FLUX_VERSION: &str = "v2.9.4";

/// The release asset with every controller and CRD.
pub const INSTALL_URL: &str =
    "https://github.com/fluxcd/flux2/releases/download/v2.9.4/install.yaml";

/// sha256 of [`INSTALL_URL`]'s content.
///
/// Provenance: the release's own `flux_2.9.4_checksums.txt` was not available where this was written (no network,
/// and the search index holds no copy of it). The value is the one three unrelated public repositories pin for this
/// exact URL (a Go envtest fixture's `fluxCRDSourceSHA`, a Kind lab's `FLUX_SHA256`, a home-server bootstrap
/// script's `install_sha256`). A wrong value fails safe: the download is refused with a mismatch error. Verify with
/// `grep install.yaml flux_2.9.4_checksums.txt` from the release page when convenient. Set to `None` to forbid the
/// download path entirely (then only `--flux-components FILE` installs).
pub const INSTALL_SHA256: Option<&str> =
    Some("9eb86c5f9d606b2ac2cfe71223ab2f23faa2d59ccb21df4e08e5610e54d535f8");

/// Where Flux runs.
pub const NAMESPACE: &str = "flux-system";

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// A components file (`gotk-components.yaml`, `flux install` output); `None` = the release's install.yaml.
    pub components: Option<PathBuf>,
    /// Per CustomResourceDefinition: time to become Established.
    pub crd_deadline: Duration,
    /// Per controller Deployment: time to become Available (image pulls included).
    pub deployment_deadline: Duration,
    /// For downloading install.yaml (the whole transfer).
    pub download_timeout: Duration,
}

impl InstallOptions {
    /// From `components` (or the release), CRDs 60 s, Deployments 300 s, download 120 s.
    pub fn new(components: Option<PathBuf>) -> Self {
        InstallOptions {
            components,
            crd_deadline: Duration::from_secs(60),
            deployment_deadline: Duration::from_secs(300),
            download_timeout: Duration::from_secs(120),
        }
    }
}

/// What [`install`] did.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The components file or the URL they came from.
    pub source: String,
    /// The `# Flux Version:` header of the components, when present.
    pub version: Option<String>,
    pub applied: Vec<Applied>,
    /// The controller Deployments that became Available, in order.
    pub controllers: Vec<String>,
}

/// Apply the components and wait for the controllers.
pub async fn install(client: &Client, opts: &InstallOptions) -> Result<Installed> {
    let (text, source) = match &opts.components {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?,
            path.display().to_string(),
        ),
        None => (
            release_install_yaml(opts.download_timeout).await?,
            INSTALL_URL.to_string(),
        ),
    };
    let version = manifest_flux_version(&text).map(str::to_string);
    if let Some(v) = &version
        && v != FLUX_VERSION
    {
        tracing::warn!(components = %source, found = %v, pinned = FLUX_VERSION,
            "the Flux components are not the pinned version");
    }
    let applied = apply_yaml(
        client,
        &text,
        Path::new(&source),
        &ApplyOptions::new(opts.crd_deadline),
    )
    .await?;
    let deployments: Vec<String> = applied
        .iter()
        .filter(|a| {
            a.resource.kind == "Deployment"
                && a.resource.group == "apps"
                && a.namespace.as_deref() == Some(NAMESPACE)
        })
        .map(|a| a.name.clone())
        .collect();
    if deployments.is_empty() {
        return Err(Error::Other(format!(
            "{source}: no controller Deployment in namespace {NAMESPACE}: not Flux components"
        )));
    }
    wait_controllers(client, &deployments, opts.deployment_deadline).await?;
    Ok(Installed {
        source,
        version,
        applied,
        controllers: deployments,
    })
}

/// Wait for each named Deployment in `flux-system` to be Available, `deadline` each.
pub async fn wait_controllers(
    client: &Client,
    names: &[String],
    deadline: Duration,
) -> Result<Vec<Deployment>> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let mut out = Vec::new();
    for name in names {
        out.push(wait_for(&api, name, is_deployment_available(), deadline, "Available").await?);
    }
    Ok(out)
}

/// The `# Flux Version: v2.9.4` header `flux install` writes.
pub fn manifest_flux_version(text: &str) -> Option<&str> {
    text.lines()
        .take(10)
        .find_map(|l| l.trim().strip_prefix("# Flux Version:"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The cached copy of the release install.yaml: `<cache>/flux/v2.9.4/install.yaml`.
pub fn cache_file() -> Option<PathBuf> {
    crate::chart::cache_root().map(|d| d.join("flux").join(FLUX_VERSION).join("install.yaml"))
}

/// The release install.yaml: from the cache when it is there and verifies, else downloaded, verified and cached.
pub async fn release_install_yaml(timeout: Duration) -> Result<String> {
    let bytes = fetch_verified(
        INSTALL_URL,
        INSTALL_SHA256,
        cache_file().as_deref(),
        timeout,
    )
    .await?;
    String::from_utf8(bytes).map_err(|_| download(INSTALL_URL, "not UTF-8 text".into()))
}

/// Download `url` once: a cached file whose sha256 is `expected` is used as is; otherwise the download must match
/// `expected` before it is cached and returned. Without `expected`, nothing is downloaded.
pub(crate) async fn fetch_verified(
    url: &str,
    expected: Option<&str>,
    cache: Option<&Path>,
    timeout: Duration,
) -> Result<Vec<u8>> {
    let Some(expected) = expected else {
        return Err(download(
            url,
            format!(
                "no sha256 is pinned for it in this build, and unverified content is not applied to a cluster: \
                 pass --flux-components FILE (your repository's clusters/<name>/flux-system/gotk-components.yaml, \
                 or `flux install --version {FLUX_VERSION} --export` written to a file)"
            ),
        ));
    };
    let expected = expected.trim().to_ascii_lowercase();
    if let Some(path) = cache
        && let Ok(bytes) = std::fs::read(path)
    {
        if hex::encode(Sha256::digest(&bytes)) == expected {
            return Ok(bytes);
        }
        tracing::warn!(file = %path.display(), "cached Flux install.yaml does not match the pinned sha256; downloading it again");
        let _ = std::fs::remove_file(path);
    }
    crate::tls::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(15)))
        .user_agent(concat!("headlamp-e2e/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Other(format!("cannot build an HTTP client: {e}")))?;
    let download_error = |message: String| download(url, message);
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| download_error(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(download_error(format!("HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| download_error(e.to_string()))?
        .to_vec();
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != expected {
        return Err(download_error(format!(
            "sha256 mismatch: pinned {expected}, downloaded {actual}; refusing it \
             (pass --flux-components FILE to install from a file you trust)"
        )));
    }
    if let Some(path) = cache
        && let Err(e) = write_atomic(path, &bytes)
    {
        tracing::warn!(file = %path.display(), error = %e, "cannot cache the Flux install.yaml");
    }
    Ok(bytes)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A tools [`Download`](headlamp_e2e_tools::Error::Download) error (the Flux release could not be had).
fn download(url: &str, message: String) -> Error {
    headlamp_e2e_tools::Error::Download {
        url: url.into(),
        message,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock_api::{Seen, mock_client, step, step_with};
    use serde_json::{Value, json};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const BODY: &[u8] = b"---\n# Flux Version: v2.9.4\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n";

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    async fn serve(times: u64) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/install.yaml"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(BODY))
            .expect(times)
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn downloads_once_verifies_and_caches() {
        let server = serve(1).await;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("flux/v2.9.4/install.yaml");
        let url = format!("{}/install.yaml", server.uri());
        let sum = sha(BODY);
        let first = fetch_verified(&url, Some(&sum), Some(&cache), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(first, BODY);
        assert_eq!(std::fs::read(&cache).unwrap(), BODY);
        // the second call is served from the cache (the mock expects exactly one request)
        let second = fetch_verified(&url, Some(&sum), Some(&cache), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(second, BODY);
    }

    #[tokio::test]
    async fn a_tampered_cache_is_downloaded_again() {
        let server = serve(1).await;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("install.yaml");
        std::fs::write(&cache, b"kind: Evil\n").unwrap();
        let url = format!("{}/install.yaml", server.uri());
        let got = fetch_verified(&url, Some(&sha(BODY)), Some(&cache), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(got, BODY);
        assert_eq!(std::fs::read(&cache).unwrap(), BODY);
    }

    #[tokio::test]
    async fn mismatch_is_refused_and_not_cached() {
        let server = serve(1).await;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("install.yaml");
        let url = format!("{}/install.yaml", server.uri());
        let wrong = "0".repeat(64);
        let e = fetch_verified(&url, Some(&wrong), Some(&cache), Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sha256 mismatch")
                && e.contains(&sha(BODY))
                && e.contains("--flux-components"),
            "{e}"
        );
        assert!(!cache.exists());
    }

    #[tokio::test]
    async fn no_pinned_sum_refuses_without_downloading() {
        let server = serve(0).await;
        let url = format!("{}/install.yaml", server.uri());
        let e = fetch_verified(&url, None, None, Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no sha256 is pinned") && e.contains("--flux-components FILE"),
            "{e}"
        );
    }

    #[test]
    fn version_header() {
        assert_eq!(
            manifest_flux_version(std::str::from_utf8(BODY).unwrap()),
            Some("v2.9.4")
        );
        assert_eq!(manifest_flux_version("apiVersion: v1\n"), None);
        let path = crate::test_support::flux_components_file();
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(manifest_flux_version(&text), Some(FLUX_VERSION));
        assert!(INSTALL_URL.contains(FLUX_VERSION));
        if let Some(s) = INSTALL_SHA256 {
            assert!(s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    const COMPONENTS: &str = r#"---
# This manifest was generated by flux. DO NOT EDIT.
# Flux Version: v2.9.4
# Components: helm-controller
apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: helmreleases.helm.toolkit.fluxcd.io
spec:
  group: helm.toolkit.fluxcd.io
  names: {kind: HelmRelease, listKind: HelmReleaseList, plural: helmreleases, shortNames: [hr], singular: helmrelease}
  scope: Namespaced
  versions:
  - name: v2
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    subresources: {status: {}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: helm-controller
  namespace: flux-system
spec:
  replicas: 1
  selector: {matchLabels: {app: helm-controller}}
  template:
    metadata: {labels: {app: helm-controller}}
    spec:
      containers:
      - name: manager
        image: ghcr.io/fluxcd/helm-controller:v1.6.3
"#;

    const CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/helmreleases.helm.toolkit.fluxcd.io";
    const DEPLOY: &str = "/apis/apps/v1/namespaces/flux-system/deployments/helm-controller";

    fn established_crd(seen: &[Seen]) -> (u16, Value) {
        let mut v = seen.last().map(|s| s.body.clone()).unwrap_or_default();
        v["metadata"]["generation"] = json!(1);
        v["status"] = json!({"conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
             "lastTransitionTime": "2025-06-02T09:57:01Z"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": "2025-06-02T09:57:01Z"}]});
        (200, v)
    }

    fn deployment(available: bool) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "helm-controller", "namespace": "flux-system", "generation": 1,
                         "uid": "7e3f1c2a-9b8d-4c6e-a5f4-1d2c3b4a5e6f", "resourceVersion": "901"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "helm-controller"}},
                     "template": {"metadata": {"labels": {"app": "helm-controller"}},
                                  "spec": {"containers": [{"name": "manager", "image": "ghcr.io/fluxcd/helm-controller:v1.6.3"}]}}},
            "status": if available {
                json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                       "availableReplicas": 1, "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                     "message": "Deployment has minimum availability.",
                     "lastUpdateTime": "2025-06-02T09:58:40Z", "lastTransitionTime": "2025-06-02T09:58:40Z"}]})
            } else {
                json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1,
                       "conditions": [
                    {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                     "message": "Deployment does not have minimum availability.",
                     "lastUpdateTime": "2025-06-02T09:58:12Z", "lastTransitionTime": "2025-06-02T09:58:12Z"}]})
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn installs_from_a_components_file_and_waits_for_the_controllers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gotk-components.yaml");
        std::fs::write(&file, COMPONENTS).unwrap();
        let core = json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
             "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]});
        let apps = json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1", "resources": [
            {"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment",
             "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
             "shortNames": ["deploy"], "categories": ["all"]},
            {"name": "deployments/status", "singularName": "", "namespaced": true, "kind": "Deployment",
             "verbs": ["get", "patch", "update"]}]});
        let (client, server) = mock_client(vec![
            step_with("PATCH", CRD, established_crd),
            step_with("GET", CRD, |seen| established_crd(&seen[..1])),
            step("GET", "/api/v1", core),
            step_with("PATCH", "/api/v1/namespaces/flux-system?", |seen| {
                (200, seen[3].body.clone())
            }),
            step("GET", "/apis/apps/v1", apps),
            step("PATCH", &format!("{DEPLOY}?"), deployment(false)),
            step("GET", DEPLOY, deployment(false)),
            step("GET", DEPLOY, deployment(true)),
        ]);
        let mut opts = InstallOptions::new(Some(file.clone()));
        opts.deployment_deadline = Duration::from_secs(120);
        let installed = install(&client, &opts).await.expect("installed");
        assert_eq!(installed.version.as_deref(), Some("v2.9.4"));
        assert_eq!(installed.controllers, ["helm-controller"]);
        let ids: Vec<&str> = installed.applied.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "CustomResourceDefinition/helmreleases.helm.toolkit.fluxcd.io",
                "Namespace/flux-system",
                "Deployment/flux-system/helm-controller"
            ]
        );
        drop(client);
        assert_eq!(server.await.unwrap().len(), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn a_controller_that_never_becomes_available_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yaml");
        // only the Deployment: no CRDs, no namespace
        std::fs::write(&file, COMPONENTS.split("---").nth(3).unwrap()).unwrap();
        let apps = json!({"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
            {"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment",
             "verbs": ["get", "patch"]}]});
        let mut steps = vec![
            step("GET", "/apis/apps/v1", apps),
            step("PATCH", &format!("{DEPLOY}?"), deployment(false)),
        ];
        steps.extend((0..5).map(|_| step("GET", DEPLOY, deployment(false))));
        let (client, _server) = mock_client(steps);
        let mut opts = InstallOptions::new(Some(file));
        opts.deployment_deadline = Duration::from_secs(10);
        let e = install(&client, &opts).await.unwrap_err().to_string();
        assert_eq!(
            e,
            "Deployment flux-system/helm-controller not Available after 10s: last seen \
             Available=False MinimumReplicasUnavailable \"Deployment does not have minimum availability.\"; \
             0/1 replicas available"
        );
    }
}
