//! `spec.valuesFrom` + `spec.values` of a HelmRelease, merged as helm-controller merges them, with the ConfigMaps and
//! Secrets the tree holds; `values-from-incomplete` when a reference cannot be followed in the tree.
//!
//! helm-controller (fluxcd/helm-controller `internal/chartutil/values.go` `ChartValuesFromReferences`, the same in
//! every v2-API version read, `api/v2/reference_types.go` `ValuesReference`):
//! - references are resolved in order, each in the HelmRelease's own namespace (not `targetNamespace`);
//! - `kind` is `ConfigMap` or `Secret`; `valuesKey` defaults to `values.yaml` (`GetValuesKey`);
//! - a ConfigMap is read from `.data[valuesKey]` (not `binaryData`), a Secret from `.data[valuesKey]` as the API
//!   server returns it: `stringData` merged into `data`, `stringData` winning; `data` base64-decoded;
//! - `optional: true`: a missing object or key is skipped (logged); otherwise the reconcile fails
//!   (`could not resolve ConfigMap chart values reference 'ns/name' with key 'k': …`);
//! - with `targetPath`, the value is put at that path with Helm's `--set` parser (`ReplacePathValue`: a value
//!   quoted in `'` or `"` has the quotes trimmed and stays a string, `strvals.ParseIntoString`; else
//!   `strvals.ParseInto`, typed) — see [`crate::rules::values_from::strvals`];
//! - without it, the data is read as a values file (`chartutil.ReadValues`: YAML, empty is `{}`, a non-map fails) and
//!   merged with fluxcd/pkg `runtime/transform` `MergeMaps` (maps merge recursively, anything else is replaced);
//! - `spec.values` is merged last (`MergeMaps(result, values)`), so it overrides every reference.
//!
//! What the tree cannot tell: an object created by another tool (a SOPS-encrypted Secret decrypted by
//! kustomize-controller, an ExternalSecret's target, something applied by hand). Such a reference is a warning
//! that the linted values are incomplete, never an abort. Secret data is never put in a message.

use crate::finding::Finding;
use crate::rules::input::{LintInput, pipeline_findings};

pub mod merge;
pub mod strvals;

pub use merge::{RULE, decode_base64, merge_maps, merged_values, replace_path_value};

pub fn check(input: &LintInput) -> Vec<Finding> {
    pipeline_findings(input, RULE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::gitops::{Object, Tree};
    use base64::Engine;
    use serde_json::json;
    use serde_json::{Map, Value};

    fn tree(yaml: &str) -> Tree {
        crate::rules::input::testutil::tree(yaml, "apps/headlamp/values.yaml")
    }

    fn hr(spec: &str) -> Object {
        let text = format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: headlamp, namespace: tools}}\nspec:\n  targetNamespace: elsewhere\n{}",
            spec.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        let v = crate::yaml::parse_yaml_documents(&text, std::path::Path::new("hr.yaml"))
            .unwrap()
            .remove(0);
        Object::plain(v, "apps/headlamp/helmrelease.yaml")
    }

    // A ConfigMap and a Secret as `kubectl create configmap/secret --from-file=values.yaml -o yaml --dry-run=client`
    // write them (Secret data base64).
    const SOURCES: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: headlamp-values, namespace: tools}\ndata:\n  values.yaml: |\n    replicaCount: 2\n    config:\n      baseURL: /from-cm\n      oidc: {clientID: cm}\n  base-url: /only-url\n  replicas: \"3\"\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: headlamp-secret, namespace: tools}\ntype: Opaque\ndata:\n  values.yaml: Y29uZmlnOgogIG9pZGM6CiAgICBjbGllbnRJRDogZnJvbS1zZWNyZXQK\nstringData:\n  issuer: https://idp.example\n";

    #[test]
    fn merged_in_order_then_spec_values_last() {
        let t = tree(SOURCES);
        let o = hr(
            "valuesFrom:\n  - {kind: ConfigMap, name: headlamp-values}\n  - {kind: Secret, name: headlamp-secret}\n  - {kind: ConfigMap, name: headlamp-values, valuesKey: replicas, targetPath: replicaCount}\n  - {kind: Secret, name: headlamp-secret, valuesKey: issuer, targetPath: config.oidc.issuerURL}\nvalues:\n  config: {baseURL: /from-spec}\n",
        );
        let (v, problems) = merged_values(&o, Some(&t));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            v,
            json!({
                "replicaCount": 3,
                "config": {"baseURL": "/from-spec", "oidc": {"clientID": "from-secret", "issuerURL": "https://idp.example"}},
            })
        );
    }

    #[test]
    fn quoted_target_path_value_stays_a_string() {
        let mut m = Map::new();
        replace_path_value(&mut m, "a.b", "'3'").unwrap();
        replace_path_value(&mut m, "a.c", "3").unwrap();
        assert_eq!(Value::Object(m), json!({"a": {"b": "3", "c": 3}}));
    }

    #[test]
    fn merge_maps_replaces_non_maps() {
        let mut a = json!({"a": {"b": 1, "c": [1]}, "d": {"x": 1}})
            .as_object()
            .unwrap()
            .clone();
        let b = json!({"a": {"c": [2]}, "d": "flat"})
            .as_object()
            .unwrap()
            .clone();
        merge_maps(&mut a, &b);
        assert_eq!(
            Value::Object(a),
            json!({"a": {"b": 1, "c": [2]}, "d": "flat"})
        );
    }

    #[test]
    fn missing_source_or_key_is_a_warning_naming_the_ref_and_the_failure() {
        let t = tree(SOURCES);
        // looked up in the HelmRelease's namespace (tools), not targetNamespace
        let o = hr(
            "valuesFrom:\n  - {kind: Secret, name: headlamp-oidc}\n  - {kind: ConfigMap, name: headlamp-values, valuesKey: nope}\n  - {kind: ConfigMap, name: gone, optional: true}\n  - {kind: ConfigMap, name: headlamp-values, valuesKey: nope, optional: true}\nvalues: {replicaCount: 1}\n",
        );
        let (v, problems) = merged_values(&o, Some(&t));
        assert_eq!(v, json!({"replicaCount": 1}));
        let paths: Vec<&str> = problems.iter().map(|f| f.path.as_str()).collect();
        // an optional key missing from an object the tree has: helm-controller skips it too; nothing is incomplete
        assert_eq!(
            paths,
            [
                "spec.valuesFrom[0]",
                "spec.valuesFrom[1]",
                "spec.valuesFrom[2]"
            ]
        );
        assert!(problems.iter().all(|f| f.severity == Severity::Warning));
        assert!(
            problems[0]
                .message
                .contains("Secret tools/headlamp-oidc, which is not in the tree")
        );
        assert!(problems[0].message.contains("fails the release"));
        assert!(problems[1].message.contains("has no key \"nope\""));
        assert!(problems[2].message.contains("optional"));
        assert!(!problems[2].message.contains("fails the release"));
    }

    #[test]
    fn sops_secret_is_not_read_and_secret_data_never_printed() {
        let t = tree(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: tools}\nstringData:\n  values.yaml: ENC[AES256_GCM,data:eA==,type:str]\nsops: {version: 3.10.2}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: tools}\nstringData:\n  values.yaml: \"- hunter2-list\"\n",
        );
        let o = hr("valuesFrom:\n  - {kind: Secret, name: s}\n  - {kind: Secret, name: bad}\n");
        let (v, problems) = merged_values(&o, Some(&t));
        assert_eq!(v, json!({}));
        assert!(problems[0].message.contains("SOPS-encrypted"));
        assert_eq!(problems[1].severity, Severity::Error);
        for f in &problems {
            assert!(
                !f.message.contains("hunter2") && !f.message.contains("ENC["),
                "{}",
                f.message
            );
        }
    }

    /// kubernetes-sigs/kustomize `kyaml/yaml/datamap.go` `encodeBase64`: 70 columns a line, each line ended by `\n`.
    fn kustomize_base64(text: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(text);
        let chars: Vec<char> = b64.chars().collect();
        chars
            .chunks(70)
            .map(|c| format!("{}\n", c.iter().collect::<String>()))
            .collect()
    }

    #[test]
    fn base64_wrapped_at_70_columns_as_kustomize_writes_it_is_read() {
        let values = "config:\n  oidc:\n    clientID: from-a-generated-secret\n    issuerURL: https://idp.example/realms/home\n";
        let wrapped = kustomize_base64(values);
        assert!(wrapped.lines().count() > 1, "{wrapped}");
        let block: String = wrapped.lines().map(|l| format!("    {l}\n")).collect();
        let t = tree(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: headlamp-values-5tk8m9, namespace: tools}}\ntype: Opaque\ndata:\n  values.yaml: |\n{block}"
        ));
        let o = hr("valuesFrom:\n  - {kind: Secret, name: headlamp-values-5tk8m9}\n");
        let (v, problems) = merged_values(&o, Some(&t));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(v["config"]["oidc"]["clientID"], "from-a-generated-secret");
        // a space inside is not a line break: Go's decoder refuses it, so does lint
        assert!(decode_base64("Y29u Zmln").is_err());
        assert_eq!(decode_base64("Y29u\r\nZmln\n").unwrap(), b"config");
    }

    #[test]
    fn no_values_from_is_spec_values() {
        let (v, p) = merged_values(&hr("values: {a: 1}\n"), None);
        assert_eq!((v, p.len()), (json!({"a": 1}), 0));
    }
}
