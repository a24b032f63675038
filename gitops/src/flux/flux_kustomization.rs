//! What lint models of a Flux Kustomization itself: where its `spec.path` leads ([`flux_path`], from the
//! [`repository_root`]), the cluster its entry point names ([`cluster_name`]), and what it does to the objects of its
//! path ([`apply_flux_kustomization`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::objects::object::{CLUSTER_SCOPED, Object};

/// The repository root `spec.path` of a Flux Kustomization is relative to: the nearest directory at or above `dir`
/// with a `.git`, else `dir` itself.
pub fn repository_root(dir: &Path) -> PathBuf {
    let start = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(start)
}

/// What a Flux Kustomization (kustomize.toolkit.fluxcd.io/v1, kustomize-controller v1.9.4) does to the objects of
/// its `spec.path` that this tool models: kustomize-controller writes `targetNamespace`, `namePrefix` and
/// `nameSuffix` into the kustomization it builds (`namespace:`, `namePrefix:`, `nameSuffix:`), so kustomize's own
/// transformers apply them. The namespace transformer (kubernetes-sigs/kustomize api/filters/namespace/namespace.go)
/// sets metadata.namespace on every namespaced object (replacing one that is set), renames a `v1` Namespace to the
/// target (a component's `namespace.yaml` named `not-used` is deployed as the target namespace) and, on RoleBinding and
/// ClusterRoleBinding, sets the namespace of subjects named `default` only (`setRoleBindingSubjects: defaultOnly`,
/// the default); other subjects keep theirs.
pub fn apply_flux_kustomization(objects: &mut [Object], spec: &Value) {
    let target = spec["targetNamespace"].as_str().filter(|s| !s.is_empty());
    let prefix = spec["namePrefix"].as_str().unwrap_or("");
    let suffix = spec["nameSuffix"].as_str().unwrap_or("");
    for o in objects {
        let kind = o.kind().to_string();
        if let Some(ns) = target {
            if kind == "Namespace" && o.api_version() == "v1" {
                // the `metadata/name` field spec of kind Namespace, kept for apiVersion v1 only
                // (api/internal/konfig/builtinpluginconsts/namespace.go, `removeUnneededMetaFieldSpecs` in
                // api/filters/namespace/namespace.go, kustomize api v0.20.1): the Namespace becomes the target
                o.value["metadata"]["name"] = ns.into();
            } else if !CLUSTER_SCOPED.contains(&kind.as_str()) {
                o.value["metadata"]["namespace"] = ns.into();
            }
            if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
                && let Some(subjects) = o.value["subjects"].as_array_mut()
            {
                for s in subjects.iter_mut().filter(|s| s["name"] == "default") {
                    s["namespace"] = ns.into();
                }
            }
        }
        if (!prefix.is_empty() || !suffix.is_empty()) && kind != "Namespace" {
            let name = o.name().to_string();
            o.value["metadata"]["name"] = format!("{prefix}{name}{suffix}").into();
        }
    }
}

/// The cluster a Flux entry point's file belongs to, by the layouts of multi-cluster repositories: the directory
/// after `clusters/` (`clusters/production/flux-system/gotk-sync.yaml` → `production`, the fluxcd/flux2-kustomize-
/// helm-example layout), else after `kubernetes/` (`kubernetes/main/flux/config/cluster.yaml` → `main`) unless it
/// is one of the shared directories of the one-cluster templates (`kubernetes/flux`, `kubernetes/apps`, …). `None`
/// when the file names no cluster.
pub fn cluster_name(file: &Path) -> Option<String> {
    const SHARED: [&str; 7] = [
        "flux",
        "apps",
        "components",
        "bootstrap",
        "infrastructure",
        "base",
        "templates",
    ];
    let parts: Vec<&str> = file
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(p) => p.to_str(),
            _ => None,
        })
        .collect();
    // the directory name needs a file below it
    let after = |dir: &str| {
        parts
            .iter()
            .position(|p| *p == dir)
            .filter(|i| i + 2 < parts.len())
            .map(|i| parts[i + 1])
    };
    if let Some(name) = after("clusters") {
        return Some(name.to_string());
    }
    after("kubernetes")
        .filter(|n| !SHARED.contains(n))
        .map(str::to_string)
}

/// Where a Flux Kustomization's `spec.path` leads.
pub enum FluxPath<'a> {
    /// Its source is not a GitRepository, or it has no path: lint does not follow it.
    NotFollowed,
    /// The path, which exists neither under the repository root nor under the GitOps directory.
    Missing(&'a str),
    /// The path as the tree names it (symlinks not resolved: the caller checks where it leads).
    Found(PathBuf),
}

/// Resolve a Flux Kustomization `spec`'s path: relative to the repository root `repo_root`; a tree copied out of its
/// repository (the GitOps directory `root` is its root) is read the same. Used by the loader, its builds asked for
/// ahead and lint's renders ahead, so that all three follow the same directory.
pub fn flux_path<'a>(spec: &'a Value, root: &Path, repo_root: &Path) -> FluxPath<'a> {
    let source_kind = spec["sourceRef"]["kind"]
        .as_str()
        .unwrap_or("GitRepository");
    let Some(path) = spec["path"]
        .as_str()
        .filter(|_| source_kind == "GitRepository")
    else {
        return FluxPath::NotFollowed;
    };
    let rel_path = path.trim_start_matches('/');
    match [repo_root.join(rel_path), root.join(rel_path)]
        .into_iter()
        .find(|d| d.symlink_metadata().is_ok())
    {
        Some(dir) => FluxPath::Found(dir),
        None => FluxPath::Missing(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::yaml::parse_yaml_documents;

    fn docs(yaml: &str) -> Vec<Object> {
        parse_yaml_documents(yaml, Path::new("t.yaml"))
            .unwrap()
            .into_iter()
            .map(|v| Object::plain(v, "t.yaml"))
            .collect()
    }

    #[test]
    fn target_namespace_as_kustomize_sets_it() {
        let mut objs = docs(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: not-used}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {kind: ServiceAccount, name: default}\n- {kind: ServiceAccount, name: sa}\n- {kind: ServiceAccount, name: x, namespace: keep}\n",
        );
        let spec =
            serde_json::json!({"targetNamespace": "tools", "namePrefix": "p-", "nameSuffix": "-s"});
        apply_flux_kustomization(&mut objs, &spec);
        let ids: Vec<String> = objs.iter().map(Object::id).collect();
        // namespaced objects get (or have replaced) the namespace; a Namespace and a ClusterRoleBinding keep none;
        // the Namespace is renamed to the target (cluster-template's common component names it `not-used`), and
        // takes no prefix or suffix (checked with kubectl v1.35.2: `namespace: tools` + `namePrefix: p-`)
        assert_eq!(
            ids,
            [
                "ServiceAccount/tools/p-sa-s",
                "ConfigMap/tools/p-c-s",
                "Namespace/tools",
                "ClusterRoleBinding/p-b-s"
            ]
        );
        // subjects: only the one named `default` gets the namespace (kustomize's defaultOnly mode)
        let subjects = &objs[3].value["subjects"];
        assert_eq!(subjects[0]["namespace"], "tools");
        assert!(subjects[1]["namespace"].is_null());
        assert_eq!(subjects[2]["namespace"], "keep");
    }
}
