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

/// Keys in `values` that neither `defaults` nor `schema` define. `subcharts` are the top-level keys that hold a
/// subchart's values ([`crate::chart::Chart::subchart_keys`]): never the new home a suggestion moves a key to.
pub fn unused_candidates(
    values: &Value,
    defaults: &Value,
    schema: Option<&Value>,
    subcharts: &[String],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let Value::Object(user) = values {
        walk(
            user,
            Some(defaults),
            schema,
            subcharts,
            &mut Vec::new(),
            &mut out,
        );
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
    subcharts: &[String],
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
                suggestion: closest_key(
                    key,
                    value,
                    &Level {
                        user,
                        defaults,
                        schema,
                        subcharts,
                    },
                ),
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
                    &[],
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
            // A bare `{"type": "object"}` item schema (Headlamp 0.40 `ingress.hosts[].paths[]`) names no keys: every
            // key of such an item is a candidate, and only the renders (removed, then changed) can prove one unread.
            let s_item = s
                .map(|s| &s["items"])
                .filter(|i| i["properties"].is_object() || bare_object(i));
            if d_item.is_some() || s_item.is_some() {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(inner) = item {
                        path.push(format!("[{i}]"));
                        walk(inner, d_item, s_item, &[], path, out);
                        path.pop();
                    }
                }
            }
        }
        path.pop();
    }
}

/// `{"type": "object"}` and nothing that names or opens its keys.
fn bare_object(schema: &Value) -> bool {
    schema["type"] == "object"
        && schema["properties"].is_null()
        && schema["additionalProperties"].is_null()
        && schema["patternProperties"].is_null()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Map,
    List,
    Scalar,
    /// null, or a schema without a type: matches any shape
    Any,
}

fn shape_of_value(v: &Value) -> Shape {
    match v {
        Value::Object(_) => Shape::Map,
        Value::Array(_) => Shape::List,
        Value::Null => Shape::Any,
        _ => Shape::Scalar,
    }
}

fn shape_of_schema(s: &Value) -> Shape {
    match s["type"].as_str() {
        Some("object") => Shape::Map,
        Some("array") => Shape::List,
        Some(_) => Shape::Scalar,
        None => Shape::Any,
    }
}

fn same_shape(a: Shape, b: Shape) -> bool {
    a == b || a == Shape::Any || b == Shape::Any
}

/// A key the chart defines at this level (its default or schema) with the shape of `value`.
fn defined_with_shape(
    k: &str,
    value: &Value,
    defaults: Option<&Value>,
    schema: Option<&Value>,
) -> bool {
    let want = shape_of_value(value);
    let d = defaults.and_then(|d| d.get(k)).map(shape_of_value);
    let s = schema_property(schema, k).map(shape_of_schema);
    match (d, s) {
        (None, None) => false,
        (d, s) => d.is_none_or(|d| same_shape(d, want)) && s.is_none_or(|s| same_shape(s, want)),
    }
}

/// One level of values where a key the chart does not define was found: what [`closest_key`] may suggest instead.
#[derive(Debug, Clone, Copy)]
pub struct Level<'a> {
    /// The user's map at this level: a key it already holds is never suggested (the rename would write it twice).
    pub user: &'a Map<String, Value>,
    /// The chart's defaults at this level.
    pub defaults: Option<&'a Value>,
    /// The chart's schema at this level.
    pub schema: Option<&'a Value>,
    /// Keys at this level holding a subchart's values (the top level only): not a home a key moved to.
    pub subcharts: &'a [String],
}

/// What the chart most likely means by an undefined `key` holding `value`, for the fix text only (the finding itself
/// is proved by the render). A wrong suggestion is worse than none (following it breaks the release), so each step
/// suggests only a key that is the one answer it finds, and none the user's map at this level already holds (loki
/// 6.49.0: `bloomCompactor` beside the user's own `compactor` gets no "rename to `compactor`"). In order:
/// - the same name in another case;
/// - the same name one level down, where the chart moved it (Headlamp chart 0.43.0 moved `livenessProbe` to
///   `probes.livenessProbe`): only when exactly one map at this level defines it, and never a subchart's map (a
///   subchart's `ingress` is not the chart's own: langfuse 1.5.18 `ingress` is `langfuse.ingress`, not the bitnami
///   `clickhouse.ingress`; rustfs 0.0.79 `service.port` could be `service.console.port` or `service.endpoint.port`:
///   none);
/// - a defined key that `key` ends or starts with (`extraVolumes` → `volumes`), the longest, when one is longest;
/// - a defined key at a Damerau-Levenshtein distance of at most 2 (1 for names under 6 characters), a typo, when
///   one is closest.
///
/// Every suggestion has the shape of the user's value (a map for a map, a list for a list, a scalar for a scalar):
/// `staleReplicaTimeout` (distance 5 from `engineReplicaTimeout`, another setting) gets none.
///
/// A boolean value is a switch (`enabled`, `create`, `metricsEnabled`): switch names recur in many maps, each turning
/// on something else, so a boolean is never moved to another map nor renamed to a key its name merely contains
/// (kube-prometheus-stack 81.1.0 `kube-state-metrics.enabled` is no `kube-state-metrics.autosharding.enabled`, which
/// would turn autosharding on). Only its case and typo steps apply, both at its own level.
pub fn closest_key(key: &str, value: &Value, at: &Level) -> Option<String> {
    let (defaults, schema) = (at.defaults, at.schema);
    let switch = value.is_boolean();
    let mut known: Vec<&str> = Vec::new();
    if let Some(Value::Object(m)) = defaults {
        known.extend(m.keys().map(String::as_str));
    }
    if let Some(Value::Object(m)) = schema.map(|s| &s["properties"]) {
        known.extend(m.keys().map(String::as_str));
    }
    known.sort();
    known.dedup();
    // the keys this level's map has (for the step one level down), before the shape and the user's keys filter them
    let parents: Vec<&str> = known.clone();
    known.retain(|k| defined_with_shape(k, value, defaults, schema) && !at.user.contains_key(*k));
    let lower = key.to_ascii_lowercase();
    let same_case: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| k.to_ascii_lowercase() == lower)
        .collect();
    if let [k] = same_case[..] {
        return Some(k.to_string());
    }
    // moved one level down: `<parent>.<key>` with the same shape, in exactly one of the chart's own maps
    if !switch {
        let homes: Vec<&str> = parents
            .iter()
            .copied()
            .filter(|p| !at.subcharts.iter().any(|s| s == p))
            .filter(|p| {
                defined_with_shape(
                    key,
                    value,
                    defaults.and_then(|d| d.get(*p)).filter(|d| d.is_object()),
                    schema_property(schema, p).filter(|s| s["properties"].is_object()),
                )
            })
            .collect();
        if let [p] = homes[..] {
            let already = at.user.get(p).and_then(|m| m.get(key)).is_some();
            if !already {
                return Some(format!("{p}.{key}"));
            }
        }
    }
    if !switch {
        let contained: Vec<&str> = known
            .iter()
            .copied()
            .filter(|k| k.len() >= 4)
            .filter(|k| {
                let kl = k.to_ascii_lowercase();
                lower.ends_with(&kl) || lower.starts_with(&kl)
            })
            .collect();
        if let Some(k) = only_best(&contained, |k| std::cmp::Reverse(k.len())) {
            return Some(k.to_string());
        }
    }
    let limit = if key.chars().count() < 6 { 1 } else { 2 };
    let close: Vec<(usize, &str)> = known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&lower, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .collect();
    only_best(&close, |(d, _)| *d).map(|(_, k)| k.to_string())
}

/// The one item with the lowest `rank`; `None` when there is none or several share it (no guessing between them).
fn only_best<T: Copy, R: Ord>(items: &[T], rank: impl Fn(&T) -> R) -> Option<T> {
    let best = items.iter().map(&rank).min()?;
    let mut at_best = items.iter().filter(|i| rank(i) == best);
    match (at_best.next(), at_best.next()) {
        (Some(one), None) => Some(*one),
        _ => None,
    }
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

/// A value of the same type and shape as `v` but different in every scalar leaf: a string gets a suffix, a number
/// one more, a boolean its negation. `None` when there is nothing to change (null, `{}`, `[]`).
pub fn perturbed(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => Some(Value::String(format!("{s}-lintprobe"))),
        Value::Bool(b) => Some(Value::Bool(!b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(Value::from(i.wrapping_add(1))),
            (None, Some(f)) => Some(Value::from(f + 1.0)),
            _ => None,
        },
        Value::Object(m) => {
            let mut changed = false;
            let out: Map<String, Value> = m
                .iter()
                .map(|(k, x)| match perturbed(x) {
                    Some(p) => {
                        changed = true;
                        (k.clone(), p)
                    }
                    None => (k.clone(), x.clone()),
                })
                .collect();
            changed.then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let mut changed = false;
            let out: Vec<Value> = a
                .iter()
                .map(|x| match perturbed(x) {
                    Some(p) => {
                        changed = true;
                        p
                    }
                    None => x.clone(),
                })
                .collect();
            changed.then_some(Value::Array(out))
        }
        Value::Null => None,
    }
}

/// Set the value at `path` (a no-op when its parent is absent).
pub fn set_path(v: &mut Value, path: &[String], value: Value) {
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
        m.insert(last.clone(), value);
    }
}

/// What a probe render is compared with: the user's render, and which of its lines change from one render to the
/// next on their own (`randAlphaNum` passwords, checksums of them). `noise` is `None` when two renders of the same
/// values are byte-identical.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub text: String,
    pub noise: Option<Vec<bool>>,
}

impl Baseline {
    /// From two renders of the user's values. `None` when they differ in their number of lines: the random parts
    /// cannot be lined up, so no key of this release can be proved unused (none is reported).
    pub fn new(first: &str, second: &str) -> Option<Baseline> {
        if first == second {
            return Some(Baseline {
                text: first.to_string(),
                noise: None,
            });
        }
        let (a, b): (Vec<&str>, Vec<&str>) = (first.lines().collect(), second.lines().collect());
        (a.len() == b.len()).then(|| Baseline {
            text: first.to_string(),
            noise: Some(a.iter().zip(&b).map(|(x, y)| x != y).collect()),
        })
    }

    /// Is `out` the user's render, the random lines aside?
    pub fn same(&self, out: &str) -> bool {
        match &self.noise {
            None => out == self.text,
            Some(noise) => {
                let (a, b): (Vec<&str>, Vec<&str>) =
                    (self.text.lines().collect(), out.lines().collect());
                a.len() == b.len()
                    && a.iter()
                        .zip(&b)
                        .zip(noise)
                        .all(|((x, y), random)| *random || x == y)
            }
        }
    }
}

/// The candidates the chart provably does not read. A candidate is unused when the render without it **and** the
/// render with it changed (a different value of the same type, [`perturbed`]) are both the user's render (random
/// lines aside, [`Baseline`]). A key whose default the user's value happens to render the same as (reloader's
/// `podMonitor.namespace: "{{ .Release.Namespace }}"`, read with `tpl`) differs once perturbed. A probe render that
/// fails means the chart read the key (a `required`, a `fail`, a type the template cannot use): it is never an error
/// of the user's values, which rendered, and never a finding (issue 19 causes 1–3).
///
/// When the output is random in a way that cannot be masked (two renders of the same values differ in their number
/// of lines), no candidate can be proved either way: they are returned in
/// [`Probed::unchecked`], for one `info` note ([`UNCHECKED_RULE`]), never as findings.
pub async fn probe_unused(
    helm: &crate::chart::Helm,
    chart: &crate::chart::Chart,
    release: &str,
    namespace: &str,
    values: &Value,
    base_text: &str,
    candidates: &[Candidate],
) -> Probed {
    if candidates.is_empty() {
        return Probed::default();
    }
    let unchecked = || Probed {
        unused: Vec::new(),
        unchecked: candidates.iter().map(|c| c.path.clone()).collect(),
    };
    // a second, uncached render of the user's values: are parts of the output random?
    let Ok(again) = helm.template(chart, release, namespace, values).await else {
        return Probed::default();
    };
    let Some(base) = Baseline::new(base_text, &again) else {
        tracing::debug!(chart = %chart.name, "random output that cannot be lined up: keys not checked");
        return unchecked();
    };
    let same = |v: Value| {
        let base = &base;
        async move {
            match helm.render(chart, release, namespace, &v).await {
                Ok(out) => base.same(&out),
                Err(_) => false,
            }
        }
    };
    let without = |paths: &[&Candidate]| {
        let mut v = values.clone();
        for c in paths {
            remove_path(&mut v, &c.path);
        }
        v
    };
    let all: Vec<&Candidate> = candidates.iter().collect();
    let removed: Vec<&Candidate> = if same(without(&all)).await {
        all
    } else if candidates.len() == 1 {
        Vec::new()
    } else {
        let each = futures::future::join_all(candidates.iter().map(|c| same(without(&[c])))).await;
        candidates
            .iter()
            .zip(each)
            .filter(|(_, same)| *same)
            .map(|(c, _)| c)
            .collect()
    };
    let changed = futures::future::join_all(removed.iter().map(|c| {
        let probe = get_path(values, &c.path).and_then(perturbed).map(|p| {
            let mut v = values.clone();
            set_path(&mut v, &c.path, p);
            v
        });
        let same = &same;
        async move {
            match probe {
                Some(v) => same(v).await,
                // nothing to change (an empty map or list): the removal is the proof
                None => true,
            }
        }
    }))
    .await;
    let unused = removed
        .into_iter()
        .zip(changed)
        .filter(|(_, same)| *same)
        .map(|(c, _)| UnusedValue {
            path: c.path.clone(),
            suggestion: c.suggestion.clone(),
        })
        .collect();
    Probed {
        unused,
        unchecked: Vec::new(),
    }
}

/// What [`probe_unused`] settled: the keys proved unused, and the candidates it could not check (random output).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    pub unused: Vec<UnusedValue>,
    pub unchecked: Vec<Vec<String>>,
}

/// Rule of the one `info` note per release whose chart renders differently each time in a way lint cannot mask:
/// the keys the chart does not define were not checked ([`probe_unused`]).
pub const UNCHECKED_RULE: &str = "values-not-checked";

/// One note per release with keys [`probe_unused`] could not check, naming the chart and the keys.
pub fn check_unchecked(input: &LintInput) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &input.releases {
        let Some(chart) = &r.chart else { continue };
        if r.unchecked_values.is_empty() {
            continue;
        }
        const SHOWN: usize = 10;
        let mut keys: Vec<String> = r
            .unchecked_values
            .iter()
            .take(SHOWN)
            .map(|p| format!("`{}`", dotted(p)))
            .collect();
        if r.unchecked_values.len() > SHOWN {
            keys.push(format!("and {} more", r.unchecked_values.len() - SHOWN));
        }
        let n = r.unchecked_values.len();
        out.push(
            Finding::new(UNCHECKED_RULE, Severity::Info)
                .file(r.file())
                .object(r.id())
                .path("spec.values")
                .message(format!(
                    "chart {} {} renders differently each time (generated passwords, certificates or names that change the number of lines), so lint could not tell whether it reads {} value{} it does not define: {}",
                    chart.name,
                    chart.version,
                    if n == 1 { "this" } else { "these" },
                    if n == 1 { "" } else { "s" },
                    keys.join(", ")
                ))
                .fix(format!(
                    "nothing to change if they are right; check them against `helm show values {} --version {}`",
                    chart.name, chart.version
                )),
        );
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
                "`{key}` is not a value of chart {} {}: the chart defines no such key and the rendered manifests are identical without it and with it changed, so Helm and Flux drop it silently.",
                chart.name, chart.version
            );
            let fix = match &u.suggestion {
                Some(s) => {
                    let mut real = u.path.clone();
                    if let Some(last) = real.last_mut() {
                        *last = s.clone();
                    }
                    if s.contains('.') {
                        // moved one level down by the chart ([`closest_key`])
                        message.push_str(&format!(
                            " The chart reads this setting as `{}`.",
                            dotted(&real)
                        ));
                        format!("move `{key}` to `{}`", dotted(&real))
                    } else {
                        message.push_str(&format!(" Did you mean `{}`?", dotted(&real)));
                        format!("rename `{key}` to `{}`", dotted(&real))
                    }
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

    /// [`closest_key`] for a user's map holding only `key`, no subcharts.
    fn closest(
        key: &str,
        value: &Value,
        defaults: Option<&Value>,
        schema: Option<&Value>,
    ) -> Option<String> {
        let user = Map::from_iter([(key.to_string(), value.clone())]);
        closest_key(
            key,
            value,
            &Level {
                user: &user,
                defaults,
                schema,
                subcharts: &[],
            },
        )
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
        let c = unused_candidates(&values, &defaults(), None, &[]);
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
        let c = unused_candidates(&values, &defaults(), Some(&schema), &[]);
        assert_eq!(paths(&c), ["config.bogus"]);
    }

    #[test]
    fn suggestions() {
        let d = defaults();
        assert_eq!(
            closest("extraVolumeMounts", &json!([]), Some(&d), None).as_deref(),
            Some("volumeMounts")
        );
        assert_eq!(
            closest("Image", &json!({"tag": "x"}), Some(&d), None).as_deref(),
            Some("image")
        );
        assert_eq!(closest("zzzzzz", &json!(1), Some(&d), None), None);
        // a typo of the same shape
        assert_eq!(
            closest("securityContex", &json!({}), Some(&d), None).as_deref(),
            Some("securityContext")
        );
        // the same name with another shape is not the key meant
        assert_eq!(
            closest("image", &json!("ghcr.io/x:1"), Some(&d), None),
            None
        );
    }

    #[test]
    fn a_different_setting_at_a_long_edit_distance_is_not_suggested() {
        // longhorn: staleReplicaTimeout and engineReplicaTimeout are two settings (distance 5)
        let d = json!({"persistence": {"defaultClass": true}, "defaultSettings": {"engineReplicaTimeout": 8}});
        assert_eq!(
            closest(
                "staleReplicaTimeout",
                &json!(30),
                d.get("defaultSettings"),
                None
            ),
            None
        );
        assert_eq!(
            closest(
                "engineReplicaTimeot",
                &json!(30),
                d.get("defaultSettings"),
                None
            )
            .as_deref(),
            Some("engineReplicaTimeout")
        );
    }

    /// [`unused_candidates`] of `values` as (dotted path, suggestion).
    fn suggested(
        values: Value,
        defaults: &Value,
        subcharts: &[String],
    ) -> Vec<(String, Option<String>)> {
        unused_candidates(&values, defaults, None, subcharts)
            .into_iter()
            .map(|c| (dotted(&c.path), c.suggestion))
            .collect()
    }

    #[test]
    fn a_key_two_maps_define_one_level_down_gets_no_move() {
        // rustfs 0.0.79: port 9000 is the S3 endpoint's, 9001 the console's; the first sibling is no answer
        let d = json!({"service": {"type": "ClusterIP", "console": {"port": 9001}, "endpoint": {"port": 9000}}});
        assert_eq!(
            suggested(json!({"service": {"port": 9000}}), &d, &[]),
            [("service.port".to_string(), None)]
        );
        // one map defining it is the chart's move
        let d = json!({"service": {"type": "ClusterIP", "endpoint": {"port": 9000}}});
        assert_eq!(
            suggested(json!({"service": {"port": 9000}}), &d, &[]),
            [(
                "service.port".to_string(),
                Some("endpoint.port".to_string())
            )]
        );
    }

    #[test]
    fn a_subchart_map_is_not_where_a_key_of_the_chart_moved() {
        // langfuse 1.5.18: the chart's own ingress is `langfuse.ingress`; `clickhouse` (a bitnami subchart) and
        // `postgresql` have their own
        let d = json!({
            "langfuse": {"ingress": {"enabled": false, "hosts": []}, "replicas": 1},
            "clickhouse": {"ingress": {"enabled": false}, "shards": 1},
            "postgresql": {"ingress": {"enabled": false}},
        });
        let subcharts = ["clickhouse".to_string(), "postgresql".to_string()];
        assert_eq!(
            suggested(json!({"ingress": {"enabled": true}}), &d, &subcharts),
            [("ingress".to_string(), Some("langfuse.ingress".to_string()))]
        );
        // were only the subcharts to define it, nothing is suggested
        let d = json!({"langfuse": {"replicas": 1}, "clickhouse": {"ingress": {"enabled": false}}});
        assert_eq!(
            suggested(json!({"ingress": {"enabled": true}}), &d, &subcharts),
            [("ingress".to_string(), None)]
        );
        // below the top level a map named like a subchart is the chart's own
        let d = json!({"server": {"clickhouse": {"ingress": {}}}});
        assert_eq!(
            suggested(json!({"server": {"ingress": {"a": 1}}}), &d, &subcharts),
            [(
                "server.ingress".to_string(),
                Some("clickhouse.ingress".to_string())
            )]
        );
    }

    #[test]
    fn a_boolean_switch_is_never_moved_nor_renamed_to_a_key_it_contains() {
        // kube-prometheus-stack 81.1.0: `kube-state-metrics.enabled` is read by nothing (the toggle is the parent's
        // `kubeStateMetrics.enabled`); the subchart's only `enabled` one level down is autosharding's, which following
        // the move would turn on. Same for prometheus-node-exporter's `hostRootFsMount.enabled`.
        let d = json!({
            "kubeStateMetrics": {"enabled": true},
            "kube-state-metrics": {"autosharding": {"enabled": false}, "replicas": 1},
            "prometheus-node-exporter": {"hostRootFsMount": {"enabled": true}, "hostNetwork": true},
        });
        let subcharts = [
            "kube-state-metrics".to_string(),
            "prometheus-node-exporter".to_string(),
        ];
        assert_eq!(
            suggested(
                json!({"kube-state-metrics": {"enabled": false}, "prometheus-node-exporter": {"enabled": false}}),
                &d,
                &subcharts
            ),
            [
                ("kube-state-metrics.enabled".to_string(), None),
                ("prometheus-node-exporter.enabled".to_string(), None)
            ]
        );
        // `metricsEnabled` is not the map's `enabled`; a typo of a switch at its own level still is
        let d = json!({"enabled": false, "metrics": {"enabled": false}});
        assert_eq!(
            suggested(json!({"metricsEnabled": true, "enabeld": true}), &d, &[]),
            [
                ("enabeld".to_string(), Some("enabled".to_string())),
                ("metricsEnabled".to_string(), None)
            ]
        );
    }

    #[test]
    fn a_key_the_users_map_already_holds_is_never_suggested() {
        // loki 6.49.0: `bloomCompactor` is gone; it contains `compactor`, which the user sets beside it
        let d = json!({"compactor": {"replicas": 0}, "indexGateway": {"replicas": 0}});
        assert_eq!(
            suggested(
                json!({"compactor": {"replicas": 1}, "bloomCompactor": {"replicas": 1}}),
                &d,
                &[]
            ),
            [("bloomCompactor".to_string(), None)]
        );
        // without the user's own `compactor` the suggestion stands
        assert_eq!(
            suggested(json!({"bloomCompactor": {"replicas": 1}}), &d, &[]),
            [("bloomCompactor".to_string(), Some("compactor".to_string()))]
        );
        // a typo whose fix the user already has, and a move to a key the user already set there
        let d = json!({"securityContext": {}, "probes": {"livenessProbe": {}}});
        assert_eq!(
            suggested(
                json!({"securityContext": {}, "securityContex": {}, "probes": {"livenessProbe": {}}, "livenessProbe": {}}),
                &d,
                &[]
            ),
            [
                ("livenessProbe".to_string(), None),
                ("securityContex".to_string(), None)
            ]
        );
    }

    #[test]
    fn two_keys_equally_close_get_no_guess() {
        let d =
            json!({"replicas": 1, "replicaz": 1, "extraArgs": [], "args": [], "volumeArgs": []});
        // `replicax` is one edit from both
        assert_eq!(
            suggested(json!({"replicax": 2}), &d, &[]),
            [("replicax".to_string(), None)]
        );
        // the longest contained key is the one meant; two of the same length are not told apart
        let d = json!({"mounts": [], "volumes": [], "volumeMounts": []});
        assert_eq!(
            suggested(json!({"extraVolumeMounts": []}), &d, &[]),
            [(
                "extraVolumeMounts".to_string(),
                Some("volumeMounts".to_string())
            )]
        );
        let d = json!({"nodePort": 0, "portName": ""});
        assert_eq!(
            suggested(json!({"nodePortName": "http"}), &d, &[]),
            [("nodePortName".to_string(), None)]
        );
    }

    #[test]
    fn a_moved_key_names_its_new_home() {
        // Headlamp chart 0.43.0 and later: the probes live under `probes:`
        let dir = crate::chart::bundled_charts_dir().expect("data/upstream/charts");
        let chart = crate::chart::read_chart(&dir.join("headlamp-0.45.0.tgz")).expect("chart");
        let values = json!({"livenessProbe": {"initialDelaySeconds": 30}});
        let c = unused_candidates(
            &values,
            &chart.defaults,
            chart.schema.as_ref(),
            &chart.subchart_keys,
        );
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].suggestion.as_deref(), Some("probes.livenessProbe"));
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
        let c = unused_candidates(&values, &d, Some(&schema), &[]);
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

    #[test]
    fn perturbed_changes_every_scalar_and_keeps_the_shape() {
        assert_eq!(
            perturbed(&json!("{{ .Release.Namespace }}")),
            Some(json!("{{ .Release.Namespace }}-lintprobe"))
        );
        assert_eq!(perturbed(&json!(2)), Some(json!(3)));
        assert_eq!(perturbed(&json!(true)), Some(json!(false)));
        assert_eq!(
            perturbed(&json!({"name": "svc", "port": {"number": 80}, "x": null})),
            Some(json!({"name": "svc-lintprobe", "port": {"number": 81}, "x": null}))
        );
        assert_eq!(perturbed(&json!({})), None);
        assert_eq!(perturbed(&json!([])), None);
        assert_eq!(perturbed(&Value::Null), None);
    }

    #[test]
    fn a_baseline_masks_only_the_lines_that_change_on_their_own() {
        let first = "kind: Secret\npassword: abc\nreplicas: 1\n";
        let second = "kind: Secret\npassword: xyz\nreplicas: 1\n";
        let b = Baseline::new(first, second).expect("same layout");
        assert!(b.same("kind: Secret\npassword: qqq\nreplicas: 1\n"));
        assert!(!b.same("kind: Secret\npassword: qqq\nreplicas: 2\n"));
        assert!(!b.same("kind: Secret\npassword: qqq\n"));
        let exact = Baseline::new(first, first).expect("identical");
        assert!(exact.same(first) && !exact.same(second));
        // random parts that change the number of lines cannot be lined up: nothing is proved
        assert!(Baseline::new(first, "kind: Secret\n").is_none());
    }

    #[test]
    fn keys_of_bare_object_list_items_are_candidates() {
        // Headlamp chart 0.40.0: ingress.hosts[].paths[] has the item schema {"type": "object"}; the template reads
        // `.path` and `.type`, so `service` (a common mistake) is ignored
        let dir = crate::chart::bundled_charts_dir().expect("data/upstream/charts");
        let chart = crate::chart::read_chart(&dir.join("headlamp-0.40.0.tgz")).expect("chart");
        let values = json!({"ingress": {"enabled": true, "hosts": [{"host": "h.example", "paths": [
            {"path": "/", "type": "Prefix", "service": {"name": "other", "port": {"number": 8080}}}
        ]}]}});
        let c = unused_candidates(
            &values,
            &chart.defaults,
            chart.schema.as_ref(),
            &chart.subchart_keys,
        );
        assert!(
            paths(&c).contains(&"ingress.hosts[0].paths[0].service".to_string()),
            "{:?}",
            paths(&c)
        );
        // `host` is named by the schema: not a candidate
        assert!(!paths(&c).contains(&"ingress.hosts[0].host".to_string()));
    }

    /// The release `headlamp` of `chart` with `values_yaml`, rendered: its unused values as dotted paths, and
    /// its problems' rules. `None` (a skip) without helm.
    async fn probe(
        chart: crate::chart::Chart,
        values_yaml: &str,
    ) -> Option<(Vec<String>, Vec<String>)> {
        let (helm, _) = crate::chart::testing::render_tools("headlamp", "0.41.0")?;
        let mut r = super::super::testutil::helmrelease(values_yaml);
        r.chart_name = chart.name.clone();
        let r = super::super::render_release_with(r, chart, &helm)
            .await
            .expect("the user's values render");
        Some((
            r.unused_values.iter().map(|u| dotted(&u.path)).collect(),
            r.problems.iter().map(|f| f.rule.clone()).collect(),
        ))
    }

    #[tokio::test]
    async fn a_key_read_with_tpl_that_renders_like_the_default_is_not_unknown() {
        // issue 19 cause 1: reloader `podMonitor.namespace: "{{ .Release.Namespace }}"` renders what the chart
        // renders without it; changed, it moves the object
        let (_dir, chart) = crate::chart::test_charts::pack("tpl-namespace", &[]);
        let Some((unused, problems)) = probe(
            chart,
            "reloader:\n  podMonitor:\n    enabled: true\n    namespace: \"{{ .Release.Namespace }}\"\n    nameSpace: typo",
        )
        .await
        else {
            return;
        };
        assert_eq!(unused, vec!["reloader.podMonitor.nameSpace"]);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[tokio::test]
    async fn a_probe_render_that_fails_means_the_key_is_read() {
        // issue 19 cause 3: without `servers` the chart's `required` fails; the user's values render
        let (_dir, chart) = crate::chart::test_charts::pack("required-servers", &[]);
        let Some((unused, problems)) =
            probe(chart, "servers:\n- zone: .\n  port: 53\nserverz: []").await
        else {
            return;
        };
        assert_eq!(unused, vec!["serverz"]);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[tokio::test]
    async fn random_output_neither_hides_nor_invents_unknown_keys() {
        // issue 19 cause 2: a grafana subchart whose Secret is randAlphaNum per render; `grafana.replicas` is the
        // subchart's, `grafana.replica` is read by nothing
        let (_dir, chart) = crate::chart::test_charts::pack("random-secret", &[]);
        let Some((unused, problems)) = probe(chart, "grafana:\n  replicas: 2\n  replica: 3").await
        else {
            return;
        };
        assert_eq!(unused, vec!["grafana.replica"]);
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// Issue 19: a chart whose output changes its number of lines per render cannot be masked line by line, so no
    /// key it does not define can be proved unread; they were skipped in silence. They are one `info` note naming
    /// the chart and the keys (never an error). Two renders have the same number of lines once in a thousand
    /// (`random-lines`): then the random lines are masked and the unread key is proved, as for `random-secret`.
    #[tokio::test]
    async fn random_output_that_cannot_be_masked_is_one_note_naming_the_keys() {
        let (_dir, chart) = crate::chart::test_charts::pack("random-lines", &[]);
        let Some((helm, _)) = crate::chart::testing::render_tools("headlamp", "0.41.0") else {
            return;
        };
        let mut r = super::super::testutil::helmrelease("replicas: 2\nreplica: 3\nextra: {a: 1}");
        r.chart_name = chart.name.clone();
        let r = super::super::render_release_with(r, chart, &helm)
            .await
            .expect("the user's values render");
        let mut unchecked: Vec<String> = r.unchecked_values.iter().map(|p| dotted(p)).collect();
        let mut unused: Vec<String> = r.unused_values.iter().map(|u| dotted(&u.path)).collect();
        unchecked.sort();
        unused.sort();
        let input = LintInput {
            releases: vec![r],
            ..Default::default()
        };
        let notes = check_unchecked(&input);
        if unchecked.is_empty() {
            // the one render in a thousand with the same number of lines: masked, proved
            assert_eq!(unused, ["extra", "replica"]);
            assert!(notes.is_empty(), "{notes:#?}");
            return;
        }
        assert_eq!(unchecked, ["extra", "replica"]);
        assert!(unused.is_empty(), "{unused:?}");
        assert!(check(&input).is_empty());
        assert_eq!(notes.len(), 1, "{notes:#?}");
        assert_eq!(notes[0].severity, Severity::Info);
        assert_eq!(notes[0].rule, UNCHECKED_RULE);
        assert!(
            notes[0].message.contains("chart random-lines 0.1.0")
                && notes[0].message.contains("`extra`")
                && notes[0].message.contains("`replica`"),
            "{}",
            notes[0].message
        );
    }

    /// Issue 19 (talos-cluster): the keys are unread, and the fix names the chart's own home of a moved key, or none
    /// when the chart has no single one: `ingress` is the chart's `web.ingress` (not the subchart's), `service.port`
    /// could be either port, and a boolean switch under a subchart is not moved to the subchart's only `enabled`.
    #[tokio::test]
    async fn a_fix_names_the_charts_own_home_or_none() {
        let (_dir, chart) = crate::chart::test_charts::pack("moved-keys", &[]);
        assert_eq!(chart.subchart_keys, ["state-metrics"]);
        let Some((helm, _)) = crate::chart::testing::render_tools("headlamp", "0.41.0") else {
            return;
        };
        let mut r = super::super::testutil::helmrelease(
            "ingress:\n  enabled: true\nservice:\n  port: 9000\nstate-metrics:\n  enabled: false\n",
        );
        r.chart_name = chart.name.clone();
        let r = super::super::render_release_with(r, chart, &helm)
            .await
            .expect("the user's values render");
        let input = LintInput {
            releases: vec![r],
            ..Default::default()
        };
        let mut fixes: Vec<(String, String)> = check(&input)
            .into_iter()
            .map(|f| (f.path.clone(), f.fix.clone()))
            .collect();
        fixes.sort();
        let remove = |k: &str| {
            format!(
                "remove `{k}`, or look up the chart's values: helm show values moved-keys --version 0.1.0"
            )
        };
        assert_eq!(
            fixes,
            [
                (
                    "ingress".to_string(),
                    "move `ingress` to `web.ingress`".to_string()
                ),
                ("service.port".to_string(), remove("service.port")),
                (
                    "state-metrics.enabled".to_string(),
                    remove("state-metrics.enabled")
                ),
            ]
        );
    }

    #[tokio::test]
    async fn an_ignored_key_in_a_bare_object_list_item_is_reported() {
        // issue 19 cause 8 (first item), the real chart: Headlamp 0.40.0 ignores ingress.hosts[].paths[].service
        let dir = crate::chart::bundled_charts_dir().expect("data/upstream/charts");
        let chart = crate::chart::read_chart(&dir.join("headlamp-0.40.0.tgz")).expect("chart");
        let Some((unused, _)) = probe(
            chart,
            "ingress:\n  enabled: true\n  hosts:\n  - host: headlamp.example\n    paths:\n    - path: /\n      type: Prefix\n      service: {name: other, port: {number: 8080}}",
        )
        .await
        else {
            return;
        };
        assert_eq!(unused, vec!["ingress.hosts[0].paths[0].service"]);
    }

    #[test]
    fn a_key_under_a_subchart_is_judged_by_the_subchart_defaults() {
        // issue 19 cause 2: kube-prometheus-stack's `grafana:` is the grafana subchart's values
        let (_dir, chart) = crate::chart::test_charts::pack("random-secret", &[]);
        let values = json!({"grafana": {"replicas": 2, "replica": 3, "adminPassword": "x"}});
        let c = unused_candidates(
            &values,
            &chart.defaults,
            chart.schema.as_ref(),
            &chart.subchart_keys,
        );
        assert_eq!(paths(&c), vec!["grafana.replica"]);
        // the user sets `replicas` beside it: renaming would write it twice, so no rename is suggested
        assert_eq!(c[0].suggestion, None);
        let c = unused_candidates(
            &json!({"grafana": {"replica": 3}}),
            &chart.defaults,
            chart.schema.as_ref(),
            &chart.subchart_keys,
        );
        assert_eq!(c[0].suggestion.as_deref(), Some("replicas"));
        // the subchart's values are under its name, not the chart's own
        assert_eq!(chart.subchart_keys, ["grafana"]);
        // the parent's own `grafana:` keys stay, over the subchart's
        assert_eq!(chart.defaults["grafana"]["enabled"], json!(true));
        assert_eq!(chart.defaults["grafana"]["adminUser"], json!("admin"));
        // under an alias the subchart's values live under the alias
        let aliased = "apiVersion: v2\nname: random-secret\nversion: 0.1.0\ndependencies:\n  - {name: grafana, version: 0.1.0, alias: dashboards}\n";
        let (_dir2, chart) =
            crate::chart::test_charts::pack("random-secret", &[("Chart.yaml", aliased)]);
        assert_eq!(chart.defaults["dashboards"]["replicas"], json!(1));
        assert_eq!(chart.subchart_keys, ["dashboards"]);
        let values = json!({"dashboards": {"replicas": 2}});
        assert!(
            unused_candidates(
                &values,
                &chart.defaults,
                chart.schema.as_ref(),
                &chart.subchart_keys
            )
            .is_empty()
        );
    }
}
