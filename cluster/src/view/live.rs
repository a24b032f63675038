//! [`LiveView`]: the Kubernetes API through get, list and pod logs only (no write verb is ever sent: the mocked-API
//! tests answer anything but GET with a failure). [`connect`] builds the client from a kubeconfig and a context.

use std::path::Path;

use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, LogParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::Value;

use super::cluster_view::{ClusterView, ViewError};
pub use super::cluster_view::{LOG_LIMIT_BYTES, LOG_TAIL_LINES};
use super::resource::ResourceKind;

/// Deadline for opening a connection to the API server.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Deadline for an answer to one request (the commands' `--timeout` bounds the whole run).
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Page size of list calls.
const PAGE: u32 = 500;

/// A live cluster, read-only.
#[derive(Clone)]
pub struct LiveView {
    client: Client,
    context: String,
}

impl LiveView {
    pub fn new(client: Client, context: impl Into<String>) -> Self {
        LiveView {
            client,
            context: context.into(),
        }
    }
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// A client for `context` (default: the kubeconfig's current context) of `kubeconfig` (default: `$KUBECONFIG`,
/// `~/.kube/config`, else the in-cluster config), and the context's name (`in-cluster` without a kubeconfig).
/// Error messages name the file and the context, never credentials.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<(Client, String), ViewError> {
    let (mut config, name) = config_for(kubeconfig, context).await?;
    // every request has a deadline: an API server that accepts and never answers ends a request after these, not
    // after kube's default of 295 s (made for watches, which this client never opens)
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.write_timeout = Some(READ_TIMEOUT);
    let client = Client::try_from(config).map_err(|e| ViewError::Connect(e.to_string()))?;
    Ok((client, name))
}

/// The client configuration [`connect`] uses (server URL, CA, credentials), and the context's name: for callers that
/// also talk to the API server with another identity (`verify` sends the login token on its own).
pub async fn config_for(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<(Config, String), ViewError> {
    crate::tls::install_crypto_provider();
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| ViewError::Connect(format!("kubeconfig {}: {e}", path.display())))?;
            let name = context
                .map(str::to_string)
                .or_else(|| kc.current_context.clone())
                .unwrap_or_default();
            let config = Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| ViewError::Connect(format!("kubeconfig {}: {e}", path.display())))?;
            Ok((config, name))
        }
        None if context.is_some() => {
            let config = Config::from_kubeconfig(&options)
                .await
                .map_err(|e| ViewError::Connect(e.to_string()))?;
            Ok((config, context.unwrap_or_default().to_string()))
        }
        None => {
            let name = Kubeconfig::read()
                .ok()
                .and_then(|k| k.current_context)
                .unwrap_or_else(|| "in-cluster".to_string());
            let config = Config::infer()
                .await
                .map_err(|e| ViewError::Connect(e.to_string()))?;
            Ok((config, name))
        }
    }
}

fn api_resource(kind: &ResourceKind) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group, kind.version, kind.kind),
        kind.plural,
    )
}

fn api_error(what: String, e: kube::Error) -> ViewError {
    match e {
        kube::Error::Api(s) => ViewError::Api {
            what,
            code: Some(s.code),
            message: if s.message.is_empty() {
                s.reason.clone()
            } else {
                s.message.clone()
            },
        },
        other => ViewError::Api {
            what,
            code: None,
            message: error_chain(&other),
        },
    }
}

pub use crate::error::error_chain;

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// A typed object as JSON, with `apiVersion` and `kind` (list items come without them).
fn to_value(o: DynamicObject, kind: &ResourceKind) -> Result<Value, ViewError> {
    let mut v = serde_json::to_value(o).map_err(|e| ViewError::Api {
        what: format!("decoding a {}", kind.kind),
        code: None,
        message: e.to_string(),
    })?;
    if let Value::Object(m) = &mut v {
        m.entry("apiVersion")
            .or_insert_with(|| Value::String(kind.api_version()));
        m.entry("kind")
            .or_insert_with(|| Value::String(kind.kind.to_string()));
    }
    Ok(v)
}

impl LiveView {
    fn api(&self, kind: &ResourceKind, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = api_resource(kind);
        match namespace.filter(|_| kind.namespaced) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }
}

#[async_trait]
impl ClusterView for LiveView {
    fn context(&self) -> &str {
        &self.context
    }
    fn captured_at(&self) -> Timestamp {
        Timestamp::now()
    }
    fn target(&self) -> String {
        format!("cluster:{}", self.context)
    }
    fn location(&self, _: &ResourceKind, _: Option<&str>, _: &str) -> String {
        self.target()
    }
    fn log_location(&self, _: &str, _: &str, _: &str, _: bool) -> String {
        self.target()
    }

    async fn list(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, ViewError> {
        let api = self.api(kind, namespace);
        let what = || match namespace.filter(|_| kind.namespaced) {
            Some(ns) => format!("list {} in namespace {ns}", kind.plural),
            None => format!("list {}", kind.plural),
        };
        let mut out = Vec::new();
        let mut lp = ListParams::default().limit(PAGE);
        loop {
            let page = match api.list(&lp).await {
                Ok(p) => p,
                // the kind is not served (its CRD is not installed): nothing of it exists
                Err(e) if status_code(&e) == Some(404) => return Ok(Vec::new()),
                Err(e) => return Err(api_error(what(), e)),
            };
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            for o in page.items {
                out.push(to_value(o, kind)?);
            }
            match next {
                Some(c) => lp = lp.continue_token(&c),
                None => return Ok(out),
            }
        }
    }

    async fn get(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ViewError> {
        match self.api(kind, namespace).get_opt(name).await {
            Ok(Some(o)) => Ok(Some(to_value(o, kind)?)),
            Ok(None) => Ok(None),
            Err(e) if status_code(&e) == Some(404) => Ok(None),
            Err(e) => Err(api_error(format!("get {}", kind.id(namespace, name)), e)),
        }
    }

    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<Option<String>, ViewError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let lp = LogParams {
            container: Some(container.to_string()),
            previous,
            tail_lines: Some(LOG_TAIL_LINES),
            limit_bytes: Some(LOG_LIMIT_BYTES),
            ..LogParams::default()
        };
        match api.logs(pod, &lp).await {
            Ok(text) => Ok(Some(text)),
            // 404: no such pod/container; 400: no previous run, or the container has not started
            Err(e) if matches!(status_code(&e), Some(400 | 404)) => Ok(None),
            Err(e) => Err(api_error(
                format!(
                    "{} log of pod {namespace}/{pod} container {container}",
                    if previous { "previous" } else { "current" }
                ),
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeApi;
    use super::super::resource::{HELMRELEASE, INGRESS, POD, name_of};
    use super::super::snapshot::SnapshotView;
    use super::*;
    use crate::test_support::project_root;

    fn snapshot(name: &str) -> SnapshotView {
        SnapshotView::open(&project_root().join("fixtures/snapshots").join(name))
            .expect("fixture snapshot opens")
    }

    #[tokio::test]
    async fn live_view_reads_through_get_list_and_logs_only() {
        let fake = FakeApi::new(snapshot("pinned-image-tag"));
        let (client, server) = fake.start();
        let view = LiveView::new(client, "home");
        let pods = view.list(&POD, Some("headlamp")).await.unwrap();
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0]["kind"], "Pod", "list items get apiVersion/kind");
        assert_eq!(pods[0]["apiVersion"], "v1");
        let pod = name_of(&pods[0]).to_string();
        let hr = view
            .get(&HELMRELEASE, Some("headlamp"), "headlamp")
            .await
            .unwrap();
        assert!(hr.is_some());
        assert!(
            view.get(&HELMRELEASE, Some("headlamp"), "nope")
                .await
                .unwrap()
                .is_none()
        );
        let log = view
            .logs("headlamp", &pod, "headlamp", true)
            .await
            .unwrap()
            .unwrap();
        assert!(log.contains("flag provided but not defined"), "{log}");
        assert!(
            view.logs("headlamp", &pod, "nope", true)
                .await
                .unwrap()
                .is_none()
        );
        // a CRD that is not installed lists as empty
        assert!(view.list(&INGRESS, None).await.unwrap().is_empty());
        let requests = server.finish().await;
        assert!(requests.iter().all(|r| r.method == "GET"), "{requests:#?}");
        assert!(
            requests
                .iter()
                .any(|r| r.uri.contains("/log?") && r.uri.contains("previous=true"))
        );
    }

    #[tokio::test]
    async fn api_errors_name_the_request() {
        let fake = FakeApi::new(snapshot("healthy")).forbid("pods");
        let (client, server) = fake.start();
        let view = LiveView::new(client, "home");
        let e = view.list(&POD, Some("headlamp")).await.unwrap_err();
        assert!(
            matches!(
                &e,
                ViewError::Api {
                    code: Some(403),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("list pods in namespace headlamp"),
            "{e}"
        );
        server.finish().await;
    }
}
