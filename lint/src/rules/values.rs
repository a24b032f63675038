//! `values-unknown-key`: a values key, at any depth, that the chart does not consume.
//!
//! Exact, not a name guess. A key is a *candidate* when neither the chart's `values.yaml` nor its `values.schema.json`
//! defines it (below a map the chart leaves open, like `podAnnotations: {}`, every key is the user's). A candidate is
//! *reported* only when rendering without it gives byte-identical output ([`crate::engine::pipeline::render_release`] does that).
//! The closest real key is only a suggestion for the fix text.

use serde_json::{Map, Value};

use crate::finding::{Finding, Severity};
use crate::rules::input::LintInput;
pub use crate::rules::input::UnusedValue;

pub const RULE: &str = "values-unknown-key";

/// A key the chart does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: Vec<String>,
    /// The closest key the chart does define at the same level.
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
mod tests;
