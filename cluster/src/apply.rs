//! Apply arbitrary YAML the way `kubectl apply --server-side --force-conflicts --field-manager headlamp-e2e` does.
//!
//! Each document becomes a `DynamicObject`; its `apiVersion` + `kind` are resolved against the API server's
//! discovery (one request per group-version, cached), which also gives the scope: namespaced objects without a
//! namespace go to the client's default namespace, cluster-scoped ones lose any namespace they carry. `List`
//! documents are flattened.
//!
//! Order: every CustomResourceDefinition first, each waited for until Established (the caller's deadline), then
//! discovery is forgotten (so the new kinds resolve), then Namespaces, then everything else in document order.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, Scope};
use kube::runtime::wait::conditions::is_crd_established;
use kube::{Api, Client};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::flux::wait::wait_for;

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "headlamp-e2e";

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long each CustomResourceDefinition may take to become Established.
    pub crd_deadline: Duration,
}

impl ApplyOptions {
    pub fn new(crd_deadline: Duration) -> Self {
        ApplyOptions { crd_deadline }
    }
}

/// One object the API server accepted.
#[derive(Debug, Clone)]
pub struct Applied {
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    pub id: String,
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    /// The object as the API server returned it.
    pub object: DynamicObject,
}

/// Read `path` and apply its documents.
pub async fn apply_file(client: &Client, path: &Path, opts: &ApplyOptions) -> Result<Vec<Applied>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    apply_yaml(client, &text, path, opts).await
}

/// Parse multi-document YAML (`source` names it in syntax errors) and apply it.
pub async fn apply_yaml(
    client: &Client,
    text: &str,
    source: &Path,
    opts: &ApplyOptions,
) -> Result<Vec<Applied>> {
    let docs = crate::yaml::parse_yaml_documents(text, source)?;
    apply_values(client, docs, opts).await.map_err(|e| match e {
        Error::Other(m) => Error::Other(format!("{}: {m}", source.display())),
        other => other,
    })
}

/// Apply objects given as JSON values, CRDs first. Returns what was applied, in the order applied.
pub async fn apply_values(
    client: &Client,
    docs: Vec<Value>,
    opts: &ApplyOptions,
) -> Result<Vec<Applied>> {
    let mut objects = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        flatten(doc, i + 1, &mut objects)?;
    }
    let (crds, rest): (Vec<_>, Vec<_>) = objects.into_iter().partition(is_crd);
    let (namespaces, rest): (Vec<_>, Vec<_>) = rest.into_iter().partition(is_namespace);

    let mut resolver = Resolver::new(client.clone());
    let mut applied = Vec::new();
    if !crds.is_empty() {
        let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in crds {
            applied.push(apply_one(client, &mut resolver, crd).await?);
        }
        for a in &applied {
            wait_for(
                &crd_api,
                &a.name,
                is_crd_established(),
                opts.crd_deadline,
                "Established",
            )
            .await?;
        }
        // The new kinds are served now: discover again.
        resolver.forget();
    }
    for obj in namespaces.into_iter().chain(rest) {
        applied.push(apply_one(client, &mut resolver, obj).await?);
    }
    Ok(applied)
}

fn is_crd(v: &Value) -> bool {
    v["kind"] == "CustomResourceDefinition"
        && v["apiVersion"]
            .as_str()
            .is_some_and(|a| a.starts_with("apiextensions.k8s.io/"))
}

fn is_namespace(v: &Value) -> bool {
    v["kind"] == "Namespace" && v["apiVersion"] == "v1"
}

/// Check a document is an object (or a `List` of them) and collect it.
fn flatten(doc: Value, index: usize, out: &mut Vec<Value>) -> Result<()> {
    let kind = doc["kind"].as_str().unwrap_or("");
    if kind.ends_with("List") && doc["items"].is_array() {
        if let Value::Array(items) = doc["items"].clone() {
            for item in items {
                flatten(item, index, out)?;
            }
        }
        return Ok(());
    }
    let missing: Vec<&str> = [
        ("apiVersion", doc["apiVersion"].is_string()),
        ("kind", doc["kind"].is_string()),
        ("metadata.name", doc["metadata"]["name"].is_string()),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(k, _)| k)
    .collect();
    if !missing.is_empty() {
        return Err(Error::Other(format!(
            "document {index} is not a Kubernetes object: no {}",
            missing.join(", ")
        )));
    }
    out.push(doc);
    Ok(())
}

/// `Kind/namespace/name` or `Kind/name`.
fn object_id(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

async fn apply_one(client: &Client, resolver: &mut Resolver, doc: Value) -> Result<Applied> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let given_ns = doc["metadata"]["namespace"].as_str().map(str::to_string);
    let (ar, caps) = resolver
        .resolve(&api_version, &kind)
        .await
        .map_err(|e| e.into_error(&object_id(&kind, given_ns.as_deref(), &name)))?;
    let mut obj: DynamicObject = serde_json::from_value(doc).map_err(|e| {
        Error::Other(format!(
            "{}: not a valid object: {e}",
            object_id(&kind, given_ns.as_deref(), &name)
        ))
    })?;
    let (api, namespace): (Api<DynamicObject>, Option<String>) = match caps.scope {
        Scope::Namespaced => {
            let ns = given_ns.unwrap_or_else(|| client.default_namespace().to_string());
            obj.metadata.namespace = Some(ns.clone());
            (Api::namespaced_with(client.clone(), &ns, &ar), Some(ns))
        }
        Scope::Cluster => {
            obj.metadata.namespace = None;
            (Api::all_with(client.clone(), &ar), None)
        }
    };
    let id = object_id(&kind, namespace.as_deref(), &name);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let object = api
        .patch(&name, &params, &Patch::Apply(&obj))
        .await
        .map_err(|e| Error::kube(format!("applying {id}"), e))?;
    tracing::debug!(object = %id, "applied");
    Ok(Applied {
        id,
        resource: ar,
        namespace,
        name,
        object,
    })
}

/// Discovery, one group-version at a time, cached until [`Resolver::forget`].
struct Resolver {
    client: Client,
    cache: HashMap<String, Vec<(ApiResource, ApiCapabilities)>>,
}

enum ResolveError {
    BadApiVersion(String),
    NotServed { api_version: String },
    NoSuchKind { api_version: String, kind: String },
    Api(kube::Error),
}

impl ResolveError {
    fn into_error(self, id: &str) -> Error {
        match self {
            ResolveError::BadApiVersion(v) => {
                Error::Other(format!("{id}: `{v}` is not a valid apiVersion"))
            }
            ResolveError::NotServed { api_version } => Error::Other(format!(
                "{id}: the API server does not serve {api_version} (is its CustomResourceDefinition applied, at that version?)"
            )),
            ResolveError::NoSuchKind { api_version, kind } => Error::Other(format!(
                "{id}: the API server serves {api_version} but no kind {kind} in it"
            )),
            ResolveError::Api(e) => Error::kube(format!("{id}: discovering its API"), e),
        }
    }
}

impl Resolver {
    fn new(client: Client) -> Self {
        Resolver {
            client,
            cache: HashMap::new(),
        }
    }

    fn forget(&mut self) {
        self.cache.clear();
    }

    async fn resolve(
        &mut self,
        api_version: &str,
        kind: &str,
    ) -> std::result::Result<(ApiResource, ApiCapabilities), ResolveError> {
        if kind == "CustomResourceDefinition" && api_version == "apiextensions.k8s.io/v1" {
            // Known, and needed before anything else is served.
            return Ok((
                ApiResource::erase::<CustomResourceDefinition>(&()),
                ApiCapabilities {
                    scope: Scope::Cluster,
                    subresources: vec![],
                    operations: vec![],
                },
            ));
        }
        if !self.cache.contains_key(api_version) {
            let gv: GroupVersion = api_version
                .parse()
                .map_err(|_| ResolveError::BadApiVersion(api_version.to_string()))?;
            let group = match kube::discovery::pinned_group(&self.client, &gv).await {
                Ok(g) => g,
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    return Err(ResolveError::NotServed {
                        api_version: api_version.to_string(),
                    });
                }
                Err(e) => return Err(ResolveError::Api(e)),
            };
            self.cache.insert(
                api_version.to_string(),
                group.versioned_resources(&gv.version),
            );
        }
        self.cache
            .get(api_version)
            .and_then(|rs| rs.iter().find(|(ar, _)| ar.kind == kind).cloned())
            .ok_or_else(|| ResolveError::NoSuchKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock_api::{Seen, mock_client, status, step, step_status, step_with};
    use serde_json::json;

    const YAML: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: c1
  namespace: apps
data:
  greeting: hello
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

    const CRD_PATH: &str =
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com";

    /// The CRD as the API server returns it, with its status at `established`.
    fn crd(established: &str) -> Value {
        let mut conds = vec![json!({
            "type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
            "message": "no conflicts found", "lastTransitionTime": "2025-06-02T09:57:01Z"})];
        conds.push(if established == "True" {
            json!({"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                   "message": "the initial names have been accepted", "lastTransitionTime": "2025-06-02T09:57:02Z"})
        } else {
            json!({"type": "Established", "status": "False", "reason": "Installing",
                   "message": "the initial names have been accepted", "lastTransitionTime": "2025-06-02T09:57:01Z"})
        });
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com", "uid": "0c0b7c43-1d1e-4d36-9a2e-3f1f5e0c9b11",
                         "resourceVersion": "611", "generation": 1},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"kind": "Widget", "listKind": "WidgetList", "plural": "widgets", "singular": "widget"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
                     "conversion": {"strategy": "None"}},
            "status": {"acceptedNames": {"kind": "Widget", "listKind": "WidgetList", "plural": "widgets", "singular": "widget"},
                       "storedVersions": ["v1"], "conditions": conds}
        })
    }

    fn widget_resources() -> Value {
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "example.com/v1",
               "resources": [
                 {"name": "widgets", "singularName": "widget", "namespaced": true, "kind": "Widget",
                  "verbs": ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
                  "storageVersionHash": "Hc1vdCQZ0C8="}]})
    }

    fn core_resources() -> Value {
        json!({"kind": "APIResourceList", "groupVersion": "v1",
               "resources": [
                 {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap",
                  "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                  "shortNames": ["cm"], "storageVersionHash": "qFsyl6wFWjQ="},
                 {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
                  "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                  "shortNames": ["ns"], "storageVersionHash": "Q3oi5N2YM8M="},
                 {"name": "namespaces/status", "singularName": "", "namespaced": false, "kind": "Namespace",
                  "verbs": ["get", "patch", "update"]}]})
    }

    /// Echo the applied body back with server fields, as the API server does.
    fn echo(seen: &[Seen]) -> (u16, Value) {
        let mut v = seen.last().unwrap().body.clone();
        v["metadata"]["uid"] = json!("5d1e2b9c-0f7a-4e3b-8c6d-2a4f1e9b7c30");
        v["metadata"]["resourceVersion"] = json!("700");
        (200, v)
    }

    #[tokio::test(start_paused = true)]
    async fn crds_first_established_then_the_rest() {
        let (client, server) = mock_client(vec![
            step_with("PATCH", CRD_PATH, |_| (200, crd("False"))),
            step("GET", CRD_PATH, crd("False")),
            step("GET", CRD_PATH, crd("True")),
            step("GET", "/apis/example.com/v1", widget_resources()),
            step_with(
                "PATCH",
                "/apis/example.com/v1/namespaces/default/widgets/w1?",
                echo,
            ),
            step("GET", "/api/v1", core_resources()),
            step_with("PATCH", "/api/v1/namespaces/apps/configmaps/c1?", echo),
        ]);
        let applied = apply_yaml(
            &client,
            YAML,
            Path::new("widgets.yaml"),
            &ApplyOptions::new(Duration::from_secs(30)),
        )
        .await
        .expect("applied");
        let ids: Vec<&str> = applied.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "CustomResourceDefinition/widgets.example.com",
                "Widget/default/w1",
                "ConfigMap/apps/c1"
            ]
        );
        assert_eq!(applied[1].resource.plural, "widgets");
        assert_eq!(
            applied[1].object.metadata.resource_version.as_deref(),
            Some("700")
        );

        drop(client);
        let seen = server.await.unwrap();
        for s in seen.iter().filter(|s| s.method == "PATCH") {
            assert!(s.uri.contains("fieldManager=headlamp-e2e"), "{}", s.uri);
            assert!(s.uri.contains("force=true"), "{}", s.uri);
            assert_eq!(
                s.content_type.as_deref(),
                Some("application/apply-patch+yaml")
            );
        }
        // the namespace the server-side apply body carries is the one in the URL
        assert_eq!(seen[4].body["metadata"]["namespace"], "default");
        assert_eq!(seen[4].body["apiVersion"], "example.com/v1");
        assert_eq!(seen[4].body["kind"], "Widget");
        assert_eq!(seen[4].body["spec"]["size"], 3);
        assert!(seen[0].body["metadata"].get("namespace").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn crd_never_established_names_it() {
        let steps = std::iter::once(step("PATCH", CRD_PATH, crd("False")))
            .chain((0..5).map(|_| step("GET", CRD_PATH, crd("False"))))
            .collect();
        let (client, _server) = mock_client(steps);
        let crd_only = YAML.split("---").nth(2).unwrap();
        let e = apply_yaml(
            &client,
            crd_only,
            Path::new("crd.yaml"),
            &ApplyOptions::new(Duration::from_secs(10)),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CustomResourceDefinition widgets.example.com not Established after 10s: last seen \
             NamesAccepted=True NoConflicts \"no conflicts found\"; \
             Established=False Installing \"the initial names have been accepted\""
        );
    }

    #[tokio::test]
    async fn api_error_names_the_object() {
        let (client, _server) = mock_client(vec![
            step("GET", "/api/v1", core_resources()),
            step_status(
                "PATCH",
                "/api/v1/namespaces/apps/configmaps/c1?",
                422,
                status(
                    422,
                    "Invalid",
                    "ConfigMap \"c1\" is invalid: data[greeting]: Invalid value: 3: must be a string",
                ),
            ),
        ]);
        let cm = YAML.split("---").nth(1).unwrap();
        let e = apply_yaml(
            &client,
            cm,
            Path::new("cm.yaml"),
            &ApplyOptions::new(Duration::from_secs(10)),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "applying ConfigMap/apps/c1: 422 Invalid: ConfigMap \"c1\" is invalid: data[greeting]: Invalid value: 3: must be a string"
        );
    }

    #[tokio::test]
    async fn unserved_group_version_names_the_object() {
        let (client, _server) = mock_client(vec![step_status(
            "GET",
            "/apis/example.com/v1",
            404,
            status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        )]);
        let widget = YAML.split("---").next().unwrap();
        let e = apply_yaml(
            &client,
            widget,
            Path::new("w.yaml"),
            &ApplyOptions::new(Duration::from_secs(10)),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.yaml: Widget/w1: the API server does not serve example.com/v1 (is its CustomResourceDefinition applied, at that version?)"
        );
    }

    #[tokio::test]
    async fn cluster_scoped_objects_lose_their_namespace_and_lists_are_flattened() {
        let (client, server) = mock_client(vec![
            step("GET", "/api/v1", core_resources()),
            step_with("PATCH", "/api/v1/namespaces/flux-system?", echo),
            step_with("PATCH", "/api/v1/namespaces/apps/configmaps/a?", echo),
        ]);
        let yaml = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a, namespace: apps}
- apiVersion: v1
  kind: Namespace
  metadata: {name: flux-system, namespace: ignored}
"#;
        let applied = apply_yaml(
            &client,
            yaml,
            Path::new("l.yaml"),
            &ApplyOptions::new(Duration::from_secs(1)),
        )
        .await
        .unwrap();
        let ids: Vec<&str> = applied.iter().map(|a| a.id.as_str()).collect();
        // Namespaces go before the other objects
        assert_eq!(ids, ["Namespace/flux-system", "ConfigMap/apps/a"]);
        drop(client);
        let seen = server.await.unwrap();
        assert!(seen[1].body["metadata"].get("namespace").is_none());
    }

    #[tokio::test]
    async fn a_document_that_is_not_an_object_is_refused_before_any_request() {
        let (client, server) = mock_client(vec![]);
        let e = apply_yaml(
            &client,
            "foo: bar\n",
            Path::new("x.yaml"),
            &ApplyOptions::new(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.yaml: document 1 is not a Kubernetes object: no apiVersion, kind, metadata.name"
        );
        drop(client);
        assert!(server.await.unwrap().is_empty());
    }
}
