//! The live environment of `cargo xtask e2e`: the scenario runner's [`Env`] over a real k3s cluster, Flux, and the
//! served git repository. Thin glue: every decision is in [`crate::checks`], [`crate::flux::conditions`],
//! [`crate::rbac`] and [`crate::doctor`].

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};

use crate::baseline::{self as checks, SubCheck};
use crate::chart::{ChartStore, Helm};
use crate::finding::Finding;
use crate::flux::conditions;
use crate::flux::kinds::FluxKind;
use crate::flux::reconcile;
use crate::gitserver::GitRepo;
use crate::observe::{outcome, trace, waits};
use crate::rbac::{self, Route};
use crate::rbac_probe;
use crate::report::redact;
use crate::scenario::runner::Env;
use crate::scenario::{
    Check, Commit, Condition, DoctorStep, FluxKind as StepKind, Merge, Reconcile, UnstickStep,
    Wait, edit,
};
use crate::view::ClusterView;

pub use crate::baseline::HEADLAMP_SELECTOR;
pub(crate) use crate::observe::waits::{POLL, poll};
/// The deadlines of a reset added up: the git reset (1 min allowed), the GitRepository reconcile (2 min), both
/// Kustomizations and the HelmRelease settled (15 min), the Deployment Available (5 min).
pub const RESET_DEADLINE: Duration = Duration::from_secs(60 + 120 + 15 * 60 + 300);

/// Everything a scenario touches.
pub struct LiveEnv {
    pub client: Client,
    /// The served repository's work tree (what Flux fetches).
    pub repo: GitRepo,
    /// The commit every scenario starts from.
    pub baseline: String,
    /// `https://127.0.0.1:<port>` of the API server, and its CA (PEM).
    pub api_url: String,
    pub ca_pem: Vec<u8>,
    /// `http://127.0.0.1:<port>` of Traefik.
    pub traefik_url: String,
    /// `target/e2e/<run>`.
    pub run_dir: PathBuf,
    /// The k3s container, for its logs in artifacts; `None` on an existing cluster.
    pub k3s: Option<std::sync::Arc<crate::cluster::K3sCluster>>,
    /// Every HelmRelease's generation just before the last commit (for `helmReleaseQueued`), or why it could not be
    /// read.
    pub recorded_generations: Result<waits::Generations, String>,
}

/// How long the UI check and the Headlamp-route probes retry (Traefik answers 404/502 for a route whose backend
/// is not ready yet, and a just-rolled-out pod may refuse connections for a moment).
pub const PROBE_DEADLINE: Duration = Duration::from_secs(60);
/// Pause between two probe attempts.
pub const PROBE_RETRY: Duration = Duration::from_secs(5);

/// Run `attempt` until `passed` holds of its answer or `within` has gone by (tokio's clock), pausing `every`
/// between attempts. Returns the last answer and how many attempts were made: on failure the caller reports that
/// last answer, so the message names what the route said at the end, not at the first try.
pub async fn until_passed<T, F, Fut>(
    within: Duration,
    every: Duration,
    passed: impl Fn(&T) -> bool,
    mut attempt: F,
) -> (T, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let started = tokio::time::Instant::now();
    let mut n = 0;
    loop {
        let answer = attempt().await;
        n += 1;
        if passed(&answer) || started.elapsed() + every > within {
            return (answer, n);
        }
        tokio::time::sleep(every).await;
    }
}

/// The suffix of a failure after retries: ` (last answer, attempt 12 in 60s)`.
pub fn after_attempts(n: u32, within: Duration) -> String {
    if n <= 1 {
        String::new()
    } else {
        format!(" (last answer, attempt {n} within {}s)", within.as_secs())
    }
}

fn kube_err(action: &str, e: kube::Error) -> String {
    format!("{action}: {}", crate::error::kube_message(&e))
}

fn step_kind(k: StepKind) -> FluxKind {
    match k {
        StepKind::GitRepository => FluxKind::GitRepository,
        StepKind::Kustomization => FluxKind::Kustomization,
        StepKind::HelmRelease => FluxKind::HelmRelease,
    }
}

impl LiveEnv {
    fn pods(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), ns)
    }

    async fn list_pods(&self, ns: &str, selector: &str) -> Result<Vec<Pod>, String> {
        self.pods(ns)
            .list(&ListParams::default().labels(selector))
            .await
            .map(|l| l.items)
            .map_err(|e| kube_err(&format!("listing pods {selector} in {ns}"), e))
    }

    async fn token_of_secret(&self, ns: &str, name: &str) -> Result<Option<String>, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let s = api
            .get_opt(name)
            .await
            .map_err(|e| kube_err(&format!("reading Secret {ns}/{name}"), e))?;
        Ok(s.and_then(|s| s.data)
            .and_then(|d| d.get("token").cloned())
            .and_then(|t| String::from_utf8(t.0).ok())
            .filter(|t| !t.is_empty()))
    }

    async fn wait_token(&self, not: Option<&str>) -> Result<String, String> {
        poll(
            Duration::from_secs(60),
            "login token Secret populated",
            || async {
                Ok(
                    match self
                        .token_of_secret(rbac::NAMESPACE, rbac::LOGIN_TOKEN_SECRET)
                        .await?
                    {
                        Some(t) if Some(t.as_str()) != not => Ok(t),
                        Some(_) => Err("still the old token".into()),
                        None => Err("no token yet".into()),
                    },
                )
            },
        )
        .await
    }

    /// A short-lived token of the pod's own ServiceAccount (TokenRequest).
    async fn pod_sa_token(&self) -> Result<String, String> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), rbac::NAMESPACE);
        let req: TokenRequest = serde_json::from_value(serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 600}
        }))
        .map_err(|e| e.to_string())?;
        let tr: TokenRequest = api
            .create_subresource(
                "token",
                rbac::POD_SERVICE_ACCOUNT,
                &PostParams::default(),
                &req,
            )
            .await
            .map_err(|e| kube_err("requesting a token for ServiceAccount headlamp/headlamp", e))?;
        tr.status
            .map(|s| s.token)
            .ok_or_else(|| "TokenRequest returned no token".into())
    }

    fn routes(&self) -> [Route; 2] {
        [
            Route::direct(&self.api_url),
            Route::via_headlamp(&self.traefik_url),
        ]
    }

    async fn headlamp_pod(&self) -> Result<Pod, String> {
        let pods = self.list_pods(rbac::NAMESPACE, HEADLAMP_SELECTOR).await?;
        pods.into_iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .ok_or_else(|| "no running Headlamp pod".to_string())
    }

    async fn check_rbac(&self) -> Vec<SubCheck> {
        let client = match rbac_probe::http_client(Some(&self.ca_pem)) {
            Ok(c) => c,
            Err(e) => return vec![("http-client".into(), Err(e.to_string()))],
        };
        let pod = match self.headlamp_pod().await {
            Ok(p) => p.name_any(),
            Err(e) => return vec![("headlamp-pod".into(), Err(e))],
        };
        let mut out = Vec::new();
        let tokens = [
            (rbac::LOGIN_SERVICE_ACCOUNT, self.wait_token(None).await),
            (rbac::POD_SERVICE_ACCOUNT, self.pod_sa_token().await),
        ];
        for (who, token) in tokens {
            let token = match token {
                Ok(t) => t,
                Err(e) => {
                    out.push((format!("{who}/token"), Err(e)));
                    continue;
                }
            };
            for route in self.routes() {
                let (outcomes, n) = until_passed(
                    PROBE_DEADLINE,
                    PROBE_RETRY,
                    |os: &Vec<rbac::CheckOutcome>| os.iter().all(|o| o.passed),
                    || rbac_probe::run_matrix(&client, &route, &token, &pod),
                )
                .await;
                for o in outcomes {
                    trace::observe_probe(
                        &format!("{who}/{}", o.assertion_name()),
                        o.actual.status(),
                        o.passed,
                        &o.message,
                    );
                    let r = if o.passed {
                        Ok(())
                    } else {
                        Err(format!(
                            "{}{}",
                            o.message,
                            after_attempts(n, PROBE_DEADLINE)
                        ))
                    };
                    out.push((format!("{who}/{}", o.assertion_name()), r));
                }
            }
        }
        out
    }

    async fn check_ui(&self) -> SubCheck {
        let client = match rbac_probe::http_client(None) {
            Ok(c) => c,
            Err(e) => return ("get-root".into(), Err(e.to_string())),
        };
        let (r, n) = until_passed(PROBE_DEADLINE, PROBE_RETRY, Result::is_ok, || async {
            let resp = client
                .get(format!("{}/", self.traefik_url))
                .header("Host", rbac::HEADLAMP_HOST)
                .timeout(Duration::from_secs(15))
                .send()
                .await
                .map_err(|e| format!("GET / via Traefik: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let r = checks::judge_ui(status, &body);
            trace::observe_probe(
                "ui/get-root",
                Some(status),
                r.is_ok(),
                r.as_ref().err().map_or("", String::as_str),
            );
            r
        })
        .await;
        (
            "get-root".into(),
            r.map_err(|e| format!("{e}{}", after_attempts(n, PROBE_DEADLINE))),
        )
    }

    async fn check_psa(&self) -> SubCheck {
        let api: Api<Pod> = self.pods(rbac::NAMESPACE);
        let probe: Pod = match serde_json::from_value(checks::privileged_probe_pod(rbac::NAMESPACE))
        {
            Ok(p) => p,
            Err(e) => return ("privileged-pod".into(), Err(e.to_string())),
        };
        let pp = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let r = match api.create(&pp, &probe).await {
            Ok(_) => checks::judge_psa_rejection(Some(201), ""),
            Err(kube::Error::Api(s)) => checks::judge_psa_rejection(Some(s.code), &s.message),
            Err(e) => checks::judge_psa_rejection(None, &crate::error::kube_message(&e)),
        };
        ("privileged-pod-rejected".into(), r)
    }

    async fn check_token_rotation(&self) -> Vec<SubCheck> {
        let mut out = Vec::new();
        let r: Result<(), String> = async {
            let before = self.headlamp_pod().await?;
            let old = self.wait_token(None).await?;
            let secrets: Api<Secret> = Api::namespaced(self.client.clone(), rbac::NAMESPACE);
            let current = secrets
                .get(rbac::LOGIN_TOKEN_SECRET)
                .await
                .map_err(|e| kube_err("reading the login token Secret", e))?;
            secrets
                .delete(rbac::LOGIN_TOKEN_SECRET, &DeleteParams::default())
                .await
                .map_err(|e| kube_err("deleting the login token Secret", e))?;
            let deleted_at = Instant::now();
            poll(Duration::from_secs(60), "old token Secret gone", || async {
                Ok(match secrets.get_opt(rbac::LOGIN_TOKEN_SECRET).await {
                    Ok(None) => Ok(()),
                    Ok(Some(_)) => Err("still there".to_string()),
                    Err(e) => return Err(kube_err("reading the login token Secret", e)),
                })
            })
            .await?;
            let mut fresh = Secret {
                metadata: kube::api::ObjectMeta {
                    name: current.metadata.name.clone(),
                    namespace: current.metadata.namespace.clone(),
                    annotations: current.metadata.annotations.clone().map(|mut a| {
                        a.retain(|k, _| k == "kubernetes.io/service-account.name");
                        a
                    }),
                    labels: current.metadata.labels.clone(),
                    ..Default::default()
                },
                type_: current.type_.clone(),
                ..Default::default()
            };
            fresh.data = None;
            secrets
                .create(&PostParams::default(), &fresh)
                .await
                .map_err(|e| kube_err("recreating the login token Secret", e))?;
            let new = self.wait_token(Some(&old)).await?;
            let client = rbac_probe::http_client(Some(&self.ca_pem)).map_err(|e| e.to_string())?;
            let probe_check = rbac::check("list-pods").ok_or("no list-pods check in the matrix")?;
            let pod = before.name_any();
            for route in self.routes() {
                // kube-apiserver keeps accepting the old token from its cache for up to 10 s: poll until 401.
                let revocation = rbac_probe::poll_until_revoked(
                    &client,
                    &rbac::build_request(probe_check, &route, &old, &pod)
                        .map_err(|e| e.to_string())?,
                    &old,
                    deleted_at,
                    rbac::REVOCATION_DEADLINE,
                    rbac::REVOCATION_POLL,
                )
                .await;
                let new_v = rbac_probe::send(
                    &client,
                    &rbac::build_request(probe_check, &route, &new, &pod)
                        .map_err(|e| e.to_string())?,
                    &new,
                )
                .await;
                let revoked =
                    rbac::judge_revocation(&route, &revocation, rbac::REVOCATION_DEADLINE);
                tracing::info!(route = route.id(), "{}", revoked.message);
                eprintln!("token-rotation: {}", revoked.message);
                for o in [revoked, rbac::judge_new_token(&route, &new_v)] {
                    trace::observe_probe(
                        &format!("token-rotation/{}", o.name),
                        None,
                        o.passed,
                        &o.message,
                    );
                    out.push((
                        o.name.clone(),
                        if o.passed {
                            Ok(())
                        } else {
                            Err(o.message.clone())
                        },
                    ));
                }
            }
            let after = self.headlamp_pod().await?;
            let o = rbac::judge_pod_unchanged(&before, &after);
            out.push((
                o.name.clone(),
                if o.passed {
                    Ok(())
                } else {
                    Err(o.message.clone())
                },
            ));
            Ok(())
        }
        .await;
        if let Err(e) = r {
            out.push(("rotation".into(), Err(e)));
        }
        out
    }
}

/// Deployment `namespace/name` Available ([`conditions::deployment_available`]) within `within`; each state read is
/// traced.
pub async fn deployment_available(
    client: &Client,
    namespace: &str,
    name: &str,
    within: Duration,
) -> Result<(), String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    crate::flux::wait::wait_for(
        &api,
        name,
        |d: Option<&Deployment>| {
            trace::observe_deployment(namespace, name, d);
            d.is_some_and(conditions::deployment_available)
        },
        within,
        "Available",
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Commit a scenario's edits to the served repo, on its branch (created from main when new); the work tree is left
/// on main. Returns the new commit.
pub async fn commit_to(repo: &GitRepo, c: &Commit) -> Result<String, String> {
    let branches = repo.branch_shas().await.map_err(|e| e.to_string())?;
    if c.branch != "main" {
        if !branches.contains_key(&c.branch) {
            repo.create_branch(&c.branch)
                .await
                .map_err(|e| e.to_string())?;
        }
        repo.switch(&c.branch).await.map_err(|e| e.to_string())?;
    }
    let result = async {
        edit::apply_all(repo.path(), &c.edits).map_err(|e| e.to_string())?;
        repo.commit_all(&c.message).await.map_err(|e| e.to_string())
    }
    .await;
    if c.branch != "main" {
        repo.switch("main").await.map_err(|e| e.to_string())?;
    }
    result
}

/// Merge `m.from` into `m.into`; the work tree is left on main. Returns the new head of `into`.
pub async fn merge_in(repo: &GitRepo, m: &Merge) -> Result<String, String> {
    repo.switch(&m.into).await.map_err(|e| e.to_string())?;
    let r = repo
        .merge(&m.from, &format!("Merge {} into {}", m.from, m.into))
        .await
        .map_err(|e| e.to_string());
    repo.switch("main").await.map_err(|e| e.to_string())?;
    r
}

/// Back to the baseline: a new commit on main whose tree is exactly the baseline's (history stays linear for Flux),
/// and every other branch dropped.
pub async fn reset_repo(repo: &GitRepo, baseline: &str, scenario: &str) -> Result<(), String> {
    let err = |e: crate::gitserver::GitError| e.to_string();
    repo.switch("main").await.map_err(err)?;
    repo.git(&["read-tree", "-u", "--reset", baseline])
        .await
        .map_err(err)?;
    let status = repo.git(&["status", "--porcelain"]).await.map_err(err)?;
    if !status.trim().is_empty() {
        repo.commit_all(&format!("Reset to the baseline after {scenario}"))
            .await
            .map_err(err)?;
    }
    for b in repo.branch_shas().await.map_err(err)?.keys() {
        if b != "main" {
            repo.git(&["branch", "-D", b]).await.map_err(err)?;
        }
    }
    Ok(())
}

impl Env for LiveEnv {
    async fn commit(&mut self, c: &Commit) -> Result<String, String> {
        // Recorded just before the commit: a later `helmReleaseQueued` compares metadata.generation with it.
        self.recorded_generations = waits::helmrelease_generations(&self.client).await;
        commit_to(&self.repo, c).await
    }

    async fn merge(&mut self, m: &Merge) -> Result<String, String> {
        // a merge is a commit on `into`: the generations before it are what a later Ready compares with
        self.recorded_generations = waits::helmrelease_generations(&self.client).await;
        merge_in(&self.repo, m).await
    }

    async fn reconcile(&mut self, r: &Reconcile) -> Result<(), String> {
        let kind = step_kind(r.kind);
        let api = kind.api(self.client.clone(), &r.namespace);
        let ar = kind.api_resource();
        let req = reconcile::request_reconcile(&api, &ar, &r.name, r.force)
            .await
            .map_err(|e| e.to_string())?;
        // Sources and Kustomizations answer in seconds; a HelmRelease's action may run for its whole timeout:
        // its outcome is what the following wait step is about.
        if kind != FluxKind::HelmRelease {
            reconcile::wait_reconciled(&api, &ar, &r.name, &req, Duration::from_secs(120))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn wait(&mut self, w: &Wait) -> Result<String, String> {
        let within = w.within;
        match &w.condition {
            Condition::HelmReleaseReady { name, namespace } => {
                // after a commit: Ready on a newer generation than the one recorded before it (a Ready left from
                // the old spec does not count); before any commit in this scenario: Ready and settled
                let recorded = self
                    .recorded_generations
                    .as_ref()
                    .ok()
                    .and_then(|m| m.get(&(namespace.clone(), name.clone())).copied());
                waits::helmrelease_ready(&self.client, namespace, name, recorded, within).await
            }
            Condition::HelmReleaseProgressing {
                name,
                namespace,
                message,
                held_for,
            } => {
                waits::helmrelease_progressing(
                    &self.client,
                    namespace,
                    name,
                    message,
                    *held_for,
                    within,
                )
                .await
            }
            Condition::HelmReleaseQueued { name, namespace } => {
                let recorded = match &self.recorded_generations {
                    Ok(m) => m
                        .get(&(namespace.clone(), name.clone()))
                        .copied()
                        .ok_or_else(|| {
                            format!(
                                "HelmRelease {namespace}/{name} did not exist before the last commit: no generation to compare with (commit the fix while it runs)"
                            )
                        })?,
                    Err(e) => {
                        return Err(format!(
                            "no HelmRelease generation was recorded before the last commit: {e}"
                        ));
                    }
                };
                waits::helmrelease_queued(&self.client, namespace, name, recorded, within).await
            }
            Condition::HelmReleaseAbsent { name, namespace } => {
                waits::helmrelease_absent(&self.client, namespace, name, within).await
            }
            Condition::DeploymentAvailable { name, namespace } => {
                deployment_available(&self.client, namespace, name, within)
                    .await
                    .map(|_| "Available".to_string())
            }
            Condition::DeploymentMount {
                name,
                namespace,
                mount_path,
                present,
            } => {
                let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
                poll(
                    within,
                    &format!(
                        "Deployment {namespace}/{name} mount at {mount_path} present={present}"
                    ),
                    || async {
                        let d = api
                            .get_opt(name)
                            .await
                            .map_err(|e| kube_err("reading the Deployment", e))?;
                        trace::observe_deployment(namespace, name, d.as_ref());
                        Ok(match d {
                            Some(d) if checks::deployment_mounts(&d, mount_path) == *present => {
                                Ok("as expected".to_string())
                            }
                            Some(_) => Err(format!("mount present={}", !present)),
                            None => Err("Deployment not found".into()),
                        })
                    },
                )
                .await
            }
            Condition::PodCrashLoop {
                namespace,
                selector,
                log,
            } => waits::pod_crash_loop(&self.client, namespace, selector, log, within).await,
            Condition::PodOutcome {
                name,
                namespace,
                expect,
                lines,
                exit_code,
            } => {
                // the expected outcome follows the chart under test: lint's model on the committed values
                let helm = Helm::locate().map_err(|e| e.to_string())?;
                let (chart, predicted) = outcome::predict_dir(
                    self.repo.path(),
                    &ChartStore::from_env(),
                    &helm,
                    namespace,
                    name,
                )
                .await?;
                let note = match outcome::matches_spec(&predicted, *expect, lines, *exit_code) {
                    Ok(()) => String::new(),
                    Err(e) => {
                        tracing::warn!(%chart, "{e}: following the model");
                        format!(" (not the pinned chart's outcome: {e}; followed the model)")
                    }
                };
                let view = crate::view::live::LiveView::new(self.client.clone(), "e2e");
                outcome::wait_outcome(&view, namespace, name, &predicted, within, POLL)
                    .await
                    .map(|m| format!("{chart}: {m}{note}"))
            }
            Condition::SourceAtHead { name, branch } => {
                let heads = self.repo.branch_shas().await.map_err(|e| e.to_string())?;
                let head = heads
                    .get(branch)
                    .cloned()
                    .ok_or_else(|| format!("branch {branch} does not exist in the served repo"))?;
                waits::source_at_head(&self.client, name, branch, &head, within).await
            }
        }
    }

    async fn doctor(&mut self, step: &DoctorStep) -> Result<Vec<Finding>, String> {
        let view = crate::view::live::LiveView::new(self.client.clone(), "e2e");
        let render = match (Helm::locate(), ChartStore::from_env()) {
            (Ok(helm), store) => crate::doctor::Render::Tools { helm, store },
            (Err(e), _) => crate::doctor::Render::Unavailable(e.to_string()),
        };
        let opts = crate::doctor::DoctorOptions {
            namespace: rbac::NAMESPACE.to_string(),
            gitops: Some(self.repo.path().to_path_buf()),
            stuck_after: step
                .stuck_after
                .unwrap_or(crate::doctor::DEFAULT_STUCK_AFTER),
            render,
        };
        let report = crate::doctor::run(&view as &dyn ClusterView, &opts)
            .await
            .map_err(|e| e.to_string())?;
        Ok(report.findings())
    }

    async fn unstick(&mut self, step: &UnstickStep) -> Result<Duration, String> {
        let started = Instant::now();
        let mut opts = crate::unstick::UnstickOptions::new(&step.helmrelease, &step.namespace);
        opts.timeout = step.within;
        let mut log = |s: &crate::unstick::Step| tracing::info!(step = ?s, "unstick");
        let report = crate::unstick::unstick(&self.client, &opts, &mut log).await;
        if report.succeeded() {
            Ok(started.elapsed())
        } else {
            Err(report.failure_message())
        }
    }

    async fn check(&mut self, check: Check) -> Vec<SubCheck> {
        match check {
            Check::NoRestarts => {
                let r = match self.list_pods(rbac::NAMESPACE, HEADLAMP_SELECTOR).await {
                    Ok(pods) => checks::judge_no_restarts(&pods),
                    Err(e) => Err(e),
                };
                vec![("headlamp-pods".into(), r)]
            }
            Check::Posture => match self.headlamp_pod().await {
                Ok(p) => checks::judge_posture(&p),
                Err(e) => vec![("headlamp-pod".into(), Err(e))],
            },
            Check::PsaRejectsPrivileged => vec![self.check_psa().await],
            Check::RbacMatrix => self.check_rbac().await,
            Check::Ui => vec![self.check_ui().await],
            Check::TokenRotation => self.check_token_rotation().await,
        }
    }

    async fn collect_artifacts(&mut self, scenario: &str) -> Result<PathBuf, String> {
        let dir = self.run_dir.join(scenario);
        let view = crate::view::live::LiveView::new(self.client.clone(), "e2e");
        let scope = crate::view::snapshot::SnapshotScope::for_app(rbac::NAMESPACE);
        crate::view::snapshot::write_snapshot(&view as &dyn ClusterView, &scope, &dir)
            .await
            .map_err(|e| e.to_string())?;
        // an existing cluster has no container whose log to keep
        let Some(k3s) = &self.k3s else {
            return Ok(dir);
        };
        let (out, err) = k3s.container().logs().await.map_err(|e| e.to_string())?;
        let logs = redact::redact(&format!(
            "{}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        ));
        let path = dir.join("k3s.log");
        crate::cluster::write_private_file(&path, logs.as_bytes()).map_err(|e| e.to_string())?;
        Ok(dir)
    }

    fn reset_deadline(&self) -> Duration {
        RESET_DEADLINE
    }

    async fn reset(&mut self, scenario: &str) -> Result<(), String> {
        // the next scenario starts with no commit of its own
        self.recorded_generations = Err("no commit yet".to_string());
        reset_repo(&self.repo, &self.baseline, scenario).await?;
        let sha = self.repo.head_sha().await.map_err(|e| e.to_string())?;
        self.reconcile(&Reconcile {
            kind: StepKind::GitRepository,
            name: "flux-system".into(),
            namespace: "flux-system".into(),
            force: false,
        })
        .await?;
        // The *new* generation: both Kustomizations at the reset commit, then the HelmRelease Ready with
        // observedGeneration == generation (a Ready=True left from before the reset does not count).
        waits::reset_settled(
            &self.client,
            &sha,
            waits::E2E_KUSTOMIZATIONS,
            rbac::NAMESPACE,
            "headlamp",
            Duration::from_secs(15 * 60),
        )
        .await?;
        deployment_available(
            &self.client,
            rbac::NAMESPACE,
            "headlamp",
            Duration::from_secs(300),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn probes_retry_until_the_route_answers_and_name_the_last_answer() {
        // Traefik: 404 (no router yet), 502 (backend not ready), then Headlamp's page
        let mut answers = vec![
            Err("HTTP 404 for GET /".to_string()),
            Err("HTTP 502 for GET /".to_string()),
            Ok(()),
        ]
        .into_iter();
        let (r, n) = until_passed(PROBE_DEADLINE, PROBE_RETRY, Result::is_ok, || {
            let a = answers.next().unwrap_or(Err("exhausted".into()));
            async move { a }
        })
        .await;
        assert_eq!((r, n), (Ok(()), 3));

        // never ready: attempts until the deadline, the last answer is reported
        let mut k = 0;
        let (r, n) = until_passed(PROBE_DEADLINE, PROBE_RETRY, Result::is_ok, || {
            k += 1;
            let a: Result<(), String> = Err(format!("HTTP 502 for GET / (try {k})"));
            async move { a }
        })
        .await;
        // 0s, 5s, … 55s, 60s: 13 attempts within 60s
        assert_eq!(n, 13);
        let e = r.unwrap_err();
        assert_eq!(
            format!("{e}{}", after_attempts(n, PROBE_DEADLINE)),
            "HTTP 502 for GET / (try 13) (last answer, attempt 13 within 60s)"
        );
        assert_eq!(after_attempts(1, PROBE_DEADLINE), "");
    }

    #[tokio::test]
    async fn served_repo_commits_merges_and_resets() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("hr.yaml"), "spec:\n  values:\n    a: 1\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        let repo = GitRepo::create_from_dir(src.path(), &root.path().join("fixtures.git"))
            .await
            .unwrap();
        let baseline = repo.head_sha().await.unwrap();
        let commit = |branch: &str, v: i64| Commit {
            message: format!("set a={v}"),
            branch: branch.into(),
            edits: vec![
                serde_norway::from_str(&format!(
                    "file: hr.yaml\nset: {{path: spec.values.a, value: {v}}}\n"
                ))
                .unwrap(),
            ],
        };
        // a commit on a new branch leaves main untouched and the work tree on main
        let feat = commit_to(&repo, &commit("feat/headlamp", 2)).await.unwrap();
        let heads = repo.branch_shas().await.unwrap();
        assert_eq!(heads["main"], baseline);
        assert_eq!(heads["feat/headlamp"], feat);
        assert_eq!(repo.current_branch().await.unwrap(), "main");
        // merging brings it to main
        merge_in(
            &repo,
            &Merge {
                from: "feat/headlamp".into(),
                into: "main".into(),
            },
        )
        .await
        .unwrap();
        let text = std::fs::read_to_string(repo.path().join("hr.yaml")).unwrap();
        assert!(text.contains("a: 2"), "{text}");
        // a file a scenario adds is gone after the reset, and so is the branch
        std::fs::write(repo.path().join("extra.yaml"), "x: 1\n").unwrap();
        repo.commit_all("add a file").await.unwrap();
        reset_repo(&repo, &baseline, "t").await.unwrap();
        assert!(!repo.path().join("extra.yaml").exists());
        let text = std::fs::read_to_string(repo.path().join("hr.yaml")).unwrap();
        assert!(text.contains("a: 1"), "{text}");
        let heads = repo.branch_shas().await.unwrap();
        assert_eq!(heads.keys().collect::<Vec<_>>(), ["main"]);
        assert_ne!(
            heads["main"], baseline,
            "the reset is a new commit, not a rewind"
        );
        assert_eq!(
            repo.git(&["diff", "--stat", &baseline, "HEAD"])
                .await
                .unwrap(),
            ""
        );
    }

    #[tokio::test(start_paused = true)]
    async fn poll_returns_the_value_or_times_out_with_the_last_state() {
        let mut n = 0;
        let v = poll(Duration::from_secs(30), "thing", || {
            n += 1;
            let n = n;
            async move {
                Ok(if n >= 3 {
                    Ok(n)
                } else {
                    Err(format!("round {n}"))
                })
            }
        })
        .await;
        assert_eq!(v, Ok(3));
        let e = poll(
            Duration::from_secs(10),
            "HelmRelease headlamp/headlamp Ready",
            || async { Ok::<Result<(), String>, String>(Err("Ready=Unknown Progressing".into())) },
        )
        .await
        .unwrap_err();
        assert!(e.starts_with("HelmRelease headlamp/headlamp Ready: not within 10s: last seen Ready=Unknown Progressing"), "{e}");
        let fatal = poll(Duration::from_secs(10), "x", || async {
            Err::<Result<(), String>, String>("403 Forbidden".into())
        })
        .await
        .unwrap_err();
        assert_eq!(fatal, "403 Forbidden");
    }
}
