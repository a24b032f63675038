//! The mocked runs that produce `fixtures/traces/<scenario>.jsonl` until a nightly provides real traces: each
//! scenario runs through the real runner, and each of its waits through the *live* wait functions
//! ([`crate::observe::waits`], [`crate::harness::live::deployment_available`], [`crate::observe::outcome::wait_outcome`])
//! against a scripted API server ([`crate::mock_api`]) or the fake API server over a snapshot of `fixtures/snapshots`
//! (podOutcome), under a paused clock. The waits record into the trace as they do live; the objects are shaped as
//! helm-controller v1.6.3, kustomize-controller / source-controller v1.9.4 and the kubelet write them (the same
//! shapes as `e2e/src/observe/waits/tests.rs`). Commits, reconciles, doctor, unstick and the checks are stand-ins that touch
//! no cluster (they are not replayed).
//!
//! `HEADLAMP_E2E_BLESS=1 cargo test -p headlamp-e2e-e2e --lib observe::trace::mocked` rewrites the committed traces; without
//! it the test fails when a committed trace differs from what the mocked run records.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Source, Tracer};
use crate::finding::{Finding, Severity};
use crate::harness::live;
use crate::mock_api::{Step as MockStep, mock_client, status, step, step_status, step_text};
use crate::observe::{outcome, waits};
use crate::scenario::runner::{self, Env, RunOptions};
use crate::scenario::{
    Check, Commit, Condition, DoctorStep, Merge, Reconcile, Scenario, UnstickStep, Wait,
};
use crate::test_support::project_root;

const START: &str = "2026-12-01T10:00:00Z";
const HR: &str = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/headlamp/helmreleases/headlamp";
const DEPLOY: &str = "/apis/apps/v1/namespaces/headlamp/deployments/headlamp";
const PODS: &str = "/api/v1/namespaces/headlamp/pods?";
const GIT: &str =
    "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system";
const INSTALL: &str = "Running 'install' action with timeout of 10m0s";
const NOTE: &str = "produced by the mocked run of this scenario (src/e2e/trace/mocked.rs): the live wait functions against a scripted API server; not a real cluster";

fn sha(n: u32) -> String {
    format!("{:08x}", 0x5f2c_0a00 + n).repeat(5)
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A HelmRelease as helm-controller v1.6.3 writes it: `ready` is (status, reason, message, lastTransitionTime).
fn helmrelease(
    generation: i64,
    attempted: i64,
    observed: Option<i64>,
    ready: (&str, &str, &str, &str),
) -> Value {
    let (st, reason, message, since) = ready;
    let mut v = json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "headlamp", "namespace": "headlamp", "generation": generation,
                     "resourceVersion": "4127", "uid": "c0a1e0f4-3b1d-4c55-9f1e-2a7d0c9b8e61"},
        "spec": {"interval": "10m", "timeout": "10m",
                 "chart": {"spec": {"chart": "headlamp", "version": "0.41.0",
                           "sourceRef": {"kind": "HelmRepository", "name": "headlamp"}}}},
        "status": {
            "lastAttemptedGeneration": attempted,
            "conditions": [
                {"type": "Ready", "status": st, "reason": reason, "message": message,
                 "lastTransitionTime": since, "observedGeneration": attempted}
            ]
        }
    });
    if st != "True" {
        v["status"]["conditions"]
            .as_array_mut()
            .expect("conditions")
            .push(
                json!({"type": "Reconciling", "status": "True", "reason": "Progressing",
                "message": message, "lastTransitionTime": since, "observedGeneration": attempted}),
            );
    }
    if let Some(o) = observed {
        v["status"]["observedGeneration"] = json!(o);
    }
    v
}

fn ready(generation: i64, since: &str) -> Value {
    helmrelease(
        generation,
        generation,
        Some(generation),
        (
            "True",
            if generation == 1 {
                "InstallSucceeded"
            } else {
                "UpgradeSucceeded"
            },
            "Helm upgrade succeeded for release headlamp/headlamp.v2 with chart headlamp@0.41.0",
            since,
        ),
    )
}

fn git_at(sha: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system", "generation": 1},
        "spec": {"interval": "1m", "url": "http://172.17.0.1:8080/fixtures.git", "ref": {"branch": "main"}},
        "status": {"observedGeneration": 1,
            "artifact": {"revision": format!("main@sha1:{sha}"), "digest": "sha256:aa", "path": "x", "url": "x",
                         "lastUpdateTime": "2026-12-01T10:00:00Z"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                "message": format!("stored artifact for revision 'main@sha1:{sha}'"),
                "lastTransitionTime": "2026-12-01T10:00:00Z", "observedGeneration": 1}]}
    })
}

fn deployment(generation: i64, available: bool, home: bool) -> Value {
    let mut mounts = vec![json!({"name": "tmp", "mountPath": "/tmp"})];
    let mut volumes = vec![json!({"name": "tmp", "emptyDir": {}})];
    if home {
        mounts.push(json!({"name": "home", "mountPath": "/home/headlamp"}));
        volumes.push(json!({"name": "home", "emptyDir": {}}));
    }
    let (ready, cond) = if available {
        (
            1,
            json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                   "message": "Deployment has minimum availability.", "lastUpdateTime": "2026-12-01T10:02:00Z"}),
        )
    } else {
        (
            0,
            json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                   "message": "Deployment does not have minimum availability.", "lastUpdateTime": "2026-12-01T10:02:00Z"}),
        )
    };
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "headlamp", "namespace": "headlamp", "generation": generation, "uid": "d1",
                     "annotations": {"deployment.kubernetes.io/revision": generation.to_string()}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "headlamp"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "headlamp"}},
                              "spec": {"containers": [{"name": "headlamp",
                                  "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0", "volumeMounts": mounts}],
                                       "volumes": volumes}}},
        "status": {"observedGeneration": generation, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": ready, "availableReplicas": ready, "conditions": [cond]}
    })
}

fn pod(name: &str, restarts: i32, state: Value, last: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "headlamp",
                     "labels": {"app.kubernetes.io/name": "headlamp", "pod-template-hash": "5c8d7f9b6d"}},
        "spec": {"containers": [{"name": "headlamp", "image": "ghcr.io/headlamp-k8s/headlamp:v0.38.0"}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "headlamp", "ready": false, "restartCount": restarts, "image": "", "imageID": "",
            "state": state, "lastState": last}]}
    })
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items})
}

/// The scenario world as far as the waits see it.
struct MockEnv {
    tracer: Tracer,
    /// The HelmRelease exists, at this generation.
    hr: Option<i64>,
    /// Its generation just before the last commit or merge (what the live run records).
    recorded: Option<i64>,
    main_head: String,
    source_at: String,
    branches: Vec<(String, String)>,
    commits: u32,
    /// When the running install started (Ready=Unknown's lastTransitionTime).
    install_since: Option<Timestamp>,
    /// The HelmRelease is pruned by the last commit.
    removing: bool,
}

impl MockEnv {
    fn new(tracer: Tracer) -> Self {
        MockEnv {
            tracer,
            hr: Some(1),
            recorded: None,
            main_head: sha(0),
            source_at: sha(0),
            branches: Vec::new(),
            commits: 0,
            install_since: None,
            removing: false,
        }
    }

    fn now(&self) -> Timestamp {
        self.tracer.now()
    }

    fn next_sha(&mut self) -> String {
        self.commits += 1;
        sha(self.commits)
    }

    /// A change of the HelmRelease's spec reaches the cluster.
    fn spec_changed(&mut self) {
        self.recorded = self.hr;
        self.hr = Some(self.hr.map_or(1, |g| g + 1));
    }
}

fn run_script(
    steps: Vec<MockStep>,
) -> (
    kube::Client,
    tokio::task::JoinHandle<Vec<crate::mock_api::Seen>>,
) {
    mock_client(steps)
}

/// The end of one mocked step: the client goes first, so that a script the wait did not use up fails at once
/// (`request N never came`) rather than waiting for a request no one can send any more. (Awaiting the server with
/// the client alive hung the test whenever a wait returned early: `cargo mutants` saw it as a timeout.)
async fn finish(
    client: impl Sized,
    server: tokio::task::JoinHandle<Vec<crate::mock_api::Seen>>,
) -> Result<(), String> {
    drop(client);
    server.await.map(drop).map_err(|e| e.to_string())
}

impl Env for MockEnv {
    async fn commit(&mut self, c: &Commit) -> Result<String, String> {
        let sha = self.next_sha();
        if c.branch == "main" {
            self.main_head = sha.clone();
            if c.message.contains("remove the release") {
                self.recorded = self.hr;
                self.removing = true;
            } else {
                self.spec_changed();
            }
        } else {
            self.recorded = self.hr;
            self.branches.push((c.branch.clone(), sha.clone()));
        }
        Ok(sha)
    }

    async fn merge(&mut self, m: &Merge) -> Result<String, String> {
        let sha = self.next_sha();
        self.branches.retain(|(b, _)| *b != m.from);
        self.main_head = sha.clone();
        self.spec_changed();
        Ok(sha)
    }

    async fn reconcile(&mut self, _r: &Reconcile) -> Result<(), String> {
        Ok(())
    }

    async fn wait(&mut self, w: &Wait) -> Result<String, String> {
        let within = w.within;
        let now = rfc3339(self.now());
        match &w.condition {
            Condition::SourceAtHead { name, .. } => {
                let mut steps = Vec::new();
                if self.source_at != self.main_head {
                    steps.push(step("GET", GIT, git_at(&self.source_at)));
                }
                steps.push(step("GET", GIT, git_at(&self.main_head)));
                self.source_at = self.main_head.clone();
                let (client, server) = run_script(steps);
                let r = waits::source_at_head(&client, name, "main", &self.main_head, within).await;
                finish(client, server).await?;
                r
            }
            Condition::HelmReleaseReady { name, namespace } => {
                let g = self.hr.ok_or("no HelmRelease")?;
                let steps = match self.recorded {
                    // after a commit: the stale Ready of the old spec, the upgrade, Ready on the new generation
                    Some(r) if r < g => vec![
                        step("GET", HR, ready(r, "2026-12-01T09:58:00Z")),
                        step(
                            "GET",
                            HR,
                            helmrelease(
                                g,
                                g,
                                Some(r),
                                (
                                    "Unknown",
                                    "Progressing",
                                    "Running 'upgrade' action with timeout of 5m0s",
                                    &now,
                                ),
                            ),
                        ),
                        step("GET", HR, ready(g, &now)),
                    ],
                    _ => vec![step("GET", HR, ready(g, "2026-12-01T09:58:00Z"))],
                };
                let (client, server) = run_script(steps);
                let r =
                    waits::helmrelease_ready(&client, namespace, name, self.recorded, within).await;
                finish(client, server).await?;
                r
            }
            Condition::HelmReleaseProgressing {
                name,
                namespace,
                message,
                held_for,
            } => {
                let g = self.hr.ok_or("no HelmRelease")?;
                let attempted = self.recorded.unwrap_or(g).min(g);
                let steps = match (held_for, self.install_since) {
                    (Some(held), Some(since)) => {
                        // polled every 3 s until the condition is `held` old
                        let age = self.now().duration_since(since).as_millis();
                        let need = i128::try_from(held.as_millis()).unwrap_or(i128::MAX);
                        let polls = if age >= need {
                            1
                        } else {
                            usize::try_from((need - age + 2999) / 3000).unwrap_or(1) + 1
                        };
                        let hr = helmrelease(
                            g,
                            attempted,
                            None,
                            ("Unknown", "Progressing", INSTALL, &rfc3339(since)),
                        );
                        (0..polls).map(|_| step("GET", HR, hr.clone())).collect()
                    }
                    _ => {
                        // the chart is fetched first, then the install starts (3 s later)
                        let since = self.now() + jiff::SignedDuration::from_secs(3);
                        self.install_since = Some(since);
                        vec![
                            step(
                                "GET",
                                HR,
                                helmrelease(
                                    g,
                                    g,
                                    None,
                                    (
                                        "False",
                                        "SourceNotReady",
                                        "HelmChart 'headlamp/headlamp-headlamp' is not ready: latest generation of object has not been reconciled",
                                        &now,
                                    ),
                                ),
                            ),
                            step(
                                "GET",
                                HR,
                                helmrelease(
                                    g,
                                    g,
                                    None,
                                    ("Unknown", "Progressing", INSTALL, &rfc3339(since)),
                                ),
                            ),
                        ]
                    }
                };
                let (client, server) = run_script(steps);
                let r = waits::helmrelease_progressing(
                    &client, namespace, name, message, *held_for, within,
                )
                .await;
                finish(client, server).await?;
                r
            }
            Condition::HelmReleaseQueued { name, namespace } => {
                let g = self.hr.ok_or("no HelmRelease")?;
                let recorded = self.recorded.ok_or("no generation recorded")?;
                let since = self.install_since.ok_or("no install running")?;
                let steps = vec![
                    // the commit has not reached the HelmRelease yet, then it has, behind the install
                    step(
                        "GET",
                        HR,
                        helmrelease(
                            recorded,
                            recorded,
                            None,
                            ("Unknown", "Progressing", INSTALL, &rfc3339(since)),
                        ),
                    ),
                    step(
                        "GET",
                        HR,
                        helmrelease(
                            g,
                            recorded,
                            None,
                            ("Unknown", "Progressing", INSTALL, &rfc3339(since)),
                        ),
                    ),
                ];
                let (client, server) = run_script(steps);
                let r = waits::helmrelease_queued(&client, namespace, name, recorded, within).await;
                finish(client, server).await?;
                r
            }
            Condition::HelmReleaseAbsent { name, namespace } => {
                let g = self.hr.ok_or("no HelmRelease")?;
                let steps = vec![
                    step("GET", HR, ready(g, "2026-12-01T09:58:00Z")),
                    step("GET", DEPLOY, deployment(1, true, true)),
                    step_status(
                        "GET",
                        HR,
                        404,
                        status(404, "NotFound", "helmreleases \"headlamp\" not found"),
                    ),
                    step_status(
                        "GET",
                        DEPLOY,
                        404,
                        status(404, "NotFound", "deployments.apps \"headlamp\" not found"),
                    ),
                ];
                let (client, server) = run_script(steps);
                let r = waits::helmrelease_absent(&client, namespace, name, within).await;
                finish(client, server).await?;
                self.hr = None;
                self.removing = false;
                r
            }
            Condition::DeploymentAvailable { name, namespace } => {
                let steps = vec![
                    step("GET", DEPLOY, deployment(2, false, true)),
                    step("GET", DEPLOY, deployment(2, true, true)),
                ];
                let (client, server) = run_script(steps);
                let r = live::deployment_available(&client, namespace, name, within)
                    .await
                    .map(|()| "Available".to_string());
                finish(client, server).await?;
                r
            }
            Condition::DeploymentMount {
                name,
                namespace,
                mount_path,
                present,
            } => {
                let home = *present && mount_path == "/home/headlamp";
                let (client, server) =
                    run_script(vec![step("GET", DEPLOY, deployment(2, true, home))]);
                let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
                    kube::Api::namespaced(client, namespace);
                let d = api.get_opt(name).await.map_err(|e| e.to_string())?;
                // the live step's reading (live.rs `Condition::DeploymentMount`)
                super::observe_deployment(namespace, name, d.as_ref());
                finish(api, server).await?;
                match d {
                    Some(d) if crate::checks::deployment_mounts(&d, mount_path) == *present => {
                        Ok("as expected".into())
                    }
                    _ => Err("mount not as expected".into()),
                }
            }
            Condition::PodCrashLoop {
                namespace,
                selector,
                log,
            } => {
                let name = "headlamp-5c8d7f9b6d-q2w4x";
                let exited = json!({"terminated": {"exitCode": 2, "reason": "Error",
                    "startedAt": "2026-12-01T10:01:10Z", "finishedAt": "2026-12-01T10:01:10Z"}});
                let steps = vec![
                    step(
                        "GET",
                        PODS,
                        list(vec![pod(
                            name,
                            0,
                            json!({"waiting": {"reason": "ContainerCreating"}}),
                            json!({}),
                        )]),
                    ),
                    step(
                        "GET",
                        PODS,
                        list(vec![pod(
                            name,
                            3,
                            json!({"waiting": {"reason": "CrashLoopBackOff",
                                "message": "back-off 40s restarting failed container=headlamp"}}),
                            exited,
                        )]),
                    ),
                    step_text(
                        "GET",
                        &format!("/api/v1/namespaces/headlamp/pods/{name}/log?"),
                        &format!(
                            "{{\"level\":\"error\",\"error\":\"mkdir /home/headlamp/.config: read-only file system\",\"message\":\"creating plugins directory\"}}\n{log}\nUsage of /headlamp/headlamp-server:\n"
                        ),
                    ),
                ];
                let (client, server) = run_script(steps);
                let r = waits::pod_crash_loop(&client, namespace, selector, log, within).await;
                finish(client, server).await?;
                r
            }
            Condition::PodOutcome {
                name,
                namespace,
                expect,
                ..
            } => {
                let snap = match expect {
                    // feature-branch breaks main as readonly-home does (its own snapshot is of the fixed state)
                    crate::startup::OutcomeKind::FatalCrash => match SCENARIO.with(Clone::clone) {
                        s if s == "feature-branch" => "readonly-home".to_string(),
                        s => s,
                    },
                    crate::startup::OutcomeKind::RunsWithWarnings => {
                        "readonly-home-tmp-only".to_string()
                    }
                    crate::startup::OutcomeKind::Clean => "healthy".to_string(),
                };
                let dir = project_root().join("fixtures/snapshots").join(&snap);
                let predicted = predict_from_snapshot(&dir)?;
                let view = crate::view::SnapshotView::open(&dir).map_err(|e| e.to_string())?;
                let (client, _server) = crate::view::fake::FakeApi::new(view).start();
                let live = crate::view::LiveView::new(client, "e2e");
                outcome::wait_outcome(
                    &live,
                    namespace,
                    name,
                    &predicted,
                    within,
                    Duration::from_secs(3),
                )
                .await
            }
        }
    }

    async fn doctor(&mut self, d: &DoctorStep) -> Result<Vec<Finding>, String> {
        Ok(d.expect
            .iter()
            .map(|id| Finding::new(id, d.severities.get(id).copied().unwrap_or(Severity::Error)))
            .collect())
    }

    async fn unstick(&mut self, _u: &UnstickStep) -> Result<Duration, String> {
        self.recorded = None;
        Ok(Duration::from_secs(95))
    }

    async fn check(&mut self, _c: Check) -> Vec<(String, Result<(), String>)> {
        vec![("stand-in".into(), Ok(()))]
    }

    async fn collect_artifacts(&mut self, scenario: &str) -> Result<PathBuf, String> {
        Err(format!(
            "the mocked run of {scenario} collects no artifacts"
        ))
    }

    async fn reset(&mut self, _scenario: &str) -> Result<(), String> {
        Ok(())
    }
}

tokio::task_local! {
    /// The scenario being run (its fatalCrash snapshot has its name).
    static SCENARIO: String;
}

/// Lint's model on the Deployment of a snapshot (what `predict_dir` predicts from the rendered chart).
fn predict_from_snapshot(dir: &std::path::Path) -> Result<crate::startup::PodOutcome, String> {
    let text = std::fs::read_to_string(dir.join("headlamp/deployment/headlamp.yaml"))
        .map_err(|e| e.to_string())?;
    let d: Value = serde_norway::from_str(&text).map_err(|e| e.to_string())?;
    let spec = &d["spec"]["template"]["spec"];
    let c = spec["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "headlamp"))
        .ok_or("no headlamp container")?;
    Ok(crate::startup::predict(c, spec).outcome())
}

/// The trace of one scenario's mocked run.
pub async fn mocked_trace(s: &Scenario) -> (Vec<u8>, Vec<runner::ScenarioResult>) {
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf(Arc::new(Mutex::new(Vec::new())));
    let started: Timestamp = START.parse().expect("a time");
    let tracer = Tracer::new(Box::new(buf.clone()), started, Source::Mocked, true, NOTE);
    let mut env = MockEnv::new(tracer.clone());
    let mut observer = tracer.clone();
    let results = SCENARIO
        .scope(
            s.name.clone(),
            tracer.scope(runner::run_all_observed(
                &mut env,
                std::slice::from_ref(s),
                RunOptions::default(),
                &mut observer,
            )),
        )
        .await;
    let bytes = buf.0.lock().expect("buffer").clone();
    (bytes, results)
}

/// Every scenario's mocked run passes, and its trace is the committed `fixtures/traces/<scenario>.jsonl`
/// (`HEADLAMP_E2E_BLESS=1` rewrites them), unless a live trace from a nightly was committed in its place.
#[tokio::test(start_paused = true)]
async fn the_committed_traces_are_what_the_mocked_runs_record() {
    let scenarios = crate::scenario::load_dir(&project_root().join("scenarios")).unwrap();
    assert_eq!(scenarios.len(), 6);
    let dir = project_root().join("fixtures/traces");
    let bless = std::env::var("HEADLAMP_E2E_BLESS").as_deref() == Ok("1");
    for s in &scenarios {
        let (trace, results) = mocked_trace(s).await;
        for r in &results {
            assert!(!r.failed(), "{}: {:#?}", s.name, r.assertions);
        }
        let path = dir.join(format!("{}.jsonl", s.name));
        // a real trace committed from a nightly (header source `live`) replaces the mocked one: kept as it is
        if let Ok(t) = super::replay::read(&path)
            && t.source() == "live"
        {
            eprintln!(
                "{}: a live trace, not rewritten by the mocked run",
                path.display()
            );
            continue;
        }
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &trace).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == trace,
            "{} differs from the mocked run's trace: run HEADLAMP_E2E_BLESS=1 cargo test -p headlamp-e2e-e2e --lib observe::trace::mocked and review the diff",
            path.display()
        );
    }
}
