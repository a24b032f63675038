//! A Kubernetes object as read from the GitOps directory ([`Object`], where it came from: [`Origin`]), and the kinds
//! the API server keeps without a namespace.

use std::path::PathBuf;

use serde_json::Value;

/// Where an object came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A manifest in the GitOps directory.
    Plain,
    /// Rendered by `helm template` for a HelmRelease (`namespace/name`), from a chart template.
    Rendered {
        release: String,
        template: Option<String>,
    },
}

/// A Kubernetes object as YAML gave it, with the file it is in.
#[derive(Debug, Clone)]
pub struct Object {
    pub value: Value,
    /// Path relative to the GitOps root (the HelmRelease's file for rendered objects).
    pub file: PathBuf,
    pub origin: Origin,
}

impl Object {
    pub fn plain(value: Value, file: impl Into<PathBuf>) -> Self {
        Object {
            value,
            file: file.into(),
            origin: Origin::Plain,
        }
    }
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }
    /// API group without version (`""` for core).
    pub fn group(&self) -> &str {
        match self.api_version().rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"].as_str()
    }
    pub fn is(&self, group: &str, kind: &str) -> bool {
        // the kind first: a plain comparison, where the group is cut out of apiVersion
        self.kind() == kind && self.group() == group
    }
    /// `Kind/namespace/name`, or `Kind/name` without a namespace.
    pub fn id(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{}/{}/{}", self.kind(), ns, self.name()),
            None => format!("{}/{}", self.kind(), self.name()),
        }
    }
    pub fn file_display(&self) -> String {
        self.file.display().to_string()
    }
    /// The file a finding about this object names: its own file, or its HelmRelease's file for rendered objects
    /// (whose `object` id then names a kind that file does not contain: the chart made it).
    pub fn location(&self) -> String {
        self.file_display()
    }
    /// The chart template a rendered object came from.
    pub fn template(&self) -> Option<&str> {
        match &self.origin {
            Origin::Rendered { template, .. } => template.as_deref(),
            Origin::Plain => None,
        }
    }
    pub fn label(&self, key: &str) -> Option<&str> {
        self.value["metadata"]["labels"][key].as_str()
    }
}

/// Kinds the API server keeps without a namespace (the built-in ones and Flux's/cert-manager's cluster-wide kinds
/// seen in GitOps trees); the namespace transformer leaves them alone. Other kinds are namespaced, as kustomize assumes
/// for kinds it does not know.
pub const CLUSTER_SCOPED: [&str; 17] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "VolumeSnapshotClass",
    "ClusterIssuer",
];

/// Is `kind` one of [`CLUSTER_SCOPED`]?
pub fn cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}
