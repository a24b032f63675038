//! The merge itself: `spec.valuesFrom` then `spec.values`, as helm-controller merges them (see the parent module),
//! with the findings of a reference the tree cannot follow.

use base64::Engine;
use serde_json::{Map, Value};

use crate::finding::{Finding, Severity};
use crate::gitops::{Object, Tree};
use crate::rules::values_from::strvals;

pub const RULE: &str = "values-from-incomplete";

/// fluxcd/pkg `runtime/transform.MergeMaps(a, b)`: `b` into `a`; nested maps merge, any other value replaces.
pub fn merge_maps(a: &mut Map<String, Value>, b: &Map<String, Value>) {
    for (k, v) in b {
        match (a.get_mut(k), v) {
            (Some(Value::Object(av)), Value::Object(bv)) => merge_maps(av, bv),
            _ => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The values helm-controller would pass to Helm, and what could not be followed (as findings on `hr`).
pub fn merged_values(hr: &Object, tree: Option<&Tree>) -> (Value, Vec<Finding>) {
    let spec = &hr.value["spec"];
    let own = match &spec["values"] {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let refs = match &spec["valuesFrom"] {
        Value::Array(a) if !a.is_empty() => a,
        _ => return (Value::Object(own), Vec::new()),
    };
    let ns = hr.namespace().unwrap_or("default");
    let mut result = Map::new();
    let mut problems = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let at = format!("spec.valuesFrom[{i}]");
        let finding = |severity: Severity, message: String, fix: String| {
            Finding::new(RULE, severity)
                .file(hr.file_display())
                .object(hr.id())
                .path(at.clone())
                .message(message)
                .fix(fix)
        };
        let kind = r["kind"].as_str().unwrap_or("");
        let name = r["name"].as_str().unwrap_or("");
        let key = r["valuesKey"]
            .as_str()
            .filter(|k| !k.is_empty())
            .unwrap_or("values.yaml");
        let optional = r["optional"].as_bool().unwrap_or(false);
        let what = format!("{kind} {ns}/{name}");
        if kind != "ConfigMap" && kind != "Secret" {
            problems.push(finding(
                Severity::Error,
                format!(
                    "{at} has kind {kind:?}: helm-controller reads values from a ConfigMap or a Secret only (unsupported values reference kind); the linted values lack it"
                ),
                format!("set {at}.kind to ConfigMap or Secret"),
            ));
            continue;
        }
        let fails = if optional {
            "it is optional, so helm-controller skips it when it does not exist".to_string()
        } else {
            format!(
                "it is not optional: if it does not exist in the cluster either, helm-controller fails the release (could not resolve {kind} chart values reference '{ns}/{name}' with key '{key}': resource not found)"
            )
        };
        let Some(source) = tree.and_then(|t| find(t, kind, ns, name)) else {
            problems.push(finding(
                Severity::Warning,
                format!(
                    "{at} names {what}, which is not in the tree, so the linted values are incomplete (values key {key:?} was not merged); {fails}"
                ),
                format!(
                    "add {what} to the tree (the same namespace as the HelmRelease), or lint knowing the values it holds are not checked"
                ),
            ));
            continue;
        };
        if source.value.get("sops").is_some_and(Value::is_object) {
            problems.push(finding(
                Severity::Warning,
                format!(
                    "{at} names {what}, which is SOPS-encrypted in the tree ({}): kustomize-controller decrypts it in the cluster, lint cannot, so the linted values are incomplete (values key {key:?} was not merged)",
                    source.file_display()
                ),
                "keep non-secret values in spec.values or a plain ConfigMap, so lint checks them".to_string(),
            ));
            continue;
        }
        let data = match data_of(source, key) {
            Ok(Some(d)) => d,
            Ok(None) if optional => continue,
            Ok(None) => {
                problems.push(finding(
                    Severity::Warning,
                    format!(
                        "{at}: {what} ({}) has no key {key:?}, so the linted values are incomplete; helm-controller fails the release unless the object in the cluster has the key (could not resolve {kind} chart values reference '{ns}/{name}' with key '{key}': key not found)",
                        source.file_display()
                    ),
                    format!(
                        "set {at}.valuesKey to a key of {what} (the default is values.yaml), or mark the reference optional"
                    ),
                ));
                continue;
            }
            Err(why) => {
                problems.push(finding(
                    Severity::Error,
                    format!(
                        "{at}: {what} key {key:?} cannot be read ({why}): the API server or helm-controller refuses it; the linted values lack it"
                    ),
                    format!("fix {what} key {key:?}"),
                ));
                continue;
            }
        };
        if let Some(path) = r["targetPath"].as_str().filter(|p| !p.is_empty()) {
            if let Err(why) = replace_path_value(&mut result, path, &data) {
                // the strvals error may quote the value: for a Secret, say only that it failed
                let why = if kind == "Secret" {
                    "the value does not parse as a --set value".to_string()
                } else {
                    why
                };
                problems.push(finding(
                    Severity::Error,
                    format!(
                        "{at}: the value of {what} key {key:?} cannot be set at targetPath {path:?} ({why}): helm-controller fails the release (failed to merge value)"
                    ),
                    "quote the value ('…') to keep it a plain string, or escape `,` `.` `[` as Helm's --set does".to_string(),
                ));
            }
            continue;
        }
        match read_values(&data) {
            Ok(values) => merge_maps(&mut result, &values),
            Err(why) => {
                let why = if kind == "Secret" {
                    "not a YAML map of values".to_string()
                } else {
                    why
                };
                problems.push(finding(
                    Severity::Error,
                    format!(
                        "{at}: {what} key {key:?} is not a values file ({why}): helm-controller fails the release (failed to read values data)"
                    ),
                    format!("make {what} key {key:?} a YAML map, or set targetPath for a single value"),
                ));
            }
        }
    }
    merge_maps(&mut result, &own);
    (Value::Object(result), problems)
}

fn find<'a>(tree: &'a Tree, kind: &str, ns: &str, name: &str) -> Option<&'a Object> {
    tree.objects
        .iter()
        .find(|o| o.is("", kind) && o.name() == name && o.namespace().unwrap_or("default") == ns)
}

/// The data at `key` as helm-controller reads it: ConfigMap `.data`, Secret `.data` after the API server merged
/// `stringData` into it. `Ok(None)`: no such key. `Err`: a Secret `data` value that is not base64 (the API server
/// rejects the Secret).
fn data_of(o: &Object, key: &str) -> Result<Option<String>, String> {
    if o.kind() == "ConfigMap" {
        return Ok(match &o.value["data"][key] {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            // a number or bool under data is rejected by the API server (data is map[string]string)
            other => Some(other.to_string()),
        });
    }
    if let Some(s) = o.value["stringData"][key].as_str() {
        return Ok(Some(s.to_string()));
    }
    match o.value["data"][key].as_str() {
        None => Ok(None),
        Some(b64) => {
            let bytes =
                decode_base64(b64).map_err(|_| "Secret data is not valid base64".to_string())?;
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| "Secret data is not UTF-8 text".to_string())
        }
    }
}

/// Decode a Secret `data` (or ConfigMap `binaryData`) value as the API server does. Its JSON decoder reads `[]byte`
/// with Go's `base64.StdEncoding.Decode` (golang/go `src/encoding/json/decode.go` `literalStore`, and the
/// sigs.k8s.io/json fork the API server uses), which ignores `\r` and `\n` (`src/encoding/base64/base64.go`
/// `(*Encoding).Decode`: "New line characters (\r and \n) are ignored"). So base64 wrapped into lines is valid: what
/// kustomize's `secretGenerator` writes (kubernetes-sigs/kustomize `kyaml/yaml/datamap.go` `encodeBase64`: lines of
/// 70 columns, in a literal block) and `base64 -w 76`. Any other whitespace (a space inside) is invalid, as there.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}

/// Helm `chartutil.ReadValues`: a YAML map; empty (or `null`) is `{}`.
fn read_values(data: &str) -> Result<Map<String, Value>, String> {
    let docs = crate::yaml::parse_yaml_documents(data, std::path::Path::new("values"))
        .map_err(|e| e.to_string())?;
    match docs.into_iter().next() {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err("the YAML is not a map".into()),
    }
}

/// helm-controller `ReplacePathValue`.
pub fn replace_path_value(
    values: &mut Map<String, Value>,
    path: &str,
    value: &str,
) -> Result<(), String> {
    let quoted = |q: char| value.starts_with(q) && value.ends_with(q);
    if quoted('\'') || quoted('"') {
        let v = value.trim_matches(['\'', '"']);
        return strvals::parse_into(&format!("{path}={v}"), values, true);
    }
    strvals::parse_into(&format!("{path}={value}"), values, false)
}
