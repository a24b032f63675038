//! Where `cargo xtask e2e` runs: a k3s container it starts (the default), or an existing cluster from a kubeconfig
//! (`--kubeconfig FILE [--context NAME]`, kind, k3d or a spare cluster).
//!
//! An existing cluster must be empty of Flux and of the app namespace, because the scenarios break and reset the app
//! and the run installs Flux and its own `flux-system` GitRepository and Kustomization: [`refusal`] says why it is
//! refused, unless `--i-know-this-cluster-is-disposable`. Teardown removes only what the run created
//! ([`Created`]): the Kustomization first (it prunes, so kustomize-controller deletes the app it applied, namespace
//! included), then its GitRepository, then the Flux objects the install applied — none of them when they were there
//! before the run.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::{Client, discovery::ApiResource};

use crate::flux::kinds::FluxKind;
use crate::{Error, Result};

/// The cluster a run uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClusterTarget {
    /// A labelled k3s container started for the run and removed after it.
    #[default]
    K3s,
    /// An existing cluster.
    Existing(ExistingCluster),
}

/// `--kubeconfig FILE [--context NAME] [--i-know-this-cluster-is-disposable] [--git-address IP]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingCluster {
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
    /// Run even when Flux or the app namespace are already there.
    pub disposable: bool,
    /// The address the git server binds and Flux clones from; default the Docker bridge gateway (kind, k3d).
    pub git_address: Option<std::net::IpAddr>,
}

/// The API group suffix of Flux's CRDs (`gitrepositories.source.toolkit.fluxcd.io`, …).
pub const FLUX_GROUP_SUFFIX: &str = ".toolkit.fluxcd.io";

/// What is on the cluster already that a run would take over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Occupancy {
    pub flux_namespace: bool,
    /// Names of Flux CRDs present.
    pub flux_crds: Vec<String>,
    /// The app namespace (`headlamp`) exists.
    pub app_namespace: bool,
}

impl Occupancy {
    pub fn is_empty(&self) -> bool {
        !self.flux_namespace && self.flux_crds.is_empty() && !self.app_namespace
    }
}

/// Why an existing cluster is refused, or `None` when it may be used.
pub fn refusal(o: &Occupancy, app_namespace: &str, disposable: bool) -> Option<String> {
    if o.is_empty() || disposable {
        return None;
    }
    let mut found = Vec::new();
    if o.flux_namespace {
        found.push(format!("namespace {}", crate::flux::install::NAMESPACE));
    }
    if !o.flux_crds.is_empty() {
        let shown: Vec<&str> = o.flux_crds.iter().take(3).map(String::as_str).collect();
        let more = o.flux_crds.len().saturating_sub(shown.len());
        found.push(format!(
            "Flux CRDs ({}{})",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if o.app_namespace {
        found.push(format!("namespace {app_namespace}"));
    }
    Some(format!(
        "refusing to run on this cluster: it already has {}. The run installs Flux, takes over the flux-system GitRepository and Kustomization, and the scenarios break and reset the app in namespace {app_namespace}. Use an empty cluster (e.g. `kind create cluster` or `k3d cluster create`), or pass --i-know-this-cluster-is-disposable.",
        found.join(", ")
    ))
}

/// `<action>: <the API's answer, or the connection error with its causes>`.
fn read_err(action: &str, e: &kube::Error) -> Error {
    let why = match e {
        kube::Error::Api(_) => crate::error::kube_message(e),
        other => crate::view::live::error_chain(other),
    };
    Error::Other(format!(
        "{action}: {why} (is the kubeconfig's server reachable?)"
    ))
}

/// Read what is there (get the two namespaces, list the CRDs).
pub async fn inspect(client: &Client, app_namespace: &str) -> Result<Occupancy> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let exists = |name: String| {
        let namespaces = namespaces.clone();
        async move {
            namespaces
                .get_opt(&name)
                .await
                .map(|n| n.is_some())
                .map_err(|e| read_err(&format!("reading Namespace {name}"), &e))
        }
    };
    let flux_namespace = exists(crate::flux::install::NAMESPACE.to_string()).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let flux_crds = crds
        .list(&ListParams::default())
        .await
        .map_err(|e| read_err("listing CustomResourceDefinitions", &e))?
        .items
        .into_iter()
        .filter(|c| c.spec.group.ends_with(FLUX_GROUP_SUFFIX))
        .filter_map(|c| c.metadata.name)
        .collect();
    let app_namespace = exists(app_namespace.to_string()).await?;
    Ok(Occupancy {
        flux_namespace,
        flux_crds,
        app_namespace,
    })
}

/// One object the run created.
#[derive(Debug, Clone)]
pub struct CreatedObject {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
}

/// What the run created on an existing cluster, in creation order.
#[derive(Debug, Clone, Default)]
pub struct Created {
    /// The Flux install's objects (empty when Flux was there before).
    pub flux: Vec<CreatedObject>,
    /// The flux-system GitRepository and Kustomization were applied by the run (and did not exist before).
    pub sync: bool,
    /// The app namespace did not exist before: the Kustomization's prune removes it, teardown waits for that.
    pub app_namespace: Option<String>,
}

fn api_for(client: &Client, o: &CreatedObject) -> Api<DynamicObject> {
    match &o.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &o.resource),
        None => Api::all_with(client.clone(), &o.resource),
    }
}

/// Delete what the run created, the sync first (waiting up to `prune_within` for the Kustomization to be gone, so
/// kustomize-controller prunes the app while it still runs), then the Flux objects in reverse order. Returns what
/// could not be removed (empty: all gone or going); a 404 is fine.
pub async fn teardown(client: &Client, created: &Created, prune_within: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    let ns = crate::flux::install::NAMESPACE;
    if created.sync {
        for kind in [FluxKind::Kustomization, FluxKind::GitRepository] {
            let api = kind.api(client.clone(), ns);
            match api.delete("flux-system", &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => continue,
                Err(e) => {
                    problems.push(format!(
                        "deleting {kind:?} {ns}/flux-system: {}",
                        crate::error::kube_message(&e)
                    ));
                    continue;
                }
            }
            // their finalizers need the controllers: wait before the controllers go
            let gone = crate::observe::waits::poll(
                prune_within,
                &format!("{kind:?} {ns}/flux-system gone"),
                || async {
                    Ok(match api.get_opt("flux-system").await {
                        Ok(None) => Ok(()),
                        Ok(Some(_)) => Err("still there".to_string()),
                        Err(e) => Err(crate::error::kube_message(&e)),
                    })
                },
            )
            .await;
            if let Err(e) = gone {
                problems.push(e);
            }
        }
    }
    // the Kustomization pruned the app; its HelmRelease's finalizer needs helm-controller: wait for the namespace
    if let Some(app) = &created.app_namespace {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let gone = crate::observe::waits::poll(
            prune_within,
            &format!("Namespace {app} gone (pruned with the Kustomization)"),
            || async {
                Ok(match namespaces.get_opt(app).await {
                    Ok(None) => Ok(()),
                    Ok(Some(n)) => Err(format!(
                        "still there ({})",
                        n.status
                            .and_then(|s| s.phase)
                            .unwrap_or_else(|| "no phase".into())
                    )),
                    Err(e) => Err(crate::error::kube_message(&e)),
                })
            },
        )
        .await;
        if let Err(e) = gone {
            problems.push(e);
        }
    }
    for o in created.flux.iter().rev() {
        match api_for(client, o)
            .delete(&o.name, &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => problems.push(format!(
                "deleting {} {}{}: {}",
                o.resource.kind,
                o.namespace
                    .as_deref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default(),
                o.name,
                crate::error::kube_message(&e)
            )),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock_api::{mock_client, status, step, step_status};
    use serde_json::json;

    #[test]
    fn an_empty_cluster_is_used_and_an_occupied_one_refused_unless_disposable() {
        assert_eq!(refusal(&Occupancy::default(), "headlamp", false), None);
        let busy = Occupancy {
            flux_namespace: true,
            flux_crds: vec![
                "alerts.notification.toolkit.fluxcd.io".into(),
                "buckets.source.toolkit.fluxcd.io".into(),
                "gitrepositories.source.toolkit.fluxcd.io".into(),
                "helmreleases.helm.toolkit.fluxcd.io".into(),
            ],
            app_namespace: true,
        };
        let why = refusal(&busy, "headlamp", false).unwrap();
        assert!(
            why.starts_with("refusing to run on this cluster: it already has namespace flux-system, Flux CRDs (alerts.notification.toolkit.fluxcd.io, buckets.source.toolkit.fluxcd.io, gitrepositories.source.toolkit.fluxcd.io and 1 more), namespace headlamp."),
            "{why}"
        );
        assert!(why.contains("--i-know-this-cluster-is-disposable"), "{why}");
        assert_eq!(refusal(&busy, "headlamp", true), None);
        let app_only = Occupancy {
            app_namespace: true,
            ..Occupancy::default()
        };
        assert!(
            refusal(&app_only, "headlamp", false)
                .unwrap()
                .contains("it already has namespace headlamp.")
        );
    }

    fn crd(name: &str, group: &str) -> serde_json::Value {
        json!({"metadata": {"name": name}, "spec": {"group": group, "names": {"plural": "x", "kind": "X"},
               "scope": "Namespaced", "versions": []}})
    }

    #[tokio::test]
    async fn inspection_reads_the_namespaces_and_the_flux_crds() {
        let not_found = |n: &str| status(404, "NotFound", &format!("namespaces \"{n}\" not found"));
        let (client, handle) = mock_client(vec![
            step_status(
                "GET",
                "/api/v1/namespaces/flux-system",
                404,
                not_found("flux-system"),
            ),
            step(
                "GET",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                json!({"metadata": {}, "items": [
                    crd("ingressroutes.traefik.io", "traefik.io"),
                    crd("gitrepositories.source.toolkit.fluxcd.io", "source.toolkit.fluxcd.io"),
                ]}),
            ),
            step(
                "GET",
                "/api/v1/namespaces/headlamp",
                json!({"metadata": {"name": "headlamp"}}),
            ),
        ]);
        let o = inspect(&client, "headlamp").await.unwrap();
        let seen = handle.await.unwrap();
        assert!(seen.iter().all(|s| s.method == "GET"));
        assert_eq!(
            o,
            Occupancy {
                flux_namespace: false,
                flux_crds: vec!["gitrepositories.source.toolkit.fluxcd.io".into()],
                app_namespace: true,
            }
        );
        // an empty kind cluster
        let (client, handle) = mock_client(vec![
            step_status(
                "GET",
                "/api/v1/namespaces/flux-system",
                404,
                not_found("flux-system"),
            ),
            step(
                "GET",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                json!({"metadata": {}, "items": []}),
            ),
            step_status(
                "GET",
                "/api/v1/namespaces/headlamp",
                404,
                not_found("headlamp"),
            ),
        ]);
        assert!(inspect(&client, "headlamp").await.unwrap().is_empty());
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn teardown_deletes_the_sync_first_then_only_the_flux_objects_the_run_applied() {
        let ns_res = ApiResource::erase::<Namespace>(&());
        let crd_res = ApiResource::erase::<CustomResourceDefinition>(&());
        let created = Created {
            flux: vec![
                CreatedObject {
                    resource: ns_res,
                    namespace: None,
                    name: "flux-system".into(),
                },
                CreatedObject {
                    resource: crd_res,
                    namespace: None,
                    name: "gitrepositories.source.toolkit.fluxcd.io".into(),
                },
            ],
            sync: true,
            app_namespace: Some("headlamp".into()),
        };
        let gone = status(404, "NotFound", "not found");
        let (client, handle) = mock_client(vec![
            step(
                "DELETE",
                "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/flux-system",
                json!({"kind": "Status", "status": "Success"}),
            ),
            step_status(
                "GET",
                "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/flux-system",
                404,
                gone.clone(),
            ),
            step_status(
                "DELETE",
                "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system",
                404,
                gone.clone(),
            ),
            step_status("GET", "/api/v1/namespaces/headlamp", 404, gone.clone()),
            step(
                "DELETE",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gitrepositories.source.toolkit.fluxcd.io",
                json!({"kind": "Status", "status": "Success"}),
            ),
            step_status(
                "DELETE",
                "/api/v1/namespaces/flux-system",
                403,
                status(403, "Forbidden", "namespaces \"flux-system\" is forbidden"),
            ),
        ]);
        let problems = teardown(&client, &created, Duration::from_secs(5)).await;
        let seen = handle.await.unwrap();
        assert_eq!(seen.len(), 6);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("deleting Namespace flux-system: 403"),
            "{problems:?}"
        );
        // nothing when the run created nothing (Flux and the sync were there before)
        let (client, handle) = mock_client(vec![]);
        assert!(
            teardown(&client, &Created::default(), Duration::from_secs(5))
                .await
                .is_empty()
        );
        assert!(handle.await.unwrap().is_empty());
    }
}
