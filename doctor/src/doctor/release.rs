//! `helmrelease-stuck`: a HelmRelease held at Ready=Unknown, reason Progressing, "Running '<action>' action with
//! timeout of …" for longer than a threshold (measured from the condition's lastTransitionTime to the view's
//! `captured_at`, not the clock), worse when a newer spec waits behind it (`metadata.generation` >
//! `status.observedGeneration`); or Stalled=True, reason RetriesExceeded. The fix is `cargo xtask unstick`.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use super::check::{Check, error, object_id};
use crate::duration::{age, parse_go_duration};
use crate::error::Result;
use crate::finding::Finding;
use crate::view::{self, ClusterView, HELMRELEASE, POD, human_duration};

pub const RULE: &str = "helmrelease-stuck";

/// The action named in "Running 'install' action with timeout of 10m0s", and the timeout.
pub fn running_action(message: &str) -> Option<(&str, Option<&str>)> {
    let rest = message.strip_prefix("Running '")?;
    let (action, rest) = rest.split_once('\'')?;
    let timeout = rest
        .split_once("timeout of ")
        .map(|(_, t)| t.trim().trim_end_matches('.'));
    Some((action, timeout))
}

/// Helm release name as helm-controller computes it.
pub fn release_name(hr: &Value) -> String {
    let name = view::name_of(hr);
    if let Some(n) = hr["status"]["history"][0]["name"].as_str() {
        return n.to_string();
    }
    match (
        hr["spec"]["releaseName"].as_str().filter(|s| !s.is_empty()),
        hr["spec"]["targetNamespace"]
            .as_str()
            .filter(|s| !s.is_empty()),
    ) {
        (Some(r), _) => r.to_string(),
        (None, Some(t)) => format!("{t}-{name}"),
        _ => name.to_string(),
    }
}

/// Namespace the release installs into.
pub fn target_namespace(hr: &Value) -> String {
    hr["spec"]["targetNamespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or(view::namespace_of(hr))
        .unwrap_or("default")
        .to_string()
}

/// Waiting containers of the release's pods: "pod P: Reason (message)".
async fn waiting_pods(view: &dyn ClusterView, hr: &Value) -> Result<Vec<String>> {
    let release = release_name(hr);
    let ns = target_namespace(hr);
    let pods = view.list(&POD, Some(&ns)).await?;
    let mut out = Vec::new();
    for p in pods
        .iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/instance"] == release.as_str())
    {
        for cs in p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let w = &cs["state"]["waiting"];
            if let Some(reason) = w["reason"].as_str() {
                let msg = w["message"].as_str().unwrap_or("");
                let msg: String = view::redact(msg).chars().take(160).collect();
                out.push(if msg.is_empty() {
                    format!("pod {}: {reason}", view::name_of(p))
                } else {
                    format!("pod {}: {reason} ({msg}…)", view::name_of(p))
                });
            }
        }
    }
    Ok(out)
}

/// " A newer spec is queued behind it: …" when one is, else "". helm-controller v1.6.3 writes
/// `status.observedGeneration` only when a reconcile ends, so a first install has none; the generation the running
/// action works on is `status.lastAttemptedGeneration` (set before the action, internal/controller/
/// helmrelease_controller.go).
pub fn queued_note(hr: &Value) -> String {
    let generation = hr["metadata"]["generation"].as_i64();
    let observed = hr["status"]["observedGeneration"].as_i64();
    let attempted = hr["status"]["lastAttemptedGeneration"].as_i64();
    let tail = "helm-controller applies it only after this action ends (its timeout, then retries and remediation).";
    match (generation, observed, attempted) {
        (Some(g), Some(o), _) if g > o => format!(
            " A newer spec is queued behind it: metadata.generation is {g}, status.observedGeneration {o}; {tail}"
        ),
        (Some(g), None, Some(a)) if g > a => format!(
            " A newer spec is queued behind it: metadata.generation is {g}, the running action is for generation {a} (status.lastAttemptedGeneration; a first install has no observedGeneration yet); {tail}"
        ),
        _ => String::new(),
    }
}

pub async fn check(
    view: &dyn ClusterView,
    releases: &[Value],
    stuck_after: Duration,
    now: Timestamp,
) -> Result<Check> {
    let mut check = Check::new("release", "stuck release", vec![RULE]);
    for hr in releases {
        let id = object_id(hr);
        let (ns, name) = (view::namespace_of(hr), view::name_of(hr));
        let unstick = format!(
            "run `cargo xtask unstick {name} -n {}`: it suspends the HelmRelease, uninstalls the Helm release (its resources and storage Secrets), restarts helm-controller, resumes, forces a reconcile and waits for Ready",
            ns.unwrap_or("default")
        );
        let base = |message: String, fix: String| -> Finding {
            error(RULE)
                .file(view.location(&HELMRELEASE, ns, name))
                .object(id.clone())
                .path("status.conditions[Ready]")
                .message(message)
                .fix(fix)
        };
        let queued = queued_note(hr);

        if let Some(ready) = view::condition(hr, "Ready")
            && ready["status"] == "Unknown"
            && ready["reason"] == "Progressing"
        {
            let message = ready["message"].as_str().unwrap_or("");
            let since = ready["lastTransitionTime"].as_str().unwrap_or("");
            let Some(elapsed) = age(since, now) else {
                check.notes.push(format!(
                    "{id}: Ready=Unknown without a readable lastTransitionTime (`{since}`)"
                ));
                continue;
            };
            if elapsed < stuck_after {
                continue;
            }
            let action = running_action(message);
            let past_timeout = action
                .and_then(|(_, t)| t)
                .and_then(|t| parse_go_duration(t).map(|d| (t, d)))
                .filter(|(_, d)| elapsed > *d)
                .map(|(t, _)| {
                    format!(
                        " The action's own timeout ({t}) has passed, yet it still shows as running."
                    )
                })
                .unwrap_or_default();
            let pods = waiting_pods(view, hr).await?;
            let pods = if pods.is_empty() {
                String::new()
            } else {
                format!(" Meanwhile: {}.", pods.join("; "))
            };
            let what = match action {
                Some((a, _)) => format!("the '{a}' action"),
                None => "a Helm action".to_string(),
            };
            check.findings.push(base(
                format!(
                    "HelmRelease {} has been at Ready=Unknown (Progressing) for {} (since {since}, state at {now}): \"{message}\". It looks stuck: {what} holds the release until it ends.{queued}{past_timeout}{pods}",
                    id.trim_start_matches("HelmRelease/"),
                    human_duration(elapsed),
                ),
                format!("{unstick}; or wait for the timeout and the retries to run out"),
            ));
            continue;
        }

        if let Some(stalled) = view::condition(hr, "Stalled")
            && stalled["status"] == "True"
            && stalled["reason"] == "RetriesExceeded"
        {
            let since = stalled["lastTransitionTime"].as_str().unwrap_or("");
            let how_long = age(since, now)
                .map(|d| format!(" for {}", human_duration(d)))
                .unwrap_or_default();
            let ready = view::condition(hr, "Ready")
                .and_then(|c| c["message"].as_str())
                .unwrap_or("");
            check.findings.push(base(
                format!(
                    "HelmRelease {} is Stalled (RetriesExceeded){how_long} (since {since}): helm-controller has given up retrying. Ready says: \"{ready}\".{queued}",
                    id.trim_start_matches("HelmRelease/"),
                ),
                format!("fix the cause (the Ready message, the pods' logs), then {unstick}"),
            ));
        }
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_action_message() {
        assert_eq!(
            running_action("Running 'install' action with timeout of 10m0s"),
            Some(("install", Some("10m0s")))
        );
        assert_eq!(
            running_action("Running 'upgrade' action with timeout of 5m0s"),
            Some(("upgrade", Some("5m0s")))
        );
        assert_eq!(running_action("Helm install succeeded"), None);
    }

    #[test]
    fn a_fix_queued_behind_a_first_install_is_named() {
        // first install (no observedGeneration), fix applied: generation 2, the install is for generation 1
        let first = serde_json::json!({"metadata": {"generation": 2},
            "status": {"lastAttemptedGeneration": 1, "lastAttemptedReleaseAction": "install"}});
        let note = queued_note(&first);
        assert!(
            note.contains("metadata.generation is 2, the running action is for generation 1"),
            "{note}"
        );
        // a first install already running on the newest spec: nothing queued
        let current = serde_json::json!({"metadata": {"generation": 2}, "status": {"lastAttemptedGeneration": 2}});
        assert_eq!(queued_note(&current), "");
        // once a reconcile has ended, observedGeneration says it
        let later = serde_json::json!({"metadata": {"generation": 3},
            "status": {"observedGeneration": 2, "lastAttemptedGeneration": 2}});
        assert!(
            queued_note(&later).contains("metadata.generation is 3, status.observedGeneration 2")
        );
        assert_eq!(
            queued_note(&serde_json::json!({"metadata": {"generation": 1}, "status": {}})),
            ""
        );
    }

    #[test]
    fn release_names_follow_helm_controller() {
        let hr = serde_json::json!({"metadata": {"name": "headlamp", "namespace": "headlamp"}, "spec": {}});
        assert_eq!(release_name(&hr), "headlamp");
        let hr = serde_json::json!({"metadata": {"name": "headlamp", "namespace": "flux-system"}, "spec": {"targetNamespace": "tools"}});
        assert_eq!(release_name(&hr), "tools-headlamp");
        assert_eq!(target_namespace(&hr), "tools");
    }
}
