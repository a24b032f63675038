//! "The expected outcome follows the chart under test": the e2e side of [`crate::startup`].
//!
//! [`predict_dir`] renders the HelmRelease as committed (the lint pipeline: same chart lookup, same `helm template`)
//! and predicts the Headlamp pod's outcome with lint's model; [`observe`] reads what the pods of the Deployment's
//! current ReplicaSet show (through a [`ClusterView`]: get/list/logs only); [`wait_outcome`] polls until the two
//! agree, and otherwise fails with "lint's model disagrees with the cluster: …". Every e2e run is thereby a check of
//! the static tier.
//!
//! Pod statuses are read as the kubelet writes them: a Headlamp that exits on a read-only /tmp shows
//! `lastState.terminated: {exitCode: 0, reason: Completed}` and `state.waiting.reason: CrashLoopBackOff`
//! (FACTS.md, Headlamp section); a Deployment's current ReplicaSet carries the Deployment's
//! `deployment.kubernetes.io/revision` annotation and its pods the ReplicaSet's `pod-template-hash` label.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::chart::{ChartStore, Helm};
use crate::gitops;
use crate::lint::{self, image};
use crate::startup::{self, OutcomeKind, PodOutcome, Verdict};
use crate::view::{self, ClusterView, DEPLOYMENT, POD, REPLICASET};

const REVISION: &str = "deployment.kubernetes.io/revision";

/// The Headlamp container of a pod spec (a Headlamp image, else the one named `headlamp`).
fn headlamp_container(spec: &Value) -> Option<&Value> {
    let containers = spec["containers"].as_array()?;
    containers
        .iter()
        .find(|c| image::is_headlamp_image(&image::parse_image(c["image"].as_str().unwrap_or(""))))
        .or_else(|| containers.iter().find(|c| c["name"] == "headlamp"))
}

/// Render the HelmReleases of `dir` (a GitOps tree, as lint reads it) and predict the outcome of Deployment
/// `namespace/name`. Returns the chart (`headlamp 0.41.0`) and the prediction.
pub async fn predict_dir(
    dir: &Path,
    store: &ChartStore,
    helm: &Helm,
    namespace: &str,
    name: &str,
) -> Result<(String, PodOutcome), String> {
    let tree = gitops::load(dir).map_err(|e| e.to_string())?;
    let input = lint::prepare(tree, store, Some(helm))
        .await
        .map_err(|e| format!("rendering {}: {e}", dir.display()))?;
    for r in &input.releases {
        for o in &r.rendered {
            if o.kind() != "Deployment"
                || o.name() != name
                || o.namespace().unwrap_or(&r.namespace) != namespace
            {
                continue;
            }
            let Some((_, spec)) = lint::pod_spec(o) else {
                continue;
            };
            let Some(c) = headlamp_container(spec) else {
                continue;
            };
            let chart = r
                .chart
                .as_ref()
                .map(|c| format!("{} {}", c.name, c.version))
                .unwrap_or_else(|| r.chart_name.clone());
            return Ok((chart, startup::predict(c, spec).outcome()));
        }
    }
    let why: Vec<String> = input
        .problems
        .iter()
        .chain(input.releases.iter().flat_map(|r| r.problems.iter()))
        .map(|f| format!("{} {}: {}", f.rule, f.object, f.message))
        .collect();
    Err(format!(
        "no HelmRelease in {} renders Deployment {namespace}/{name} with a Headlamp container{}",
        dir.display(),
        if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        }
    ))
}

/// Does the prediction say what the scenario states for the pinned chart (`expect`, `lines` as substrings of the
/// predicted `message: error` lines in order, `exit_code`)?
pub fn matches_spec(
    predicted: &PodOutcome,
    expect: OutcomeKind,
    lines: &[String],
    exit_code: Option<i32>,
) -> Result<(), String> {
    if predicted.kind() != expect {
        return Err(format!(
            "the model predicts {}, the scenario states {expect}",
            predicted.describe()
        ));
    }
    let shown: Vec<String> = predicted.lines().iter().map(|l| l.display()).collect();
    let mut from = 0;
    for want in lines {
        match shown[from..].iter().position(|s| s.contains(want.as_str())) {
            Some(i) => from += i + 1,
            None => {
                return Err(format!(
                    "the model predicts {}, which has no line `{want}` after the ones before it",
                    predicted.describe()
                ));
            }
        }
    }
    if let (Some(want), PodOutcome::FatalCrash { exit_code: got, .. }) = (exit_code, predicted)
        && *got != Some(want)
    {
        return Err(format!(
            "the model predicts exit code {got:?}, the scenario states {want}"
        ));
    }
    Ok(())
}

/// The pods of the Deployment's current ReplicaSet (same revision), not being deleted.
pub fn current_pods<'a>(
    deployment: &Value,
    replicasets: &[Value],
    pods: &'a [Value],
) -> Result<Vec<&'a Value>, String> {
    let name = view::name_of(deployment);
    let generation = deployment["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = deployment["status"]["observedGeneration"]
        .as_i64()
        .unwrap_or(0);
    if observed < generation {
        return Err(format!(
            "Deployment {name} not rolled out yet (generation {generation}, observed {observed})"
        ));
    }
    let revision = deployment["metadata"]["annotations"][REVISION].as_str();
    let uid = deployment["metadata"]["uid"].as_str();
    let rs = replicasets.iter().find(|rs| {
        let owned = rs["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| o["kind"] == "Deployment" && (uid.is_none() || o["uid"].as_str() == uid));
        owned && revision.is_some() && rs["metadata"]["annotations"][REVISION].as_str() == revision
    });
    let Some(rs) = rs else {
        return Err(format!(
            "no ReplicaSet of Deployment {name} at revision {}",
            revision.unwrap_or("?")
        ));
    };
    let hash = rs["metadata"]["labels"]["pod-template-hash"].as_str();
    Ok(pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| hash.is_some() && p["metadata"]["labels"]["pod-template-hash"].as_str() == hash)
        .collect())
}

/// What a pod's Headlamp container status says, before its log is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// It terminated: exit code and reason, and whether that run's log is the `previous` one.
    Exited {
        container: String,
        exit_code: i32,
        reason: Option<String>,
        previous: bool,
    },
    /// Running, Ready, never restarted.
    Running {
        container: String,
    },
    Pending(String),
}

/// Read a pod's Headlamp container status as the kubelet writes it.
pub fn pod_state(pod: &Value) -> PodState {
    let name = view::name_of(pod);
    let Some(c) = headlamp_container(&pod["spec"]) else {
        return PodState::Pending(format!("pod {name} has no Headlamp container"));
    };
    let cname = c["name"].as_str().unwrap_or("").to_string();
    let Some(status) = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"].as_str() == Some(cname.as_str()))
    else {
        return PodState::Pending(format!(
            "pod {name}: {} (no container status yet)",
            pod["status"]["phase"].as_str().unwrap_or("Pending")
        ));
    };
    let exited = |t: &Value, previous: bool| {
        t["exitCode"].as_i64().map(|code| PodState::Exited {
            container: cname.clone(),
            exit_code: code as i32,
            reason: t["reason"].as_str().map(str::to_string),
            previous,
        })
    };
    if let Some(s) = exited(&status["lastState"]["terminated"], true) {
        return s;
    }
    if let Some(s) = exited(&status["state"]["terminated"], false) {
        return s;
    }
    let restarts = status["restartCount"].as_i64().unwrap_or(0);
    if status["state"]["running"].is_object() && status["ready"] == true && restarts == 0 {
        return PodState::Running { container: cname };
    }
    let waiting = status["state"]["waiting"]["reason"].as_str().unwrap_or(
        if status["state"]["running"].is_object() {
            "running, not Ready yet"
        } else {
            "starting"
        },
    );
    PodState::Pending(format!("pod {name}: {waiting}, {restarts} restarts"))
}

/// What the Deployment's current pods show: a crash wins over a running pod, which wins over a pending one.
pub async fn observe(
    view: &dyn ClusterView,
    namespace: &str,
    name: &str,
) -> Result<startup::Observed, String> {
    let err = |e: view::ViewError| e.to_string();
    let Some(deployment) = view
        .get(&DEPLOYMENT, Some(namespace), name)
        .await
        .map_err(err)?
    else {
        return Ok(startup::Observed::Pending(format!(
            "Deployment {namespace}/{name} not found"
        )));
    };
    let replicasets = view.list(&REPLICASET, Some(namespace)).await.map_err(err)?;
    let pods = view.list(&POD, Some(namespace)).await.map_err(err)?;
    let current = match current_pods(&deployment, &replicasets, &pods) {
        Ok(c) => c,
        Err(state) => return Ok(startup::Observed::Pending(state)),
    };
    super::trace::observe_pod_values(namespace, &current);
    if current.is_empty() {
        return Ok(startup::Observed::Pending(format!(
            "no pod of Deployment {namespace}/{name}'s current ReplicaSet yet"
        )));
    }
    let mut running = None;
    let mut pending = Vec::new();
    for pod in current {
        let pod_name = view::name_of(pod).to_string();
        match pod_state(pod) {
            PodState::Exited {
                container,
                exit_code,
                reason,
                previous,
            } => {
                match view
                    .logs(namespace, &pod_name, &container, previous)
                    .await
                    .map_err(err)?
                {
                    Some(log) => {
                        return Ok(startup::Observed::Crashed {
                            pod: pod_name,
                            exit_code,
                            reason,
                            log,
                        });
                    }
                    None => {
                        pending.push(format!("pod {pod_name}: exited, its log not readable yet"))
                    }
                }
            }
            PodState::Running { container } => {
                if running.is_none() {
                    let log = view
                        .logs(namespace, &pod_name, &container, false)
                        .await
                        .map_err(err)?
                        .unwrap_or_default();
                    running = Some(startup::Observed::Running { pod: pod_name, log });
                }
            }
            PodState::Pending(s) => pending.push(s),
        }
    }
    Ok(running.unwrap_or_else(|| startup::Observed::Pending(pending.join("; "))))
}

/// Poll [`observe`] until it agrees with `predicted`, at most `within`. A disagreement is not final while the
/// deadline runs (a rollout still shows the previous pods); at the deadline the last disagreement is the error.
pub async fn wait_outcome(
    view: &dyn ClusterView,
    namespace: &str,
    name: &str,
    predicted: &PodOutcome,
    within: Duration,
    poll: Duration,
) -> Result<String, String> {
    let started = tokio::time::Instant::now();
    super::trace::input(serde_json::json!({ "predicted": predicted }));
    loop {
        let observed = observe(view, namespace, name).await?;
        super::trace::observe_outcome(namespace, name, &observed, predicted);
        let last = match startup::compare(predicted, &observed) {
            Verdict::Agrees(m) => return Ok(m),
            Verdict::Disagrees(m) => m,
            Verdict::NotYet(state) => format!(
                "Deployment {namespace}/{name} showing {}: not within {}s: last seen {state}",
                predicted.kind(),
                within.as_secs()
            ),
        };
        if started.elapsed() >= within {
            return Err(if last.starts_with(startup::DISAGREES) {
                format!("{last} (still so after {}s)", within.as_secs())
            } else {
                last
            });
        }
        tokio::time::sleep(
            poll.min(
                within
                    .saturating_sub(started.elapsed())
                    .max(Duration::from_millis(100)),
            ),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::project_root;
    use crate::view::SnapshotView;
    use serde_json::json;

    fn snapshot(name: &str) -> SnapshotView {
        SnapshotView::open(&project_root().join("fixtures/snapshots").join(name)).unwrap()
    }

    fn predicted_crash() -> PodOutcome {
        let c = json!({"name": "headlamp", "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
            "securityContext": {"readOnlyRootFilesystem": true}});
        startup::predict(&c, &json!({})).outcome()
    }

    fn predicted_tmp_only() -> PodOutcome {
        let c = json!({"name": "headlamp", "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
            "securityContext": {"readOnlyRootFilesystem": true},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]});
        startup::predict(&c, &json!({"volumes": [{"name": "tmp", "emptyDir": {}}]})).outcome()
    }

    /// The snapshots are shaped as the kubelet writes pods: the /tmp crash (exit code 0, Completed, CrashLoopBackOff,
    /// the .config lines first) agrees with the model; the running pod with the .config lines agrees with /tmp-only.
    #[tokio::test]
    async fn observe_reads_the_real_states_from_snapshots() {
        let crash = observe(&snapshot("readonly-home"), "headlamp", "headlamp")
            .await
            .unwrap();
        assert!(
            matches!(&crash, startup::Observed::Crashed { exit_code: 0, reason: Some(r), .. } if r == "Completed"),
            "{crash:?}"
        );
        assert!(matches!(
            startup::compare(&predicted_crash(), &crash),
            Verdict::Agrees(_)
        ));
        let running = observe(&snapshot("readonly-home-tmp-only"), "headlamp", "headlamp")
            .await
            .unwrap();
        assert!(
            matches!(&running, startup::Observed::Running { .. }),
            "{running:?}"
        );
        assert!(matches!(
            startup::compare(&predicted_tmp_only(), &running),
            Verdict::Agrees(_)
        ));
        let Verdict::Disagrees(m) = startup::compare(&predicted_crash(), &running) else {
            panic!()
        };
        assert!(
            m.starts_with("lint's model disagrees with the cluster"),
            "{m}"
        );
        let clean = observe(&snapshot("healthy"), "headlamp", "headlamp")
            .await
            .unwrap();
        assert!(matches!(
            startup::compare(&PodOutcome::Clean, &clean),
            Verdict::Agrees(_)
        ));
    }

    fn deployment(generation: i64, observed: i64, revision: &str) -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "headlamp", "uid": "d1", "generation": generation,
            "annotations": {REVISION: revision}}, "status": {"observedGeneration": observed}})
    }

    fn rs(name: &str, revision: &str, hash: &str) -> Value {
        json!({"kind": "ReplicaSet", "metadata": {"name": name, "annotations": {REVISION: revision},
            "labels": {"pod-template-hash": hash},
            "ownerReferences": [{"kind": "Deployment", "name": "headlamp", "uid": "d1", "controller": true}]}})
    }

    fn pod(name: &str, hash: &str, status: Value) -> Value {
        json!({"kind": "Pod", "metadata": {"name": name, "labels": {"pod-template-hash": hash}},
            "spec": {"containers": [{"name": "headlamp", "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0"}]},
            "status": status})
    }

    #[test]
    fn only_the_current_replicaset_counts() {
        let pods = [pod("old", "aaa", json!({})), pod("new", "bbb", json!({}))];
        let rss = [
            rs("headlamp-aaa", "1", "aaa"),
            rs("headlamp-bbb", "2", "bbb"),
        ];
        let current = current_pods(&deployment(2, 2, "2"), &rss, &pods).unwrap();
        assert_eq!(current.len(), 1);
        assert_eq!(view::name_of(current[0]), "new");
        // not rolled out yet
        let e = current_pods(&deployment(3, 2, "2"), &rss, &pods).unwrap_err();
        assert!(e.contains("not rolled out yet"), "{e}");
        let mut deleting = pods.clone();
        deleting[1]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z".into();
        assert!(
            current_pods(&deployment(2, 2, "2"), &rss, &deleting)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn pod_states_as_the_kubelet_writes_them() {
        // after the first exit: terminated, exit code 0, reason Completed, no restart yet
        let first = pod(
            "p",
            "h",
            json!({"phase": "Running", "containerStatuses": [{"name": "headlamp",
            "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        assert_eq!(
            pod_state(&first),
            PodState::Exited {
                container: "headlamp".into(),
                exit_code: 0,
                reason: Some("Completed".into()),
                previous: false
            }
        );
        // crashlooping: the previous run's exit, waiting CrashLoopBackOff
        let looping = pod(
            "p",
            "h",
            json!({"phase": "Running", "containerStatuses": [{"name": "headlamp",
            "ready": false, "restartCount": 3,
            "lastState": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=headlamp"}}}]}),
        );
        assert!(matches!(
            pod_state(&looping),
            PodState::Exited {
                exit_code: 0,
                previous: true,
                ..
            }
        ));
        let ready = pod(
            "p",
            "h",
            json!({"phase": "Running", "containerStatuses": [{"name": "headlamp",
            "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}),
        );
        assert_eq!(
            pod_state(&ready),
            PodState::Running {
                container: "headlamp".into()
            }
        );
        let starting = pod(
            "p",
            "h",
            json!({"phase": "Pending", "containerStatuses": [{"name": "headlamp",
            "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert!(
            matches!(pod_state(&starting), PodState::Pending(s) if s.contains("ContainerCreating"))
        );
    }

    #[test]
    fn the_scenario_spec_is_checked_against_the_prediction() {
        let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let crash = predicted_crash();
        let spec = lines(&[
            "creating plugins directory",
            "creating user-plugins directory",
            "Failed to create static dir: mkdir /tmp/.headlamp",
        ]);
        assert_eq!(
            matches_spec(&crash, OutcomeKind::FatalCrash, &spec, Some(0)),
            Ok(())
        );
        assert!(matches_spec(&crash, OutcomeKind::FatalCrash, &spec, Some(1)).is_err());
        assert!(matches_spec(&crash, OutcomeKind::RunsWithWarnings, &spec, None).is_err());
        // the write-up's story (a crash on the .config line) is not what the model predicts
        let e = matches_spec(
            &crash,
            OutcomeKind::FatalCrash,
            &lines(&["Failed to create static dir", "creating plugins directory"]),
            None,
        )
        .unwrap_err();
        assert!(e.contains("after the ones before it"), "{e}");
    }

    /// The live predicate over the API (tower-test mock, via the fake API server of the view tests): the wait ends
    /// when the current pod agrees, and fails with the model's disagreement at the deadline.
    #[tokio::test(start_paused = true)]
    async fn wait_outcome_agrees_or_reports_the_disagreement() {
        use crate::view::LiveView;
        use crate::view::fake::FakeApi;
        let (client, server) = FakeApi::new(snapshot("readonly-home")).start();
        let live = LiveView::new(client, "e2e");
        let ok = wait_outcome(
            &live,
            "headlamp",
            "headlamp",
            &predicted_crash(),
            Duration::from_secs(60),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
        assert!(ok.contains("exit code 0"), "{ok}");
        let e = wait_outcome(
            &live,
            "headlamp",
            "headlamp",
            &PodOutcome::Clean,
            Duration::from_secs(10),
            Duration::from_secs(3),
        )
        .await
        .unwrap_err();
        assert!(
            e.starts_with("lint's model disagrees with the cluster: it predicts clean; pod headlamp-7d9c6b8f5-x2x7q exits at start (Completed, exit code 0)"),
            "{e}"
        );
        assert!(e.contains("still so after 10s"), "{e}");
        let requests = server.finish().await;
        assert!(
            requests.iter().any(|r| r.uri.contains("previous=true")),
            "{requests:?}"
        );
    }
}
