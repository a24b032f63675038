//! `--service`: reach Headlamp through the API server, without an ingress, as `kubectl port-forward svc/headlamp`
//! does: resolve the Service to one of its running pods and the container port behind the Service port, then open
//! a `pods/portforward` stream per local connection (kube-rs `Api::portforward`).
//!
//! Not the `services/proxy` subresource: that request is authenticated with the caller's `Authorization` header,
//! the one header Headlamp needs to carry the login token (FACTS.md, Headlamp proxy: the in-cluster context has an
//! empty AuthInfo, the client's bearer token is what reaches the API server).

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Client;
use kube::api::{Api, ListParams};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The pod and container port a Service port leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    pub service: String,
    pub service_port: i32,
    pub pod: String,
    pub container_port: u16,
}

fn running_and_ready(p: &Pod) -> bool {
    let status = p.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Pick the pod and port as kubectl does (kubernetes/kubectl pkg/cmd/portforward/portforward.go
/// `translateServicePortToTargetPort`: an integer targetPort is the port, a named one is looked up among the
/// pod's container ports, none means the Service port itself), for the first Service port named in `port_names`,
/// else the first port. `pods` are those the Service's selector matches; the first running, ready one is used.
pub fn resolve(
    service: &Service,
    pods: &[Pod],
    port_names: &[&str],
) -> Result<ServiceTarget, String> {
    let name = service.metadata.name.clone().unwrap_or_default();
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("Service {name} has no ports"))?;
    let port = port_names
        .iter()
        .find_map(|n| ports.iter().find(|p| p.name.as_deref() == Some(*n)))
        .unwrap_or(&ports[0]);
    let pod = pods.iter().find(|p| running_and_ready(p)).ok_or_else(|| {
        format!(
            "Service {name} has no running, ready pod behind it ({} pod(s) match its selector)",
            pods.len()
        )
    })?;
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let container_port = match &port.target_port {
        Some(IntOrString::Int(n)) if *n > 0 => *n,
        Some(IntOrString::String(port_name)) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(port_name.as_str()))
            .map(|p| p.container_port)
            .ok_or_else(|| {
                format!(
                    "Service {name} targets port `{port_name}`, which no container of pod {pod_name} declares"
                )
            })?,
        _ => port.port,
    };
    let container_port = u16::try_from(container_port)
        .map_err(|_| format!("Service {name}: port {container_port} is out of range"))?;
    Ok(ServiceTarget {
        service: name,
        service_port: port.port,
        pod: pod_name,
        container_port,
    })
}

/// A local listener forwarding every connection to the pod; stopped when dropped.
pub struct Forward {
    pub local: SocketAddr,
    pub target: ServiceTarget,
    task: JoinHandle<()>,
}

impl Forward {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local)
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Resolve Service `namespace/service` (its port named in `port_names`, see [`resolve`]) and listen on 127.0.0.1 (a
/// free port) forwarding to it, with the caller's credentials (they need `get` on services, `list` on pods and
/// `create` on pods/portforward). The pod is chosen once: a replaced pod ends the forward.
pub async fn forward(
    client: &Client,
    namespace: &str,
    service: &str,
    port_names: &[&str],
) -> Result<Forward, String> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let svc = services.get(service).await.map_err(|e| {
        format!(
            "reading Service {namespace}/{service}: {}",
            crate::error::kube_message(&e)
        )
    })?;
    let selector = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .ok_or_else(|| {
            format!("Service {namespace}/{service} has no selector: there is no pod to forward to")
        })?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| {
            format!(
                "listing the pods of Service {namespace}/{service}: {}",
                crate::error::kube_message(&e)
            )
        })?;
    let target = resolve(&svc, &list.items, port_names)?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("listening on 127.0.0.1 for the port-forward: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("the port-forward listener has no address: {e}"))?;
    let (pod, port) = (target.pod.clone(), target.container_port);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let pods = pods.clone();
            let pod = pod.clone();
            tokio::spawn(async move {
                let mut pf = match pods.portforward(&pod, &[port]).await {
                    Ok(pf) => pf,
                    Err(e) => {
                        tracing::warn!(
                            "port-forward to pod {pod} port {port}: {}",
                            crate::error::kube_message(&e)
                        );
                        return;
                    }
                };
                let Some(mut upstream) = pf.take_stream(port) else {
                    return;
                };
                if let Err(e) = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await {
                    tracing::debug!("port-forward connection ended: {e}");
                }
                drop(upstream);
                let _ = pf.join().await;
            });
        }
    });
    Ok(Forward {
        local,
        target,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(target_port: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "headlamp", "namespace": "headlamp"},
            "spec": {"selector": {"app.kubernetes.io/name": "headlamp"},
                     "ports": [{"name": "http", "port": 80, "targetPort": target_port}]}
        }))
        .unwrap()
    }

    fn pod(name: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "headlamp", "ports": [{"name": "http", "containerPort": 4466}]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    #[test]
    fn the_chart_service_leads_to_container_port_4466_of_a_ready_pod() {
        // chart 0.41.0 templates/service.yaml: port 80, targetPort http; deployment.yaml: containerPort 4466 named http
        let t = resolve(
            &service(json!("http")),
            &[pod("old", false), pod("new", true)],
            &["http"],
        )
        .unwrap();
        assert_eq!(
            t,
            ServiceTarget {
                service: "headlamp".into(),
                service_port: 80,
                pod: "new".into(),
                container_port: 4466
            }
        );
        assert_eq!(
            resolve(&service(json!(8080)), &[pod("p", true)], &["http"])
                .unwrap()
                .container_port,
            8080
        );
        let e = resolve(&service(json!("web")), &[pod("p", true)], &["http"]).unwrap_err();
        assert!(e.contains("targets port `web`"), "{e}");
        let e = resolve(&service(json!("http")), &[pod("p", false)], &["http"]).unwrap_err();
        assert!(e.contains("no running, ready pod"), "{e}");
    }

    #[test]
    fn the_preferred_port_name_picks_traefiks_web_entrypoint() {
        // Traefik's chart names its entrypoint ports web and websecure; the numbers are test data
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "traefik"},
            "spec": {"ports": [{"name": "websecure", "port": 443, "targetPort": "websecure"},
                               {"name": "web", "port": 80, "targetPort": "web"}]}
        }))
        .unwrap();
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "traefik-abc"},
            "spec": {"containers": [{"name": "traefik", "ports": [
                {"name": "web", "containerPort": 8000}, {"name": "websecure", "containerPort": 8443}]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let t = resolve(&svc, std::slice::from_ref(&p), &["web", "http"]).unwrap();
        assert_eq!((t.service_port, t.container_port), (80, 8000));
        // without a preference: the first port
        let t = resolve(&svc, &[p], &[]).unwrap();
        assert_eq!(t.container_port, 8443);
    }
}
