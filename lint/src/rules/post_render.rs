//! `spec.postRenderers[].kustomize` applied to the rendered objects, as helm-controller's kustomize post-renderer
//! does, with the real kustomize (`kubectl kustomize`); `post-render-skipped` when that cannot be done.
//!
//! helm-controller (fluxcd/helm-controller `internal/postrender/kustomize.go` `Kustomize.Run`,
//! `api/v2/helmrelease_types.go` `Kustomize`/`PostRenderer`): each post-renderer, in order, writes Helm's output as
//! `helm-output.yaml`, a `kustomization.yaml` (kustomize.config.k8s.io/v1beta1) with `resources: [helm-output.yaml]`,
//! `patches` (patch + target), `patchesStrategicMerge` and `patchesJson6902` (both deprecated in the v2 API, still
//! read; a JSON 6902 patch list is marshalled to a JSON string with its target) and `images`, then builds it with
//! `LoadRestrictionsNone` and builtin plugins only. Here the same kustomization is built in a temporary directory by
//! `kubectl kustomize --load-restrictor LoadRestrictionsNone` through [`crate::process::Cmd`] (its deadline), after
//! [`crate::gitops::sandbox::check`] found that it names nothing but the files written there.
//!
//! Not modelled: the origin labels helm-controller adds to every object afterwards (`helm.toolkit.fluxcd.io/name`,
//! `…/namespace`, `origin_labels.go`); they change no rule's outcome here.
//! The render cache holds Helm's output only: post-rendering runs after it, on every run.

use serde_json::{Value, json};

use crate::finding::{Finding, Severity};
use crate::gitops::Object;

pub const RULE: &str = "post-render-skipped";

/// The kustomization helm-controller builds for one `postRenderers[].kustomize` entry.
pub fn kustomization(k: &Value) -> Value {
    let mut cfg = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["helm-output.yaml"],
    });
    if let Some(images) = k["images"].as_array().filter(|a| !a.is_empty()) {
        cfg["images"] = Value::Array(images.clone());
    }
    if let Some(patches) = k["patches"].as_array().filter(|a| !a.is_empty()) {
        cfg["patches"] = Value::Array(
            patches
                .iter()
                .map(|p| {
                    let mut out = json!({"patch": p["patch"]});
                    if p["target"].is_object() {
                        out["target"] = p["target"].clone();
                    }
                    out
                })
                .collect(),
        );
    }
    if let Some(sm) = k["patchesStrategicMerge"]
        .as_array()
        .filter(|a| !a.is_empty())
    {
        // kustypes.PatchStrategicMerge(m.Raw): the patch object as (JSON) text
        cfg["patchesStrategicMerge"] =
            Value::Array(sm.iter().map(|p| Value::String(p.to_string())).collect());
    }
    if let Some(j) = k["patchesJson6902"].as_array().filter(|a| !a.is_empty()) {
        cfg["patchesJson6902"] = Value::Array(
            j.iter()
                .map(|p| json!({"patch": p["patch"].to_string(), "target": p["target"]}))
                .collect(),
        );
    }
    cfg
}

/// Does the HelmRelease have kustomize post-renderers?
pub fn has_post_renderers(hr: &Value) -> bool {
    hr["spec"]["postRenderers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p["kustomize"].is_object()))
}

/// Apply every kustomize post-renderer of `hr` to Helm's output `text`, in order. `Err` says why it could not be done.
pub async fn apply(hr: &Value, text: &str) -> Result<String, String> {
    let mut text = text.to_string();
    for (i, p) in hr["spec"]["postRenderers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(k) = p.get("kustomize").filter(|k| k.is_object()) else {
            continue;
        };
        // registered: an interrupted lint removes it (crate::gitops::sandbox::remove_all)
        let dir = crate::gitops::sandbox::TempDir::new("headlamp-e2e-post-render")
            .map_err(|e| format!("temporary directory: {e}"))?;
        let write = |name: &str, body: &[u8]| {
            std::fs::write(dir.path().join(name), body)
                .map_err(|e| format!("writing {name} in a temporary directory: {e}"))
        };
        write("helm-output.yaml", text.as_bytes())?;
        write(
            "kustomization.yaml",
            kustomization(k).to_string().as_bytes(),
        )?;
        // the kustomization is written here from the HelmRelease: its graph is checked as every other one
        // (crate::gitops::sandbox), so that nothing but the two files written here is read
        let real = dir
            .path()
            .canonicalize()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let refused: Vec<String> = crate::gitops::sandbox::check(&real, std::path::Path::new(""))
            .iter()
            .map(|p| format!("postRenderers[{i}].kustomize: {}", p.describe()))
            .collect();
        if !refused.is_empty() {
            return Err(refused.join("; "));
        }
        let out = crate::gitops::flux_build::kustomize_cmd(dir.path())
            .run()
            .await
            .map_err(|e| format!("postRenderers[{i}]: {e}"))?;
        if !out.success() {
            return Err(format!(
                "postRenderers[{i}]: kubectl kustomize failed: {}",
                crate::redact::redact(&out.complaint())
            ));
        }
        text = out.stdout_text();
    }
    Ok(text)
}

/// Post-rendered objects keep the chart template they came from (kustomize drops helm's `# Source:` comments):
/// matched by apiVersion, kind, namespace and name of the object before; objects a patch renamed have none.
pub fn carry_templates(before: &[Object], after: &mut [Object]) {
    for o in after {
        let found = before
            .iter()
            .find(|b| {
                b.kind() == o.kind()
                    && b.group() == o.group()
                    && b.name() == o.name()
                    && b.namespace() == o.namespace()
            })
            .or_else(|| {
                before.iter().find(|b| {
                    b.kind() == o.kind() && b.group() == o.group() && b.namespace() == o.namespace()
                })
            });
        if let (Some(b), crate::gitops::Origin::Rendered { template, .. }) = (found, &mut o.origin)
        {
            *template = b.template().map(str::to_string);
        }
    }
}

/// The finding when post-rendering could not be done.
pub fn skipped(hr: &Object, why: &str) -> Finding {
    Finding::new(RULE, Severity::Warning)
        .file(hr.file_display())
        .object(hr.id())
        .path("spec.postRenderers")
        .message(format!(
            "the postRenderers could not be applied ({why}): the rules checked the chart's objects without them, so a finding may be one a patch fixes, and what a patch breaks is not seen"
        ))
        .fix("make `kubectl kustomize` work on the patches (set KUBECTL_BIN to a kubectl with kustomize), or fix the patch kustomize names")
}

pub fn check(input: &crate::rules::input::LintInput) -> Vec<Finding> {
    crate::rules::input::pipeline_findings(input, RULE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr(yaml: &str) -> Value {
        crate::yaml::parse_yaml_documents(yaml, std::path::Path::new("hr.yaml"))
            .unwrap()
            .remove(0)
    }

    const HR: &str = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: headlamp, namespace: tools}\nspec:\n  postRenderers:\n    - kustomize:\n        patches:\n          - target: {kind: Deployment, name: headlamp}\n            patch: |\n              - op: add\n                path: /spec/template/spec/containers/0/env\n                value: [{name: HEADLAMP_CONFIG_TRACING_ENABLED, value: \"false\"}]\n          - patch: |\n              apiVersion: v1\n              kind: Service\n              metadata: {name: headlamp, namespace: tools}\n              spec: {type: NodePort}\n        images:\n          - {name: ghcr.io/headlamp-k8s/headlamp, newTag: v0.41.0}\n";

    // as `helm template` prints it
    const OUT: &str = "---\n# Source: headlamp/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: headlamp\n  namespace: tools\nspec:\n  type: ClusterIP\n  ports:\n    - port: 80\n---\n# Source: headlamp/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: headlamp\n  namespace: tools\nspec:\n  selector: {matchLabels: {app: headlamp}}\n  template:\n    metadata: {labels: {app: headlamp}}\n    spec:\n      containers:\n        - name: headlamp\n          image: ghcr.io/headlamp-k8s/headlamp:v0.38.0\n";

    #[test]
    fn kustomization_has_the_fields_helm_controller_writes() {
        let k = kustomization(&hr(HR)["spec"]["postRenderers"][0]["kustomize"]);
        assert_eq!(k["resources"], json!(["helm-output.yaml"]));
        assert_eq!(k["patches"][0]["target"]["kind"], "Deployment");
        assert!(k["patches"][1].get("target").is_none());
        assert_eq!(k["images"][0]["newTag"], "v0.41.0");
        let legacy = hr(
            "spec:\n  postRenderers:\n    - kustomize:\n        patchesJson6902:\n          - target: {kind: Deployment, name: x}\n            patch: [{op: remove, path: /spec/replicas}]\n",
        );
        let k = kustomization(&legacy["spec"]["postRenderers"][0]["kustomize"]);
        assert_eq!(
            k["patchesJson6902"][0]["patch"],
            r#"[{"op":"remove","path":"/spec/replicas"}]"#
        );
    }

    #[tokio::test]
    async fn patches_and_images_are_applied_by_real_kustomize() {
        if crate::chart::testing::render_tools("headlamp", "0.41.0").is_none() {
            return;
        }
        let text = apply(&hr(HR), OUT).await.unwrap();
        let docs = crate::yaml::parse_yaml_documents(&text, std::path::Path::new("out")).unwrap();
        let deploy = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
        let c = &deploy["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "ghcr.io/headlamp-k8s/headlamp:v0.41.0");
        assert_eq!(c["env"][0]["name"], "HEADLAMP_CONFIG_TRACING_ENABLED");
        let svc = docs.iter().find(|d| d["kind"] == "Service").unwrap();
        assert_eq!(svc["spec"]["type"], "NodePort");
        // a patch whose target is not there is kustomize's error, reported, not a panic
        let bad = HR.replace(
            "path: /spec/template/spec/containers/0/env",
            "path: /spec/nope/0/x",
        );
        let e = apply(&hr(&bad), OUT).await.unwrap_err();
        assert!(e.contains("kubectl kustomize failed"), "{e}");
    }
}
