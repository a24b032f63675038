//! Request a reconcile, suspend and resume, the way the flux CLI does (cmd/flux in fluxcd/flux2):
//!
//! - `flux reconcile <kind> <name> [--force]`: refuse a suspended object, then a merge patch setting the annotation
//!   `reconcile.fluxcd.io/requestedAt` (and with `--force` also `reconcile.fluxcd.io/forceAt`) to one RFC3339Nano
//!   timestamp; the controller honours force only when both values are equal. Done when
//!   `status.lastHandledReconcileAt` equals that timestamp.
//! - `flux suspend` / `flux resume`: merge patch `spec.suspend` true / false.
//!
//! Every function takes the object's `Api<DynamicObject>` (namespaced) and its Flux kind's [`ApiResource`]
//! (see [`super::kinds`]), which names the object in errors.

use std::time::Duration;

use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::json;

use super::conditions::{self, last_handled_reconcile_at};
use super::wait::{POLL_INTERVAL, wait_for_with};
use crate::error::{Error, Result};

pub const REQUESTED_AT_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";
pub const FORCE_AT_ANNOTATION: &str = "reconcile.fluxcd.io/forceAt";

/// A reconcile request that was written: wait for `status.lastHandledReconcileAt == token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileRequest {
    pub token: String,
    pub forced: bool,
}

/// Now, as Go's `time.Now().Format(time.RFC3339Nano)` prints it in UTC: fraction without trailing zeros, none when
/// zero, `Z` suffix.
pub fn rfc3339_nano_now() -> String {
    rfc3339_nano(jiff::Timestamp::now())
}

pub fn rfc3339_nano(ts: jiff::Timestamp) -> String {
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = ts.subsec_nanosecond();
    if nanos <= 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// `Kind namespace/name`.
fn label(api: &Api<DynamicObject>, kind: &ApiResource, name: &str) -> String {
    match api.namespace() {
        Some(ns) => format!("{} {ns}/{name}", kind.kind),
        None => format!("{} {name}", kind.kind),
    }
}

/// The merge patch of `flux reconcile [--force]`: `requestedAt` (and `forceAt`) set to the same `token`.
pub fn reconcile_patch(token: &str, force: bool) -> serde_json::Value {
    let mut annotations = serde_json::Map::new();
    annotations.insert(REQUESTED_AT_ANNOTATION.into(), token.into());
    if force {
        annotations.insert(FORCE_AT_ANNOTATION.into(), token.into());
    }
    json!({"metadata": {"annotations": annotations}})
}

/// The merge patch of `flux suspend` / `flux resume`.
pub fn suspend_patch(suspend: bool) -> serde_json::Value {
    json!({"spec": {"suspend": suspend}})
}

/// Write a reconcile request with a fresh timestamp (refusing a suspended object, as the CLI does).
pub async fn request_reconcile(
    api: &Api<DynamicObject>,
    kind: &ApiResource,
    name: &str,
    force: bool,
) -> Result<ReconcileRequest> {
    request_reconcile_at(api, kind, name, force, &rfc3339_nano_now()).await
}

/// [`request_reconcile`] with a given token (a test, or several objects sharing one request time).
pub async fn request_reconcile_at(
    api: &Api<DynamicObject>,
    kind: &ApiResource,
    name: &str,
    force: bool,
    token: &str,
) -> Result<ReconcileRequest> {
    let object = label(api, kind, name);
    let current = api
        .get(name)
        .await
        .map_err(|e| Error::kube(format!("reading {object}"), e))?;
    if conditions::is_suspended(&current) {
        return Err(Error::Other(format!(
            "{object} is suspended: resume it before requesting a reconcile"
        )));
    }
    let patch = reconcile_patch(token, force);
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| Error::kube(format!("requesting a reconcile of {object}"), e))?;
    Ok(ReconcileRequest {
        token: token.to_string(),
        forced: force,
    })
}

/// Wait until the controller has handled `request` (`status.lastHandledReconcileAt == token`), for at most
/// `deadline`. The object is returned as the controller left it: check its Ready condition.
pub async fn wait_reconciled(
    api: &Api<DynamicObject>,
    kind: &ApiResource,
    name: &str,
    request: &ReconcileRequest,
    deadline: Duration,
) -> Result<DynamicObject> {
    let what = format!("done with reconcile request {}", request.token);
    let obj = wait_for_with(
        api,
        name,
        conditions::reconcile_handled(&request.token),
        describe_with_last_handled,
        deadline,
        POLL_INTERVAL,
        &what,
    )
    .await
    .map_err(|e| name_kind(e, kind))?;
    Ok(obj)
}

/// `flux reconcile <kind> <name> [--force]`: request, then wait until handled (at most `deadline`).
pub async fn reconcile(
    api: &Api<DynamicObject>,
    kind: &ApiResource,
    name: &str,
    force: bool,
    deadline: Duration,
) -> Result<DynamicObject> {
    let request = request_reconcile(api, kind, name, force).await?;
    wait_reconciled(api, kind, name, &request, deadline).await
}

/// `flux suspend <kind> <name>`: merge patch `spec.suspend: true`.
pub async fn suspend(
    api: &Api<DynamicObject>,
    kind: &ApiResource,
    name: &str,
) -> Result<DynamicObject> {
    set_suspend(api, kind, name, true).await
}

/// `flux resume <kind> <name>`: merge patch `spec.suspend: false`.
pub async fn resume(
    api: &Api<DynamicObject>,
    kind: &ApiResource,
    name: &str,
) -> Result<DynamicObject> {
    set_suspend(api, kind, name, false).await
}

async fn set_suspend(
    api: &Api<DynamicObject>,
    kind: &ApiResource,
    name: &str,
    suspend: bool,
) -> Result<DynamicObject> {
    let patch = suspend_patch(suspend);
    let verb = if suspend { "suspending" } else { "resuming" };
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| Error::kube(format!("{verb} {}", label(api, kind, name)), e))
}

fn describe_with_last_handled(obj: &DynamicObject) -> String {
    let state = super::wait::describe_object(obj);
    match last_handled_reconcile_at(obj) {
        Some(at) => format!("lastHandledReconcileAt={at}; {state}"),
        None => format!("no lastHandledReconcileAt; {state}"),
    }
}

/// Before a successful read the wait names the object by its plural; the caller knows the kind.
fn name_kind(e: super::wait::WaitError, kind: &ApiResource) -> Error {
    use super::wait::WaitError;
    let fix = |object: String| match object.strip_prefix(&format!("{} ", kind.plural)) {
        Some(rest) => format!("{} {rest}", kind.kind),
        None => object,
    };
    Error::Wait(match e {
        WaitError::Timeout {
            object,
            what,
            after,
            last_seen,
        } => WaitError::Timeout {
            object: fix(object),
            what,
            after,
            last_seen,
        },
        WaitError::Api {
            object,
            what,
            source,
        } => WaitError::Api {
            object: fix(object),
            what,
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flux::kinds::FluxKind;
    use crate::mock_api::{Seen, mock_client, step, step_with};
    use serde_json::Value;

    const HR: &str = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/headlamp/helmreleases/headlamp";

    fn helmrelease(annotations: Value, suspend: bool, last_handled: Option<&str>) -> Value {
        let mut v = json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "headlamp", "namespace": "headlamp", "generation": 1,
                         "resourceVersion": "2210", "uid": "8f4c3d1e-7a55-4bb1-9d0e-6a3c1f0b2e11",
                         "annotations": annotations},
            "spec": {"interval": "10m", "suspend": suspend,
                     "chart": {"spec": {"chart": "headlamp", "version": "0.41.0",
                               "sourceRef": {"kind": "HelmRepository", "name": "headlamp"}}}},
            "status": {
                "observedGeneration": 1,
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "UpgradeSucceeded",
                     "message": "Helm upgrade succeeded for release headlamp/headlamp.v2 with chart headlamp@0.41.0",
                     "lastTransitionTime": "2025-06-02T10:20:02Z", "observedGeneration": 1}
                ]
            }
        });
        if let Some(at) = last_handled {
            v["status"]["lastHandledReconcileAt"] = json!(at);
            v["status"]["lastHandledForceAt"] = json!(at);
        }
        v
    }

    fn setup(
        steps: Vec<crate::mock_api::Step>,
    ) -> (
        Api<DynamicObject>,
        ApiResource,
        tokio::task::JoinHandle<Vec<Seen>>,
    ) {
        let (client, server) = mock_client(steps);
        (
            FluxKind::HelmRelease.api(client, "headlamp"),
            FluxKind::HelmRelease.api_resource(),
            server,
        )
    }

    /// The token the PATCH wrote, read back as the controller would.
    fn patched_token(seen: &[Seen]) -> String {
        seen.iter()
            .rev()
            .find(|s| s.method == "PATCH")
            .and_then(|s| s.body["metadata"]["annotations"][REQUESTED_AT_ANNOTATION].as_str())
            .expect("a PATCH with requestedAt")
            .to_string()
    }

    #[tokio::test(start_paused = true)]
    async fn forced_reconcile_request_sequence() {
        let (api, kind, server) = setup(vec![
            step(
                "GET",
                HR,
                helmrelease(json!({}), false, Some("2025-06-02T09:00:00Z")),
            ),
            step_with("PATCH", HR, |seen| {
                let t = patched_token(seen);
                (
                    200,
                    helmrelease(
                        json!({REQUESTED_AT_ANNOTATION: t, FORCE_AT_ANNOTATION: t}),
                        false,
                        Some("2025-06-02T09:00:00Z"),
                    ),
                )
            }),
            // the controller has not got to it yet
            step_with("GET", HR, |seen| {
                let t = patched_token(seen);
                (
                    200,
                    helmrelease(
                        json!({REQUESTED_AT_ANNOTATION: t, FORCE_AT_ANNOTATION: t}),
                        false,
                        Some("2025-06-02T09:00:00Z"),
                    ),
                )
            }),
            step_with("GET", HR, |seen| {
                let t = patched_token(seen);
                (
                    200,
                    helmrelease(
                        json!({REQUESTED_AT_ANNOTATION: t, FORCE_AT_ANNOTATION: t}),
                        false,
                        Some(&t),
                    ),
                )
            }),
        ]);
        let obj = reconcile(&api, &kind, "headlamp", true, Duration::from_secs(60))
            .await
            .expect("handled");
        drop(api);
        let seen = server.await.unwrap();
        let calls: Vec<(String, String)> = seen
            .iter()
            .map(|s| (s.method.to_string(), s.uri.clone()))
            .collect();
        assert_eq!(
            calls,
            [
                ("GET".to_string(), HR.to_string()),
                ("PATCH".to_string(), format!("{HR}?")),
                ("GET".to_string(), HR.to_string()),
                ("GET".to_string(), HR.to_string()),
            ]
        );
        let patch = &seen[1];
        assert_eq!(
            patch.content_type.as_deref(),
            Some("application/merge-patch+json")
        );
        let annotations = patch.body["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(annotations.len(), 2, "{annotations:?}");
        let requested = annotations[REQUESTED_AT_ANNOTATION].as_str().unwrap();
        assert_eq!(annotations[FORCE_AT_ANNOTATION], requested);
        assert_eq!(patch.body.as_object().unwrap().len(), 1, "only metadata");
        // RFC3339Nano in UTC
        assert!(
            requested.ends_with('Z') && requested.parse::<jiff::Timestamp>().is_ok(),
            "{requested}"
        );
        assert_eq!(conditions::last_handled_reconcile_at(&obj), Some(requested));
    }

    #[tokio::test(start_paused = true)]
    async fn plain_reconcile_sets_only_requested_at() {
        let token = "2025-06-02T10:30:00.5Z";
        let (api, kind, server) = setup(vec![
            step("GET", HR, helmrelease(json!({}), false, None)),
            step(
                "PATCH",
                HR,
                helmrelease(json!({REQUESTED_AT_ANNOTATION: token}), false, None),
            ),
        ]);
        let req = request_reconcile_at(&api, &kind, "headlamp", false, token)
            .await
            .unwrap();
        assert_eq!(
            req,
            ReconcileRequest {
                token: token.into(),
                forced: false
            }
        );
        drop(api);
        let seen = server.await.unwrap();
        assert_eq!(
            seen[1].body,
            json!({"metadata": {"annotations": {REQUESTED_AT_ANNOTATION: token}}})
        );
    }

    #[tokio::test(start_paused = true)]
    async fn suspended_object_is_refused_without_a_patch() {
        let (api, kind, server) = setup(vec![step("GET", HR, helmrelease(json!({}), true, None))]);
        let e = request_reconcile(&api, &kind, "headlamp", true)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "HelmRelease headlamp/headlamp is suspended: resume it before requesting a reconcile"
        );
        drop(api);
        assert_eq!(server.await.unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn reconcile_timeout_names_the_request_and_last_state() {
        let token = "2025-06-02T10:30:00.123456789Z";
        let stale = helmrelease(
            json!({REQUESTED_AT_ANNOTATION: token}),
            false,
            Some("2025-06-02T09:00:00Z"),
        );
        let steps = (0..5).map(|_| step("GET", HR, stale.clone())).collect();
        let (api, kind, _server) = setup(steps);
        let req = ReconcileRequest {
            token: token.into(),
            forced: false,
        };
        let e = wait_reconciled(&api, &kind, "headlamp", &req, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "HelmRelease headlamp/headlamp not done with reconcile request 2025-06-02T10:30:00.123456789Z after 10s: \
             last seen lastHandledReconcileAt=2025-06-02T09:00:00Z; Ready=True UpgradeSucceeded \
             \"Helm upgrade succeeded for release headlamp/headlamp.v2 with chart headlamp@0.41.0\""
        );
    }

    #[tokio::test]
    async fn suspend_and_resume_bodies() {
        let (api, kind, server) = setup(vec![
            step("PATCH", HR, helmrelease(json!({}), true, None)),
            step("PATCH", HR, helmrelease(json!({}), false, None)),
        ]);
        let s = suspend(&api, &kind, "headlamp").await.unwrap();
        assert!(conditions::is_suspended(&s));
        let r = resume(&api, &kind, "headlamp").await.unwrap();
        assert!(!conditions::is_suspended(&r));
        drop(api);
        let seen = server.await.unwrap();
        assert_eq!(seen[0].body, json!({"spec": {"suspend": true}}));
        assert_eq!(seen[1].body, json!({"spec": {"suspend": false}}));
        for s in &seen {
            assert_eq!(
                s.content_type.as_deref(),
                Some("application/merge-patch+json")
            );
        }
    }

    #[tokio::test]
    async fn suspend_error_names_the_object() {
        let (api, kind, _server) = setup(vec![crate::mock_api::step_status(
            "PATCH",
            HR,
            404,
            crate::mock_api::status(
                404,
                "NotFound",
                "helmreleases.helm.toolkit.fluxcd.io \"headlamp\" not found",
            ),
        )]);
        let e = suspend(&api, &kind, "headlamp").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "suspending HelmRelease headlamp/headlamp: 404 NotFound: helmreleases.helm.toolkit.fluxcd.io \"headlamp\" not found"
        );
    }

    #[test]
    fn rfc3339_nano_like_go() {
        let t: jiff::Timestamp = "2025-06-02T10:30:00.120000000Z".parse().unwrap();
        assert_eq!(rfc3339_nano(t), "2025-06-02T10:30:00.12Z");
        let t: jiff::Timestamp = "2025-06-02T10:30:00Z".parse().unwrap();
        assert_eq!(rfc3339_nano(t), "2025-06-02T10:30:00Z");
        let t: jiff::Timestamp = "2025-06-02T10:30:00.123456789Z".parse().unwrap();
        assert_eq!(rfc3339_nano(t), "2025-06-02T10:30:00.123456789Z");
    }
}
