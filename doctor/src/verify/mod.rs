//! `cargo xtask verify`: the e2e baseline's read-only proof against a cluster that exists — the home cluster after a
//! deploy — without creating anything there.
//!
//! 1. With the caller's credentials (kubeconfig): read the login ServiceAccount's token from its
//!    `kubernetes.io/service-account-token` Secret, the Headlamp pod, its namespace and the RBAC bindings.
//! 2. With **the login token** only: the e2e access matrix ([`crate::rbac::MATRIX`]) against the API server directly
//!    and through Headlamp's proxy (`--url`, or `--service`: a port-forward through the API server). Every write probe
//!    is a server-side dry run (`dryRun=All`); a probe that has no dry run (`pods/exec`) is asked as a
//!    SelfSubjectAccessReview instead. Nothing is written.
//! 3. The pod's posture as the baseline judges it ([`crate::e2e::checks::judge_posture`], plus a writable /tmp), the
//!    namespace's Pod Security labels, and that the guarded ServiceAccounts are bound to ClusterRole `view` only.
//!
//! The token never leaves in output: every outcome is scrubbed of it ([`crate::rbac::scrub`]) and redacted.
//! A gate in front of Headlamp (Cloudflare Access) is named, never judged as Headlamp's answer ([`access`]).

pub mod access;
pub mod checks;
pub mod portforward;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use crate::baseline::{HEADLAMP_SELECTOR, SubCheck, judge_posture, pod_mounts};
use crate::rbac::{self, AccessCheck, CheckOutcome, Route};
use crate::rbac_probe;
use crate::report::{Assertion, RunReport, redact};
use crate::{Error, Result};

/// What the output says about writes (text header, JSON `writes`).
pub const WRITES_NOTE: &str = "nothing is written to the cluster: every write probe is a server-side dry run (dryRun=All) of an object that does not exist, sent with the login token; pods/exec, which has no dry run, is asked as a SelfSubjectAccessReview with the login token; your own credentials only read (the token Secret, the pod, the namespace, the bindings) and open the --service port-forward";

/// The annotation naming a token Secret's ServiceAccount (k8s.io/api core/v1 `ServiceAccountNameKey`).
pub const SERVICE_ACCOUNT_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// The type of a legacy ServiceAccount token Secret (k8s.io/api core/v1 `SecretTypeServiceAccountToken`).
pub const SERVICE_ACCOUNT_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
/// The default `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The scenarios (table groups) of a verification.
pub const SCENARIO_APISERVER: &str = "access-apiserver";
pub const SCENARIO_HEADLAMP: &str = "access-headlamp";
pub const SCENARIO_POSTURE: &str = "posture";
pub const SCENARIO_POD_SECURITY: &str = "pod-security";
pub const SCENARIO_BINDINGS: &str = "bindings";

/// How the access matrix reaches Headlamp's proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadlampRoute {
    /// Not checked (neither `--url` nor `--service`): reported as skipped.
    NotChecked,
    /// The public or LAN URL, e.g. `https://headlamp.example.net`.
    Url(String),
    /// A port-forward to this Service (in the app namespace) through the API server.
    Service(String),
}

/// What `cargo xtask verify` asks for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The app's namespace (`-n`).
    pub namespace: String,
    /// The login token Secret (`--login-secret`).
    pub login_secret: String,
    pub headlamp: HeadlampRoute,
    /// For the whole run (`--timeout`).
    pub timeout: Duration,
}

impl Default for Options {
    /// The fixtures' names: namespace `headlamp`, Secret `headlamp-login-token`
    /// (fixtures/gitops/apps/base/headlamp/rbac.yaml), Headlamp not checked, 60 s.
    fn default() -> Self {
        Options {
            namespace: rbac::NAMESPACE.to_string(),
            login_secret: rbac::LOGIN_TOKEN_SECRET.to_string(),
            headlamp: HeadlampRoute::NotChecked,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The API server as the login token reaches it: its URL and an HTTP client trusting its CA.
pub struct ApiServer {
    pub url: String,
    pub http: reqwest::Client,
}

/// DER certificates as one PEM bundle.
pub fn der_to_pem(certs: &[Vec<u8>]) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for der in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

impl ApiServer {
    /// From the caller's client configuration: the same server URL, CA and `insecure-skip-tls-verify`, none of the
    /// caller's credentials.
    pub fn from_config(config: &kube::Config) -> Result<Self> {
        let url = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let pem = config.root_cert.as_deref().map(der_to_pem);
        let http = rbac_probe::http_client_with(
            pem.as_deref().map(str::as_bytes),
            config.accept_invalid_certs,
        )?;
        if config.proxy_url.is_some() {
            tracing::warn!(
                "the kubeconfig names a proxy-url; the login token's probes go to the API server without it"
            );
        }
        Ok(ApiServer { url, http })
    }
}

/// The caller's client, the API server for the login token (same URL and CA), and the context's name, from
/// `kubeconfig`/`context` as [`crate::view::connect`] reads them.
pub async fn connect(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<(Client, ApiServer, String)> {
    let (config, name) = crate::view::live::config_for(kubeconfig, context)
        .await
        .map_err(|e| Error::Other(e.to_string()))?;
    let api = ApiServer::from_config(&config)?;
    let client = Client::try_from(config)
        .map_err(|e| Error::Other(format!("cannot connect to the cluster: {e}")))?;
    Ok((client, api, name))
}

/// The result of one verification.
#[derive(Debug, Clone)]
pub struct Verification {
    pub context: String,
    pub namespace: String,
    pub login_secret: String,
    pub login_service_account: String,
    pub api_server: String,
    /// How Headlamp was reached, for the header: `https://…/clusters/main`, `port-forward …`, `not checked`.
    pub headlamp: String,
    pub report: RunReport,
    /// Why a part could not be judged (Cloudflare Access in front, a list the caller may not read, …).
    pub inconclusive: Vec<String>,
}

impl Verification {
    /// 1 when a check failed, else 2 when a part could not be judged (or nothing passed), else 0.
    pub fn exit_code(&self) -> u8 {
        let c = self.report.counts();
        if c.failed > 0 {
            1
        } else if !self.inconclusive.is_empty() || c.passed == 0 {
            2
        } else {
            0
        }
    }

    fn verdict(&self) -> &'static str {
        match self.exit_code() {
            0 => "all checks held",
            1 => "a check FAILED",
            _ => "could not judge everything",
        }
    }

    /// The result table with a header saying what was checked, how, and that nothing was written.
    pub fn to_text(&self, color: bool) -> String {
        let mut out = format!(
            "verify: context {}, namespace {}\n  API server:  {}\n  Headlamp:    {}\n  login:       token read from Secret {}/{} (ServiceAccount {}) with your credentials, never printed\n  {WRITES_NOTE}\n\n",
            self.context,
            self.namespace,
            self.api_server,
            self.headlamp,
            self.namespace,
            self.login_secret,
            self.login_service_account,
        );
        // what could not be judged is in the table's "Skipped:" list
        out.push_str(&self.report.to_table_without_totals(color));
        out.push_str(&format!(
            "\nverify: {} ({}, {} could not be judged) in {}\n",
            self.verdict(),
            self.report.counts(),
            self.inconclusive.len(),
            crate::report::format_duration(self.report.duration()),
        ));
        redact(&out)
    }

    /// One JSON object: what was checked, the report ([`RunReport::to_json`]), what could not be judged, the exit
    /// code.
    pub fn to_json(&self) -> Value {
        json!({
            "command": "verify",
            "context": self.context,
            "namespace": self.namespace,
            "login_secret": self.login_secret,
            "login_service_account": self.login_service_account,
            "api_server": self.api_server,
            "headlamp": self.headlamp,
            "writes": WRITES_NOTE,
            "report": self.report.to_json(),
            "inconclusive": self.inconclusive.iter().map(|s| redact(s)).collect::<Vec<_>>(),
            "exit_code": self.exit_code(),
        })
    }

    /// JUnit XML (one suite per group, [`crate::report::junit_xml`]).
    pub fn to_junit(&self) -> Result<String> {
        Ok(crate::report::junit_xml(&self.report)?)
    }
}

/// A run that could not start or finish, as JSON (`error`, exit code 2).
pub fn cannot_run_json(message: &str) -> Value {
    json!({"command": "verify", "error": redact(message), "report": null, "exit_code": 2})
}

/// A run that could not start or finish, as JUnit: one failed case `verify/could-not-run`, so a CI job alerts.
pub fn cannot_run_junit(message: &str) -> Result<String> {
    let mut r = RunReport::new("verify");
    r.push(Assertion::failed(
        "verify",
        "could-not-run",
        redact(message),
        Duration::ZERO,
    ));
    Ok(crate::report::junit_xml(&r)?)
}

/// `<action> failed: <what the API server said, or the connection error with its causes>`. (Not `<action>: …`:
/// after a name ending in `token` that would read as a credential to the redaction.)
fn kube_err(action: &str, e: &kube::Error) -> String {
    let why = match e {
        kube::Error::Api(_) => crate::error::kube_message(e),
        other => crate::view::live::error_chain(other),
    };
    format!("{action} failed: {why}")
}

/// Read the login token: the Secret must be a ServiceAccount token Secret, populated. Returns (token, ServiceAccount).
pub async fn read_login_token(
    client: &Client,
    namespace: &str,
    secret: &str,
) -> std::result::Result<(String, String), String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let s = match api.get_opt(secret).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(format!(
                "Secret {namespace}/{secret} does not exist: deploy the login ServiceAccount's token Secret (fixtures/gitops/apps/base/headlamp/rbac.yaml) or name yours with --login-secret / -n"
            ));
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return Err(format!(
                "your credentials may not read Secret {namespace}/{secret} (verify reads the login token with them, then probes with the token only): {}",
                s.message
            ));
        }
        Err(e) => {
            return Err(kube_err(
                &format!("reading Secret {namespace}/{secret}"),
                &e,
            ));
        }
    };
    let type_ = s.type_.as_deref().unwrap_or("Opaque");
    if type_ != SERVICE_ACCOUNT_TOKEN_TYPE {
        return Err(format!(
            "Secret {namespace}/{secret} is of type {type_}, not {SERVICE_ACCOUNT_TOKEN_TYPE}: name the login ServiceAccount's token Secret with --login-secret"
        ));
    }
    let sa = s
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SERVICE_ACCOUNT_NAME_ANNOTATION))
        .cloned()
        .ok_or_else(|| {
            format!(
                "Secret {namespace}/{secret} has no {SERVICE_ACCOUNT_NAME_ANNOTATION} annotation"
            )
        })?;
    let token = s
        .data
        .as_ref()
        .and_then(|d| d.get("token"))
        .and_then(|t| String::from_utf8(t.0.clone()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            format!(
                "Secret {namespace}/{secret} has no token yet: the token controller populates data.token once ServiceAccount {namespace}/{sa} exists"
            )
        })?;
    Ok((token, sa))
}

/// The Host header value of a URL's authority (`headlamp.example.net`, `10.0.0.5:8080`).
fn host_of(url: &str) -> std::result::Result<String, String> {
    let u = reqwest::Url::parse(url).map_err(|e| {
        format!("--url {url} is not a URL: {e} (e.g. https://headlamp.example.net)")
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("--url {url}: only http and https URLs"));
    }
    let host = u
        .host_str()
        .ok_or_else(|| format!("--url {url} has no host"))?;
    Ok(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// The Headlamp route for a base URL (what `--url` names, or the port-forward's local address).
pub fn headlamp_route(base_url: &str) -> std::result::Result<Route, String> {
    Ok(Route::ViaHeadlamp {
        base_url: base_url.trim_end_matches('/').to_string(),
        host: host_of(base_url)?,
        context: rbac::HEADLAMP_CONTEXT.to_string(),
    })
}

/// Run one matrix check: as it is when it changes nothing, else as a SelfSubjectAccessReview. The outcome never
/// holds `token`.
pub async fn probe_check(
    http: &reqwest::Client,
    check: &AccessCheck,
    route: &Route,
    token: &str,
    namespace: &str,
    pod: &str,
) -> CheckOutcome {
    if check.is_side_effect_free() {
        return rbac_probe::probe_in(http, check, route, token, namespace, pod).await;
    }
    let started = Instant::now();
    let review = AccessCheck {
        id: "selfsubjectaccessreview",
        verb: rbac::Verb::Create,
        resource: "selfsubjectaccessreviews.authorization.k8s.io",
        path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body: None,
        expected: rbac::Expected::Allowed,
    };
    let (status, body) = match rbac::build_request_in(&review, route, token, namespace, pod) {
        Err(e) => (None, e.to_string().into_bytes()),
        Ok(mut request) => {
            request
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            request.body = Some(
                serde_json::to_vec(&checks::access_review(check, namespace, pod))
                    .unwrap_or_default(),
            );
            match rbac_probe::to_reqwest(&request, http).send().await {
                Err(e) => (None, rbac::error_chain(&e).into_bytes()),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    (
                        Some(status),
                        resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
                    )
                }
            }
        }
    };
    let mut o = checks::judge_access_review(check, route, status, &body);
    o.message = rbac::scrub(&o.message, token);
    o.actual = o.actual.scrubbed(token);
    o.duration = started.elapsed();
    o
}

/// The whole matrix on `route`, in order.
pub async fn run_matrix(
    http: &reqwest::Client,
    route: &Route,
    token: &str,
    namespace: &str,
    pod: &str,
) -> Vec<CheckOutcome> {
    let mut out = Vec::with_capacity(rbac::MATRIX.len());
    for check in rbac::MATRIX {
        out.push(probe_check(http, check, route, token, namespace, pod).await);
    }
    out
}

/// Who answers on the Headlamp route: one read with the login token (`list-namespaces`), classified.
pub async fn preflight(
    http: &reqwest::Client,
    route: &Route,
    token: &str,
    namespace: &str,
) -> std::result::Result<access::Gate, String> {
    let check = rbac::check("list-namespaces").ok_or("no list-namespaces check in the matrix")?;
    let request =
        rbac::build_request_in(check, route, token, namespace, "").map_err(|e| e.to_string())?;
    let resp = rbac_probe::to_reqwest(&request, http)
        .send()
        .await
        .map_err(|e| rbac::scrub(&rbac::error_chain(&e), token))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    Ok(access::classify(status, &headers, &body))
}

fn sub_assertions(scenario: &str, subs: Vec<SubCheck>, duration: Duration) -> Vec<Assertion> {
    subs.into_iter()
        .map(|(name, r)| match r {
            Ok(()) => Assertion::passed(scenario, name, duration),
            Err(m) => Assertion::failed(scenario, name, m, duration),
        })
        .collect()
}

/// The step a run is in, for the timeout message.
struct Step(Mutex<String>);

impl Step {
    fn set(&self, s: impl Into<String>) {
        if let Ok(mut g) = self.0.lock() {
            *g = s.into();
        }
    }
    fn get(&self) -> String {
        self.0.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// Verify with the caller's `client` (reads only) and the login token against `api` and the Headlamp route of
/// `opts`, within `opts.timeout`. `Err` is "could not run" (exit 2); failed checks are in the report.
pub async fn run(
    client: &Client,
    api: &ApiServer,
    context: &str,
    opts: &Options,
) -> Result<Verification> {
    let step = Step(Mutex::new("starting".into()));
    match tokio::time::timeout(opts.timeout, run_inner(client, api, context, opts, &step)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Other(format!(
            "not finished within {} (--timeout): still {}",
            crate::report::format_duration(opts.timeout),
            step.get()
        ))),
    }
}

async fn run_inner(
    client: &Client,
    api: &ApiServer,
    context: &str,
    opts: &Options,
    step: &Step,
) -> Result<Verification> {
    let ns = opts.namespace.as_str();
    let mut report = RunReport::new("verify");
    let mut inconclusive = Vec::new();
    if let HeadlampRoute::Url(url) = &opts.headlamp {
        headlamp_route(url).map_err(Error::Other)?;
    }

    step.set(format!(
        "reading Secret {ns}/{} at {}",
        opts.login_secret, api.url
    ));
    let (token, login_sa) = read_login_token(client, ns, &opts.login_secret)
        .await
        .map_err(|e| Error::Other(format!("{e} (API server {})", api.url)))?;

    step.set(format!(
        "finding the Headlamp pod ({HEADLAMP_SELECTOR}) in {ns}"
    ));
    let started = Instant::now();
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = pods
        .list(&ListParams::default().labels(HEADLAMP_SELECTOR))
        .await
        .map_err(|e| {
            Error::Other(kube_err(
                &format!("listing pods {HEADLAMP_SELECTOR} in {ns}"),
                &e,
            ))
        })?
        .items
        .into_iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    let pod_name = match &pod {
        Some(p) => {
            let mut subs = judge_posture(p);
            subs.push((
                "tmp-writable".into(),
                if pod_mounts(p, "/tmp") {
                    Ok(())
                } else {
                    Err(format!(
                        "pod {}: no writable volume at /tmp in container headlamp: with a read-only root Headlamp exits at start (`Failed to create static dir`, FACTS.md)",
                        p.name_any()
                    ))
                },
            ));
            report.extend(sub_assertions(SCENARIO_POSTURE, subs, started.elapsed()));
            p.name_any()
        }
        None => {
            report.push(Assertion::failed(
                SCENARIO_POSTURE,
                "headlamp-pod-running",
                format!("no running Headlamp pod ({HEADLAMP_SELECTOR}) in namespace {ns}"),
                started.elapsed(),
            ));
            rbac::PROBE_NAME.to_string()
        }
    };

    step.set(format!("reading Namespace {ns}"));
    let started = Instant::now();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.get(ns).await {
        Ok(n) => {
            let (name, r) = checks::judge_pod_security(&n);
            report.extend(sub_assertions(
                SCENARIO_POD_SECURITY,
                vec![(name, r)],
                started.elapsed(),
            ));
        }
        Err(e) => {
            let why = kube_err(&format!("reading Namespace {ns}"), &e);
            report.push(Assertion::skipped(
                SCENARIO_POD_SECURITY,
                "enforce-restricted",
                &why,
            ));
            inconclusive.push(why);
        }
    }

    step.set("listing ClusterRoleBindings and RoleBindings");
    let started = Instant::now();
    let pod_sa = pod
        .as_ref()
        .and_then(|p| p.spec.as_ref())
        .and_then(|s| s.service_account_name.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let mut guarded = vec![checks::Guarded {
        namespace: ns.to_string(),
        name: pod_sa,
        why: "the Headlamp pod's ServiceAccount",
    }];
    if guarded[0].name != login_sa {
        guarded.push(checks::Guarded {
            namespace: ns.to_string(),
            name: login_sa.clone(),
            why: "the login ServiceAccount",
        });
    }
    let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
    let rbs: Api<RoleBinding> = Api::all(client.clone());
    match (
        crbs.list(&ListParams::default()).await,
        rbs.list(&ListParams::default()).await,
    ) {
        (Ok(crbs), Ok(rbs)) => {
            let mut subs = Vec::new();
            for sa in &guarded {
                let wide = checks::wide_bindings(sa, &crbs.items, &rbs.items);
                let mut roles = BTreeMap::new();
                for w in &wide {
                    let role = match (w.role_ref.kind.as_str(), &w.namespace) {
                        ("Role", Some(rns)) => Api::<Role>::namespaced(client.clone(), rns)
                            .get_opt(&w.role_ref.name)
                            .await
                            .ok()
                            .flatten()
                            .and_then(|r| serde_json::to_value(r).ok()),
                        _ => Api::<ClusterRole>::all(client.clone())
                            .get_opt(&w.role_ref.name)
                            .await
                            .ok()
                            .flatten()
                            .and_then(|r| serde_json::to_value(r).ok()),
                    };
                    if let Some(r) = role {
                        roles.insert(checks::role_key(w), r);
                    }
                }
                subs.push(checks::judge_bindings(sa, &wide, &roles));
            }
            report.extend(sub_assertions(SCENARIO_BINDINGS, subs, started.elapsed()));
        }
        (Err(e), _) | (_, Err(e)) => {
            let why = kube_err(
                "listing ClusterRoleBindings and RoleBindings (all namespaces)",
                &e,
            );
            report.push(Assertion::skipped(
                SCENARIO_BINDINGS,
                "bound-to-view-only",
                &why,
            ));
            inconclusive.push(why);
        }
    }

    step.set(format!(
        "probing the API server {} with the login token",
        api.url
    ));
    let direct = Route::direct(&api.url);
    for o in run_matrix(&api.http, &direct, &token, ns, &pod_name).await {
        report.push(Assertion::from_check(&o, SCENARIO_APISERVER));
    }

    let (headlamp, _forward) = match &opts.headlamp {
        HeadlampRoute::NotChecked => {
            report.push(Assertion::skipped(
                SCENARIO_HEADLAMP,
                "rbac-headlamp",
                "Headlamp's proxy not checked: pass --url URL or --service",
            ));
            ("not checked (pass --url or --service)".to_string(), None)
        }
        HeadlampRoute::Url(url) => {
            let route = headlamp_route(url).map_err(Error::Other)?;
            let http = rbac_probe::http_client(None)?;
            let shown = route.url("");
            step.set(format!("probing Headlamp at {shown} with the login token"));
            headlamp_matrix(
                &http,
                &route,
                &token,
                ns,
                &pod_name,
                &mut report,
                &mut inconclusive,
            )
            .await;
            (shown, None)
        }
        HeadlampRoute::Service(service) => {
            step.set(format!("opening a port-forward to Service {ns}/{service}"));
            match portforward::forward(client, ns, service, &["http"]).await {
                Ok(f) => {
                    let route = headlamp_route(&f.base_url()).map_err(Error::Other)?;
                    let http = rbac_probe::http_client(None)?;
                    let shown = format!(
                        "port-forward to Service {ns}/{} port {} (pod {} port {}) through the API server, /clusters/{}",
                        f.target.service,
                        f.target.service_port,
                        f.target.pod,
                        f.target.container_port,
                        rbac::HEADLAMP_CONTEXT
                    );
                    step.set(format!("probing Headlamp through the {shown}"));
                    headlamp_matrix(
                        &http,
                        &route,
                        &token,
                        ns,
                        &pod_name,
                        &mut report,
                        &mut inconclusive,
                    )
                    .await;
                    (shown, Some(f))
                }
                Err(e) => {
                    report.push(Assertion::skipped(SCENARIO_HEADLAMP, "rbac-headlamp", &e));
                    inconclusive.push(e);
                    (
                        format!("Service {ns}/{service} (port-forward failed)"),
                        None,
                    )
                }
            }
        }
    };

    // the token is gone from every text by construction; make sure of it once more
    for a in report
        .scenarios
        .iter_mut()
        .flat_map(|s| s.assertions.iter_mut())
    {
        match &mut a.outcome {
            crate::report::Outcome::Failed { message } => *message = rbac::scrub(message, &token),
            crate::report::Outcome::Skipped { reason } => *reason = rbac::scrub(reason, &token),
            crate::report::Outcome::Passed => {}
        }
    }
    let inconclusive = inconclusive
        .into_iter()
        .map(|i| rbac::scrub(&i, &token))
        .collect();
    Ok(Verification {
        context: context.to_string(),
        namespace: ns.to_string(),
        login_secret: opts.login_secret.clone(),
        login_service_account: login_sa,
        api_server: api.url.clone(),
        headlamp,
        report,
        inconclusive,
    })
}

/// The matrix through Headlamp, after checking who answers: a gate in front makes the route inconclusive.
async fn headlamp_matrix(
    http: &reqwest::Client,
    route: &Route,
    token: &str,
    ns: &str,
    pod: &str,
    report: &mut RunReport,
    inconclusive: &mut Vec<String>,
) {
    let shown = route.url("");
    let gate = match preflight(http, route, token, ns).await {
        Ok(g) => g,
        Err(e) => {
            let why = format!("Headlamp at {shown} did not answer: {e}");
            report.push(Assertion::skipped(SCENARIO_HEADLAMP, "rbac-headlamp", &why));
            inconclusive.push(why);
            return;
        }
    };
    if let Some(why) = gate.refusal(&shown) {
        report.push(Assertion::skipped(SCENARIO_HEADLAMP, "rbac-headlamp", &why));
        inconclusive.push(why);
        return;
    }
    for o in run_matrix(http, route, token, ns, pod).await {
        report.push(Assertion::from_check(&o, SCENARIO_HEADLAMP));
    }
}
