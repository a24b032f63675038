//! Custom resources: field names from a CRD's openAPIV3Schema, pruned to a tree of names.
//!
//! A node of the tree (in `data/flux-crd-fields.json`) is a JSON object with, all optional:
//! - `properties`: the fields of an object, by name (present, maybe empty, for every closed object);
//! - `items`: the node of an array's elements;
//! - `additionalProperties`: the node of every value of a map whose values have fields;
//! - `open: true`: keys not in `properties` are allowed (`additionalProperties` without fields,
//!   `x-kubernetes-preserve-unknown-fields`, embedded resources, or a schema this derivation does not model).
//!
//! A node with none of these is a scalar (or a field whose contents are not checked).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::{Report, Unknown, child_index, child_key, typed};
use crate::error::{Error, Result};
use crate::gitops;

/// The committed derivation of the Flux CRDs: `{apiVersion: {kind: node}}`.
pub const FLUX_FIELDS_JSON: &str = include_str!("../../../../data/flux-crd-fields.json");

static FLUX_FIELDS: LazyLock<Value> = LazyLock::new(|| {
    match serde_json::from_str(FLUX_FIELDS_JSON) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(
                "data/flux-crd-fields.json is not valid JSON ({e}); custom resources are not checked"
            );
            Value::Null
        }
    }
});

/// The root node of a custom resource kind, when the embedded data has it.
pub(super) fn lookup(api_version: &str, kind: &str) -> Option<&'static Value> {
    FLUX_FIELDS
        .get(api_version)?
        .get(kind)
        .filter(|n| n.is_object())
}

/// Derive the field tree of every CustomResourceDefinition in a multi-document YAML text (e.g. `flux install`
/// output): `{"<group>/<version>": {"<Kind>": node}}` for every served version. Other documents are ignored.
pub fn derive_flux_fields(yaml: &str) -> Result<Value> {
    let docs = gitops::parse_yaml_documents(yaml, Path::new("<CRDs>"))?;
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for doc in &docs {
        if doc["apiVersion"] != "apiextensions.k8s.io/v1"
            || doc["kind"] != "CustomResourceDefinition"
        {
            continue;
        }
        let name = doc["metadata"]["name"].as_str().unwrap_or("?");
        let invalid = |what: &str| Error::Other(format!("CustomResourceDefinition {name}: {what}"));
        let group = doc["spec"]["group"]
            .as_str()
            .ok_or_else(|| invalid("spec.group is missing"))?;
        let kind = doc["spec"]["names"]["kind"]
            .as_str()
            .ok_or_else(|| invalid("spec.names.kind is missing"))?;
        let versions = doc["spec"]["versions"]
            .as_array()
            .ok_or_else(|| invalid("spec.versions is missing"))?;
        for v in versions {
            if v["served"] == false {
                continue;
            }
            let version = v["name"]
                .as_str()
                .ok_or_else(|| invalid("a version has no name"))?;
            let schema = &v["schema"]["openAPIV3Schema"];
            if !schema.is_object() {
                return Err(invalid(&format!(
                    "version {version} has no openAPIV3Schema"
                )));
            }
            out.entry(format!("{group}/{version}"))
                .or_default()
                .insert(kind.to_string(), node(schema));
        }
    }
    if out.is_empty() {
        return Err(Error::Other(
            "no CustomResourceDefinition in the input".into(),
        ));
    }
    Ok(sorted(
        &serde_json::to_value(out).map_err(|e| Error::Other(e.to_string()))?,
    ))
}

/// The pruned node of one schema.
fn node(schema: &Value) -> Value {
    let mut n = Map::new();
    let mut open = schema["x-kubernetes-preserve-unknown-fields"] == true
        || schema["x-kubernetes-embedded-resource"] == true
        // Combinators could add fields: do not pretend to know them.
        || ["allOf", "anyOf", "oneOf"].iter().any(|c| schema.get(*c).is_some());
    match &schema["additionalProperties"] {
        Value::Bool(true) => open = true,
        Value::Object(_) => {
            let inner = node(&schema["additionalProperties"]);
            if inner.get("properties").is_some() || inner.get("items").is_some() {
                n.insert("additionalProperties".into(), inner);
            } else {
                open = true;
            }
        }
        _ => {}
    }
    match &schema["properties"] {
        Value::Object(props) => {
            let children: Map<String, Value> =
                props.iter().map(|(k, v)| (k.clone(), node(v))).collect();
            n.insert("properties".into(), Value::Object(children));
        }
        _ if schema["type"] == "object" && !open && !n.contains_key("additionalProperties") => {
            n.insert("properties".into(), json!({}));
        }
        _ => {}
    }
    if schema["items"].is_object() {
        n.insert("items".into(), node(&schema["items"]));
    }
    if open {
        n.insert("open".into(), Value::Bool(true));
    }
    Value::Object(n)
}

/// A copy with every map's keys inserted in sorted order (sorted output even with serde_json's `preserve_order`).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The text committed as `data/flux-crd-fields.json`: pretty, sorted keys, trailing newline.
pub fn render_flux_fields(fields: &Value) -> String {
    let mut s = serde_json::to_string_pretty(&sorted(fields)).unwrap_or_default();
    s.push('\n');
    s
}

/// Check a custom resource against its root node: unknown fields anywhere, and `metadata` as an ObjectMeta.
pub(super) fn check(value: &Value, root: &Value) -> Report {
    let mut report = Report::default();
    let Value::Object(fields) = value else {
        return report;
    };
    let props = &root["properties"];
    for (key, v) in fields {
        if key == "metadata" {
            let meta = typed::check_object_meta(v, "metadata");
            report.unknown.extend(meta.unknown);
            report.invalid.extend(meta.invalid);
        } else if let Some(child) = props.get(key) {
            walk(v, child, key, &mut report.unknown);
        } else if root["open"] != true {
            report.unknown.push(unknown(key, "", props));
        }
    }
    report
}

fn walk(v: &Value, node: &Value, path: &str, out: &mut Vec<Unknown>) {
    match v {
        Value::Object(m) => {
            if let Some(values) = node.get("additionalProperties") {
                for (k, x) in m {
                    walk(x, values, &child_key(path, k), out);
                }
                return;
            }
            let Some(props) = node.get("properties") else {
                return;
            };
            let open = node["open"] == true;
            for (k, x) in m {
                match props.get(k) {
                    Some(child) => walk(x, child, &child_key(path, k), out),
                    None if !open => out.push(unknown(k, path, props)),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = node.get("items") {
                for (i, x) in items.iter().enumerate() {
                    walk(x, item, &child_index(path, i), out);
                }
            }
        }
        _ => {}
    }
}

fn unknown(key: &str, parent: &str, props: &Value) -> Unknown {
    Unknown {
        path: child_key(parent, key),
        key: key.to_string(),
        known: props
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    }
}
