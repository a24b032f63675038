//! A scripted Kubernetes API server for unit tests: `tower_test::mock::pair` behind a real `kube::Client`.
//!
//! A script is a list of steps, each an expected request (method and path-with-query prefix) and the reply the API
//! server would give. The server answers the steps in order, asserts each request matches, and records what it saw
//! (method, URI, content type, JSON body) so a test can check patch bodies afterwards.

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::Value;

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    /// Path and query, e.g. `/apis/x/v1/namespaces/a/foos/b?fieldManager=headlamp-e2e&force=true`.
    pub uri: String,
    pub content_type: Option<String>,
    /// The request body as JSON (`Null` when empty).
    pub body: Value,
}

type Responder = Box<dyn FnOnce(&[Seen]) -> (u16, Value) + Send>;

pub enum Reply {
    Json(u16, Value),
    /// A `text/plain` body, as the API server answers `GET …/pods/<name>/log`.
    Text(u16, String),
    /// Computed from everything seen so far (the last element is this step's request).
    With(Responder),
}

pub struct Step {
    method: Method,
    path: String,
    reply: Reply,
}

/// Expect `method path…` and answer 200 with `body`.
pub fn step(method: &str, path_prefix: &str, body: Value) -> Step {
    step_status(method, path_prefix, 200, body)
}

/// Expect `method path…` and answer `status` with `body`.
pub fn step_status(method: &str, path_prefix: &str, status: u16, body: Value) -> Step {
    Step {
        method: method.parse().expect("an HTTP method"),
        path: path_prefix.to_string(),
        reply: Reply::Json(status, body),
    }
}

/// Expect `method path…` and answer 200 with the plain text `body` (a container log).
pub fn step_text(method: &str, path_prefix: &str, body: &str) -> Step {
    Step {
        method: method.parse().expect("an HTTP method"),
        path: path_prefix.to_string(),
        reply: Reply::Text(200, body.to_string()),
    }
}

/// Expect `method path…` and answer with what `f` computes from the requests seen so far.
pub fn step_with(
    method: &str,
    path_prefix: &str,
    f: impl FnOnce(&[Seen]) -> (u16, Value) + Send + 'static,
) -> Step {
    Step {
        method: method.parse().expect("an HTTP method"),
        path: path_prefix.to_string(),
        reply: Reply::With(Box::new(f)),
    }
}

/// A `Status` body as the API server sends with an error code.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    })
}

/// A client whose API server follows `steps`; await the handle to get what it saw (and to surface its assertion
/// failures). A request beyond the script gets no answer: the client sees the service closed.
pub fn mock_client(steps: Vec<Step>) -> (kube::Client, tokio::task::JoinHandle<Vec<Seen>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        let mut seen: Vec<Seen> = Vec::new();
        for (i, step) in steps.into_iter().enumerate() {
            let Some((request, send)) = handle.next_request().await else {
                panic!(
                    "request {} never came: expected {} {} (seen so far: {:#?})",
                    i + 1,
                    step.method,
                    step.path,
                    seen.iter()
                        .map(|s| format!("{} {}", s.method, s.uri))
                        .collect::<Vec<_>>()
                );
            };
            let method = request.method().clone();
            let uri = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let content_type = request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .expect("request body");
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("a JSON request body")
            };
            assert!(
                method == step.method && uri.starts_with(&step.path),
                "request {}: expected {} {}…, got {} {}",
                i + 1,
                step.method,
                step.path,
                method,
                uri
            );
            seen.push(Seen {
                method,
                uri,
                content_type,
                body,
            });
            let (code, content_type, bytes) = match step.reply {
                Reply::Json(code, v) => (
                    code,
                    "application/json",
                    serde_json::to_vec(&v).expect("JSON"),
                ),
                Reply::Text(code, t) => (code, "text/plain", t.into_bytes()),
                Reply::With(f) => {
                    let (code, v) = f(&seen);
                    (
                        code,
                        "application/json",
                        serde_json::to_vec(&v).expect("JSON"),
                    )
                }
            };
            let response = Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, content_type)
                .body(Body::from(bytes))
                .expect("a response");
            send.send_response(response);
        }
        seen
    });
    (kube::Client::new(service, "default"), server)
}
