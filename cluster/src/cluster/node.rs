//! Waiting for a node to become Ready: a pure condition plus `await_condition` under a deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::runtime::wait::await_condition;

use super::error::ClusterError;

/// `Ready=True` among the node's conditions.
pub fn node_is_ready(node: &Node) -> bool {
    ready_condition(node).is_some_and(|c| c.status == "True")
}

fn ready_condition(node: &Node) -> Option<&k8s_openapi::api::core::v1::NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// One line on a node's readiness, for timeouts and progress: `Ready=False (KubeletNotReady: …)`.
pub fn describe_node(node: Option<&Node>) -> String {
    let Some(node) = node else {
        return "node not found".to_owned();
    };
    match ready_condition(node) {
        None => "no Ready condition reported yet".to_owned(),
        Some(c) => {
            let reason = c.reason.as_deref().unwrap_or_default();
            let message = c.message.as_deref().unwrap_or_default();
            match (reason.is_empty(), message.is_empty()) {
                (true, true) => format!("Ready={}", c.status),
                (false, true) => format!("Ready={} ({reason})", c.status),
                (true, false) => format!("Ready={} ({message})", c.status),
                (false, false) => format!("Ready={} ({reason}: {message})", c.status),
            }
        }
    }
}

/// Watch node `name` until it is Ready, for at most `timeout`. Watch errors (e.g. an API server still starting) are
/// retried until the deadline. On timeout the error names the node, the condition and the last state seen.
pub async fn wait_node_ready(
    client: kube::Client,
    name: &str,
    timeout: Duration,
) -> Result<Node, ClusterError> {
    let api: Api<Node> = Api::all(client);
    let last = Arc::new(Mutex::new("no answer from the API server yet".to_owned()));
    let deadline = tokio::time::Instant::now() + timeout;
    let record = |last: &Mutex<String>, state: String| {
        *last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = state;
    };
    loop {
        let seen = Arc::clone(&last);
        let condition = move |node: Option<&Node>| {
            let state = describe_node(node);
            *seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = state;
            node.is_some_and(node_is_ready)
        };
        match tokio::time::timeout_at(deadline, await_condition(api.clone(), name, condition)).await
        {
            Ok(Ok(Some(node))) => {
                tracing::info!(node = name, "node is Ready");
                return Ok(node);
            }
            // The condition never accepts a missing node; keep watching.
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::debug!(node = name, error = %e, "watching the node failed; retrying");
                record(&last, format!("watch failed: {e}"));
                let retry_at = (tokio::time::Instant::now() + Duration::from_secs(1)).min(deadline);
                tokio::time::sleep_until(retry_at).await;
            }
            Err(_elapsed) => break,
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    let last = last
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    Err(ClusterError::Timeout {
        what: format!("node {name} to be Ready (condition Ready=True)"),
        waited: timeout,
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};

    const NOT_READY_MESSAGE: &str = "container runtime network not ready: NetworkReady=false \
        reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";

    /// A node as k3s v1.35 reports it, with the given Ready condition.
    fn k3s_node(ready: &str, reason: &str, message: &str, resource_version: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "headlamp-e2e-server",
                "uid": "5b1b8a52-9a7e-4d0b-a5a3-0c36c8a0f1de",
                "resourceVersion": resource_version,
                "creationTimestamp": "2026-05-01T10:15:30Z",
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/instance-type": "k3s",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": "headlamp-e2e-server",
                    "kubernetes.io/os": "linux",
                    "node-role.kubernetes.io/control-plane": "true",
                    "node.kubernetes.io/instance-type": "k3s"
                },
                "annotations": {
                    "k3s.io/node-args": "[\"server\",\"--snapshotter\",\"native\"]",
                    "node.alpha.kubernetes.io/ttl": "0"
                }
            },
            "spec": {
                "podCIDR": "10.42.0.0/24",
                "podCIDRs": ["10.42.0.0/24"],
                "providerID": "k3s://headlamp-e2e-server"
            },
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "172.17.0.2"},
                    {"type": "Hostname", "address": "headlamp-e2e-server"}
                ],
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                     "message": "kubelet has sufficient memory available",
                     "lastHeartbeatTime": "2026-05-01T10:15:40Z", "lastTransitionTime": "2026-05-01T10:15:30Z"},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                     "message": "kubelet has no disk pressure",
                     "lastHeartbeatTime": "2026-05-01T10:15:40Z", "lastTransitionTime": "2026-05-01T10:15:30Z"},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
                     "message": "kubelet has sufficient PID available",
                     "lastHeartbeatTime": "2026-05-01T10:15:40Z", "lastTransitionTime": "2026-05-01T10:15:30Z"},
                    {"type": "Ready", "status": ready, "reason": reason, "message": message,
                     "lastHeartbeatTime": "2026-05-01T10:15:40Z", "lastTransitionTime": "2026-05-01T10:15:30Z"}
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "containerRuntimeVersion": "containerd://2.2.3-k3s1",
                    "kernelVersion": "6.1.0-30-amd64",
                    "kubeProxyVersion": "",
                    "kubeletVersion": "v1.35.5+k3s1",
                    "operatingSystem": "linux",
                    "osImage": "K3s v1.35.5+k3s1",
                    "bootID": "0b0b0b0b-0000-4000-8000-000000000000",
                    "machineID": "",
                    "systemUUID": "0c0c0c0c-0000-4000-8000-000000000000"
                }
            }
        })
    }

    fn not_ready(rv: &str) -> Value {
        k3s_node("False", "KubeletNotReady", NOT_READY_MESSAGE, rv)
    }

    fn ready(rv: &str) -> Value {
        k3s_node(
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
            rv,
        )
    }

    fn node(value: Value) -> Node {
        serde_json::from_value(value).expect("valid Node")
    }

    #[test]
    fn ready_condition_is_read() {
        assert!(node_is_ready(&node(ready("1"))));
        assert!(!node_is_ready(&node(not_ready("1"))));
        assert!(!node_is_ready(&Node::default()));
        assert_eq!(
            describe_node(Some(&node(not_ready("1")))),
            format!("Ready=False (KubeletNotReady: {NOT_READY_MESSAGE})")
        );
        assert_eq!(
            describe_node(Some(&Node::default())),
            "no Ready condition reported yet"
        );
        assert_eq!(describe_node(None), "node not found");
    }

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

    fn mock_client() -> (kube::Client, Handle) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        (kube::Client::new(service, "default"), handle)
    }

    fn json_response(value: &Value) -> Response<Body> {
        Response::new(Body::from(serde_json::to_vec(value).expect("json")))
    }

    fn node_list(item: Value, rv: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": rv}, "items": [item]})
    }

    /// Answer the watcher's initial LIST with a not-yet-Ready node; return the next (WATCH) request's responder.
    async fn serve_initial_list(
        handle: &mut Handle,
    ) -> (
        Request<Body>,
        tower_test::mock::SendResponse<Response<Body>>,
    ) {
        let (request, send) = handle.next_request().await.expect("list request");
        assert_eq!(request.method(), http::Method::GET);
        let uri = request.uri().to_string();
        assert!(uri.starts_with("/api/v1/nodes?"), "{uri}");
        assert!(
            uri.contains("fieldSelector=metadata.name%3Dheadlamp-e2e-server"),
            "{uri}"
        );
        assert!(!uri.contains("watch=true"), "first call is the list: {uri}");
        send.send_response(json_response(&node_list(not_ready("100"), "100")));
        handle.next_request().await.expect("watch request")
    }

    #[tokio::test]
    async fn waits_until_the_node_turns_ready() {
        let (client, mut handle) = mock_client();
        let server = tokio::spawn(async move {
            let (request, send) = serve_initial_list(&mut handle).await;
            let uri = request.uri().to_string();
            assert!(uri.contains("watch=true"), "{uri}");
            assert!(uri.contains("resourceVersion=100"), "{uri}");
            let mut body = Vec::new();
            for event in [
                json!({"type": "MODIFIED", "object": not_ready("101")}),
                json!({"type": "MODIFIED", "object": ready("102")}),
            ] {
                body.extend(serde_json::to_vec(&event).expect("json"));
                body.push(b'\n');
            }
            send.send_response(Response::new(Body::from(body)));
            handle
        });
        let node = wait_node_ready(client, "headlamp-e2e-server", Duration::from_secs(5))
            .await
            .expect("node becomes Ready");
        assert!(node_is_ready(&node));
        assert_eq!(node.metadata.resource_version.as_deref(), Some("102"));
        server.await.expect("mock server");
    }

    #[tokio::test]
    async fn timeout_names_the_node_the_condition_and_the_last_state() {
        let (client, mut handle) = mock_client();
        let server = tokio::spawn(async move {
            let (_watch, send) = serve_initial_list(&mut handle).await;
            // The watch stays open with no event, as for a node whose CNI never comes up.
            std::future::pending::<()>().await;
            drop((send, handle));
        });
        let started = std::time::Instant::now();
        let err = wait_node_ready(client, "headlamp-e2e-server", Duration::from_millis(300))
            .await
            .expect_err("never Ready");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let message = err.to_string();
        assert!(
            message.starts_with(
                "timed out after 300ms waiting for node headlamp-e2e-server to be Ready (condition Ready=True); \
                 last state seen: Ready=False (KubeletNotReady: container runtime network not ready"
            ),
            "{message}"
        );
        assert!(message.contains("cni plugin not initialized"), "{message}");
        server.abort();
    }

    #[tokio::test]
    async fn api_errors_are_retried_and_reported() {
        let (client, mut handle) = mock_client();
        let server = tokio::spawn(async move {
            loop {
                let Some((_request, send)) = handle.next_request().await else {
                    break;
                };
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "the server is currently unable to handle the request", "reason": "ServiceUnavailable",
                    "code": 503});
                let mut response = json_response(&status);
                *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                send.send_response(response);
            }
        });
        let err = wait_node_ready(client, "headlamp-e2e-server", Duration::from_millis(1500))
            .await
            .expect_err("API never answers");
        let message = err.to_string();
        assert!(
            message.contains("last state seen: watch failed:"),
            "{message}"
        );
        server.abort();
    }
}
