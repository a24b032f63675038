//! The live predicates of the scenario waits and of the reset between scenarios, as functions over a kube
//! [`Client`] (so they run against the mocked API server in tests): each polls with a deadline and names the last
//! state it saw. The decisions are the `judge_*` functions, pure over the objects as the controllers write them.
//!
//! Premises, from the upstream source at the pinned tags:
//! - helm-controller v1.6.3 `internal/reconcile/atomic_release.go`: before each release action the HelmRelease is
//!   patched with Reconciling=True and Ready=Unknown, reason `Progressing`, message
//!   `Running '<action>' action with timeout of <d>`; `internal/controller/helmrelease_controller.go` sets
//!   `status.lastAttemptedGeneration = metadata.generation` in the same pass (persisted by that patch), while
//!   `status.observedGeneration` is written only when the reconcile ends. A first install therefore has no
//!   observedGeneration at all, and a spec committed during the action raises `metadata.generation` while Ready keeps
//!   the old action's Unknown (the action is not cancelled: `CancelHealthCheckOnNewRevision` defaults to false).
//! - fluxcd/pkg `runtime/conditions`: a condition's `lastTransitionTime` changes only when its status changes, so
//!   Ready=Unknown's lastTransitionTime is when the release started to progress (FACTS.md, "Flux").
//! - kustomize-controller v1.9.4 `docs/spec/v1/kustomizations.md`: a successful apply sets
//!   `status.lastAppliedRevision` to the source revision (`main@sha1:<40 hex>`) and Ready=True
//!   `ReconciliationSucceeded` "Applied revision: …".
//! - The kubelet: a container that exits (any code, 0 included: reason `Completed`) and restarts under
//!   `restartPolicy: Always` shows `state.waiting.reason: CrashLoopBackOff` while backing off, with the exit in
//!   `lastState.terminated`; its previous log is `GET …/log?previous=true`.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::wait::conditions::is_crd_established;
use kube::{Client, ResourceExt};
use serde_json::Value;

use super::trace::{self, Kind};
use crate::baseline as checks;
use crate::flux::conditions::{self, HelmReleaseState};
use crate::flux::kinds::FluxKind;
use crate::view::human_duration;

/// The CustomResourceDefinitions of the Traefik kinds the fixtures apply (the headlamp Kustomization's IngressRoute).
/// k3s installs them from its own HelmChart `traefik-crd` in kube-system (k3s-io/k3s `manifests/traefik.yaml`, run
/// by the `helm-install-traefik-crd` Job), some seconds after the API server is up: a Kustomization applied before
/// they are Established fails its dry run and retries only after its retryInterval.
/// Pause between two polls of a wait.
pub(crate) const POLL: Duration = Duration::from_secs(3);

/// Poll `probe` every few seconds until it yields `Ok(Some(value))`, at most `within`. `Ok(None)` means "not yet"
/// and updates the last state seen with its message; `Err` is final.
pub async fn poll<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, String>>,
{
    // tokio's clock: pausable in tests
    let started = tokio::time::Instant::now();
    loop {
        let last = match probe().await? {
            Ok(v) => return Ok(v),
            Err(state) => state,
        };
        if started.elapsed() >= within {
            return Err(format!(
                "{what}: not within {}s: last seen {last}",
                within.as_secs()
            ));
        }
        tokio::time::sleep(
            POLL.min(
                within
                    .saturating_sub(started.elapsed())
                    .max(Duration::from_millis(100)),
            ),
        )
        .await;
    }
}

pub const TRAEFIK_CRDS: &[&str] = &["ingressroutes.traefik.io"];

/// The Kustomizations of the e2e cluster: the harness's `flux-system` (path `./clusters/e2e`) and the app's
/// `headlamp` (fixtures `clusters/e2e/apps.yaml`). A reset is applied when both are at the reset commit.
pub const E2E_KUSTOMIZATIONS: &[&str] = &["flux-system", "headlamp"];

/// HelmRelease generations by (namespace, name), recorded before a commit.
pub type Generations = BTreeMap<(String, String), i64>;

fn kube_err(action: &str, e: kube::Error) -> String {
    format!("{action}: {}", crate::error::kube_message(&e))
}

fn to_json<T: serde::Serialize>(o: T) -> Value {
    serde_json::to_value(o).unwrap_or_default()
}

/// One HelmRelease as JSON, `None` when it does not exist.
pub async fn get_helmrelease(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<Option<Value>, String> {
    let v = FluxKind::HelmRelease
        .api(client.clone(), ns)
        .get_opt(name)
        .await
        .map(|o| o.map(to_json))
        .map_err(|e| kube_err(&format!("reading HelmRelease {ns}/{name}"), e))?;
    trace::observe_flux(Kind::Helmrelease, ns, name, v.as_ref());
    Ok(v)
}

/// Every HelmRelease's `metadata.generation`, in all namespaces: what the runner records just before a commit, so
/// that [`judge_queued`] can tell a spec that arrived after it.
pub async fn helmrelease_generations(client: &Client) -> Result<Generations, String> {
    let api: Api<kube::api::DynamicObject> =
        Api::all_with(client.clone(), &FluxKind::HelmRelease.api_resource());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| kube_err("listing HelmReleases", e))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| {
            let g = o.metadata.generation?;
            Some(((o.namespace().unwrap_or_default(), o.name_any()), g))
        })
        .collect())
}

// ---- judgements -----------------------------------------------------------------------------------------------

/// Ready=Unknown with `message` in its message; with `held_for`, only once its lastTransitionTime is at least that
/// old at `now`. `now` is the harness's clock, the same clock doctor measures `stuckAfter` with (a live view's
/// `captured_at` is `Timestamp::now()`; `doctor::release` compares it with the same lastTransitionTime), so a wait
/// for `heldFor >= stuckAfter` guarantees the next doctor step sees the release as stuck.
pub fn judge_progressing(
    hr: &Value,
    message: &str,
    held_for: Option<Duration>,
    now: Timestamp,
) -> Result<String, String> {
    let state = conditions::describe(hr);
    let Some(ready) = conditions::condition(hr, "Ready") else {
        return Err(state);
    };
    if ready.status != "Unknown" || !ready.message.contains(message) {
        return Err(state);
    }
    let Some(held_for) = held_for else {
        return Ok(state);
    };
    let since = ready.last_transition_time.unwrap_or("");
    let Some(age) = crate::doctor::age(since, now) else {
        return Err(format!(
            "{state}; Ready has no readable lastTransitionTime (`{since}`)"
        ));
    };
    if age >= held_for {
        Ok(format!(
            "{state}; held for {} (since {since})",
            human_duration(age)
        ))
    } else {
        Err(format!(
            "{state}; held for {} of {} (since {since})",
            human_duration(age),
            human_duration(held_for)
        ))
    }
}

/// A fix queued behind the running action: `metadata.generation` above `recorded` (the generation just before the
/// fix commit), Ready still Unknown with a `Running '<action>' action` message, and — when helm-controller wrote
/// it — `status.lastAttemptedGeneration` below the current generation (the running action is for the older spec).
pub fn judge_queued(hr: &Value, recorded: i64) -> Result<String, String> {
    let state = conditions::describe(hr);
    let generation = hr["metadata"]["generation"].as_i64().unwrap_or(0);
    if generation <= recorded {
        return Err(format!(
            "metadata.generation is {generation}, not above {recorded} (recorded before the fix commit): the fix has not reached the HelmRelease yet; {state}"
        ));
    }
    let Some(ready) = conditions::condition(hr, "Ready") else {
        return Err(format!("generation {generation}, but no Ready condition"));
    };
    let action = conditions::parse_action_message(ready.message);
    let (Some((action, timeout)), "Unknown") = (action, ready.status) else {
        return Err(format!(
            "generation {generation} arrived, but no action is running any more: {state}"
        ));
    };
    if let Some(attempted) = hr["status"]["lastAttemptedGeneration"].as_i64()
        && attempted >= generation
    {
        return Err(format!(
            "helm-controller already works on generation {attempted} (status.lastAttemptedGeneration): nothing is queued; {state}"
        ));
    }
    Ok(format!(
        "generation {generation} (was {recorded} before the fix commit) waits behind the '{action}' action (timeout {timeout}) running since {}",
        ready.last_transition_time.unwrap_or("?")
    ))
}

/// The HelmRelease and its Deployment are both gone.
pub fn judge_absent(hr: Option<&Value>, deployment: Option<&Deployment>) -> Result<String, String> {
    match (hr, deployment) {
        (None, None) => Ok("gone".to_string()),
        (hr, d) => Err(format!(
            "HelmRelease present: {}, Deployment present: {}",
            hr.is_some(),
            d.is_some()
        )),
    }
}

/// The GitRepository's artifact is the commit `head`.
pub fn judge_source(git: &Value, head: &str) -> Result<String, String> {
    match conditions::artifact_revision(git) {
        Some(r) if r.sha == head => Ok(format!("at {}", r.short())),
        Some(r) => Err(format!("at {}", r.short())),
        None => Err("no artifact yet".to_string()),
    }
}

/// A Kustomization has applied the commit `sha`: `status.lastAppliedRevision` is that commit, Ready=True, and the
/// status is for the current generation.
pub fn judge_kustomization_applied(ks: &Value, sha: &str) -> Result<String, String> {
    let name = ks["metadata"]["name"].as_str().unwrap_or("?");
    let applied = ks["status"]["lastAppliedRevision"].as_str().unwrap_or("");
    let at = conditions::parse_revision(applied).map(|r| r.sha);
    let short = &sha[..sha.len().min(8)];
    if at.as_deref() != Some(sha) {
        return Err(format!(
            "Kustomization {name}: lastAppliedRevision `{applied}`, not the reset commit {short}"
        ));
    }
    if conditions::is_ready(ks) != Some(true) || !conditions::observed_generation_current(ks) {
        return Err(format!(
            "Kustomization {name} at {short} but not Ready for its generation: {}",
            conditions::describe(ks)
        ));
    }
    Ok(format!("Kustomization {name} applied {short}"))
}

/// A HelmRelease settled on its *current* spec: `status.observedGeneration == metadata.generation` and Ready=True
/// (a Ready=True left from the previous generation does not count).
pub fn judge_helmrelease_settled(hr: &Value) -> Result<String, String> {
    let generation = hr["metadata"]["generation"].as_i64();
    let observed = hr["status"]["observedGeneration"].as_i64();
    match (generation, observed) {
        (Some(g), Some(o)) if g == o => {}
        (g, o) => {
            return Err(format!(
                "observedGeneration {} for generation {}: {}",
                o.map_or("none".into(), |o| o.to_string()),
                g.map_or("none".into(), |g| g.to_string()),
                conditions::describe(hr)
            ));
        }
    }
    if conditions::helmrelease_progress(hr) == HelmReleaseState::Ready {
        Ok(format!(
            "Ready at generation {}",
            generation.unwrap_or_default()
        ))
    } else {
        Err(conditions::describe(hr))
    }
}

/// `helmReleaseReady` after a commit: Ready on a generation *newer* than `recorded` (the HelmRelease's
/// `metadata.generation` just before the last commit or merge; `None` when there was none in this scenario, or the
/// release did not exist then), and settled on it ([`judge_helmrelease_settled`]).
///
/// Why the generation and not Ready alone: after a commit, kustomize-controller applies the new spec only once
/// source-controller has fetched the commit and its own interval or the reconcile request comes round; until then the
/// HelmRelease still shows Ready=True with `observedGeneration == generation` *for the old spec* (kustomize-controller
/// v1.9.4 applies the objects, the API server raises `metadata.generation` on a spec change; helm-controller v1.6.3
/// writes `status.observedGeneration` only when the reconcile ends, `internal/controller/helmrelease_controller.go`).
/// `Ready && observedGeneration == generation` alone passes on that stale state; a generation above the recorded one
/// cannot.
pub fn judge_ready_after_commit(hr: &Value, recorded: Option<i64>) -> Result<String, String> {
    if let Some(before) = recorded {
        let generation = hr["metadata"]["generation"].as_i64().unwrap_or(0);
        if generation <= before {
            return Err(format!(
                "generation {generation}, not above {before} (recorded before the last commit): the commit's spec has not reached the HelmRelease yet; {}",
                conditions::describe(hr)
            ));
        }
    }
    judge_helmrelease_settled(hr)
}

// ---- the waits ------------------------------------------------------------------------------------------------

/// `helmReleaseProgressing` (with or without `heldFor`), see [`judge_progressing`].
pub async fn helmrelease_progressing(
    client: &Client,
    ns: &str,
    name: &str,
    message: &str,
    held_for: Option<Duration>,
    within: Duration,
) -> Result<String, String> {
    let what = match held_for {
        Some(d) => format!(
            "HelmRelease {ns}/{name} progressing \"{message}\" for at least {}",
            human_duration(d)
        ),
        None => format!("HelmRelease {ns}/{name} progressing \"{message}\""),
    };
    poll(within, &what, || async {
        Ok(match get_helmrelease(client, ns, name).await? {
            // the wall clock (the trace's clock in a mocked run: `trace::now`)
            Some(v) => judge_progressing(&v, message, held_for, trace::now()),
            None => Err("not found".to_string()),
        })
    })
    .await
}

/// `helmReleaseReady`, see [`judge_ready_after_commit`].
pub async fn helmrelease_ready(
    client: &Client,
    ns: &str,
    name: &str,
    recorded: Option<i64>,
    within: Duration,
) -> Result<String, String> {
    let what = match recorded {
        Some(g) => format!("HelmRelease {ns}/{name} Ready on a generation above {g}"),
        None => format!("HelmRelease {ns}/{name} Ready"),
    };
    trace::input(serde_json::json!({ "recorded": recorded }));
    poll(within, &what, || async {
        Ok(match get_helmrelease(client, ns, name).await? {
            Some(v) => judge_ready_after_commit(&v, recorded),
            None => Err("not found".to_string()),
        })
    })
    .await
}

/// `helmReleaseQueued`, see [`judge_queued`].
pub async fn helmrelease_queued(
    client: &Client,
    ns: &str,
    name: &str,
    recorded: i64,
    within: Duration,
) -> Result<String, String> {
    trace::input(serde_json::json!({ "recorded": recorded }));
    poll(
        within,
        &format!("HelmRelease {ns}/{name} with the fix queued behind the running action"),
        || async {
            Ok(match get_helmrelease(client, ns, name).await? {
                Some(v) => judge_queued(&v, recorded),
                None => Err("not found".to_string()),
            })
        },
    )
    .await
}

/// `helmReleaseAbsent`: the HelmRelease and its Deployment (same name) are gone.
pub async fn helmrelease_absent(
    client: &Client,
    ns: &str,
    name: &str,
    within: Duration,
) -> Result<String, String> {
    let deploy: Api<Deployment> = Api::namespaced(client.clone(), ns);
    poll(
        within,
        &format!("HelmRelease {ns}/{name} and its Deployment gone"),
        || async {
            let hr = get_helmrelease(client, ns, name).await?;
            let d = deploy
                .get_opt(name)
                .await
                .map_err(|e| kube_err("reading the Deployment", e))?;
            trace::observe_deployment(ns, name, d.as_ref());
            Ok(judge_absent(hr.as_ref(), d.as_ref()))
        },
    )
    .await
}

/// `podCrashLoop`: a container of a pod matching `selector` crashloops ([`checks::crashlooping`]) and its previous
/// (else current) log contains `log`.
pub async fn pod_crash_loop(
    client: &Client,
    ns: &str,
    selector: &str,
    log: &str,
    within: Duration,
) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    poll(
        within,
        &format!("a pod {selector} crashlooping with \"{log}\""),
        || async {
            let list = pods
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| kube_err(&format!("listing pods {selector} in {ns}"), e))?
                .items;
            trace::observe_pods(ns, &list);
            for (pod, container) in checks::crashlooping(&list) {
                for previous in [true, false] {
                    let lp = LogParams {
                        container: Some(container.clone()),
                        previous,
                        tail_lines: Some(200),
                        ..LogParams::default()
                    };
                    // A previous log may not exist yet (first run): not an error, try the current one.
                    let text = pods.logs(&pod, &lp).await.unwrap_or_default();
                    if text.contains(log) {
                        trace::observe_log_match(ns, &pod, &container, previous, &text, log);
                        return Ok(Ok(format!("{pod}/{container}: {log}")));
                    }
                }
            }
            Ok(Err(checks::describe_pods(&list)))
        },
    )
    .await
}

/// `sourceAtHead`: the GitRepository `flux-system/<name>`'s artifact is the commit `head` of `branch`.
pub async fn source_at_head(
    client: &Client,
    name: &str,
    branch: &str,
    head: &str,
    within: Duration,
) -> Result<String, String> {
    let api = FluxKind::GitRepository.api(client.clone(), "flux-system");
    trace::input(serde_json::json!({ "head": head }));
    poll(
        within,
        &format!(
            "GitRepository flux-system/{name} at {branch}@{}",
            &head[..head.len().min(8)]
        ),
        || async {
            let v = api
                .get_opt(name)
                .await
                .map_err(|e| kube_err("reading the GitRepository", e))?
                .map(to_json);
            trace::observe_flux(Kind::Gitrepository, "flux-system", name, v.as_ref());
            Ok(judge_source(&v.unwrap_or_default(), head))
        },
    )
    .await
}

/// After a reset: every Kustomization in `kustomizations` (namespace flux-system) has applied the reset commit
/// `sha`, then the HelmRelease has settled on the generation that commit produced.
pub async fn reset_settled(
    client: &Client,
    sha: &str,
    kustomizations: &[&str],
    hr_ns: &str,
    hr_name: &str,
    within: Duration,
) -> Result<String, String> {
    let ks_api = FluxKind::Kustomization.api(client.clone(), "flux-system");
    poll(
        within,
        &format!(
            "the reset commit {} applied and HelmRelease {hr_ns}/{hr_name} Ready at its new generation",
            &sha[..sha.len().min(8)]
        ),
        || async {
            for name in kustomizations {
                let ks = ks_api
                    .get_opt(name)
                    .await
                    .map_err(|e| kube_err(&format!("reading Kustomization {name}"), e))?;
                let ks = ks.map(to_json);
                trace::observe_flux(Kind::Kustomization, "flux-system", name, ks.as_ref());
                let Some(ks) = ks else {
                    return Ok(Err(format!("Kustomization {name} not found")));
                };
                if let Err(state) = judge_kustomization_applied(&ks, sha) {
                    return Ok(Err(state));
                }
            }
            Ok(match get_helmrelease(client, hr_ns, hr_name).await? {
                Some(hr) => judge_helmrelease_settled(&hr),
                None => Err(format!("HelmRelease {hr_ns}/{hr_name} not found")),
            })
        },
    )
    .await
}

/// Each CustomResourceDefinition in `names` exists and is Established (a missing one is waited for).
pub async fn crds_established(
    client: &Client,
    names: &[&str],
    within: Duration,
) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let started = tokio::time::Instant::now();
    for name in names {
        let left = within.saturating_sub(started.elapsed());
        crate::flux::wait::wait_for(&api, name, is_crd_established(), left, "Established")
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
