//! `values-unknown-key`: a values key, at any depth, that the chart does not consume.
//!
//! Exact, not a name guess. A key is a *candidate* when neither the chart's `values.yaml` nor its `values.schema.json`
//! defines it (below a map the chart leaves open, like `podAnnotations: {}`, every key is the user's). A candidate is
//! *reported* only when rendering without it gives byte-identical output ([`super::render_release`] does that).
//! The closest real key is only a suggestion for the fix text.

use serde_json::{Map, Value};

use super::LintInput;
use crate::finding::{Finding, Severity};

pub const RULE: &str = "values-unknown-key";

/// A key the chart does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: Vec<String>,
    /// The closest key the chart does define at the same level.
    pub suggestion: Option<String>,
}

/// A candidate the render proved unused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedValue {
    pub path: Vec<String>,
    pub suggestion: Option<String>,
}

/// Keys in `values` that neither `defaults` nor `schema` define.
pub fn unused_candidates(
    values: &Value,
    defaults: &Value,
    schema: Option<&Value>,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let Value::Object(user) = values {
        walk(user, Some(defaults), schema, &mut Vec::new(), &mut out);
    }
    out
}

fn schema_property<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    schema.and_then(|s| s["properties"].get(key))
}

/// Does the schema leave this level open (free-form keys)?
fn schema_open(schema: Option<&Value>) -> bool {
    schema.is_some_and(|s| {
        s["additionalProperties"].is_object()
            || s["additionalProperties"] == Value::Bool(true) && s["properties"].is_null()
            || s["patternProperties"].is_object()
    })
}

fn walk(
    user: &Map<String, Value>,
    defaults: Option<&Value>,
    schema: Option<&Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Candidate>,
) {
    if schema_open(schema) {
        return;
    }
    for (key, value) in user {
        let d = defaults.and_then(|d| d.get(key));
        let s = schema_property(schema, key);
        path.push(key.clone());
        if d.is_none() && s.is_none() {
            out.push(Candidate {
                path: path.clone(),
                suggestion: closest_key(key, defaults, schema),
            });
        } else if let Value::Object(inner) = value {
            // Descend only where the chart defines the inner keys; an empty default map is the user's to fill.
            let d_closed = d.is_some_and(|d| d.as_object().is_some_and(|m| !m.is_empty()));
            let s_closed = s.is_some_and(|s| s["properties"].is_object());
            if d_closed || s_closed {
                walk(
                    inner,
                    d.filter(|_| d_closed),
                    s.filter(|_| s_closed),
                    path,
                    out,
                );
            }
        } else if let Value::Array(items) = value {
            // A list the chart defines with item keys: its default's first item (a map with keys), or the schema's
            // `items.properties`. Helm replaces lists whole, so each user item is compared with that item shape.
            let d_item = d
                .and_then(|d| d.as_array())
                .and_then(|a| a.first())
                .filter(|i| i.as_object().is_some_and(|m| !m.is_empty()));
            let s_item = s
                .map(|s| &s["items"])
                .filter(|i| i["properties"].is_object());
            if d_item.is_some() || s_item.is_some() {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(inner) = item {
                        path.push(format!("[{i}]"));
                        walk(inner, d_item, s_item, path, out);
                        path.pop();
                    }
                }
            }
        }
        path.pop();
    }
}

/// The defined key at this level closest to `key`: same name ignoring case, then a defined key that `key` ends or
/// starts with (`extraVolumes` → `volumes`), then the most similar name (normalised Damerau-Levenshtein ≥ 0.6).
pub fn closest_key(key: &str, defaults: Option<&Value>, schema: Option<&Value>) -> Option<String> {
    let mut known: Vec<&str> = Vec::new();
    if let Some(Value::Object(m)) = defaults {
        known.extend(m.keys().map(String::as_str));
    }
    if let Some(Value::Object(m)) = schema.map(|s| &s["properties"]) {
        known.extend(m.keys().map(String::as_str));
    }
    known.sort();
    known.dedup();
    let lower = key.to_ascii_lowercase();
    if let Some(k) = known.iter().find(|k| k.to_ascii_lowercase() == lower) {
        return Some(k.to_string());
    }
    let contained = known
        .iter()
        .filter(|k| k.len() >= 4)
        .filter(|k| {
            let kl = k.to_ascii_lowercase();
            lower.ends_with(&kl) || lower.starts_with(&kl)
        })
        .max_by_key(|k| k.len());
    if let Some(k) = contained {
        return Some(k.to_string());
    }
    known
        .iter()
        .map(|k| {
            (
                strsim::normalized_damerau_levenshtein(&lower, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

/// Did the chart pass the candidate through with its parent map (`toYaml .Values.securityContext`)? True when some
/// rendered mapping holds the candidate's key with the same value *and* every other entry of the parent map as
/// Helm merges it (the chart's default for that map, the user's keys over it; a list item is the user's own).
/// A value that merely appears in the output (a probe identical to the one the chart hard-codes, a top-level
/// key whose parent is the whole values) is not proof: it is left to the render without it.
pub fn passed_through(
    path: &[String],
    values: &Value,
    defaults: &Value,
    rendered: &[&Value],
) -> bool {
    let Some((key, parent)) = path.split_last() else {
        return false;
    };
    if parent.is_empty() {
        return false;
    }
    let (Some(value), Some(Value::Object(user_parent))) =
        (get_path(values, path), get_path(values, parent))
    else {
        return false;
    };
    let mut merged = match get_path(defaults, parent) {
        Some(Value::Object(d)) => d.clone(),
        _ => Map::new(),
    };
    for (k, v) in user_parent {
        merged.insert(k.clone(), v.clone());
    }
    merged.retain(|_, v| !v.is_null());
    fn holds(m: &Map<String, Value>, merged: &Map<String, Value>) -> bool {
        merged.iter().all(|(k, v)| m.get(k) == Some(v))
    }
    fn find(v: &Value, key: &str, value: &Value, merged: &Map<String, Value>) -> bool {
        match v {
            Value::Object(m) => {
                (m.get(key) == Some(value) && holds(m, merged))
                    || m.values().any(|x| find(x, key, value, merged))
            }
            Value::Array(a) => a.iter().any(|x| find(x, key, value, merged)),
            _ => false,
        }
    }
    rendered.iter().any(|r| find(r, key, value, &merged))
}

/// A path segment `[N]` is list index N.
fn index(seg: &str) -> Option<usize> {
    seg.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

fn child<'a>(v: &'a Value, seg: &str) -> Option<&'a Value> {
    match index(seg) {
        Some(i) => v.as_array()?.get(i),
        None => v.get(seg),
    }
}

pub fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| child(v, k))
}

/// Remove the key at `path` (a no-op when absent).
pub fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parents {
        let next = match index(p) {
            Some(i) => cur.as_array_mut().and_then(|a| a.get_mut(i)),
            None => cur.get_mut(p.as_str()),
        };
        match next {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.remove(last);
    }
}

/// `a.b[0].c`.
pub fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if !out.is_empty() && index(seg).is_none() {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// Report the values the render step proved unused.
pub fn check(input: &LintInput) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &input.releases {
        let Some(chart) = &r.chart else { continue };
        for u in &r.unused_values {
            let key = dotted(&u.path);
            let mut message = format!(
                "`{key}` is not a value of chart {} {}: the chart defines no such key and the rendered manifests are identical without it, so Helm and Flux drop it silently.",
                chart.name, chart.version
            );
            let fix = match &u.suggestion {
                Some(s) => {
                    let mut real = u.path.clone();
                    if let Some(last) = real.last_mut() {
                        *last = s.clone();
                    }
                    message.push_str(&format!(" Did you mean `{}`?", dotted(&real)));
                    format!("rename `{key}` to `{}`", dotted(&real))
                }
                None => format!(
                    "remove `{key}`, or look up the chart's values: helm show values {} --version {}",
                    chart.name, chart.version
                ),
            };
            out.push(
                Finding::new(RULE, Severity::Error)
                    .file(r.file())
                    .object(r.id())
                    .path(key)
                    .message(message)
                    .fix(fix),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Value {
        json!({
            "image": {"registry": "ghcr.io", "tag": ""},
            "config": {"inCluster": true, "oidc": {"clientID": ""}},
            "podAnnotations": {},
            "securityContext": {"runAsNonRoot": true},
            "volumes": [], "volumeMounts": [],
        })
    }

    fn paths(c: &[Candidate]) -> Vec<String> {
        c.iter().map(|c| dotted(&c.path)).collect()
    }

    #[test]
    fn finds_unknown_keys_at_any_depth_and_leaves_open_maps_alone() {
        let values = json!({
            "extraVolumes": [{"name": "home"}],
            "config": {"foo": 1, "oidc": {"clientId": "x"}},
            "podAnnotations": {"anything": "goes"},
            "image": {"tag": "v1"},
        });
        let c = unused_candidates(&values, &defaults(), None);
        assert_eq!(
            paths(&c),
            ["config.foo", "config.oidc.clientId", "extraVolumes"]
        );
        assert_eq!(c[1].suggestion.as_deref(), Some("clientID"));
        assert_eq!(c[2].suggestion.as_deref(), Some("volumes"));
    }

    #[test]
    fn schema_defined_keys_are_known() {
        let schema = json!({"properties": {"env": {"type": "array"}, "config": {"properties": {"baseURL": {}}}}});
        let values = json!({"env": [], "config": {"baseURL": "/x", "bogus": true}});
        let c = unused_candidates(&values, &defaults(), Some(&schema));
        assert_eq!(paths(&c), ["config.bogus"]);
    }

    #[test]
    fn suggestions() {
        let d = defaults();
        assert_eq!(
            closest_key("extraVolumeMounts", Some(&d), None).as_deref(),
            Some("volumeMounts")
        );
        assert_eq!(
            closest_key("Image", Some(&d), None).as_deref(),
            Some("image")
        );
        assert_eq!(closest_key("zzzzzz", Some(&d), None), None);
    }

    #[test]
    fn passed_through_keys_are_recognised_with_their_parent_map() {
        let values = json!({"securityContext": {"readOnlyRootFilesystem": true}});
        let path = vec![
            "securityContext".to_string(),
            "readOnlyRootFilesystem".to_string(),
        ];
        // `toYaml .Values.securityContext`: the chart's default runAsNonRoot and the user's key together
        let out = json!({"spec": {"containers": [{"securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true}}]}});
        assert!(passed_through(&path, &values, &defaults(), &[&out]));
        let other = json!({"spec": {"containers": [{"securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": false}}]}});
        assert!(!passed_through(&path, &values, &defaults(), &[&other]));
        // the key and value alone, without the rest of its map: a coincidence, not proof
        let alone = json!({"spec": {"containers": [{"securityContext": {"readOnlyRootFilesystem": true}}]}});
        assert!(!passed_through(&path, &values, &defaults(), &[&alone]));
    }

    #[test]
    fn a_top_level_value_equal_to_a_hard_coded_one_is_not_proof() {
        // chart 0.41.0 hard-codes this probe in templates/deployment.yaml; `livenessProbe` is no value of it
        let values = json!({"livenessProbe": {"httpGet": {"path": "/", "port": "http"}}});
        let out = json!({"spec": {"containers": [{"livenessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}});
        assert!(!passed_through(
            &["livenessProbe".to_string()],
            &values,
            &defaults(),
            &[&out]
        ));
    }

    #[test]
    fn list_items_are_compared_with_the_default_item() {
        let d = json!({"ingress": {"hosts": [{"host": "x", "paths": []}]}, "env": []});
        let schema = json!({"properties": {"env": {"type": "array", "items": {"properties": {"name": {}, "value": {}}}}}});
        let values = json!({
            "ingress": {"hosts": [{"host": "a"}, {"hots": "b", "paths": []}]},
            "env": [{"name": "A", "valu": "1"}],
        });
        let c = unused_candidates(&values, &d, Some(&schema));
        assert_eq!(paths(&c), ["env[0].valu", "ingress.hosts[1].hots"]);
        assert_eq!(c[0].suggestion.as_deref(), Some("value"));
        let mut v = values.clone();
        remove_path(&mut v, &c[1].path);
        assert_eq!(v["ingress"]["hosts"][1], json!({"paths": []}));
        assert_eq!(get_path(&values, &c[0].path), Some(&json!("1")));
    }

    #[test]
    fn remove_path_removes_only_that_key() {
        let mut v = json!({"a": {"b": 1, "c": 2}});
        remove_path(&mut v, &["a".into(), "b".into()]);
        assert_eq!(v, json!({"a": {"c": 2}}));
        remove_path(&mut v, &["x".into(), "y".into()]);
        assert_eq!(v, json!({"a": {"c": 2}}));
    }
}
