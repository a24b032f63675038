//! API resource kinds ([`ResourceKind`]: the ones this crate names, and a lookup by group and kind) and the readings
//! of an object every view and check shares.

use serde_json::Value;

/// An API resource type: group, version, kind, plural, scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceKind {
    /// API group, `""` for core.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Resource name in URLs (`helmreleases`).
    pub plural: &'static str,
    pub namespaced: bool,
}

impl ResourceKind {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// The directory name in a snapshot: the kind in lower case.
    pub fn dir_name(&self) -> String {
        self.kind.to_ascii_lowercase()
    }
    /// Does this JSON object have this kind (and group)?
    pub fn matches(&self, v: &Value) -> bool {
        let kind_ok = v["kind"].as_str() == Some(self.kind);
        let group = v["apiVersion"]
            .as_str()
            .map(|a| a.rsplit_once('/').map(|(g, _)| g).unwrap_or(""));
        kind_ok && group.is_none_or(|g| g == self.group)
    }
    /// `Kind/namespace/name` (or `Kind/name`), the `object` of a finding.
    pub fn id(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{}/{ns}/{name}", self.kind),
            None => format!("{}/{name}", self.kind),
        }
    }
}

const fn rk(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> ResourceKind {
    ResourceKind {
        group,
        version,
        kind,
        plural,
        namespaced,
    }
}

pub const HELMRELEASE: ResourceKind = rk(
    "helm.toolkit.fluxcd.io",
    "v2",
    "HelmRelease",
    "helmreleases",
    true,
);
pub const HELMREPOSITORY: ResourceKind = rk(
    "source.toolkit.fluxcd.io",
    "v1",
    "HelmRepository",
    "helmrepositories",
    true,
);
pub const GITREPOSITORY: ResourceKind = rk(
    "source.toolkit.fluxcd.io",
    "v1",
    "GitRepository",
    "gitrepositories",
    true,
);
pub const KUSTOMIZATION: ResourceKind = rk(
    "kustomize.toolkit.fluxcd.io",
    "v1",
    "Kustomization",
    "kustomizations",
    true,
);
pub const DEPLOYMENT: ResourceKind = rk("apps", "v1", "Deployment", "deployments", true);
pub const REPLICASET: ResourceKind = rk("apps", "v1", "ReplicaSet", "replicasets", true);
pub const STATEFULSET: ResourceKind = rk("apps", "v1", "StatefulSet", "statefulsets", true);
pub const DAEMONSET: ResourceKind = rk("apps", "v1", "DaemonSet", "daemonsets", true);
pub const POD: ResourceKind = rk("", "v1", "Pod", "pods", true);
pub const EVENT: ResourceKind = rk("", "v1", "Event", "events", true);
pub const SECRET: ResourceKind = rk("", "v1", "Secret", "secrets", true);
pub const CONFIGMAP: ResourceKind = rk("", "v1", "ConfigMap", "configmaps", true);
pub const SERVICE: ResourceKind = rk("", "v1", "Service", "services", true);
pub const SERVICEACCOUNT: ResourceKind = rk("", "v1", "ServiceAccount", "serviceaccounts", true);
pub const PERSISTENTVOLUMECLAIM: ResourceKind = rk(
    "",
    "v1",
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    true,
);
pub const NAMESPACE: ResourceKind = rk("", "v1", "Namespace", "namespaces", false);
pub const INGRESS: ResourceKind = rk("networking.k8s.io", "v1", "Ingress", "ingresses", true);
pub const PODDISRUPTIONBUDGET: ResourceKind = rk(
    "policy",
    "v1",
    "PodDisruptionBudget",
    "poddisruptionbudgets",
    true,
);
pub const ROLE: ResourceKind = rk("rbac.authorization.k8s.io", "v1", "Role", "roles", true);
pub const ROLEBINDING: ResourceKind = rk(
    "rbac.authorization.k8s.io",
    "v1",
    "RoleBinding",
    "rolebindings",
    true,
);
pub const CLUSTERROLE: ResourceKind = rk(
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRole",
    "clusterroles",
    false,
);
pub const CLUSTERROLEBINDING: ResourceKind = rk(
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRoleBinding",
    "clusterrolebindings",
    false,
);

/// Every kind this crate names, for lookups by (group, kind).
pub const KNOWN_KINDS: &[ResourceKind] = &[
    HELMRELEASE,
    HELMREPOSITORY,
    GITREPOSITORY,
    KUSTOMIZATION,
    DEPLOYMENT,
    REPLICASET,
    STATEFULSET,
    DAEMONSET,
    POD,
    EVENT,
    SECRET,
    CONFIGMAP,
    SERVICE,
    SERVICEACCOUNT,
    PERSISTENTVOLUMECLAIM,
    NAMESPACE,
    INGRESS,
    PODDISRUPTIONBUDGET,
    ROLE,
    ROLEBINDING,
    CLUSTERROLE,
    CLUSTERROLEBINDING,
];

/// A known kind by API group and kind.
pub fn known_kind(group: &str, kind: &str) -> Option<ResourceKind> {
    KNOWN_KINDS
        .iter()
        .find(|k| k.group == group && k.kind == kind)
        .copied()
}

/// A status condition of an object by type.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// `metadata.name`.
pub fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

/// `metadata.namespace`.
pub fn namespace_of(obj: &Value) -> Option<&str> {
    obj["metadata"]["namespace"].as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_by_group_and_kind() {
        let hr = serde_json::json!({"apiVersion": "helm.toolkit.fluxcd.io/v2beta2", "kind": "HelmRelease"});
        assert!(HELMRELEASE.matches(&hr));
        let ev = serde_json::json!({"apiVersion": "events.k8s.io/v1", "kind": "Event"});
        assert!(!EVENT.matches(&ev));
        assert_eq!(POD.api_version(), "v1");
        assert_eq!(DEPLOYMENT.api_version(), "apps/v1");
        assert_eq!(HELMRELEASE.dir_name(), "helmrelease");
        assert_eq!(NAMESPACE.id(Some("x"), "headlamp"), "Namespace/headlamp");
        assert_eq!(
            known_kind("apps", "Deployment").map(|k| k.plural),
            Some("deployments")
        );
    }

    #[test]
    fn durations_read_like_people_say_them() {
        use crate::duration::human_duration;
        use std::time::Duration;
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(human_duration(Duration::from_secs(150)), "2m30s");
        assert_eq!(human_duration(Duration::from_secs(12 * 60 + 3)), "12m");
        assert_eq!(human_duration(Duration::from_secs(3900)), "1h5m");
        assert_eq!(human_duration(Duration::from_secs(2 * 86400)), "2d");
    }
}
