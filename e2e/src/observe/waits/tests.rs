//! The live predicates against a scripted API server (test-support/src/mock_api.rs), on objects shaped as helm-controller v1.6.3,
//! kustomize-controller v1.9.4, source-controller v1.9.4 and the kubelet write them.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::mock_api::{mock_client, status, step, step_status, step_text};

const HR: &str = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/headlamp/helmreleases/headlamp";
const HRS: &str = "/apis/helm.toolkit.fluxcd.io/v2/helmreleases";
const DEPLOY: &str = "/apis/apps/v1/namespaces/headlamp/deployments/headlamp";
const PODS: &str = "/api/v1/namespaces/headlamp/pods?";
const POD: &str = "headlamp-5c8d7f9b6d-q2w4x";
const GIT: &str =
    "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system";
const KS: &str = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/";
const CRD: &str =
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ingressroutes.traefik.io";
const SHA: &str = "5f2c0a8e1d4b7c9a3e6f8b1d2c4a7e9f0b3d5c8a";
const OLD_SHA: &str = "0b3d5c8a5f2c0a8e1d4b7c9a3e6f8b1d2c4a7e9f";
const INSTALL: &str = "Running 'install' action with timeout of 10m0s";

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn ago(secs: i64) -> String {
    rfc3339(Timestamp::now() - SignedDuration::from_secs(secs))
}

/// A first install of the HelmRelease as helm-controller v1.6.3 leaves it while the install runs: Reconciling and
/// Ready=Unknown `Progressing` with the action message (atomic_release.go), lastAttemptedGeneration set before the
/// action (helmrelease_controller.go), no status.observedGeneration yet (written when the reconcile ends).
/// `generation` is metadata.generation now (raised by kustomize-controller when a new spec is applied).
fn installing(generation: i64, attempted: i64, since: &str) -> Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "headlamp", "namespace": "headlamp", "generation": generation,
                     "resourceVersion": "4127", "uid": "c0a1e0f4-3b1d-4c55-9f1e-2a7d0c9b8e61",
                     "finalizers": ["finalizers.fluxcd.io"],
                     "labels": {"kustomize.toolkit.fluxcd.io/name": "headlamp",
                                "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
        "spec": {"interval": "10m", "timeout": "10m",
                 "chart": {"spec": {"chart": "headlamp", "version": "0.41.0",
                           "sourceRef": {"kind": "HelmRepository", "name": "headlamp"}}}},
        "status": {
            "helmChart": "headlamp/headlamp-headlamp",
            "lastAttemptedGeneration": attempted,
            "lastAttemptedRevision": "0.41.0",
            "lastAttemptedConfigDigest": "sha256:3c9e1f0a7d2b4c6e8f0a1b3d5e7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f",
            "lastAttemptedReleaseAction": "install",
            "storageNamespace": "headlamp",
            "conditions": [
                {"type": "Reconciling", "status": "True", "reason": "Progressing", "message": INSTALL,
                 "lastTransitionTime": since, "observedGeneration": attempted},
                {"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": INSTALL,
                 "lastTransitionTime": since, "observedGeneration": attempted}
            ]
        }
    })
}

/// The same release once an install succeeded: Ready=True, Released=True, observedGeneration written.
fn installed(generation: i64, observed: i64) -> Value {
    let mut v = installing(generation, observed, "2026-12-01T10:01:12Z");
    v["status"]["observedGeneration"] = json!(observed);
    v["status"]["lastAppliedRevision"] = json!("0.41.0");
    v["status"]["history"] = json!([{"name": "headlamp", "namespace": "headlamp", "version": 1,
        "status": "deployed", "chartName": "headlamp", "chartVersion": "0.41.0", "appVersion": "0.41.0",
        "configDigest": "sha256:3c9e1f0a7d2b4c6e8f0a1b3d5e7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f",
        "digest": "sha256:77ad0c1f9e2b3d4c5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b",
        "firstDeployed": "2026-12-01T10:01:20Z", "lastDeployed": "2026-12-01T10:01:20Z"}]);
    let msg = "Helm install succeeded for release headlamp/headlamp.v1 with chart headlamp@0.41.0";
    v["status"]["conditions"] = json!([
        {"type": "Ready", "status": "True", "reason": "InstallSucceeded", "message": msg,
         "lastTransitionTime": "2026-12-01T10:01:40Z", "observedGeneration": observed},
        {"type": "Released", "status": "True", "reason": "InstallSucceeded", "message": msg,
         "lastTransitionTime": "2026-12-01T10:01:40Z", "observedGeneration": observed}
    ]);
    v
}

/// `status.conditions` while helm-controller fetches the chart of a new release (before the action).
fn source_not_ready() -> Value {
    let mut v = installing(1, 1, "2026-12-01T10:00:58Z");
    v["status"]["conditions"] = json!([
        {"type": "Reconciling", "status": "True", "reason": "Progressing",
         "message": "Fulfilling prerequisites", "lastTransitionTime": "2026-12-01T10:00:58Z", "observedGeneration": 1},
        {"type": "Ready", "status": "False", "reason": "SourceNotReady",
         "message": "HelmChart 'headlamp/headlamp-headlamp' is not ready: latest generation of object has not been reconciled",
         "lastTransitionTime": "2026-12-01T10:00:58Z", "observedGeneration": 1}
    ]);
    v
}

fn not_found(what: &str) -> Value {
    status(404, "NotFound", &format!("{what} not found"))
}

// ---- held for a duration --------------------------------------------------------------------------------------

#[test]
fn progressing_held_for_measures_from_the_ready_transition() {
    let now: Timestamp = "2026-12-01T10:02:00Z".parse().unwrap();
    let hr = installing(1, 1, "2026-12-01T10:01:12Z");
    // without heldFor: the message is enough
    assert!(judge_progressing(&hr, "Running 'install' action", None, now).is_ok());
    // 48 s held: enough for 30 s, not for 60 s
    let ok = judge_progressing(&hr, INSTALL, Some(Duration::from_secs(30)), now).unwrap();
    assert!(ok.contains("held for 48s"), "{ok}");
    let e = judge_progressing(&hr, INSTALL, Some(Duration::from_secs(60)), now).unwrap_err();
    assert!(e.contains("held for 48s of 1m"), "{e}");
    // another message, or Ready=False / True, never counts
    assert!(
        judge_progressing(&hr, "Running 'upgrade' action", None, now).is_err(),
        "wrong action"
    );
    assert!(judge_progressing(&source_not_ready(), INSTALL, None, now).is_err());
    assert!(judge_progressing(&installed(1, 1), INSTALL, None, now).is_err());
    let mut bad = hr.clone();
    bad["status"]["conditions"][1]["lastTransitionTime"] = json!("yesterday");
    let e = judge_progressing(&bad, INSTALL, Some(Duration::from_secs(1)), now).unwrap_err();
    assert!(e.contains("no readable lastTransitionTime"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn held_for_waits_until_the_condition_is_old_enough() {
    let (client, server) = mock_client(vec![
        step("GET", HR, source_not_ready()),
        step("GET", HR, installing(1, 1, &ago(5))),
        step("GET", HR, installing(1, 1, &ago(45))),
    ]);
    let seen = helmrelease_progressing(
        &client,
        "headlamp",
        "headlamp",
        INSTALL,
        Some(Duration::from_secs(30)),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert!(seen.contains("held for 45s"), "{seen}");
    drop(client);
    assert_eq!(server.await.unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn held_for_times_out_with_how_long_it_held() {
    // a condition that keeps transitioning (every read sees it fresh) never counts as held
    let steps = (0..4)
        .map(|_| step("GET", HR, installing(1, 1, &ago(0))))
        .collect();
    let (client, _server) = mock_client(steps);
    let e = helmrelease_progressing(
        &client,
        "headlamp",
        "headlamp",
        INSTALL,
        Some(Duration::from_secs(30)),
        Duration::from_secs(9),
    )
    .await
    .unwrap_err();
    assert!(
        e.starts_with("HelmRelease headlamp/headlamp progressing \"Running 'install' action with timeout of 10m0s\" for at least 30s: not within 9s: last seen Ready=Unknown Progressing"),
        "{e}"
    );
    assert!(e.contains("held for 0s of 30s"), "{e}");
}

// ---- queued ---------------------------------------------------------------------------------------------------

#[test]
fn queued_needs_a_newer_generation_behind_a_running_action() {
    // first install, fix not yet applied: generation 1 == recorded 1 (observedGeneration absent says nothing)
    let e = judge_queued(&installing(1, 1, "2026-12-01T10:01:12Z"), 1).unwrap_err();
    assert!(e.contains("not above 1"), "{e}");
    // the fix arrived (generation 2) while the install of generation 1 runs
    let ok = judge_queued(&installing(2, 1, "2026-12-01T10:01:12Z"), 1).unwrap();
    assert!(
        ok.contains("generation 2 (was 1 before the fix commit) waits behind the 'install' action (timeout 10m0s)"),
        "{ok}"
    );
    // helm-controller already started on the new generation: nothing queued
    let e = judge_queued(&installing(2, 2, "2026-12-01T10:03:00Z"), 1).unwrap_err();
    assert!(e.contains("already works on generation 2"), "{e}");
    // the action ended (Ready=True): nothing is queued behind it
    let e = judge_queued(&installed(2, 2), 1).unwrap_err();
    assert!(e.contains("no action is running"), "{e}");
    // Ready=False (prerequisites) is not a running action either
    let mut failed = source_not_ready();
    failed["metadata"]["generation"] = json!(2);
    assert!(judge_queued(&failed, 1).is_err());
}

#[tokio::test(start_paused = true)]
async fn generations_are_recorded_and_the_queue_is_waited_for() {
    let list = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmReleaseList",
        "metadata": {"resourceVersion": "4130"},
        "items": [installing(1, 1, "2026-12-01T10:01:12Z")]});
    let (client, server) = mock_client(vec![
        step("GET", HRS, list),
        step("GET", HR, installing(1, 1, "2026-12-01T10:01:12Z")),
        step("GET", HR, installing(2, 1, "2026-12-01T10:01:12Z")),
    ]);
    let recorded = helmrelease_generations(&client).await.unwrap();
    assert_eq!(
        recorded.get(&("headlamp".to_string(), "headlamp".to_string())),
        Some(&1)
    );
    let seen = helmrelease_queued(&client, "headlamp", "headlamp", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(seen.contains("waits behind the 'install' action"), "{seen}");
    drop(client);
    server.await.unwrap();
}

// ---- absent ---------------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn absent_waits_for_the_release_and_its_deployment() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "headlamp", "namespace": "headlamp", "generation": 1,
                     "deletionTimestamp": "2026-12-01T10:00:20Z"},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "headlamp"}},
                 "template": {"spec": {"containers": [{"name": "headlamp", "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0"}]}}}});
    let hr_gone = || {
        step_status(
            "GET",
            HR,
            404,
            not_found("helmreleases.helm.toolkit.fluxcd.io \"headlamp\""),
        )
    };
    let (client, server) = mock_client(vec![
        step("GET", HR, installed(1, 1)),
        step("GET", DEPLOY, deployment.clone()),
        hr_gone(),
        step("GET", DEPLOY, deployment),
        hr_gone(),
        step_status(
            "GET",
            DEPLOY,
            404,
            not_found("deployments.apps \"headlamp\""),
        ),
    ]);
    let seen = helmrelease_absent(&client, "headlamp", "headlamp", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(seen, "gone");
    drop(client);
    assert_eq!(server.await.unwrap().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn absent_fails_at_once_when_reading_is_forbidden() {
    let (client, _server) = mock_client(vec![step_status(
        "GET",
        HR,
        403,
        status(
            403,
            "Forbidden",
            "helmreleases.helm.toolkit.fluxcd.io \"headlamp\" is forbidden",
        ),
    )]);
    let e = helmrelease_absent(&client, "headlamp", "headlamp", Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        e.starts_with("reading HelmRelease headlamp/headlamp: 403"),
        "{e}"
    );
}

// ---- podCrashLoop ---------------------------------------------------------------------------------------------

/// A Headlamp pod as the kubelet reports it. `state` and `last` are the container's state and lastState.
fn pod(restarts: i32, ready: bool, state: Value, last: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": "headlamp", "uid": "5d1f0c7e-2a4b-4c9d-8e1f-3b5a7c9d1e2f",
                     "labels": {"app.kubernetes.io/name": "headlamp", "app.kubernetes.io/instance": "headlamp",
                                "pod-template-hash": "5c8d7f9b6d"}},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "headlamp", "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                            "lastTransitionTime": "2026-12-01T10:01:30Z",
                            "reason": if ready { Value::Null } else { json!("ContainersNotReady") }}],
            "containerStatuses": [{
                "name": "headlamp", "ready": ready, "started": ready, "restartCount": restarts,
                "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
                "imageID": "ghcr.io/headlamp-k8s/headlamp@sha256:4a1c9e0f7b2d3c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e",
                "containerID": "containerd://9b1f0c2e4a6d8f0b2c4e6a8d0f2b4c6e8a0d2f4b6c8e0a2d4f6b8c0e2a4d6f8b",
                "state": state,
                "lastState": last
            }]
        }
    })
}

fn pod_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "5120"}, "items": items})
}

/// Exit code 0 (reason Completed) of Headlamp v0.41.0 on a read-only /tmp (FACTS.md, "Headlamp").
fn completed() -> Value {
    json!({"terminated": {"exitCode": 0, "reason": "Completed",
        "startedAt": "2026-12-01T10:01:31Z", "finishedAt": "2026-12-01T10:01:31Z",
        "containerID": "containerd://1c3e5a7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c"}})
}

const FATAL_TMP: &str = "Failed to create static dir";
const LOG: &str = r#"{"level":"error","source":"/headlamp/backend/pkg/config/config.go","line":525,"error":"mkdir /home/headlamp/.config: read-only file system","time":"2026-12-01T10:01:31Z","message":"creating plugins directory"}
{"level":"error","source":"/headlamp/backend/cmd/headlamp.go","error":"mkdir /tmp/.headlamp3021554815: read-only file system","time":"2026-12-01T10:01:31Z","message":"Failed to create static dir"}
"#;

#[tokio::test(start_paused = true)]
async fn crashloop_with_exit_code_0_is_found_in_the_previous_log() {
    let log_path = format!("/api/v1/namespaces/headlamp/pods/{POD}/log?");
    let (client, server) = mock_client(vec![
        // first exit: terminated Completed, not restarted yet: not a crashloop
        step(
            "GET",
            PODS,
            pod_list(vec![pod(0, false, completed(), json!({}))]),
        ),
        // backing off after the second exit
        step(
            "GET",
            PODS,
            pod_list(vec![pod(
                1,
                false,
                json!({"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off 10s restarting failed container=headlamp pod={POD}_headlamp(5d1f0c7e-2a4b-4c9d-8e1f-3b5a7c9d1e2f)")}}),
                completed(),
            )]),
        ),
        step_text("GET", &log_path, LOG),
    ]);
    let seen = pod_crash_loop(
        &client,
        "headlamp",
        "app.kubernetes.io/name=headlamp",
        FATAL_TMP,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(seen, format!("{POD}/headlamp: {FATAL_TMP}"));
    drop(client);
    let seen = server.await.unwrap();
    assert!(
        seen[0]
            .uri
            .contains("labelSelector=app.kubernetes.io%2Fname%3Dheadlamp"),
        "{}",
        seen[0].uri
    );
    assert!(
        seen[2].uri.contains("previous=true") && seen[2].uri.contains("container=headlamp"),
        "{}",
        seen[2].uri
    );
    // the read is bounded: the last 200 lines of the run before
    assert!(seen[2].uri.contains("tailLines=200"), "{}", seen[2].uri);
}

#[tokio::test(start_paused = true)]
async fn crashloop_with_another_log_line_times_out_naming_the_pods() {
    let log_path = format!("/api/v1/namespaces/headlamp/pods/{POD}/log?");
    let looping = || {
        step(
            "GET",
            PODS,
            pod_list(vec![pod(
                3,
                false,
                json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}),
                completed(),
            )]),
        )
    };
    // two polls (t=0, t=3 >= within): each reads the previous then the current log
    let (client, _server) = mock_client(vec![
        looping(),
        step_text("GET", &log_path, LOG),
        step_text("GET", &log_path, ""),
        looping(),
        step_text("GET", &log_path, LOG),
        step_text("GET", &log_path, ""),
    ]);
    let e = pod_crash_loop(
        &client,
        "headlamp",
        "app.kubernetes.io/name=headlamp",
        "flag provided but not defined",
        Duration::from_secs(3),
    )
    .await
    .unwrap_err();
    assert!(
        e.contains(&format!(
            "last seen {POD} [headlamp=CrashLoopBackOff restarts=3]"
        )),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_ready_pod_is_not_a_crashloop() {
    let running = json!({"running": {"startedAt": "2026-12-01T10:01:31Z"}});
    let (client, _server) = mock_client(vec![
        step(
            "GET",
            PODS,
            pod_list(vec![pod(0, true, running.clone(), json!({}))]),
        ),
        step(
            "GET",
            PODS,
            pod_list(vec![pod(0, true, running, json!({}))]),
        ),
    ]);
    let e = pod_crash_loop(
        &client,
        "headlamp",
        "app.kubernetes.io/name=headlamp",
        FATAL_TMP,
        Duration::from_secs(3),
    )
    .await
    .unwrap_err();
    assert!(e.contains("headlamp=Ready restarts=0"), "{e}");
}

// ---- sourceAtHead ---------------------------------------------------------------------------------------------

/// A GitRepository as source-controller v1.9.4 writes it after storing an artifact.
fn git_at(sha: &str) -> Value {
    let rev = format!("main@sha1:{sha}");
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system", "generation": 1},
        "spec": {"interval": "1m0s", "ref": {"branch": "main"}, "timeout": "60s",
                 "url": "http://172.17.0.1:8419/fixtures"},
        "status": {
            "observedGeneration": 1,
            "artifact": {"digest": "sha256:9d3c1e7f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d",
                         "lastUpdateTime": "2026-12-01T10:00:41Z",
                         "path": format!("gitrepository/flux-system/flux-system/{sha}.tar.gz"),
                         "revision": rev, "size": 10240,
                         "url": format!("http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/flux-system/{sha}.tar.gz")},
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Succeeded",
                 "message": format!("stored artifact for revision '{rev}'"),
                 "lastTransitionTime": "2026-12-01T10:00:41Z", "observedGeneration": 1},
                {"type": "ArtifactInStorage", "status": "True", "reason": "Succeeded",
                 "message": format!("stored artifact for revision '{rev}'"),
                 "lastTransitionTime": "2026-12-01T10:00:41Z", "observedGeneration": 1}
            ]
        }
    })
}

#[tokio::test(start_paused = true)]
async fn source_at_head_waits_for_the_new_artifact() {
    let (client, server) = mock_client(vec![
        step("GET", GIT, git_at(OLD_SHA)),
        step("GET", GIT, git_at(SHA)),
    ]);
    let seen = source_at_head(&client, "flux-system", "main", SHA, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(seen, "at 5f2c0a8e");
    drop(client);
    server.await.unwrap();
    let steps = (0..2).map(|_| step("GET", GIT, git_at(OLD_SHA))).collect();
    let (client, _server) = mock_client(steps);
    let e = source_at_head(&client, "flux-system", "main", SHA, Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(
        e.starts_with("GitRepository flux-system/flux-system at main@5f2c0a8e: not within 3s: last seen at 0b3d5c8a"),
        "{e}"
    );
    let mut fresh = git_at(SHA);
    fresh["status"] = json!({});
    assert_eq!(judge_source(&fresh, SHA).unwrap_err(), "no artifact yet");
}

// ---- reset ----------------------------------------------------------------------------------------------------

/// A Kustomization as kustomize-controller v1.9.4 writes it after applying `sha`.
fn kustomization(name: &str, generation: i64, observed: i64, sha: &str) -> Value {
    let rev = format!("main@sha1:{sha}");
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system", "generation": generation},
        "spec": {"interval": "1m", "path": "./apps/base/headlamp", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        "status": {
            "observedGeneration": observed,
            "lastAppliedRevision": rev,
            "lastAttemptedRevision": rev,
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                            "message": format!("Applied revision: {rev}"),
                            "lastTransitionTime": "2026-12-01T10:20:11Z", "observedGeneration": observed}]
        }
    })
}

#[test]
fn reset_judgements() {
    assert!(judge_kustomization_applied(&kustomization("headlamp", 1, 1, SHA), SHA).is_ok());
    let e =
        judge_kustomization_applied(&kustomization("headlamp", 1, 1, OLD_SHA), SHA).unwrap_err();
    assert!(e.contains("not the reset commit 5f2c0a8e"), "{e}");
    let e = judge_kustomization_applied(&kustomization("headlamp", 2, 1, SHA), SHA).unwrap_err();
    assert!(e.contains("not Ready for its generation"), "{e}");
    // a Ready=True left from generation 2 while the reset made generation 3
    let e = judge_helmrelease_settled(&installed(3, 2)).unwrap_err();
    assert!(
        e.starts_with("observedGeneration 2 for generation 3"),
        "{e}"
    );
    assert!(judge_helmrelease_settled(&installing(3, 3, "2026-12-01T10:20:12Z")).is_err());
    assert_eq!(
        judge_helmrelease_settled(&installed(3, 3)).unwrap(),
        "Ready at generation 3"
    );
}

#[tokio::test(start_paused = true)]
async fn reset_waits_for_the_reset_commit_and_the_new_generation() {
    let ks = |name: &str| format!("{KS}{name}");
    let (client, server) = mock_client(vec![
        // round 1: flux-system still at the scenario's last commit
        step(
            "GET",
            &ks("flux-system"),
            kustomization("flux-system", 1, 1, OLD_SHA),
        ),
        // round 2: flux-system applied, headlamp not yet
        step(
            "GET",
            &ks("flux-system"),
            kustomization("flux-system", 1, 1, SHA),
        ),
        step(
            "GET",
            &ks("headlamp"),
            kustomization("headlamp", 1, 1, OLD_SHA),
        ),
        // round 3: both applied, the HelmRelease's Ready is the old generation's (stale)
        step(
            "GET",
            &ks("flux-system"),
            kustomization("flux-system", 1, 1, SHA),
        ),
        step("GET", &ks("headlamp"), kustomization("headlamp", 1, 1, SHA)),
        step("GET", HR, installed(3, 2)),
        // round 4: settled
        step(
            "GET",
            &ks("flux-system"),
            kustomization("flux-system", 1, 1, SHA),
        ),
        step("GET", &ks("headlamp"), kustomization("headlamp", 1, 1, SHA)),
        step("GET", HR, installed(3, 3)),
    ]);
    let seen = reset_settled(
        &client,
        SHA,
        E2E_KUSTOMIZATIONS,
        "headlamp",
        "headlamp",
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(seen, "Ready at generation 3");
    drop(client);
    assert_eq!(server.await.unwrap().len(), 9);
}

#[tokio::test(start_paused = true)]
async fn reset_times_out_on_a_stale_ready() {
    let ks = |name: &str| format!("{KS}{name}");
    let round = || {
        vec![
            step(
                "GET",
                &ks("flux-system"),
                kustomization("flux-system", 1, 1, SHA),
            ),
            step("GET", &ks("headlamp"), kustomization("headlamp", 1, 1, SHA)),
            step("GET", HR, installed(3, 2)),
        ]
    };
    let (client, _server) = mock_client(round().into_iter().chain(round()).collect());
    let e = reset_settled(
        &client,
        SHA,
        E2E_KUSTOMIZATIONS,
        "headlamp",
        "headlamp",
        Duration::from_secs(3),
    )
    .await
    .unwrap_err();
    assert!(
        e.contains("not within 3s: last seen observedGeneration 2 for generation 3"),
        "{e}"
    );
}

// ---- Traefik CRDs ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn traefik_crds_are_waited_for_until_established() {
    let crd = |established: &str| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "ingressroutes.traefik.io", "generation": 1,
                         "labels": {"app.kubernetes.io/managed-by": "Helm"},
                         "annotations": {"meta.helm.sh/release-name": "traefik-crd", "meta.helm.sh/release-namespace": "kube-system"}},
            "spec": {"group": "traefik.io", "scope": "Namespaced",
                     "names": {"kind": "IngressRoute", "listKind": "IngressRouteList", "plural": "ingressroutes", "singular": "ingressroute"},
                     "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]},
            "status": {"acceptedNames": {"kind": "IngressRoute", "plural": "ingressroutes"},
                       "storedVersions": ["v1alpha1"],
                       "conditions": [
                           {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                            "message": "no conflicts found", "lastTransitionTime": "2026-12-01T10:00:05Z"},
                           {"type": "Established", "status": established, "reason": "InitialNamesAccepted",
                            "message": "the initial names have been accepted", "lastTransitionTime": "2026-12-01T10:00:05Z"}]}})
    };
    let (client, server) = mock_client(vec![
        step_status(
            "GET",
            CRD,
            404,
            not_found(
                "customresourcedefinitions.apiextensions.k8s.io \"ingressroutes.traefik.io\"",
            ),
        ),
        step("GET", CRD, crd("False")),
        step("GET", CRD, crd("True")),
    ]);
    crds_established(&client, TRAEFIK_CRDS, Duration::from_secs(60))
        .await
        .unwrap();
    drop(client);
    assert_eq!(server.await.unwrap().len(), 3);
}

// ---- helmReleaseReady after a commit --------------------------------------------------------------------------

/// `installed(g, g)` after a commit whose spec has not reached it: Ready=True, observedGeneration current, the *old*
/// generation.
#[test]
fn ready_after_a_commit_rejects_the_old_generation() {
    // readonly-home step 60: before the commit generation 3, Ready; kustomize-controller has not applied the new
    // spec yet: still generation 3, Ready=True, observedGeneration 3 (judge_helmrelease_settled alone accepts it)
    let stale = installed(3, 3);
    assert!(judge_helmrelease_settled(&stale).is_ok());
    let e = judge_ready_after_commit(&stale, Some(3)).unwrap_err();
    assert!(
        e.starts_with("generation 3, not above 3 (recorded before the last commit)"),
        "{e}"
    );
    // applied: generation 4, Ready=True still from generation 3 (helm-controller writes observedGeneration at the end)
    let e = judge_ready_after_commit(&installed(4, 3), Some(3)).unwrap_err();
    assert!(
        e.starts_with("observedGeneration 3 for generation 4"),
        "{e}"
    );
    // the upgrade of generation 4 runs
    assert!(judge_ready_after_commit(&installing(4, 4, "2026-12-01T10:05:00Z"), Some(3)).is_err());
    // settled on generation 4
    assert_eq!(
        judge_ready_after_commit(&installed(4, 4), Some(3)).unwrap(),
        "Ready at generation 4"
    );
    // no commit recorded: Ready and settled is enough; unsettled is not
    assert!(judge_ready_after_commit(&installed(3, 3), None).is_ok());
    assert!(judge_ready_after_commit(&installed(4, 3), None).is_err());
}

#[tokio::test(start_paused = true)]
async fn the_ready_wait_after_a_commit_waits_past_the_stale_ready() {
    // the exact sequence after readonly-home's third commit: recorded 3; the API server then serves the stale Ready
    // (3/3), the applied spec with the old Ready (4/3), the running upgrade, and finally 4/4
    let (client, server) = mock_client(vec![
        step("GET", HR, installed(3, 3)),
        step("GET", HR, installed(4, 3)),
        step("GET", HR, installing(4, 4, "2026-12-01T10:05:00Z")),
        step("GET", HR, installed(4, 4)),
    ]);
    let seen = helmrelease_ready(
        &client,
        "headlamp",
        "headlamp",
        Some(3),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(seen, "Ready at generation 4");
    drop(client);
    assert_eq!(server.await.unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_ready_wait_fails_on_a_commit_that_never_arrives_and_names_the_last_state() {
    let (client, _server) = mock_client(vec![
        step("GET", HR, installed(3, 3)),
        step("GET", HR, installed(3, 3)),
        step("GET", HR, installed(3, 3)),
    ]);
    let e = helmrelease_ready(
        &client,
        "headlamp",
        "headlamp",
        Some(3),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(
        e.starts_with("HelmRelease headlamp/headlamp Ready on a generation above 3: not within 5s: last seen generation 3, not above 3"),
        "{e}"
    );
}
