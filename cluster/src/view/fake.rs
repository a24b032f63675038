//! A fake API server for tests: serves a snapshot's objects and logs through the real kube client
//! (`tower_test::mock::pair` + `Client::new`), as the API server would (list items without apiVersion/kind, 404
//! Status for what does not exist). Every request is recorded; any verb but GET is answered 405 and makes
//! [`FakeServer::finish`] fail the test.

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

use super::cluster_view::ClusterView;
use super::resource::{KNOWN_KINDS, ResourceKind};
use super::snapshot::SnapshotView;

/// The value Secrets carry with [`FakeApi::with_secret_data`] (base64 of it is served): must never reach a file.
pub const SECRET_VALUE: &str = "s3cr3t-value-that-must-not-leak";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub uri: String,
}

pub struct FakeApi {
    view: SnapshotView,
    forbidden: Vec<String>,
    secret_data: bool,
    log_line: Option<String>,
}

pub struct FakeServer {
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// The requests made so far; fails the test if any was not a GET.
    pub async fn finish(self) -> Vec<Recorded> {
        self.task.abort();
        let requests = self.requests.lock().map(|r| r.clone()).unwrap_or_default();
        let writes: Vec<&Recorded> = requests.iter().filter(|r| r.method != "GET").collect();
        assert!(
            writes.is_empty(),
            "a read-only view sent non-GET requests: {writes:#?}"
        );
        requests
    }
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn ok_json(v: &Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn find_kind(group: &str, plural: &str) -> Option<ResourceKind> {
    KNOWN_KINDS
        .iter()
        .find(|k| k.group == group && k.plural == plural)
        .copied()
}

fn query(uri: &http::Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

impl FakeApi {
    pub fn new(view: SnapshotView) -> Self {
        FakeApi {
            view,
            forbidden: Vec::new(),
            secret_data: false,
            log_line: None,
        }
    }
    /// Answer 403 to every request for this plural.
    pub fn forbid(mut self, plural: &str) -> Self {
        self.forbidden.push(plural.to_string());
        self
    }
    /// Serve Secrets with real (base64) data values.
    pub fn with_secret_data(mut self) -> Self {
        self.secret_data = true;
        self
    }
    /// Append a line to every log served.
    pub fn with_log_line(mut self, line: &str) -> Self {
        self.log_line = Some(line.to_string());
        self
    }

    pub fn start(self) -> (Client, FakeServer) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let (parts, _) = req.into_parts();
                if let Ok(mut r) = recorded.lock() {
                    r.push(Recorded {
                        method: parts.method.to_string(),
                        uri: parts.uri.to_string(),
                    });
                }
                let resp = if parts.method != http::Method::GET {
                    status(405, "MethodNotAllowed", "this fake API server is read-only")
                } else {
                    self.answer(&parts.uri).await
                };
                send.send_response(resp);
            }
        });
        (
            Client::new(service, "default"),
            FakeServer { requests, task },
        )
    }

    async fn answer(&self, uri: &http::Uri) -> Response<Body> {
        let segs: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
        let (group, rest) = match segs.as_slice() {
            ["api", "v1", rest @ ..] => ("", rest),
            ["apis", g, _v, rest @ ..] => (*g, rest),
            _ => {
                return status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                );
            }
        };
        // (plural, namespace, name, log?)
        let (plural, ns, name, log) = match rest {
            ["namespaces", name] if group.is_empty() => ("namespaces", None, Some(*name), false),
            ["namespaces", ns, plural] => (*plural, Some(*ns), None, false),
            ["namespaces", ns, plural, name] => (*plural, Some(*ns), Some(*name), false),
            ["namespaces", ns, "pods", name, "log"] => ("pods", Some(*ns), Some(*name), true),
            [plural] => (*plural, None, None, false),
            [plural, name] => (*plural, None, Some(*name), false),
            _ => {
                return status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                );
            }
        };
        if self.forbidden.iter().any(|p| p == plural) {
            return status(
                403,
                "Forbidden",
                &format!("{plural} is forbidden: User \"alice\" cannot list resource \"{plural}\""),
            );
        }
        let Some(kind) = find_kind(group, plural) else {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        };
        if log {
            let container = query(uri, "container").unwrap_or_default();
            let previous = query(uri, "previous").as_deref() == Some("true");
            let (Some(ns), Some(pod)) = (ns, name) else {
                return status(404, "NotFound", "no pod");
            };
            return match self.view.logs(ns, pod, &container, previous).await {
                Ok(Some(mut text)) => {
                    if let Some(line) = &self.log_line {
                        text.push_str(line);
                        text.push('\n');
                    }
                    Response::builder()
                        .header("content-type", "text/plain")
                        .body(Body::from(text.into_bytes()))
                        .unwrap_or_else(|_| Response::new(Body::empty()))
                }
                _ => status(
                    400,
                    "BadRequest",
                    &format!(
                        "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                    ),
                ),
            };
        }
        let serve = |mut v: Value, in_list: bool| {
            if self.secret_data
                && v["kind"] == "Secret"
                && let Some(Value::Object(data)) = v.get_mut("data")
            {
                use base64::Engine;
                let b = base64::engine::general_purpose::STANDARD.encode(SECRET_VALUE);
                for val in data.values_mut() {
                    *val = Value::String(b.clone());
                }
            }
            if in_list && let Some(m) = v.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            v
        };
        match name {
            Some(name) => match self.view.get(&kind, ns, name).await {
                Ok(Some(v)) => ok_json(&serve(v, false)),
                _ => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
            },
            None => {
                let items: Vec<Value> = self
                    .view
                    .list(&kind, ns)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| serve(v, true))
                    .collect();
                ok_json(&json!({
                    "apiVersion": kind.api_version(),
                    "kind": format!("{}List", kind.kind),
                    "metadata": {"resourceVersion": "12345"},
                    "items": items,
                }))
            }
        }
    }
}
