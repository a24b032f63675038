//! Everything read from a GitOps directory ([`Tree`]).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::error::Error;
use crate::finding::Finding;
use crate::objects::object::Object;

/// Everything read from a GitOps directory.
#[derive(Debug, Default)]
pub struct Tree {
    pub root: PathBuf,
    pub objects: Vec<Object>,
    /// Files read (relative to root), in reading order.
    pub files: Vec<PathBuf>,
    /// What was skipped and why (a symlink out of the tree, a FIFO, a directory seen before); also logged.
    pub warnings: Vec<String>,
    /// What reading the tree as Flux reads it found (a Flux Kustomization that does not build, unresolved postBuild
    /// variables, kustomize resources outside their root): reported by lint as findings.
    pub findings: Vec<Finding>,
    /// The clusters that deploy each file (relative to the root), when the tree has two or more: `clusters/<name>/…`
    /// or `kubernetes/<name>/…` entry points ([`cluster_name`](crate::flux::flux_kustomization::cluster_name)). Empty for
    /// one cluster (findings then name none).
    pub clusters: std::collections::BTreeMap<String, BTreeSet<String>>,
    /// The Flux Kustomizations (`Kind/namespace/name (spec.path …)`) whose `spec.path` leads outside the GitOps
    /// directory: not followed (each also an `info` finding of
    /// [`NOT_FOLLOWED_RULE`](crate::loader::NOT_FOLLOWED_RULE)).
    pub not_followed: Vec<String>,
    /// Files (and kustomizations) that could not be read as YAML ([`Error::Yaml`]), each with its line and column:
    /// only that file is left out, every other one is read ([`load_each`](crate::loader::load_each)).
    pub unreadable: Vec<Error>,
}

impl Tree {
    pub fn find<'a>(
        &'a self,
        group: &'a str,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.is(group, kind))
    }

    /// The objects a HelmRelease reads from the tree (its chart source: a Flux source object; its `valuesFrom`: a
    /// ConfigMap or a Secret), in the tree's order, as a tree of their own: what [`crate::lint::Release::from_object`]
    /// needs, for many releases at once (looking each one's sources up among a few objects, not all of them).
    pub fn release_sources(&self) -> Tree {
        Tree {
            root: self.root.clone(),
            objects: self
                .objects
                .iter()
                .filter(|o| {
                    o.group() == "source.toolkit.fluxcd.io"
                        || o.is("", "ConfigMap")
                        || o.is("", "Secret")
                })
                .cloned()
                .collect(),
            ..Tree::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_releases_sources_are_the_flux_sources_configmaps_and_secrets_in_order() {
        let o = |api: &str, kind: &str, name: &str| {
            Object::plain(
                serde_json::json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}}),
                "f.yaml",
            )
        };
        let tree = Tree {
            root: PathBuf::from("r"),
            objects: vec![
                o("v1", "Secret", "s"),
                o("helm.toolkit.fluxcd.io/v2", "HelmRelease", "hr"),
                o("source.toolkit.fluxcd.io/v1", "OCIRepository", "oci"),
                o("apps/v1", "Deployment", "d"),
                o("v1", "ConfigMap", "cm"),
                o("source.toolkit.fluxcd.io/v1", "HelmRepository", "repo"),
                o("example.com/v1", "ConfigMap", "not-core"),
            ],
            ..Tree::default()
        };
        let view = tree.release_sources();
        let names: Vec<&str> = view.objects.iter().map(Object::name).collect();
        assert_eq!(names, ["s", "oci", "cm", "repo"]);
        assert_eq!(view.root, tree.root);
    }
}
