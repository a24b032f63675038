//! Wait for an object to reach a condition, with a deadline the caller gives.
//!
//! A poll loop (GET every `poll`), wrapped in [`tokio::time::timeout`]: simple to reason about, tolerant of a
//! restarting API server (5xx, 429 and connection errors are recorded and retried until the deadline), and it keeps
//! the last state it saw, so a timeout says what the object looked like, not only that time ran out:
//!
//! `HelmRelease headlamp/headlamp not Ready after 300s: last seen Ready=Unknown Progressing "Running 'install' action with timeout of 10m0s"`
//!
//! Conditions are kube-runtime [`Condition`]s (plain `fn(Option<&K>) -> bool` closures work, and so do
//! `kube::runtime::wait::conditions::*` and their `.and()` / `.or()` / `.not()` combinators); this module's own
//! live in [`super::conditions`].

use std::fmt::Debug;
use std::time::Duration;

use kube::runtime::wait::Condition;
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How often [`wait_for`] polls. Not a timeout: the deadline is always the caller's.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// A wait that did not end in the condition.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed; `last_seen` is the object's state at the last successful read (or the last error).
    #[error("{object} not {what} after {}: last seen {last_seen}", seconds(*.after))]
    Timeout {
        /// `Kind namespace/name`.
        object: String,
        what: String,
        after: Duration,
        last_seen: String,
    },
    /// Reading the object failed in a way waiting will not fix (forbidden, unauthorized, bad request, …).
    #[error(
        "{object}: cannot tell whether it is {what}: {}",
        crate::kube_error::kube_message(source)
    )]
    Api {
        object: String,
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// Wait until `condition` holds for `name`, polling every [`POLL_INTERVAL`], for at most `deadline`.
///
/// `what` names the condition in the timeout message ("Ready", "Available", "Established"). A missing object is
/// not an error: it is "not found" until the deadline.
pub async fn wait_for<K, C>(
    api: &Api<K>,
    name: &str,
    condition: C,
    deadline: Duration,
    what: &str,
) -> Result<K, WaitError>
where
    K: Resource + Clone + Debug + DeserializeOwned + Serialize,
    C: Condition<K>,
{
    wait_for_with(
        api,
        name,
        condition,
        describe_object,
        deadline,
        POLL_INTERVAL,
        what,
    )
    .await
}

/// [`wait_for`] with a custom description of the last state seen and a custom poll interval.
pub async fn wait_for_with<K, C, D>(
    api: &Api<K>,
    name: &str,
    condition: C,
    describe: D,
    deadline: Duration,
    poll: Duration,
    what: &str,
) -> Result<K, WaitError>
where
    K: Resource + Clone + Debug + DeserializeOwned + Serialize,
    C: Condition<K>,
    D: Fn(&K) -> String,
{
    // The last state read, and an error from a later read that failed (retried until the deadline).
    let mut last_state: Option<String> = None;
    let mut last_error: Option<String> = None;
    let mut kind: Option<String> = None;
    let outcome = tokio::time::timeout(deadline, async {
        loop {
            match api.get_opt(name).await {
                Ok(Some(obj)) => {
                    if kind.is_none() {
                        kind = kind_of(&obj);
                    }
                    if condition.matches_object(Some(&obj)) {
                        return Ok(obj);
                    }
                    last_state = Some(describe(&obj));
                    last_error = None;
                }
                Ok(None) => {
                    last_state = Some("not found".into());
                    last_error = None;
                }
                Err(e) if is_transient(&e) => {
                    last_error = Some(crate::kube_error::kube_message(&e));
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(poll).await;
        }
    })
    .await;
    let last_seen = match (last_state, last_error) {
        (Some(state), None) => state,
        (Some(state), Some(err)) => format!("{state} (a later read failed: {err})"),
        (None, Some(err)) => format!("no object, only API errors: {err}"),
        (None, None) => "nothing: the API server did not answer".into(),
    };
    let object = || object_label(api, name, kind.as_deref());
    match outcome {
        Ok(Ok(obj)) => Ok(obj),
        Ok(Err(source)) => Err(WaitError::Api {
            object: object(),
            what: what.to_string(),
            source,
        }),
        Err(_elapsed) => Err(WaitError::Timeout {
            object: object(),
            what: what.to_string(),
            after: deadline,
            last_seen,
        }),
    }
}

/// The default state description: the object's status conditions, as [`super::conditions::describe`] words them.
pub fn describe_object<K: Serialize>(obj: &K) -> String {
    match serde_json::to_value(obj) {
        Ok(v) => super::conditions::describe(&v),
        Err(e) => format!("an object that does not serialize ({e})"),
    }
}

/// Errors worth retrying until the deadline: the API server restarting, throttling, the connection dropping.
fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429 || s.code == 409,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

fn kind_of<K: Serialize>(obj: &K) -> Option<String> {
    serde_json::to_value(obj)
        .ok()?
        .get("kind")?
        .as_str()
        .map(str::to_string)
}

/// `Kind namespace/name`; before any read succeeded the kind is the resource's plural from the URL.
fn object_label<K: Resource>(api: &Api<K>, name: &str, kind: Option<&str>) -> String {
    let kind = match kind {
        Some(k) => k.to_string(),
        None => api
            .resource_url()
            .rsplit('/')
            .next()
            .unwrap_or("object")
            .to_string(),
    };
    match api.namespace() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// `300s`, or `1.5s` below a second's precision.
pub(crate) fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flux::conditions;
    use crate::flux::kinds::FluxKind;
    use crate::mock_api::{mock_client, status, step, step_status};
    use kube::api::DynamicObject;
    use serde_json::json;

    const HR: &str = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/headlamp/helmreleases/headlamp";

    /// A HelmRelease as helm-controller v1.6 writes it while an install runs.
    fn installing() -> serde_json::Value {
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "headlamp", "namespace": "headlamp", "generation": 1,
                         "resourceVersion": "1843", "uid": "8f4c3d1e-7a55-4bb1-9d0e-6a3c1f0b2e11"},
            "spec": {"interval": "10m", "timeout": "10m",
                     "chart": {"spec": {"chart": "headlamp", "version": "0.41.0",
                               "sourceRef": {"kind": "HelmRepository", "name": "headlamp"}}}},
            "status": {
                "observedGeneration": 1,
                "lastAttemptedGeneration": 1,
                "lastAttemptedRevision": "0.41.0",
                "lastAttemptedConfigDigest": "sha256:0d9e7a3c",
                "lastAttemptedReleaseAction": "install",
                "helmChart": "headlamp/headlamp-headlamp",
                "conditions": [
                    {"type": "Reconciling", "status": "True", "reason": "Progressing",
                     "message": "Running 'install' action with timeout of 10m0s",
                     "lastTransitionTime": "2025-06-02T10:01:12Z", "observedGeneration": 1},
                    {"type": "Ready", "status": "Unknown", "reason": "Progressing",
                     "message": "Running 'install' action with timeout of 10m0s",
                     "lastTransitionTime": "2025-06-02T10:01:12Z", "observedGeneration": 1}
                ]
            }
        })
    }

    fn installed() -> serde_json::Value {
        let mut v = installing();
        v["status"]["conditions"] = json!([
            {"type": "Ready", "status": "True", "reason": "InstallSucceeded",
             "message": "Helm install succeeded for release headlamp/headlamp.v1 with chart headlamp@0.41.0",
             "lastTransitionTime": "2025-06-02T10:01:40Z", "observedGeneration": 1},
            {"type": "Released", "status": "True", "reason": "InstallSucceeded",
             "message": "Helm install succeeded for release headlamp/headlamp.v1 with chart headlamp@0.41.0",
             "lastTransitionTime": "2025-06-02T10:01:40Z", "observedGeneration": 1}
        ]);
        v
    }

    fn api(client: kube::Client) -> Api<DynamicObject> {
        Api::namespaced_with(client, "headlamp", &FluxKind::HelmRelease.api_resource())
    }

    #[tokio::test(start_paused = true)]
    async fn succeeds_after_two_rounds() {
        let (client, server) = mock_client(vec![
            step("GET", HR, installing()),
            step_status(
                "GET",
                HR,
                503,
                status(503, "ServiceUnavailable", "etcd leader changed"),
            ),
            step("GET", HR, installed()),
        ]);
        let obj = wait_for(
            &api(client),
            "headlamp",
            conditions::ready(),
            Duration::from_secs(300),
            "Ready",
        )
        .await
        .expect("Ready on the third read");
        assert_eq!(conditions::is_ready(&obj), Some(true));
        assert_eq!(server.await.unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_the_last_state_seen() {
        // 300 s at one read per 2 s: 150 reads, all still installing.
        let steps = (0..150).map(|_| step("GET", HR, installing())).collect();
        let (client, server) = mock_client(steps);
        let e = wait_for(
            &api(client),
            "headlamp",
            conditions::ready(),
            Duration::from_secs(300),
            "Ready",
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "HelmRelease headlamp/headlamp not Ready after 300s: last seen \
             Ready=Unknown Progressing \"Running 'install' action with timeout of 10m0s\""
        );
        assert!(matches!(e, WaitError::Timeout { .. }));
        assert_eq!(server.await.unwrap().len(), 150);
    }

    #[tokio::test(start_paused = true)]
    async fn missing_object_times_out_as_not_found_with_the_plural() {
        let steps = (0..3)
            .map(|_| {
                step_status(
                    "GET",
                    HR,
                    404,
                    status(
                        404,
                        "NotFound",
                        "helmreleases.helm.toolkit.fluxcd.io \"headlamp\" not found",
                    ),
                )
            })
            .collect();
        let (client, _server) = mock_client(steps);
        let e = wait_for(
            &api(client),
            "headlamp",
            conditions::ready(),
            Duration::from_secs(5),
            "Ready",
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "helmreleases headlamp/headlamp not Ready after 5s: last seen not found"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn forbidden_fails_at_once() {
        let (client, server) = mock_client(vec![step_status(
            "GET",
            HR,
            403,
            status(
                403,
                "Forbidden",
                "helmreleases.helm.toolkit.fluxcd.io \"headlamp\" is forbidden: User \"system:serviceaccount:e2e:runner\" cannot get resource \"helmreleases\"",
            ),
        )]);
        let e = wait_for(
            &api(client),
            "headlamp",
            conditions::ready(),
            Duration::from_secs(300),
            "Ready",
        )
        .await
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "helmreleases headlamp/headlamp: cannot tell whether it is Ready: 403 Forbidden: "
            ),
            "{msg}"
        );
        assert!(matches!(e, WaitError::Api { .. }));
        server.await.unwrap();
    }

    #[test]
    fn seconds_formatting() {
        assert_eq!(seconds(Duration::from_secs(300)), "300s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
    }
}
