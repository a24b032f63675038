//! `rbac-not-read-only`: the Headlamp pod's ServiceAccount and the login ServiceAccounts (those with a
//! `kubernetes.io/service-account-token` Secret in the manifests) may be bound only to the built-in `view` ClusterRole.
//! A binding to anything else is an error, with the grants that make it unsafe when the role is in the manifests; so
//! is a ClusterRole that aggregates secrets or write verbs into `view`. A binding to a Role/ClusterRole of the
//! manifests whose every rule is read-only (get/list/watch, no Secrets, no `*`) is not reported, even when it covers
//! more than `view`: it cannot change the cluster or read a credential.

use std::collections::BTreeSet;

use serde_json::Value;

use super::image::headlamp_containers;
use crate::finding::{Finding, Severity};
use crate::gitops::{Object, Origin};
use crate::rules::input::{LintInput, pod_spec};

pub const RULE: &str = "rbac-not-read-only";
const RBAC: &str = "rbac.authorization.k8s.io";
const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

/// A ServiceAccount that must stay read-only, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject {
    pub namespace: String,
    pub name: String,
    pub why: &'static str,
}

/// The ServiceAccounts of Headlamp pods and of login tokens.
pub fn guarded_subjects(input: &LintInput) -> BTreeSet<Subject> {
    let mut out = BTreeSet::new();
    // the releases that render a Headlamp container: a token Secret another chart renders is that chart's own
    // workload's (the bjw-s common chart writes one for every ServiceAccount of app-template, `_serviceaccount.tpl`),
    // not a Headlamp login (issue 19: system-upgrade-controller, which needs cluster-admin, was a false error)
    let headlamp_releases: BTreeSet<&str> = input
        .all_objects()
        .filter(|o| !headlamp_containers(o).is_empty())
        .filter_map(|o| match &o.origin {
            Origin::Rendered { release, .. } => Some(release.as_str()),
            _ => None,
        })
        .collect();
    for o in input.all_objects() {
        if !headlamp_containers(o).is_empty() {
            let spec = pod_spec(o).map(|(_, s)| s);
            let sa = spec
                .and_then(|s| s["serviceAccountName"].as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("default");
            out.insert(Subject {
                namespace: namespace_of(o, input),
                name: sa.to_string(),
                why: "the Headlamp pod's ServiceAccount",
            });
        }
        let login_source = match &o.origin {
            Origin::Rendered { release, .. } => headlamp_releases.contains(release.as_str()),
            _ => true,
        };
        if login_source
            && o.is("", "Secret")
            && o.value["type"] == "kubernetes.io/service-account-token"
            && let Some(sa) =
                o.value["metadata"]["annotations"]["kubernetes.io/service-account.name"].as_str()
        {
            out.insert(Subject {
                namespace: namespace_of(o, input),
                name: sa.to_string(),
                why: "a login ServiceAccount (it has a token Secret)",
            });
        }
    }
    out
}

/// An object's namespace; rendered objects without one get their release's namespace.
pub fn namespace_of(o: &Object, input: &LintInput) -> String {
    if let Some(ns) = o.namespace() {
        return ns.to_string();
    }
    if let Origin::Rendered { release, .. } = &o.origin
        && let Some(r) = input.releases.iter().find(|r| {
            format!(
                "{}/{}",
                r.object.namespace().unwrap_or("default"),
                r.object.name()
            ) == *release
        })
    {
        return r.namespace.clone();
    }
    "default".to_string()
}

/// Rules of a role that go beyond read-only: secrets, or verbs other than get/list/watch.
pub fn unsafe_grants(role: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for rule in role["rules"].as_array().into_iter().flatten() {
        let list = |k: &str| -> Vec<String> {
            rule[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (resources, verbs) = (list("resources"), list("verbs"));
        // Secrets are in the core API group: a rule reaches them only when its apiGroups include "" or "*" (RBAC
        // matches the group first, kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go `RuleAllows`). Flux's
        // `flux-view-flux-system` (resources [*] in the Flux groups only, aggregated into `view`) does not.
        let core = list("apiGroups").iter().any(|g| g.is_empty() || g == "*");
        let secrets = core && resources.iter().any(|r| r == "secrets" || r == "*");
        let writes: Vec<&String> = verbs
            .iter()
            .filter(|v| !READ_VERBS.contains(&v.as_str()))
            .collect();
        if secrets || !writes.is_empty() {
            let mut why = Vec::new();
            if secrets {
                why.push("secrets".to_string());
            }
            if !writes.is_empty() {
                why.push(format!(
                    "verbs {}",
                    writes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            out.push(format!(
                "resources [{}] verbs [{}] ({})",
                resources.join(","),
                verbs.join(","),
                why.join(" and ")
            ));
        }
    }
    out
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    let guarded = guarded_subjects(input);
    let mut out = Vec::new();
    for o in input.all_objects() {
        let cluster = o.is(RBAC, "ClusterRoleBinding");
        if !cluster && !o.is(RBAC, "RoleBinding") {
            continue;
        }
        let binding_ns = namespace_of(o, input);
        let role_kind = o.value["roleRef"]["kind"].as_str().unwrap_or("");
        let role_name = o.value["roleRef"]["name"].as_str().unwrap_or("");
        if role_kind == "ClusterRole" && role_name == "view" {
            continue;
        }
        for (i, s) in o.value["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if s["kind"] != "ServiceAccount" {
                continue;
            }
            let ns = s["namespace"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| binding_ns.clone());
            let Some(subject) = guarded
                .iter()
                .find(|g| g.namespace == ns && Some(g.name.as_str()) == s["name"].as_str())
            else {
                continue;
            };
            let role = input.all_objects().find(|r| {
                r.name() == role_name
                    && ((role_kind == "ClusterRole" && r.is(RBAC, "ClusterRole"))
                        || (role_kind == "Role"
                            && r.is(RBAC, "Role")
                            && namespace_of(r, input) == binding_ns))
            });
            let grants = match role.map(|r| unsafe_grants(&r.value)) {
                Some(g) if !g.is_empty() => {
                    format!(" {role_kind} {role_name} grants: {}.", g.join("; "))
                }
                // A role in the manifests that only gets/lists/watches non-secret resources is read-only: not an
                // error, whatever it covers beyond `view` (issue 19 cause 4), at most a note. Errors are the
                // grants [`unsafe_grants`] lists: write verbs, escalate/bind/impersonate, `*`, Secrets.
                Some(_) => {
                    out.push(
                        Finding::new(RULE, Severity::Info)
                            .file(o.location())
                            .object(o.id())
                            .path("roleRef.name".to_string())
                            .message(format!(
                                "ServiceAccount {ns}/{} is {}; it is bound to {role_kind} `{role_name}`, which only gets, lists and watches, and no Secrets: read-only, nothing to change",
                                subject.name, subject.why,
                            ))
                            .fix("none needed (only the built-in `view` is kept read-only by Kubernetes as APIs are added, through aggregation)".to_string()),
                    );
                    continue;
                }
                None if role_name == "cluster-admin"
                    || role_name == "admin"
                    || role_name == "edit" =>
                {
                    format!(" The built-in {role_name} role can write, and read Secrets.")
                }
                None => String::new(),
            };
            let rendered = matches!(o.origin, Origin::Rendered { .. });
            out.push(
                Finding::new(RULE, Severity::Error)
                    .file(o.location())
                    .object(o.id())
                    .path(if rendered && cluster {
                        "clusterRoleBinding.clusterRoleName".to_string()
                    } else {
                        "roleRef.name".to_string()
                    })
                    .message(format!(
                        "{} ServiceAccount {ns}/{} is {}; it is bound to {role_kind} `{role_name}`, but a read-only Headlamp binds it only to ClusterRole `view`.{grants}",
                        if cluster { "ClusterRoleBinding" } else { "RoleBinding" },
                        subject.name,
                        subject.why,
                    ))
                    .fix(if rendered && cluster {
                        "set `clusterRoleBinding.clusterRoleName: view` in the HelmRelease values (the chart's default is cluster-admin)".to_string()
                    } else {
                        format!("bind subjects[{i}] to ClusterRole `view` (roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}})")
                    }),
            );
        }
    }
    // ClusterRoles aggregated into `view` widen it for every subject bound to view.
    for o in input.all_objects().filter(|o| o.is(RBAC, "ClusterRole")) {
        if o.label("rbac.authorization.k8s.io/aggregate-to-view") != Some("true") {
            continue;
        }
        let grants = unsafe_grants(&o.value);
        if grants.is_empty() {
            continue;
        }
        out.push(
            Finding::new(RULE, Severity::Error)
                .file(o.location())
                .object(o.id())
                .path("metadata.labels.rbac.authorization.k8s.io/aggregate-to-view")
                .message(format!(
                    "ClusterRole {} is aggregated into `view` and grants {}; every read-only Headlamp token would get it.",
                    o.name(),
                    grants.join("; ")
                ))
                .fix("drop the aggregate-to-view label, or limit the role to get/list/watch on non-secret resources"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::input::testutil::*;

    const LOGIN: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: headlamp-login-token\n  namespace: headlamp\n  annotations: {kubernetes.io/service-account.name: headlamp-login}\ntype: kubernetes.io/service-account-token\n";

    fn crb(name: &str, role: &str, sa: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {name}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects:\n- {{kind: ServiceAccount, name: {sa}, namespace: headlamp}}\n"
        )
    }

    fn headlamp_deployment() -> Object {
        rendered(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: headlamp, namespace: headlamp}\nspec:\n  template:\n    spec:\n      serviceAccountName: headlamp\n      containers:\n      - {name: headlamp, image: 'ghcr.io/headlamp-k8s/headlamp:v0.41.0'}\n",
        )
    }

    fn run(objects: Vec<Object>, rendered_objs: Vec<Object>) -> Vec<Finding> {
        let mut r = helmrelease("{}");
        r.rendered = rendered_objs;
        check(&input(objects, vec![r]))
    }

    #[test]
    fn a_token_secret_another_chart_renders_is_not_a_headlamp_login() {
        // bjw-s app-template (common chart `_serviceaccount.tpl`) renders a token Secret for its workload's own
        // ServiceAccount; system-upgrade-controller's is bound to cluster-admin, which it needs (issue 19)
        let token = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: system-upgrade-controller-sa-token\n  namespace: headlamp\n  annotations: {kubernetes.io/service-account.name: system-upgrade-controller}\ntype: kubernetes.io/service-account-token\n";
        let binding = crb("suc", "cluster-admin", "system-upgrade-controller");
        let mut other = rendered(token);
        other.origin = Origin::Rendered {
            release: "system-upgrade/system-upgrade-controller".into(),
            template: Some("app-template/templates/common.yaml".into()),
        };
        let f = run(vec![obj(&binding)], vec![headlamp_deployment(), other]);
        assert!(f.is_empty(), "{f:?}");
        // the same Secret rendered by the release that runs Headlamp is a login
        let f = run(
            vec![obj(&binding)],
            vec![headlamp_deployment(), rendered(token)],
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Error);
    }

    #[test]
    fn view_bindings_are_clean() {
        let f = run(
            vec![
                obj(LOGIN),
                obj(&crb("headlamp-login-view", "view", "headlamp-login")),
            ],
            vec![
                headlamp_deployment(),
                rendered(&crb("headlamp-admin", "view", "headlamp")),
            ],
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn chart_default_cluster_admin_is_caught_with_the_values_fix() {
        let f = run(
            vec![],
            vec![
                headlamp_deployment(),
                rendered(&crb("headlamp-admin", "cluster-admin", "headlamp")),
            ],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path, "clusterRoleBinding.clusterRoleName");
        assert!(
            f[0].message.contains("the Headlamp pod's ServiceAccount")
                && f[0].message.contains("cluster-admin")
        );
        assert!(f[0].fix.contains("clusterRoleName: view"));
    }

    #[test]
    fn login_bound_to_a_custom_role_lists_unsafe_grants() {
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules:\n- {apiGroups: [''], resources: [pods, secrets], verbs: [get, list]}\n- {apiGroups: [apps], resources: [deployments], verbs: [get, patch]}\n";
        let f = run(
            vec![
                obj(LOGIN),
                obj(role),
                obj(&crb("login-reader", "reader", "headlamp-login")),
            ],
            vec![],
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("(secrets)") && f[0].message.contains("(verbs patch)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn a_custom_read_only_cluster_role_broader_than_view_is_not_an_error() {
        // the homelab shape of issue 19 cause 4: a login token bound to its own ClusterRole that reads nodes,
        // namespaces and CRDs (more than `view`), with get/list/watch only and no Secrets
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: headlamp-readonly}\nrules:\n- {apiGroups: ['', apps, batch, networking.k8s.io], resources: [pods, pods/log, services, configmaps, nodes, namespaces, events, persistentvolumes, deployments, statefulsets, daemonsets, jobs, cronjobs, ingresses], verbs: [get, list, watch]}\n- {apiGroups: [apiextensions.k8s.io, helm.toolkit.fluxcd.io], resources: ['*'], verbs: [get, list, watch]}\n- {nonResourceURLs: ['/metrics'], verbs: [get]}\n";
        let binding = crb(
            "headlamp-login-readonly",
            "headlamp-readonly",
            "headlamp-login",
        );
        let f = run(vec![obj(LOGIN), obj(role), obj(&binding)], vec![]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].severity,
            Severity::Info,
            "a read-only role is a note, not an error"
        );
        assert!(f[0].message.contains("read-only"), "{}", f[0].message);
        // each grant that is not read-only makes the same binding an error, and names the grant
        for (rule, why) in [
            (
                "{apiGroups: [''], resources: [secrets], verbs: [get]}",
                "(secrets)",
            ),
            (
                "{apiGroups: [''], resources: ['*'], verbs: [list]}",
                "(secrets)",
            ),
            (
                "{apiGroups: [apps], resources: [deployments], verbs: ['*']}",
                "(verbs *)",
            ),
            (
                "{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}",
                "(verbs escalate)",
            ),
            (
                "{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}",
                "(verbs bind)",
            ),
            (
                "{apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}",
                "(verbs impersonate)",
            ),
            (
                "{apiGroups: [''], resources: [pods/exec], verbs: [create]}",
                "(verbs create)",
            ),
        ] {
            let wider = format!("{role}- {rule}\n");
            let f = run(vec![obj(LOGIN), obj(&wider), obj(&binding)], vec![]);
            assert_eq!(f.len(), 1, "{rule}: {f:?}");
            assert_eq!(f[0].severity, Severity::Error);
            assert!(f[0].message.contains(why), "{rule}: {}", f[0].message);
        }
    }

    #[test]
    fn unrelated_service_accounts_are_ignored() {
        let f = run(
            vec![obj(LOGIN), obj(&crb("other", "cluster-admin", "ci-bot"))],
            vec![],
        );
        assert!(f.is_empty());
    }

    #[test]
    fn flux_view_aggregation_is_not_a_secrets_grant() {
        // as Flux v2.9.4's components ship it (fixtures/gitops/clusters/home/flux-system/gotk-components.yaml)
        let flux_view = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: flux-view-flux-system\n  labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true'}\nrules:\n- {apiGroups: [notification.toolkit.fluxcd.io, source.toolkit.fluxcd.io, source.extensions.fluxcd.io, helm.toolkit.fluxcd.io, image.toolkit.fluxcd.io, kustomize.toolkit.fluxcd.io], resources: ['*'], verbs: [get, list, watch]}\n";
        assert!(run(vec![obj(flux_view)], vec![]).is_empty());
        let everything = flux_view.replace(
            "apiGroups: [notification.toolkit.fluxcd.io,",
            "apiGroups: ['*', notification.toolkit.fluxcd.io,",
        );
        let f = run(vec![obj(&everything)], vec![]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("(secrets)"), "{}", f[0].message);
    }

    #[test]
    fn aggregation_into_view_is_caught() {
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: sneaky\n  labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true'}\nrules:\n- {apiGroups: [''], resources: [secrets], verbs: [get]}\n";
        let f = run(vec![obj(role)], vec![]);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("aggregated into `view`"));
    }
}
