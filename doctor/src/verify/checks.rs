//! The decisions `verify` adds to the e2e baseline's, as plain functions over API objects: the namespace's Pod
//! Security labels, the RoleBindings and ClusterRoleBindings of the guarded ServiceAccounts, and the answer of a
//! SelfSubjectAccessReview standing in for a probe that cannot be a dry run.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use serde_json::{Value, json};

use crate::baseline::SubCheck;
use crate::rbac::{AccessCheck, CheckOutcome, Expected, Route, Verdict};

/// Pod Security admission's labels (k8s.io/pod-security-admission/api/constants.go).
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";

/// The namespace enforces Pod Security `restricted` (as fixtures/gitops/apps/base/headlamp/namespace.yaml labels it).
pub fn judge_pod_security(ns: &Namespace) -> SubCheck {
    let name = ns.metadata.name.as_deref().unwrap_or("?");
    let labels = ns.metadata.labels.clone().unwrap_or_default();
    let enforce = labels.get(ENFORCE_LABEL).map(String::as_str);
    let version = labels
        .get(ENFORCE_VERSION_LABEL)
        .map(String::as_str)
        .unwrap_or("latest");
    let r = match enforce {
        Some("restricted") => Ok(()),
        Some(other) => Err(format!(
            "namespace {name} enforces Pod Security `{other}`, not `restricted` (label {ENFORCE_LABEL})"
        )),
        None => Err(format!(
            "namespace {name} has no {ENFORCE_LABEL} label: Pod Security admits privileged pods there (label it `restricted`)"
        )),
    };
    (format!("enforce-restricted@{version}"), r)
}

/// A ServiceAccount that may be bound to ClusterRole `view` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    pub namespace: String,
    pub name: String,
    /// `the Headlamp pod's ServiceAccount`, `the login ServiceAccount`.
    pub why: &'static str,
}

/// Does `subject` of a binding in `binding_ns` (None: a ClusterRoleBinding) grant to `sa`? A ServiceAccount subject
/// by name, or the groups every ServiceAccount of the namespace is in (`system:serviceaccounts[:<ns>]`,
/// k8s.io/apiserver pkg/authentication/serviceaccount/util.go).
fn names(subject: &Subject, binding_ns: Option<&str>, sa: &Guarded) -> bool {
    match subject.kind.as_str() {
        "ServiceAccount" => {
            let ns = subject.namespace.as_deref().or(binding_ns);
            subject.name == sa.name && ns == Some(sa.namespace.as_str())
        }
        "Group" => {
            subject.name == "system:serviceaccounts"
                || subject.name == format!("system:serviceaccounts:{}", sa.namespace)
        }
        _ => false,
    }
}

fn is_view(r: &RoleRef) -> bool {
    r.kind == "ClusterRole" && r.name == "view"
}

/// A binding of a guarded ServiceAccount to something else than `view`.
#[derive(Debug, Clone, PartialEq)]
pub struct WideBinding {
    /// `ClusterRoleBinding/headlamp-admin`, `RoleBinding/headlamp/edit-me`.
    pub binding: String,
    pub role_ref: RoleRef,
    /// The namespace of a RoleBinding (a Role it names lives there).
    pub namespace: Option<String>,
}

/// The bindings of `sa` to anything but ClusterRole `view`.
pub fn wide_bindings(
    sa: &Guarded,
    cluster: &[ClusterRoleBinding],
    namespaced: &[RoleBinding],
) -> Vec<WideBinding> {
    let mut out = Vec::new();
    for b in cluster {
        if !is_view(&b.role_ref) && b.subjects.iter().flatten().any(|s| names(s, None, sa)) {
            out.push(WideBinding {
                binding: format!(
                    "ClusterRoleBinding/{}",
                    b.metadata.name.as_deref().unwrap_or("?")
                ),
                role_ref: b.role_ref.clone(),
                namespace: None,
            });
        }
    }
    for b in namespaced {
        let ns = b.metadata.namespace.as_deref();
        if !is_view(&b.role_ref) && b.subjects.iter().flatten().any(|s| names(s, ns, sa)) {
            out.push(WideBinding {
                binding: format!(
                    "RoleBinding/{}/{}",
                    ns.unwrap_or("?"),
                    b.metadata.name.as_deref().unwrap_or("?")
                ),
                role_ref: b.role_ref.clone(),
                namespace: ns.map(str::to_string),
            });
        }
    }
    out
}

/// The verdict on `sa`'s bindings. `roles` holds the roles of `wide` that could be read (key: `Kind/ns/name` or
/// `ClusterRole/name`, see [`role_key`]), for naming the grants that make them unsafe (the lint rule's words).
pub fn judge_bindings(
    sa: &Guarded,
    wide: &[WideBinding],
    roles: &BTreeMap<String, Value>,
) -> SubCheck {
    let name = format!("{}-bound-to-view-only", sa.name);
    if wide.is_empty() {
        return (name, Ok(()));
    }
    let each: Vec<String> = wide
        .iter()
        .map(|w| {
            let role = format!("{} {}", w.role_ref.kind, w.role_ref.name);
            let grants = match roles.get(&role_key(w)) {
                Some(r) => {
                    let g = crate::lint::rbac::unsafe_grants(r);
                    if g.is_empty() {
                        " (read-only today, but only `view` is kept read-only by Kubernetes itself)"
                            .to_string()
                    } else {
                        format!(" granting {}", g.join("; "))
                    }
                }
                None => String::new(),
            };
            format!("{} binds it to {role}{grants}", w.binding)
        })
        .collect();
    (
        name,
        Err(format!(
            "ServiceAccount {}/{} is {}; it may be bound to ClusterRole view only, but {}",
            sa.namespace,
            sa.name,
            sa.why,
            each.join("; ")
        )),
    )
}

/// Where the role of a binding is: `ClusterRole/<name>` or `Role/<ns>/<name>`.
pub fn role_key(w: &WideBinding) -> String {
    match (w.role_ref.kind.as_str(), &w.namespace) {
        ("Role", Some(ns)) => format!("Role/{ns}/{}", w.role_ref.name),
        (kind, _) => format!("{kind}/{}", w.role_ref.name),
    }
}

/// `deployments.apps` → (`apps`, `deployments`, None); `pods/exec` → (``, `pods`, Some(`exec`)).
fn resource_attributes(resource: &str) -> (String, String, Option<String>) {
    let (resource, sub) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
    (group.to_string(), plural.to_string(), sub)
}

/// The SelfSubjectAccessReview asking whether the caller may do what `check` would do, in `namespace` for a
/// namespaced check (authorization.k8s.io/v1 ResourceAttributes).
pub fn access_review(check: &AccessCheck, namespace: &str, pod_name: &str) -> Value {
    let (group, resource, subresource) = resource_attributes(check.resource);
    let mut attrs = json!({
        "verb": check.verb.as_str(),
        "group": group,
        "resource": resource,
    });
    if let Some(s) = subresource {
        attrs["subresource"] = json!(s);
    }
    if check.path.contains("{ns}") {
        attrs["namespace"] = json!(namespace);
    }
    if check.path.contains("{pod}") {
        attrs["name"] = json!(pod_name);
    }
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    })
}

/// Judge the answer to [`access_review`] for `check` on `route`: 201 with `status.allowed` decides; anything else
/// (401, a 403 for the review itself, no answer) fails with what came back. The outcome is named as the probe it
/// stands for (`rbac-<route>-<check>`), so the table lines up with the e2e baseline.
pub fn judge_access_review(
    check: &AccessCheck,
    route: &Route,
    status: Option<u16>,
    body: &[u8],
) -> CheckOutcome {
    let what = format!("{} {route}", check.id);
    let review: Option<Value> = serde_json::from_slice(body).ok();
    let allowed = review
        .as_ref()
        .and_then(|r| r["status"]["allowed"].as_bool());
    let reason = review
        .as_ref()
        .and_then(|r| r["status"]["reason"].as_str())
        .filter(|r| !r.is_empty())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let (actual, passed, message) = match (status, allowed) {
        (Some(code @ 200..=299), Some(allowed)) => {
            let ok = allowed == (check.expected == Expected::Allowed);
            let verdict = if allowed {
                Verdict::Allowed(code)
            } else {
                Verdict::Forbidden(crate::rbac::Denial {
                    reason: Some("SelfSubjectAccessReview".into()),
                    message: Some(format!("allowed=false{reason}")),
                })
            };
            let said = if allowed { "allowed" } else { "denied" };
            let message = if ok {
                format!(
                    "{what}: {said} as expected (asked as a SelfSubjectAccessReview: nothing was sent to the pod)"
                )
            } else {
                format!(
                    "{what}: expected {}, but a SelfSubjectAccessReview says {said}{reason}: the identity may {} {} (its role is not read-only; only ClusterRole view should be bound)",
                    check.expected, check.verb, check.resource
                )
            };
            (verdict, ok, message)
        }
        (Some(code), _) => {
            let v = crate::rbac::verdict(code, body);
            let message = format!(
                "{what}: the SelfSubjectAccessReview standing in for this probe got {v}{}",
                if code == 401 {
                    " (the token was not accepted: expired, rotated, or not the login token)"
                } else {
                    ""
                }
            );
            (v, false, message)
        }
        (None, _) => {
            let e = String::from_utf8_lossy(body).into_owned();
            (
                Verdict::NoResponse(e.clone()),
                false,
                format!("{what}: the SelfSubjectAccessReview got no answer: {e}"),
            )
        }
    };
    CheckOutcome {
        check: check.id,
        route: route.id(),
        expected: check.expected,
        actual,
        passed,
        message: crate::report::redact(&message),
        duration: std::time::Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(labels: Value) -> Namespace {
        serde_json::from_value(json!({"metadata": {"name": "headlamp", "labels": labels}})).unwrap()
    }

    #[test]
    fn pod_security_labels() {
        let fixture = crate::yaml::parse_yaml_documents(
            &std::fs::read_to_string(
                crate::test_support::project_root()
                    .join("fixtures/gitops/apps/base/headlamp/namespace.yaml"),
            )
            .unwrap(),
            std::path::Path::new("namespace.yaml"),
        )
        .unwrap()
        .remove(0);
        let fixture: Namespace = serde_json::from_value(fixture).unwrap();
        assert_eq!(
            judge_pod_security(&fixture),
            ("enforce-restricted@latest".to_string(), Ok(()))
        );
        let (_, r) = judge_pod_security(&ns(json!({ENFORCE_LABEL: "baseline"})));
        assert!(r.unwrap_err().contains("enforces Pod Security `baseline`"));
        let (_, r) = judge_pod_security(&ns(
            json!({"pod-security.kubernetes.io/warn": "restricted"}),
        ));
        assert!(
            r.unwrap_err()
                .contains("has no pod-security.kubernetes.io/enforce label")
        );
    }

    fn pod_sa() -> Guarded {
        Guarded {
            namespace: "headlamp".into(),
            name: "headlamp".into(),
            why: "the Headlamp pod's ServiceAccount",
        }
    }

    fn crb(name: &str, role: &str, subject: Value) -> ClusterRoleBinding {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [subject],
        }))
        .unwrap()
    }

    #[test]
    fn view_only_bindings_pass_and_anything_wider_is_named_with_its_grants() {
        let sa = pod_sa();
        let me = json!({"kind": "ServiceAccount", "name": "headlamp", "namespace": "headlamp"});
        let clean = [
            crb("headlamp-view", "view", me.clone()),
            crb(
                "other-admin",
                "cluster-admin",
                json!({"kind": "ServiceAccount", "name": "ci", "namespace": "ci"}),
            ),
        ];
        assert!(wide_bindings(&sa, &clean, &[]).is_empty());
        assert_eq!(judge_bindings(&sa, &[], &BTreeMap::new()).1, Ok(()));

        // the chart's default clusterRoleBinding (cluster-admin), and a RoleBinding whose subject namespace is the
        // binding's own
        let rb: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "writer", "namespace": "headlamp"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "writer"},
            "subjects": [{"kind": "ServiceAccount", "name": "headlamp"}],
        }))
        .unwrap();
        let wide = wide_bindings(
            &sa,
            &[crb("headlamp-admin", "cluster-admin", me.clone())],
            &[rb],
        );
        assert_eq!(wide.len(), 2);
        assert_eq!(role_key(&wide[1]), "Role/headlamp/writer");
        let roles = BTreeMap::from([(
            "Role/headlamp/writer".to_string(),
            json!({"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"]}]}),
        )]);
        let (name, r) = judge_bindings(&sa, &wide, &roles);
        assert_eq!(name, "headlamp-bound-to-view-only");
        let e = r.unwrap_err();
        assert!(
            e.contains("ClusterRoleBinding/headlamp-admin binds it to ClusterRole cluster-admin"),
            "{e}"
        );
        assert!(e.contains("RoleBinding/headlamp/writer binds it to Role writer granting resources [configmaps] verbs [get,update] (verbs update)"), "{e}");

        // every ServiceAccount of the namespace, through its group
        let group = crb(
            "all-sa-edit",
            "edit",
            json!({"kind": "Group", "name": "system:serviceaccounts:headlamp"}),
        );
        assert_eq!(wide_bindings(&sa, &[group], &[]).len(), 1);
    }

    #[test]
    fn access_review_attributes() {
        let exec = crate::rbac::check("create-pod-exec").unwrap();
        let r = access_review(exec, "headlamp", "headlamp-abc");
        assert_eq!(
            r["spec"]["resourceAttributes"],
            json!({"verb": "create", "group": "", "resource": "pods", "subresource": "exec", "namespace": "headlamp", "name": "headlamp-abc"})
        );
        let deploy = crate::rbac::check("create-deployment").unwrap();
        let r = access_review(deploy, "headlamp", "p");
        assert_eq!(r["spec"]["resourceAttributes"]["group"], "apps");
        assert_eq!(r["spec"]["resourceAttributes"]["resource"], "deployments");
        let ns = crate::rbac::check("create-namespace").unwrap();
        assert!(
            access_review(ns, "headlamp", "p")["spec"]["resourceAttributes"]
                .get("namespace")
                .is_none()
        );
    }

    #[test]
    fn access_review_answers() {
        let exec = crate::rbac::check("create-pod-exec").unwrap();
        let route = Route::direct("https://127.0.0.1:6443");
        let denied = br#"{"status":{"allowed":false}}"#;
        let o = judge_access_review(exec, &route, Some(201), denied);
        assert!(o.passed, "{}", o.message);
        assert_eq!(o.assertion_name(), "rbac-apiserver-create-pod-exec");
        assert!(o.message.contains("nothing was sent to the pod"));
        let allowed = br#"{"status":{"allowed":true,"reason":"RBAC: allowed by ClusterRoleBinding \"oops\""}}"#;
        let o = judge_access_review(exec, &route, Some(201), allowed);
        assert!(!o.passed);
        assert!(o.message.contains("says allowed"), "{}", o.message);
        assert!(o.message.contains("oops"), "{}", o.message);
        let o = judge_access_review(exec, &route, Some(401), b"{}");
        assert!(
            !o.passed && o.message.contains("not accepted"),
            "{}",
            o.message
        );
        let o = judge_access_review(exec, &route, None, b"connection refused");
        assert!(
            !o.passed && o.message.contains("no answer"),
            "{}",
            o.message
        );
    }
}
