//! The access matrix of the read-only Headlamp: which requests its identities may make, how to send each one directly
//! to the API server and through Headlamp's proxy, and how to judge the answers (2xx / 403 / 401).
//!
//! The login ServiceAccount `headlamp-login` (token in Secret `headlamp-login-token`) and the pod's ServiceAccount
//! `headlamp` are both bound to ClusterRole `view`: they may read workloads, never Secrets or RBAC objects, and write
//! nothing. Every write probe carries `?dryRun=All` and names an object that does not exist
//! ([`PROBE_NAME`]), so even a wrongly allowed request changes nothing.
//!
//! Tokens never leave this module in a message: [`ProbeRequest`]'s `Debug` hides the Authorization header, and
//! [`run_matrix`] scrubs the token (and anything [`redact`] recognises) from every outcome.

use std::fmt;
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use k8s_openapi::api::core::v1::Pod;

use crate::output::redact::redact;
use crate::{Error, Result};

/// The namespace Headlamp runs in; namespaced probes target it.
pub const NAMESPACE: &str = "headlamp";
/// The ServiceAccount users log in as.
pub const LOGIN_SERVICE_ACCOUNT: &str = "headlamp-login";
/// The Secret holding the login token.
pub const LOGIN_TOKEN_SECRET: &str = "headlamp-login-token";
/// The ServiceAccount of the Headlamp pod.
pub const POD_SERVICE_ACCOUNT: &str = "headlamp";
/// The Ingress host Traefik routes to Headlamp.
pub const HEADLAMP_HOST: &str = "headlamp.example.net";
/// Headlamp's in-cluster context name (`-in-cluster-context-name`, chart default `main`).
pub const HEADLAMP_CONTEXT: &str = "main";
/// The name of every object a write probe creates, patches or deletes: it never exists.
pub const PROBE_NAME: &str = "headlamp-e2e-probe";
/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// A Kubernetes RBAC verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Create,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }
    /// The HTTP method the API server maps to this verb.
    pub fn method(self) -> Method {
        match self {
            Verb::Get | Verb::List => Method::GET,
            Verb::Create => Method::POST,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }
    pub fn is_write(self) -> bool {
        matches!(self, Verb::Create | Verb::Patch | Verb::Delete)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the identity should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// Any 2xx.
    Allowed,
    /// 403 from RBAC.
    Forbidden,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Allowed => "2xx (allowed)",
            Expected::Forbidden => "403 Forbidden",
        })
    }
}

/// One row of the access matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessCheck {
    /// Stable id, e.g. `list-secrets`.
    pub id: &'static str,
    pub verb: Verb,
    /// The RBAC resource (with subresource), for messages: `secrets`, `pods/log`.
    pub resource: &'static str,
    /// API path (with query) relative to the API root; `{ns}` is [`NAMESPACE`], `{pod}` the pod name parameter.
    pub path: &'static str,
    /// The JSON body of a create or patch.
    pub body: Option<&'static str>,
    pub expected: Expected,
}

impl AccessCheck {
    pub fn method(&self) -> Method {
        self.verb.method()
    }

    /// The Content-Type of the body: a patch is a JSON merge patch.
    pub fn content_type(&self) -> Option<&'static str> {
        match (self.verb, self.body) {
            (_, None) => None,
            (Verb::Patch, Some(_)) => Some("application/merge-patch+json"),
            (_, Some(_)) => Some("application/json"),
        }
    }

    /// The API path with `{ns}` ([`NAMESPACE`]) and `{pod}` filled in.
    pub fn api_path(&self, pod_name: &str) -> String {
        self.api_path_in(NAMESPACE, pod_name)
    }

    /// The API path with `{ns}` and `{pod}` filled in, for an app in `namespace`.
    pub fn api_path_in(&self, namespace: &str, pod_name: &str) -> String {
        self.path
            .replace("{ns}", &path_segment(namespace))
            .replace("{pod}", &path_segment(pod_name))
    }

    /// Whether the probe may be sent as it is without changing anything: reads, and writes that are server-side
    /// dry runs (`dryRun=All`). The rest (pods/exec: a connect verb has no dry run) must be asked as a
    /// SelfSubjectAccessReview instead where nothing may happen.
    pub fn is_side_effect_free(&self) -> bool {
        !self.verb.is_write() || self.path.split(['?', '&']).any(|p| p == "dryRun=All")
    }
}

/// Percent-encode anything that is not safe in one path segment (pod names are DNS subdomains, so this is a guard).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const PROBE_POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"headlamp-e2e-probe","labels":{"app.kubernetes.io/managed-by":"headlamp-e2e"}},"spec":{"automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"runAsUser":65532,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"probe","image":"registry.k8s.io/pause:3.10","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}"#;
const PROBE_DEPLOYMENT: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"headlamp-e2e-probe","labels":{"app.kubernetes.io/managed-by":"headlamp-e2e"}},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"headlamp-e2e-probe"}},"template":{"metadata":{"labels":{"app":"headlamp-e2e-probe"}},"spec":{"automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"runAsUser":65532,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"probe","image":"registry.k8s.io/pause:3.10","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}}}"#;
const PROBE_CONFIGMAP: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"headlamp-e2e-probe","labels":{"app.kubernetes.io/managed-by":"headlamp-e2e"}},"data":{"probe":"1"}}"#;
const PROBE_NAMESPACE: &str = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"headlamp-e2e-probe","labels":{"app.kubernetes.io/managed-by":"headlamp-e2e"}}}"#;
const PROBE_PATCH: &str = r#"{"metadata":{"labels":{"headlamp-e2e/probe":"1"}}}"#;

const fn allowed(
    id: &'static str,
    verb: Verb,
    resource: &'static str,
    path: &'static str,
) -> AccessCheck {
    AccessCheck {
        id,
        verb,
        resource,
        path,
        body: None,
        expected: Expected::Allowed,
    }
}

const fn forbidden(
    id: &'static str,
    verb: Verb,
    resource: &'static str,
    path: &'static str,
    body: Option<&'static str>,
) -> AccessCheck {
    AccessCheck {
        id,
        verb,
        resource,
        path,
        body,
        expected: Expected::Forbidden,
    }
}

/// The access matrix of ClusterRole `view`. Lists ask for one item (`limit=1`); writes are dry runs on
/// [`PROBE_NAME`]; exec has no upgrade headers, so even if allowed it would start nothing.
pub const MATRIX: &[AccessCheck] = &[
    allowed(
        "list-namespaces",
        Verb::List,
        "namespaces",
        "/api/v1/namespaces?limit=1",
    ),
    allowed(
        "list-pods",
        Verb::List,
        "pods",
        "/api/v1/namespaces/{ns}/pods?limit=1",
    ),
    allowed(
        "list-deployments",
        Verb::List,
        "deployments.apps",
        "/apis/apps/v1/namespaces/{ns}/deployments?limit=1",
    ),
    allowed(
        "list-services",
        Verb::List,
        "services",
        "/api/v1/namespaces/{ns}/services?limit=1",
    ),
    allowed(
        "list-configmaps",
        Verb::List,
        "configmaps",
        "/api/v1/namespaces/{ns}/configmaps?limit=1",
    ),
    allowed(
        "list-events",
        Verb::List,
        "events",
        "/api/v1/namespaces/{ns}/events?limit=1",
    ),
    allowed(
        "get-pod-log",
        Verb::Get,
        "pods/log",
        "/api/v1/namespaces/{ns}/pods/{pod}/log?tailLines=1&limitBytes=1024",
    ),
    forbidden(
        "get-secret",
        Verb::Get,
        "secrets",
        "/api/v1/namespaces/{ns}/secrets/headlamp-login-token",
        None,
    ),
    forbidden(
        "list-secrets",
        Verb::List,
        "secrets",
        "/api/v1/namespaces/{ns}/secrets?limit=1",
        None,
    ),
    forbidden(
        "list-roles",
        Verb::List,
        "roles.rbac.authorization.k8s.io",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles?limit=1",
        None,
    ),
    forbidden(
        "list-rolebindings",
        Verb::List,
        "rolebindings.rbac.authorization.k8s.io",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings?limit=1",
        None,
    ),
    forbidden(
        "list-clusterrolebindings",
        Verb::List,
        "clusterrolebindings.rbac.authorization.k8s.io",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?limit=1",
        None,
    ),
    forbidden(
        "create-pod",
        Verb::Create,
        "pods",
        "/api/v1/namespaces/{ns}/pods?dryRun=All",
        Some(PROBE_POD),
    ),
    forbidden(
        "patch-pod",
        Verb::Patch,
        "pods",
        "/api/v1/namespaces/{ns}/pods/headlamp-e2e-probe?dryRun=All",
        Some(PROBE_PATCH),
    ),
    forbidden(
        "delete-pod",
        Verb::Delete,
        "pods",
        "/api/v1/namespaces/{ns}/pods/headlamp-e2e-probe?dryRun=All",
        None,
    ),
    forbidden(
        "create-deployment",
        Verb::Create,
        "deployments.apps",
        "/apis/apps/v1/namespaces/{ns}/deployments?dryRun=All",
        Some(PROBE_DEPLOYMENT),
    ),
    forbidden(
        "patch-deployment",
        Verb::Patch,
        "deployments.apps",
        "/apis/apps/v1/namespaces/{ns}/deployments/headlamp-e2e-probe?dryRun=All",
        Some(PROBE_PATCH),
    ),
    forbidden(
        "delete-deployment",
        Verb::Delete,
        "deployments.apps",
        "/apis/apps/v1/namespaces/{ns}/deployments/headlamp-e2e-probe?dryRun=All",
        None,
    ),
    forbidden(
        "create-configmap",
        Verb::Create,
        "configmaps",
        "/api/v1/namespaces/{ns}/configmaps?dryRun=All",
        Some(PROBE_CONFIGMAP),
    ),
    forbidden(
        "patch-configmap",
        Verb::Patch,
        "configmaps",
        "/api/v1/namespaces/{ns}/configmaps/headlamp-e2e-probe?dryRun=All",
        Some(PROBE_PATCH),
    ),
    forbidden(
        "delete-configmap",
        Verb::Delete,
        "configmaps",
        "/api/v1/namespaces/{ns}/configmaps/headlamp-e2e-probe?dryRun=All",
        None,
    ),
    forbidden(
        "create-pod-exec",
        Verb::Create,
        "pods/exec",
        "/api/v1/namespaces/{ns}/pods/{pod}/exec?command=true&stdout=true",
        None,
    ),
    forbidden(
        "create-namespace",
        Verb::Create,
        "namespaces",
        "/api/v1/namespaces?dryRun=All",
        Some(PROBE_NAMESPACE),
    ),
];

/// The check with this id.
pub fn check(id: &str) -> Option<&'static AccessCheck> {
    MATRIX.iter().find(|c| c.id == id)
}

/// Where a probe is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight to the API server, e.g. `https://127.0.0.1:<mapped 6443>`.
    Direct { base_url: String },
    /// Through Traefik to Headlamp's proxy: `<base_url>/clusters/<context><api path>` with `Host: <host>`.
    ViaHeadlamp {
        base_url: String,
        host: String,
        context: String,
    },
}

impl Route {
    pub fn direct(base_url: impl Into<String>) -> Self {
        Route::Direct {
            base_url: base_url.into(),
        }
    }

    /// Through Traefik at `base_url` (e.g. `http://127.0.0.1:<mapped 80>`) with the default host and context.
    pub fn via_headlamp(base_url: impl Into<String>) -> Self {
        Route::ViaHeadlamp {
            base_url: base_url.into(),
            host: HEADLAMP_HOST.to_string(),
            context: HEADLAMP_CONTEXT.to_string(),
        }
    }

    /// Short id for assertion names: `apiserver` or `headlamp`.
    pub fn id(&self) -> &'static str {
        match self {
            Route::Direct { .. } => "apiserver",
            Route::ViaHeadlamp { .. } => "headlamp",
        }
    }

    /// The full URL of an API path on this route.
    pub fn url(&self, api_path: &str) -> String {
        match self {
            Route::Direct { base_url } => format!("{}{api_path}", base_url.trim_end_matches('/')),
            Route::ViaHeadlamp {
                base_url, context, ..
            } => format!(
                "{}/clusters/{}{api_path}",
                base_url.trim_end_matches('/'),
                path_segment(context)
            ),
        }
    }
}

impl fmt::Display for Route {
    /// `via apiserver` or `via headlamp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "via {}", self.id())
    }
}

/// One request, ready to send. Its `Debug` never shows the token.
#[derive(Clone)]
pub struct ProbeRequest {
    pub method: Method,
    pub url: String,
    /// Accept, Authorization (marked sensitive), Host on the Headlamp route, Content-Type with a body.
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for ProbeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let value = if k == AUTHORIZATION || v.is_sensitive() {
                    "<redacted>".to_string()
                } else {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                };
                (k.to_string(), value)
            })
            .collect();
        f.debug_struct("ProbeRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| redact(&String::from_utf8_lossy(b))),
            )
            .finish()
    }
}

/// The request of `check` on `route` with `token`, for the pod `pod_name` (pods/log, exec).
/// Fails only when the token or the route's host cannot be an HTTP header value (e.g. an empty token).
pub fn build_request(
    check: &AccessCheck,
    route: &Route,
    token: &str,
    pod_name: &str,
) -> Result<ProbeRequest> {
    build_request_in(check, route, token, NAMESPACE, pod_name)
}

/// [`build_request`] for an app in `namespace`.
pub fn build_request_in(
    check: &AccessCheck,
    route: &Route,
    token: &str,
    namespace: &str,
    pod_name: &str,
) -> Result<ProbeRequest> {
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::Other(
            "the bearer token is empty: read it from Secret headlamp/headlamp-login-token (data.token, base64-decoded)"
                .to_string(),
        ));
    }
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        Error::Other(
            "the bearer token has characters an HTTP header cannot carry; is it still base64-encoded or does it hold a newline?"
                .to_string(),
        )
    })?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    if let Route::ViaHeadlamp { host, .. } = route {
        let host = HeaderValue::from_str(host)
            .map_err(|_| Error::Other(format!("`{host}` is not a valid Host header value")))?;
        headers.insert(HOST, host);
    }
    if let Some(ct) = check.content_type() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    Ok(ProbeRequest {
        method: check.method(),
        url: route.url(&check.api_path_in(namespace, pod_name)),
        headers,
        body: check.body.map(|b| b.as_bytes().to_vec()),
    })
}

/// A 403's explanation, from the Kubernetes `Status` body when there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denial {
    /// `Status.reason`, normally `Forbidden`.
    pub reason: Option<String>,
    /// `Status.message`, e.g. `secrets is forbidden: User "…" cannot list resource "secrets" …`.
    pub message: Option<String>,
}

impl Denial {
    /// A 403 from admission (Pod Security, a webhook, a quota), not from RBAC: it means RBAC let the request through.
    pub fn is_admission(&self) -> bool {
        self.message.as_deref().is_some_and(|m| {
            m.contains("violates PodSecurity")
                || m.contains("admission webhook")
                || m.contains("exceeded quota")
        })
    }
}

/// How the server answered one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx, with the status.
    Allowed(u16),
    /// 403.
    Forbidden(Denial),
    /// 401: the token was not accepted.
    Unauthorized,
    /// 404.
    NotFound,
    /// Any other status, with the start of the body (redacted).
    Unexpected(u16, String),
    /// No HTTP answer at all (connection refused, timeout, TLS), with the error.
    NoResponse(String),
}

impl Verdict {
    /// The HTTP status of the answer; `None` when there was none.
    pub fn status(&self) -> Option<u16> {
        match self {
            Verdict::Allowed(s) | Verdict::Unexpected(s, _) => Some(*s),
            Verdict::Forbidden(_) => Some(403),
            Verdict::Unauthorized => Some(401),
            Verdict::NotFound => Some(404),
            Verdict::NoResponse(_) => None,
        }
    }
}

/// How much of an unexpected body a message keeps.
const BODY_EXCERPT: usize = 200;

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(BODY_EXCERPT).collect();
    if one_line.chars().count() > BODY_EXCERPT {
        short.push('…');
    }
    redact(&short)
}

fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// Judge a response: 2xx allowed, 403 forbidden (with the `Status` reason and message when the body has them),
/// 401 unauthorized, 404 not found, anything else unexpected.
pub fn verdict(status: u16, body: &[u8]) -> Verdict {
    match status {
        200..=299 => Verdict::Allowed(status),
        401 => Verdict::Unauthorized,
        403 => {
            let status_json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
            let field = |name: &str| {
                status_json
                    .as_ref()
                    .and_then(|v| v.get(name))
                    .and_then(|v| v.as_str())
                    .map(redact)
            };
            Verdict::Forbidden(Denial {
                reason: field("reason"),
                message: field("message"),
            })
        }
        404 => Verdict::NotFound,
        _ => Verdict::Unexpected(status, excerpt(body)),
    }
}

impl Verdict {
    /// The same verdict with `secret` (and anything [`redact`] knows) removed from its texts.
    pub fn scrubbed(self, secret: &str) -> Verdict {
        let s = |t: String| scrub(&t, secret);
        match self {
            Verdict::Forbidden(d) => Verdict::Forbidden(Denial {
                reason: d.reason.map(s),
                message: d.message.map(s),
            }),
            Verdict::Unexpected(code, body) => Verdict::Unexpected(code, s(body)),
            Verdict::NoResponse(e) => Verdict::NoResponse(s(e)),
            other => other,
        }
    }
}

impl fmt::Display for Verdict {
    /// `200 OK`, `403 Forbidden`, `401 Unauthorized`, `404 Not Found`, `500 Internal Server Error`, `no response`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allowed(s) => f.write_str(&status_text(*s)),
            Verdict::Forbidden(_) => f.write_str("403 Forbidden"),
            Verdict::Unauthorized => f.write_str("401 Unauthorized"),
            Verdict::NotFound => f.write_str("404 Not Found"),
            Verdict::Unexpected(s, _) => f.write_str(&status_text(*s)),
            Verdict::NoResponse(_) => f.write_str("no response"),
        }
    }
}

/// Remove `secret` (when not empty) and anything [`redact`] recognises from `text`.
pub fn scrub(text: &str, secret: &str) -> String {
    let secret = secret.trim();
    if secret.is_empty() {
        redact(text)
    } else {
        redact(&text.replace(secret, "<redacted>"))
    }
}

/// The judgement of one check on one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The check's id, e.g. `list-secrets`.
    pub check: &'static str,
    /// The route's id, `apiserver` or `headlamp`.
    pub route: &'static str,
    pub expected: Expected,
    pub actual: Verdict,
    pub passed: bool,
    /// `list-secrets via headlamp: expected 403 Forbidden, got 200 OK`, plus what the server said.
    pub message: String,
    pub duration: Duration,
}

impl CheckOutcome {
    /// `rbac-<route>-<check>`, e.g. `rbac-headlamp-list-secrets`.
    pub fn assertion_name(&self) -> String {
        format!("rbac-{}-{}", self.route, self.check)
    }
}

/// What the server said beyond the status, for a failure message.
fn detail(v: &Verdict) -> Option<String> {
    match v {
        Verdict::Forbidden(d) => d.message.clone().or_else(|| d.reason.clone()),
        Verdict::Unexpected(_, body) if !body.is_empty() => Some(body.clone()),
        Verdict::NoResponse(e) => Some(e.clone()),
        _ => None,
    }
}

/// Judge `actual` against `check` on `route`.
pub fn judge(check: &AccessCheck, route: &Route, actual: Verdict) -> CheckOutcome {
    let what = format!("{} {route}", check.id);
    let passed = match (check.expected, &actual) {
        (Expected::Allowed, Verdict::Allowed(_)) => true,
        (Expected::Forbidden, Verdict::Forbidden(d)) => !d.is_admission(),
        _ => false,
    };
    let message = if passed {
        format!("{what}: {actual} as expected")
    } else {
        let mut m = format!("{what}: expected {}, got {actual}", check.expected);
        if let Some(d) = detail(&actual) {
            m.push_str(&format!(": {d}"));
        }
        let hint = match (check.expected, &actual) {
            (Expected::Forbidden, Verdict::Allowed(_)) => Some(format!(
                "the identity may {} {}: its role is not read-only (only ClusterRole view should be bound)",
                check.verb, check.resource
            )),
            (Expected::Forbidden, Verdict::Forbidden(_)) => Some(format!(
                "the 403 came from admission, not RBAC: RBAC let `{} {}` through",
                check.verb, check.resource
            )),
            (Expected::Allowed, Verdict::Forbidden(_)) => Some(format!(
                "the identity may not {} {}: is it bound to ClusterRole view (by a ClusterRoleBinding)?",
                check.verb, check.resource
            )),
            (_, Verdict::Unauthorized) => Some(
                "the token was not accepted: expired, rotated, or not the headlamp-login token"
                    .to_string(),
            ),
            (_, Verdict::NotFound) if matches!(route, Route::ViaHeadlamp { .. }) => Some(format!(
                "Headlamp or Traefik does not know this path: check the Ingress host and the context name (/clusters/{})",
                match route {
                    Route::ViaHeadlamp { context, .. } => context.as_str(),
                    Route::Direct { .. } => "",
                }
            )),
            _ => None,
        };
        if let Some(h) = hint {
            m.push_str(&format!(" ({h})"));
        }
        m
    };
    CheckOutcome {
        check: check.id,
        route: route.id(),
        expected: check.expected,
        actual,
        passed,
        message: redact(&message),
        duration: Duration::ZERO,
    }
}

pub use crate::error::error_chain;

/// One judgement of a token rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationOutcome {
    /// Stable id: `token-old-rejected-<route>`, `token-new-accepted-<route>`, `headlamp-pod-not-restarted`.
    pub name: String,
    pub passed: bool,
    pub message: String,
}

/// After a rotation the old token must get 401.
pub fn judge_old_token(route: &Route, actual: &Verdict) -> RotationOutcome {
    let passed = *actual == Verdict::Unauthorized;
    let message = if passed {
        format!("old token {route}: 401 Unauthorized as expected")
    } else {
        let mut m = format!("old token {route}: expected 401 Unauthorized, got {actual}");
        if let Verdict::Allowed(_) = actual {
            m.push_str(" (the rotated-out token still works: was the old Secret deleted and the token invalidated?)");
        } else if let Some(d) = detail(actual) {
            m.push_str(&format!(": {d}"));
        }
        m
    };
    RotationOutcome {
        name: format!("token-old-rejected-{}", route.id()),
        passed,
        message: redact(&message),
    }
}

/// After a rotation the new token must get 2xx.
pub fn judge_new_token(route: &Route, actual: &Verdict) -> RotationOutcome {
    let passed = matches!(actual, Verdict::Allowed(_));
    let message = if passed {
        format!("new token {route}: {actual} as expected")
    } else {
        let mut m = format!("new token {route}: expected 2xx (allowed), got {actual}");
        if let Some(d) = detail(actual) {
            m.push_str(&format!(": {d}"));
        }
        m
    };
    RotationOutcome {
        name: format!("token-new-accepted-{}", route.id()),
        passed,
        message: redact(&message),
    }
}

/// How long kube-apiserver keeps a successful token authentication: `TokenSuccessCacheTTL`, default 10 s
/// (kubernetes/kubernetes `pkg/kubeapiserver/options/authentication.go`, flag `--token-success-cache-ttl`, wrapped
/// around every token authenticator — service-account tokens included — by `tokencache.New` in
/// `pkg/kubeapiserver/authenticator/config.go`). After the token's Secret is deleted the old token keeps working for up to
/// this long.
pub const TOKEN_SUCCESS_CACHE_TTL: Duration = Duration::from_secs(10);

/// How long a rotated-out token may take to be refused: three times the cache TTL.
pub const REVOCATION_DEADLINE: Duration = Duration::from_secs(30);

/// How often the old token is tried while waiting for its 401.
pub const REVOCATION_POLL: Duration = Duration::from_secs(1);

/// How a rotated-out token's revocation went on one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// From `since` (the Secret's deletion) to the first 401, or to the last attempt when none came.
    pub took: Duration,
    pub attempts: u32,
    /// The last answer (401 when revoked).
    pub last: Verdict,
}

impl Revocation {
    pub fn revoked(&self) -> bool {
        self.last == Verdict::Unauthorized
    }
}

/// The old token must be refused within `deadline` of the Secret's deletion; the message says how long it took.
pub fn judge_revocation(route: &Route, r: &Revocation, deadline: Duration) -> RotationOutcome {
    let secs = format!("{:.1}s", r.took.as_secs_f64());
    let mut outcome = judge_old_token(route, &r.last);
    if outcome.passed {
        outcome.message = format!(
            "old token {route}: 401 Unauthorized {secs} after its Secret was deleted ({} attempt(s); kube-apiserver caches a successful token authentication for up to {}s)",
            r.attempts,
            TOKEN_SUCCESS_CACHE_TTL.as_secs()
        );
    } else {
        outcome.message = redact(&format!(
            "{} — still after {secs} and {} attempt(s), past the {}s deadline (the API server's token cache lasts {}s)",
            outcome.message,
            r.attempts,
            deadline.as_secs(),
            TOKEN_SUCCESS_CACHE_TTL.as_secs()
        ));
    }
    outcome
}

fn pod_label(pod: &Pod) -> String {
    let ns = pod.metadata.namespace.as_deref().unwrap_or(NAMESPACE);
    let name = pod.metadata.name.as_deref().unwrap_or("<unnamed>");
    format!("Pod/{ns}/{name}")
}

fn restart_counts(pod: &Pod) -> Option<Vec<(String, i32)>> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let mut counts: Vec<(String, i32)> = statuses
        .iter()
        .map(|s| (s.name.clone(), s.restart_count))
        .collect();
    counts.sort();
    Some(counts)
}

/// A token rotation must not restart Headlamp: the pod keeps its UID and every container its restartCount.
pub fn judge_pod_unchanged(before: &Pod, after: &Pod) -> RotationOutcome {
    let name = "headlamp-pod-not-restarted".to_string();
    let fail = |message: String| RotationOutcome {
        name: name.clone(),
        passed: false,
        message,
    };
    let (Some(uid_before), Some(uid_after)) = (&before.metadata.uid, &after.metadata.uid) else {
        return fail(format!(
            "{}: a pod snapshot has no metadata.uid (take both snapshots from the API server)",
            pod_label(before)
        ));
    };
    if uid_before != uid_after {
        return fail(format!(
            "the Headlamp pod was replaced during the token rotation: {} (uid {uid_before}) became {} (uid {uid_after})",
            pod_label(before),
            pod_label(after)
        ));
    }
    let (Some(counts_before), Some(counts_after)) = (restart_counts(before), restart_counts(after))
    else {
        return fail(format!(
            "{}: a pod snapshot has no status.containerStatuses (was the pod running?)",
            pod_label(before)
        ));
    };
    let mut changes = Vec::new();
    for (container, n_before) in &counts_before {
        match counts_after.iter().find(|(c, _)| c == container) {
            Some((_, n_after)) if n_after != n_before => changes.push(format!(
                "container {container} restartCount {n_before} -> {n_after}"
            )),
            Some(_) => {}
            None => changes.push(format!("container {container} disappeared")),
        }
    }
    for (container, _) in &counts_after {
        if !counts_before.iter().any(|(c, _)| c == container) {
            changes.push(format!("container {container} appeared"));
        }
    }
    if !changes.is_empty() {
        return fail(format!(
            "{} restarted during the token rotation: {}",
            pod_label(after),
            changes.join(", ")
        ));
    }
    let counts = counts_after
        .iter()
        .map(|(c, n)| format!("{c}={n}"))
        .collect::<Vec<_>>()
        .join(", ");
    RotationOutcome {
        name,
        passed: true,
        message: format!(
            "{} kept uid {uid_after} and its restart counts ({counts})",
            pod_label(after)
        ),
    }
}

/// The three judgements of a token rotation on one route: old token 401, new token 2xx, Headlamp pod unchanged.
pub fn judge_token_rotation(
    route: &Route,
    old_token: &Verdict,
    new_token: &Verdict,
    pod_before: &Pod,
    pod_after: &Pod,
) -> Vec<RotationOutcome> {
    vec![
        judge_old_token(route, old_token),
        judge_new_token(route, new_token),
        judge_pod_unchanged(pod_before, pod_after),
    ]
}

#[cfg(test)]
pub(crate) mod tests;
