//! `object-conflict`: a chart-rendered object that is also a plain manifest of the tree (or rendered by another
//! release), same API group, kind, namespace and name.
//!
//! Helm refuses to install over an object it does not own: helm/helm v4 `pkg/action/validate.go`
//! `existingResourceConflict` fails with `<Kind> "<name>" in namespace "<ns>" exists and cannot be imported into the
//! current release: invalid ownership metadata; …` unless the existing object carries `checkOwnership`'s metadata
//! (label `app.kubernetes.io/managed-by: Helm`, annotations `meta.helm.sh/release-name` and
//! `meta.helm.sh/release-namespace` equal to this release). If Helm installs first, kustomize-controller applies the
//! plain manifest over the release's object, and the two fight over it. Either way one of them is wrong.
//!
//! A rendered object without a namespace lives in the release namespace when its kind is namespaced (Helm's install
//! namespace); cluster-scoped kinds ([`crate::gitops::CLUSTER_SCOPED`]) compare without a namespace. A plain object
//! without a namespace counts as `default`, as elsewhere in lint.

use std::collections::HashMap;

use crate::finding::{Finding, Severity};
use crate::gitops::{Object, cluster_scoped};
use crate::rules::input::{LintInput, Release};

pub const RULE: &str = "object-conflict";

/// (API group, kind, namespace or "" for cluster-scoped, name).
type Key = (String, String, String, String);

fn key(o: &Object, default_ns: &str) -> Key {
    let ns = if cluster_scoped(o.kind()) {
        String::new()
    } else {
        o.namespace().unwrap_or(default_ns).to_string()
    };
    (
        o.group().to_string(),
        o.kind().to_string(),
        ns,
        o.name().to_string(),
    )
}

/// Would Helm adopt `o` into `r` (validate.go `checkOwnership`)?
fn owned_by(o: &Object, r: &Release) -> bool {
    let meta = &o.value["metadata"];
    meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        && meta["annotations"]["meta.helm.sh/release-name"] == r.release_name.as_str()
        && meta["annotations"]["meta.helm.sh/release-namespace"] == r.namespace.as_str()
}

/// The object in Helm's own words (`existingResourceConflict` prints `in namespace ""` for a cluster-scoped one).
fn describe(k: &Key) -> String {
    let (_, kind, ns, name) = k;
    format!("{kind} {name:?} in namespace {ns:?}")
}

/// The object in ours: without a namespace when it is cluster-scoped.
fn subject(k: &Key) -> String {
    let (_, kind, ns, name) = k;
    if ns.is_empty() {
        format!("{kind} {name:?} (cluster-scoped)")
    } else {
        describe(k)
    }
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    let plain: HashMap<Key, &Object> = input
        .objects
        .iter()
        .filter(|o| !o.name().is_empty())
        .map(|o| (key(o, "default"), o))
        .collect();
    let mut first_render: HashMap<Key, &Release> = HashMap::new();
    let mut out = Vec::new();
    for r in &input.releases {
        for o in &r.rendered {
            let k = key(o, &r.namespace);
            let template = o.template().unwrap_or("a chart template");
            if let Some(p) = plain.get(&k)
                && !owned_by(p, r)
            {
                out.push(
                    Finding::new(RULE, Severity::Error)
                        .file(p.file_display())
                        .object(p.id())
                        .path("metadata.name")
                        .message(format!(
                            "{} is both a plain manifest here and rendered by HelmRelease {} (chart {}, {template}): Helm's install fails with `{} exists and cannot be imported into the current release: invalid ownership metadata` when the plain one is applied first, and kustomize-controller overwrites the release's object when Helm is first",
                            subject(&k),
                            r.id(),
                            r.chart_name,
                            describe(&k),
                        ))
                        .fix(format!(
                            "keep one: remove this manifest and configure the object through the chart's values, or rename it (or turn the chart's {} off in its values)",
                            o.kind()
                        )),
                );
            }
            match first_render.get(&k) {
                Some(other) if other.id() != r.id() => out.push(
                    Finding::new(RULE, Severity::Error)
                        .file(r.file())
                        .object(r.id())
                        .path("spec")
                        .message(format!(
                            "{} is rendered by HelmRelease {} and by HelmRelease {}: the second release's install fails (`exists and cannot be imported into the current release`)",
                            subject(&k),
                            other.id(),
                            r.id()
                        ))
                        .fix("give one release another name (releaseName/fullnameOverride) or turn the object off in one of them"),
                ),
                Some(_) => {}
                None => {
                    first_render.insert(k, r);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::input::testutil::*;

    const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: headlamp\n  labels: {app.kubernetes.io/name: headlamp}\nspec:\n  ports: [{port: 80}]\n";

    fn release_with(rendered_yaml: &[&str]) -> Release {
        let mut r = helmrelease("{}");
        r.rendered = rendered_yaml.iter().map(|y| rendered(y)).collect();
        r
    }

    #[test]
    fn plain_service_named_like_the_charts_service_is_an_error() {
        // helm template output: no namespace on the Service; the release namespace is `headlamp`
        let r = release_with(&[SVC]);
        let plain = obj(&SVC.replace(
            "  name: headlamp\n",
            "  name: headlamp\n  namespace: headlamp\n",
        ));
        let f = check(&input(vec![plain.clone()], vec![r.clone()]));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].object, "Service/headlamp/headlamp");
        assert!(
            f[0].message
                .contains("cannot be imported into the current release")
        );
        // another namespace, another group/kind, another name: no conflict
        for other in [
            plain
                .value
                .to_string()
                .replace("\"namespace\":\"headlamp\"", "\"namespace\":\"tools\""),
            plain
                .value
                .to_string()
                .replace("\"Service\"", "\"Endpoints\""),
            plain.value.to_string().replace(
                "\"name\":\"headlamp\",\"namespace\"",
                "\"name\":\"headlamp-x\",\"namespace\"",
            ),
        ] {
            let o = obj(&other);
            assert!(
                check(&input(vec![o], vec![r.clone()])).is_empty(),
                "{other}"
            );
        }
    }

    #[test]
    fn cluster_scoped_kinds_compare_without_namespace_and_helm_owned_objects_are_adopted() {
        let crb = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: headlamp-admin}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n";
        let r = release_with(&[crb]);
        let mut plain = obj(crb);
        // the loader's targetNamespace never sets one on a cluster-scoped kind, but a hand-written one may have it
        plain.value["metadata"]["namespace"] = "flux-system".into();
        let found = check(&input(vec![plain.clone()], vec![r.clone()]));
        assert_eq!(found.len(), 1);
        // ours without a namespace; Helm's own words (quoted) with its `in namespace ""`
        assert!(
            found[0]
                .message
                .starts_with("ClusterRoleBinding \"headlamp-admin\" (cluster-scoped) is both"),
            "{}",
            found[0].message
        );
        assert!(
            found[0]
                .message
                .contains("`ClusterRoleBinding \"headlamp-admin\" in namespace \"\" exists")
        );
        plain.value["metadata"]["labels"] =
            serde_json::json!({"app.kubernetes.io/managed-by": "Helm"});
        plain.value["metadata"]["annotations"] = serde_json::json!({
            "meta.helm.sh/release-name": "headlamp", "meta.helm.sh/release-namespace": "headlamp"});
        assert!(check(&input(vec![plain], vec![r])).is_empty());
    }

    #[test]
    fn two_releases_rendering_one_object() {
        let a = release_with(&[SVC]);
        let mut b = release_with(&[SVC]);
        b.object.value["metadata"]["name"] = "headlamp-2".into();
        let f = check(&input(vec![], vec![a, b]));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("rendered by HelmRelease"));
    }
}
