//! A Flux Kustomization's `patches` applied here, without starting kustomize, when what kustomize would build is
//! certain; anything else goes to the real kustomize ([`crate::flux::flux_build`]).
//!
//! Starting `kubectl kustomize` costs about as much as one `helm template` (kubectl's own start is ~50 ms of CPU),
//! and the common Flux patch is one JSON 6902 patch on one kind and name (the fixture's e2e cluster scales a
//! Deployment to 0). What kustomize does with it, read in the stored kustomize and fluxcd/pkg sources (their newest
//! copies: no v5.7.1 tag is stored) and checked case by case against kubectl v1.35.2, which bundles kustomize v5.7.1
//! (`tests/flux_patch.rs`):
//!
//! - fluxcd/pkg `kustomize/kustomize_generator.go`: each `spec.patches[]` becomes a kustomization `patches` entry
//!   (`patch` + `target`), applied in the kustomization of `spec.path`, before its namespace and name prefix/suffix
//!   transformers (kustomize `api/internal/target/kusttarget.go`: PatchTransformer runs before NamespaceTransformer
//!   and PrefixTransformer/SuffixTransformer).
//! - `api/internal/builtins/PatchTransformer.go`: a patch that is a list is a JSON 6902 patch (YAML goes through
//!   `sigs.k8s.io/yaml` `YAMLToJSON`, that is go-yaml v2, YAML 1.1; text starting with `[` is JSON), applied to
//!   every resource `Select(target)` picks (`transformJson6902`); after it the annotations are written back with
//!   `SetAnnotations`, which drops an empty `annotations` map.
//! - `api/resmap/reswrangler.go` `Select` and `api/types/selector.go`: group, version, kind, name and namespace are
//!   regular expressions anchored as `^(?:…)$`; an empty field selects all; the namespace is matched against
//!   `EffectiveNamespace` (`default` for a namespaced object without one).
//! - `api/filters/patchjson6902` and kyaml `RNode.MarshalJSON`/`UnmarshalJSON` (`kyaml/yaml/rnode.go`): the object
//!   goes to JSON, gets the patch (evanphx/json-patch), and is read back with `encoding/json` into
//!   `map[string]interface{}`, so every number of a patched object becomes a float64: an integer beyond 2^53 loses
//!   its last digits (verified with kubectl: `9007199254740993` is built as `9007199254740992`).
//!
//! Applied here only when all of this holds, else kustomize builds it (the reason is logged at debug level):
//! - the spec has `patches` and no other kustomize feature, and no `postBuild` (its substitution needs the text
//!   kustomize writes);
//! - every patch is a JSON 6902 list of `add`/`remove`/`replace` operations with a target of group, version, kind,
//!   name and/or namespace (no label or annotation selector), whose patterns have no `\` escapes (Go's RE2 and the
//!   `regex` crate agree on the rest);
//! - a YAML patch has no tag, anchor or alias, and each plain scalar reads the same in YAML 1.1 and 1.2: a decimal
//!   integer, `true`/`false`/`null` (any case go-yaml knows), a string starting with a letter, `/` or `--` (a
//!   flag) that is not `y`, `yes`, `n`, `no`, `on` or `off`, one starting with `_` or `$`, or one of digits, letters
//!   and dots that starts with a digit and is no number (`5m`, `512Mi`, `1.2.3`; `same_in_yaml_1_1` has the
//!   go-yaml sources);
//! - no operation touches `apiVersion`, `kind`, `metadata`, `metadata.name` or `metadata.namespace` (kustomize
//!   re-identifies a renamed object, and the next patch selects by the original id), none uses a negative index
//!   (evanphx/json-patch v4 accepts `-1`) or `-` other than as the end of an `add`;
//! - the path's kustomizations are plain (read here without kustomize), read without a warning or finding, no object
//!   is a `…List`, has no name or shares its id with another (kustomize refuses those builds, in its own words), a
//!   namespace selector meets only objects with an explicit namespace of a namespaced kind;
//! - every operation applies (`json-patch` crate). One that does not is left to kustomize, so its error is
//!   kustomize's own.
//!
//! A patch whose text is one or more mapping documents is a strategic-merge patch. On a kind kustomize has no schema
//! for (every Flux kind) it is kyaml `merge2` without a schema: maps merge, lists and scalars are replaced whole, a
//! null deletes, `$patch: delete|replace|merge` works on maps; the semantics, their sources (kustomize api/kyaml
//! v0.20.1, the versions kubectl v1.35.2 embeds) and 61 cases checked against kubectl are in
//! `docs/upstream-notes/kustomize-merge2.md`, whose §6 is the subset applied here (the "case" numbers below are its
//! §7). Applied here only when, besides the spec-level guards above:
//! - the text has no tag, anchor, alias, `<<`, `...`, directive or empty document, its plain scalars pass the test
//!   above (the YAML 1.1 booleans aside: kyaml reads the patch with go-yaml v3, where `yes` is a string), and no
//!   `#…{` (a comment kyaml may read as a schema);
//! - each document has a `kind` (not a `…List`) and a `metadata.name`; `$patch` is `delete`, `replace` or `merge`,
//!   no other `$` key, none inside a list or in `metadata`; no map below the root, through maps, has an `apiVersion`
//!   and `kind` (a nested built-in type gets its schema) unless its group is a `fluxcd.io` one;
//! - with a target: one document, and `metadata.labels`/`annotations`, if there, are non-empty maps of strings
//!   (kustomize rewrites them as strings first); without: each document's apiVersion is a Flux one and exactly one
//!   object has its id (namespace `""` ≡ `default`); kustomize's build annotations are never set;
//! - every object it applies to is of a Flux API group (`*.toolkit.fluxcd.io`), its source text is known
//!   ([`Plan::apply_with`]) and has no `#…{` and no tag, and no map of it below the root has a foreign
//!   `apiVersion` and `kind`;
//! - the merge meets no map against a list or scalar (kustomize's error), no number or boolean replaces a string
//!   (it would take the string's quotes), no null replaces a null, and the result has no null reached through maps
//!   (kustomize drops `key:` and keeps `key: null`, which a value cannot tell apart).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::{Map, Number, Value};

use crate::objects::object::Object;

static PATCHES_IN_PROCESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether Flux `patches` are applied here when the result is certain ([`crate::kustomize::flux_patch`]; the default), or every
/// Flux Kustomization with kustomize features is built with kustomize (`cargo xtask lint --kustomize-everything`, the
/// reference the in-process path is checked against).
pub fn set_patches_in_process(on: bool) {
    PATCHES_IN_PROCESS.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn patches_in_process() -> bool {
    PATCHES_IN_PROCESS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The spec fields the controller hands to kustomize itself (the others, targetNamespace/namePrefix/nameSuffix, are
/// modelled in [`crate::flux::flux_kustomization::apply_flux_kustomization`] when none of these is set).
const FEATURES: [&str; 5] = [
    "patches",
    "components",
    "patchesStrategicMerge",
    "patchesJson6902",
    "images",
];

/// The features of `spec` that need kustomize, by name (empty: none).
pub fn features(spec: &Value) -> Vec<&'static str> {
    FEATURES
        .into_iter()
        .filter(|f| spec[*f].as_array().is_some_and(|a| !a.is_empty()))
        .collect()
}

/// The patches of one Flux Kustomization spec, ready to apply here.
#[derive(Debug)]
pub struct Plan {
    patches: Vec<Patch>,
}

#[derive(Debug)]
enum Patch {
    Json6902(Json6902),
    Merge(StrategicMerge),
}

#[derive(Debug)]
struct Json6902 {
    target: Target,
    ops: Vec<json_patch::PatchOperation>,
}

/// A strategic-merge patch: one document applied to what its target selects, or (no target) each document to the
/// one object that has its id (`PatchTransformer.go:96-120`, note §2.3).
#[derive(Debug)]
struct StrategicMerge {
    target: Option<Target>,
    docs: Vec<Map<String, Value>>,
}

#[derive(Debug, Default)]
struct Target {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
}

/// Why kustomize builds it instead (logged; not a finding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declined(pub String);

fn declined<T>(why: impl Into<String>) -> Result<T, Declined> {
    Err(Declined(why.into()))
}

/// A comment that kyaml may read as a field's OpenAPI schema (`kyaml/fieldmeta/fieldmeta.go:53-84`: the comment
/// without its leading `#`s, parsed as JSON), which makes a list associative (note §3.1, cases 24, 24c). Matched on
/// the whole text, so a `#{` inside a string declines too.
static SCHEMA_COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"#[#\s]*\{").expect("a valid regular expression"));

/// go-yaml v2.4.0 `resolve.go:84` `yamlStyleFloat`, for a text of digits, letters and dots.
static YAML_STYLE_FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]+(\.[0-9]*)?([eE][0-9]+)?$").expect("a valid regular expression")
});

/// A YAML tag at the start of a token (`!!int "80"`): a tagged scalar may be quoted and still read as a number, and
/// a number replacing it would take its quotes (note §4.2). Matched on the whole text (a `!` starting a word in a
/// string declines too).
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)(?:^|[\s\[{,])!").expect("a valid regular expression"));

/// Plans made in this process, by the spec fields they depend on: a cluster-template repository gives hundreds of
/// child Kustomizations the same patches, and a plan is asked for several times per Kustomization (ahead, then
/// when it is applied). Bounded: emptied when it holds [`MAX_PLANS`].
static PLANS: LazyLock<std::sync::Mutex<HashMap<String, Planned>>> =
    LazyLock::new(Default::default);

/// A plan, or why there is none.
type Planned = Result<Arc<Plan>, Declined>;
const MAX_PLANS: usize = 4096;

/// The plan for a Flux Kustomization `spec`, or why its patches are left to kustomize.
pub fn plan(spec: &Value) -> Result<Arc<Plan>, Declined> {
    let key = serde_json::json!([
        features(spec),
        spec["postBuild"].is_object(),
        spec["patches"]
    ])
    .to_string();
    if let Ok(plans) = PLANS.lock()
        && let Some(p) = plans.get(&key)
    {
        return p.clone();
    }
    let made = plan_uncached(spec).map(Arc::new);
    if let Ok(mut plans) = PLANS.lock() {
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(key, made.clone());
    }
    made
}

fn plan_uncached(spec: &Value) -> Result<Plan, Declined> {
    let features = features(spec);
    if features != ["patches"] {
        return declined(format!("kustomize features {features:?}"));
    }
    if spec["postBuild"].is_object() {
        return declined("postBuild substitutes in the text kustomize writes");
    }
    let mut patches = Vec::new();
    for (i, p) in spec["patches"].as_array().into_iter().flatten().enumerate() {
        patches
            .push(one_patch(p).map_err(|Declined(why)| Declined(format!("patches[{i}]: {why}")))?);
    }
    Ok(Plan { patches })
}

fn one_patch(p: &Value) -> Result<Patch, Declined> {
    let Some(map) = p.as_object() else {
        return declined("not a mapping");
    };
    if let Some(k) = map
        .keys()
        .find(|k| !["patch", "target"].contains(&k.as_str()))
    {
        return declined(format!("has {k:?}"));
    }
    let Some(text) = p["patch"].as_str() else {
        return declined("no patch text");
    };
    let text = text.trim();
    if text.starts_with('[') {
        let target = target(&p["target"])?;
        let list =
            serde_json::from_str::<Value>(text).or_else(|e| declined(format!("not JSON: {e}")))?;
        return json6902(target, list);
    }
    let mut docs =
        headlamp_e2e_yaml::parse_documents(text).or_else(|e| declined(format!("not YAML: {e}")))?;
    // PatchTransformer.go:33-85 (note §2.2): mapping documents are a strategic-merge patch, a list a JSON 6902 one
    let merge = docs.first().is_some_and(Value::is_object);
    match headlamp_e2e_yaml::plain_scalars(text) {
        Ok(Some(plain)) => {
            // kyaml reads a strategic-merge patch with go-yaml v3 (note §2.2), as this crate's reader does: the
            // YAML 1.1 booleans are strings there (case 28: `yes` → "yes", `on` → "on"; case 01's key `y`)
            let same =
                |s: &String| same_in_yaml_1_1(s) || (merge && YAML_1_1_BOOLS.contains(&s.as_str()));
            // the value is not quoted in the reason: a patch may set a secret
            if !plain.iter().all(same) {
                return declined(
                    "a plain scalar may read otherwise in kustomize's YAML 1.1 or 1.2 decoder (yes, on, 0777, 1.0, …)",
                );
            }
        }
        Ok(None) => return declined("a tag, anchor or alias"),
        Err(e) => return declined(format!("not YAML: {e}")),
    }
    if merge {
        return strategic_merge(text, docs, &p["target"]);
    }
    if docs.len() != 1 {
        return declined("not one YAML document");
    }
    let target = target(&p["target"])?;
    json6902(target, docs.remove(0))
}

fn json6902(target: Target, list: Value) -> Result<Patch, Declined> {
    let Some(items) = list.as_array() else {
        return declined("neither a JSON 6902 list nor a strategic merge patch");
    };
    for op in items {
        check_op(op)?;
    }
    let ops: Vec<json_patch::PatchOperation> =
        serde_json::from_value(list).or_else(|e| declined(format!("not a JSON patch: {e}")))?;
    Ok(Patch::Json6902(Json6902 { target, ops }))
}

fn target(t: &Value) -> Result<Target, Declined> {
    let Some(map) = t.as_object() else {
        return declined("no target");
    };
    let mut out = Target::default();
    for (k, v) in map {
        let Some(pattern) = v.as_str() else {
            return declined(format!("target.{k} is not a string"));
        };
        let slot = match k.as_str() {
            "group" => &mut out.group,
            "version" => &mut out.version,
            "kind" => &mut out.kind,
            "name" => &mut out.name,
            "namespace" => &mut out.namespace,
            other => return declined(format!("target.{other}")),
        };
        if pattern.is_empty() {
            continue;
        }
        if pattern.contains('\\') {
            return declined(format!("target.{k} has an escape"));
        }
        let re = Regex::new(&format!("^(?:{pattern})$"))
            .or_else(|e| declined(format!("target.{k}: {e}")))?;
        *slot = Some(re);
    }
    if out.group.is_none()
        && out.version.is_none()
        && out.kind.is_none()
        && out.name.is_none()
        && out.namespace.is_none()
    {
        return declined("an empty target");
    }
    Ok(out)
}

/// The identity fields: a patch that changes them makes kustomize re-identify the object.
const IDENTITY: [&str; 5] = [
    "/apiVersion",
    "/kind",
    "/metadata",
    "/metadata/name",
    "/metadata/namespace",
];

fn check_op(op: &Value) -> Result<(), Declined> {
    let kind = op["op"].as_str().unwrap_or("");
    if !["add", "remove", "replace"].contains(&kind) {
        return declined(format!("the operation {kind:?}"));
    }
    let Some(path) = op["path"].as_str() else {
        return declined("an operation without a path");
    };
    if !path.starts_with('/') {
        return declined(format!("the path {path:?}"));
    }
    if IDENTITY
        .iter()
        .any(|f| path == *f || (*f != "/metadata" && path.starts_with(&format!("{f}/"))))
    {
        return declined(format!("{path} changes the object's identity"));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (i, s) in segments.iter().enumerate() {
        let negative =
            s.len() > 1 && s.starts_with('-') && s[1..].bytes().all(|b| b.is_ascii_digit());
        let dash_inside = *s == "-" && !(kind == "add" && i + 1 == segments.len());
        if negative || dash_inside {
            return declined(format!("the index {s:?} in {path}"));
        }
    }
    if kind != "remove" && op.get("value").is_none() {
        return declined(format!("{kind} {path} has no value"));
    }
    Ok(())
}

/// go-yaml v2's YAML 1.1 booleans that are no booleans in YAML 1.2 (go-yaml/yaml v2.4.0 `resolve.go:37-42`).
const YAML_1_1_BOOLS: [&str; 16] = [
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
    "OFF",
];

/// Whether a plain scalar of a patch reads the same in go-yaml v2 (YAML 1.1) and v3, both of which resolve a plain
/// scalar by its first character (go-yaml/yaml v2.4.0 `resolve.go:20-30` and `:114-118`, v3.0.1 `resolve.go:37-45`
/// and `:155-159`): one that starts with a character outside `+-.0-9yYnNtTfFoO~` and the empty text (hint 0) is a
/// string in both (`resolve.go:196` / `:264`), so `_` and `$patch` are; one that starts with a digit is a timestamp
/// only as `YYYY-…` (`parseTimestamp`, `:238-251`), an integer when `strconv.ParseInt`/`ParseUint` with base 0 take
/// it (decimal, a `0` octal, `0x`, `0o`, `0b`; `_` removed first), a float when it matches `yamlStyleFloat` (`:84`),
/// else a string (`:139-196`): `5m`, `1h30m`, `512Mi` and `1.2.3` are strings in both.
fn same_in_yaml_1_1(s: &str) -> bool {
    const WORDS: [&str; 10] = [
        "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~",
    ];
    if s.is_empty() || WORDS.contains(&s) {
        return true;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits == "0" || !digits.starts_with('0');
    }
    let b = s.as_bytes();
    let first = b[0];
    if first == b'_' || first == b'$' {
        return true;
    }
    if first.is_ascii_digit() {
        // only digits, letters and dots (no `_`, `-`, `:` or `+`); not a letter right after a leading `0` (a base
        // prefix); not `yamlStyleFloat` (which an integer matches too)
        return b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'.')
            && !(first == b'0' && b.get(1).is_some_and(u8::is_ascii_alphabetic))
            && !YAML_STYLE_FLOAT.is_match(s);
    }
    (first.is_ascii_alphabetic() || first == b'/' || s.starts_with("--"))
        && !["y", "yes", "n", "no", "on", "off"].contains(&s.to_ascii_lowercase().as_str())
}

fn strategic_merge(text: &str, docs: Vec<Value>, target_value: &Value) -> Result<Patch, Declined> {
    if SCHEMA_COMMENT.is_match(text) {
        return declined("a comment that kyaml may read as a schema (`# {…}`)");
    }
    // Flux's `target` is optional (a null one is none)
    let target = match target_value {
        Value::Null => None,
        t => Some(target(t)?),
    };
    check_documents(text, docs.len())?;
    if target.is_some() && docs.len() != 1 {
        // PatchTransformer.go:100 (case 16): kustomize's error
        return declined("several strategic merge documents with a target");
    }
    let mut out = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        let Value::Object(m) = d else {
            return declined(format!("document {i} is not a mapping"));
        };
        check_document(&m, target.is_some())
            .map_err(|Declined(why)| Declined(format!("document {i}: {why}")))?;
        out.push(m);
    }
    Ok(Patch::Merge(StrategicMerge { target, docs: out }))
}

/// Every `---` document of the text has content, and was read as a value: kustomize drops empty documents
/// (`api/resource/factory.go:253-268` `dropBadNodes`), which is left to it, as are `...` and directives.
fn check_documents(text: &str, parsed: usize) -> Result<(), Declined> {
    let mut chunks = vec![false];
    for line in text.lines() {
        if line.starts_with("...") || line.starts_with('%') {
            return declined("a document end marker or a directive");
        }
        let rest = line.strip_prefix("---");
        if let Some(rest) = rest.filter(|r| r.is_empty() || r.starts_with([' ', '\t'])) {
            let rest = rest.trim();
            chunks.push(!rest.is_empty() && !rest.starts_with('#'));
            continue;
        }
        let t = line.trim();
        if !t.is_empty()
            && !t.starts_with('#')
            && let Some(last) = chunks.last_mut()
        {
            *last = true;
        }
    }
    if chunks.len() > 1 && !chunks[0] {
        chunks.remove(0);
    }
    if chunks.iter().any(|c| !c) || chunks.len() != parsed {
        return declined("an empty document");
    }
    Ok(())
}

/// The annotations kustomize writes and reads while it builds (`api/resource/resource.go:29-50`): a patch setting
/// one is left to it.
const BUILD_ANNOTATIONS: [&str; 3] = [
    "config.kubernetes.io/",
    "internal.config.kubernetes.io/",
    "kustomize.config.k8s.io/",
];

/// The guards of note §6 that one strategic-merge document can be checked for alone (rules 2, 4 for a patch without
/// target, 5b, 6 and 8).
fn check_document(m: &Map<String, Value>, with_target: bool) -> Result<(), Declined> {
    // kyaml `GetValidatedMetadata` (`rnode.go:1153-1169`, cases 20, 21)
    let Some(kind) = m
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
    else {
        return declined("no kind");
    };
    if kind.ends_with("List") {
        return declined(format!("the kind {kind}"));
    }
    let Some(meta) = m.get("metadata").and_then(Value::as_object) else {
        return declined("no metadata");
    };
    if meta
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return declined("no metadata.name");
    }
    if !with_target {
        // matched by its id: of the kind the patch names (rule 4)
        let Some(api) = m.get("apiVersion").and_then(Value::as_str) else {
            return declined("no apiVersion");
        };
        if !flux_group(api) {
            return declined(format!(
                "{api} is not a Flux API (kustomize knows its schema)"
            ));
        }
        if meta.get("namespace").is_some_and(|n| !n.is_string()) {
            return declined("metadata.namespace is not a string");
        }
    }
    directives(m, "")?;
    if meta.contains_key("$patch") || contains_key(meta, "$patch") {
        return declined("a $patch directive in metadata");
    }
    for field in ["labels", "annotations"] {
        match meta.get(field) {
            None => {}
            // without a target a plain merge (case 37); with one, kustomize loses it (case 27c)
            Some(Value::Null) if !with_target => {}
            Some(Value::Object(map)) => {
                // with a target the values are written as strings and an empty map is dropped
                // (`resource.go:162-186` CopyMergeMetaDataFieldsFrom, cases 27, 27c)
                if with_target && (map.is_empty() || !map.values().all(Value::is_string)) {
                    return declined(format!(
                        "metadata.{field} that kustomize rewrites before it merges (a target, values not all strings)"
                    ));
                }
                if let Some(k) = map
                    .keys()
                    .find(|k| BUILD_ANNOTATIONS.iter().any(|p| k.starts_with(p)))
                {
                    return declined(format!("metadata.{field}.{k}, kustomize's own"));
                }
            }
            Some(_) => return declined(format!("metadata.{field} is not a mapping")),
        }
    }
    if let Some(path) = nested_gvk(m, "") {
        return declined(format!(
            "{path} has an apiVersion and kind (kyaml gives it their schema)"
        ));
    }
    Ok(())
}

/// Whether an apiVersion's group is one of Flux's (note §6 rule 4: kustomize's built-in schema has none).
fn flux_group(api_version: &str) -> bool {
    api_version
        .rsplit_once('/')
        .is_some_and(|(g, _)| g.ends_with(".toolkit.fluxcd.io"))
}

/// `$patch` is `delete`, `replace` or `merge` wherever a map has it; no other `$` key (`$retainKeys`,
/// `$setElementOrder/…`, which kyaml copies as keys, case 12), and no `$` key inside a list (copied verbatim,
/// cases 10, 11): certain, but left to kustomize (note §6 rule 6).
fn directives(m: &Map<String, Value>, path: &str) -> Result<(), Declined> {
    for (k, v) in m {
        let here = format!("{path}.{k}");
        if k == "$patch" {
            if !matches!(v.as_str(), Some("delete" | "replace" | "merge")) {
                return declined(format!("{here} is not delete, replace or merge"));
            }
        } else if k.starts_with('$') {
            return declined(format!("the directive {here}"));
        }
        match v {
            Value::Object(x) => directives(x, &here)?,
            Value::Array(items)
                if items
                    .iter()
                    .any(|i| contains_key_deep(i, &|k| k.starts_with('$'))) =>
            {
                return declined(format!("a $ key in the list {here}"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn contains_key(m: &Map<String, Value>, key: &str) -> bool {
    m.values().any(|v| contains_key_deep(v, &|k| k == key))
}

fn contains_key_deep(v: &Value, pred: &dyn Fn(&str) -> bool) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| pred(k) || contains_key_deep(v, pred)),
        Value::Array(items) => items.iter().any(|i| contains_key_deep(i, pred)),
        _ => false,
    }
}

/// Whether a map has both `apiVersion` and `kind`, of another API than Flux's: kyaml then looks up the built-in
/// schema of that type (`kyaml/yaml/walk/walk.go:90-131` GetSchema, `kyaml/openapi/openapi.go:197-204`) and merges its
/// lists by key (note §3.1, cases 25, 25b).
fn foreign_gvk(m: &Map<String, Value>) -> bool {
    m.contains_key("apiVersion")
        && m.contains_key("kind")
        && !m["apiVersion"].as_str().is_some_and(|a| {
            a.rsplit_once('/')
                .is_some_and(|(g, _)| g.ends_with(".fluxcd.io"))
        })
}

/// The first map below the root, reached through maps only (the walk never enters a list without a schema), that
/// [`foreign_gvk`] holds.
fn nested_gvk(m: &Map<String, Value>, path: &str) -> Option<String> {
    m.iter().find_map(|(k, v)| {
        let Value::Object(x) = v else {
            return None;
        };
        let here = format!("{path}.{k}");
        if foreign_gvk(x) {
            return Some(here);
        }
        nested_gvk(x, &here)
    })
}

/// The first null reached from the root through maps only.
fn first_null(m: &Map<String, Value>, path: &str) -> Option<String> {
    m.iter().find_map(|(k, v)| {
        let here = format!("{path}.{k}");
        match v {
            Value::Null => Some(here),
            Value::Object(x) => first_null(x, &here),
            _ => None,
        }
    })
}

/// The `$patch` directive of a patch map.
fn directive(m: &Map<String, Value>) -> Option<&str> {
    m.get("$patch").and_then(Value::as_str)
}

/// One strategic-merge document applied to one object of a Flux kind, as kustomize's `Resource.ApplySmPatch`
/// (`api/resource/resource.go:492-513`) runs kyaml `merge2.Merge` with no schema (note §3, the algorithm of §6):
/// `None` when the document deletes the object. Declined where the result is not certain here.
fn merge_object(
    obj: &Value,
    doc: &Map<String, Value>,
    with_target: bool,
) -> Result<Option<Value>, Declined> {
    let mut patch = doc.clone();
    match patch.remove("$patch").as_ref().and_then(Value::as_str) {
        // cases 04, 34
        Some("delete") => return Ok(None),
        // the walker returns the patch as a new node, ApplyFilter keeps only edits in place (case 07)
        Some("replace") => return Ok(Some(obj.clone())),
        _ => {}
    }
    let Value::Object(mut out) = obj.clone() else {
        return declined("not a mapping");
    };
    if let Some(path) = nested_gvk(&out, "") {
        return declined(format!(
            "{path} has an apiVersion and kind (kyaml gives it their schema)"
        ));
    }
    if with_target {
        // reswrangler.go:703-721: the patch takes the object's apiVersion (its kind, name and namespace are
        // restored below; labels and annotations are strings, check_document)
        patch.remove("apiVersion");
    }
    let kind = obj["kind"].clone();
    let name = obj["metadata"]["name"].clone();
    let namespace = obj["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    merge_map(&mut out, &patch, "")?;
    // resource.go:492-513: kind, name and namespace as they were (cases 13, 27, 42)
    out.insert("kind".into(), kind);
    let Some(meta) = out
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
    else {
        return declined("metadata is not a mapping");
    };
    meta.insert("name".into(), name);
    match namespace {
        Some(ns) => meta.insert("namespace".into(), Value::String(ns)),
        None => meta.remove("namespace"),
    };
    // rule N (cases 26, 49): kyaml drops `key:` and keeps `key: null` wherever it walks; this reader cannot tell
    // them apart
    if let Some(path) = first_null(&out, "") {
        return declined(format!(
            "{path} is null (kustomize drops `key:` and keeps `key: null`)"
        ));
    }
    Ok(Some(Value::Object(out)))
}

/// kyaml `merge2` on one map, no schema (note §3.5): maps merge, lists and scalars are replaced, a null deletes.
fn merge_map(
    d: &mut Map<String, Value>,
    p: &Map<String, Value>,
    path: &str,
) -> Result<(), Declined> {
    for (k, pv) in p {
        if k == "$patch" {
            continue;
        }
        let here = format!("{path}.{k}");
        match (d.get(k), pv) {
            (None, Value::Null) => {}
            // VisitMap's "add" branch keeps a null spelled `null`: its spelling decides (note §3.3)
            (Some(Value::Null), Value::Null) => {
                return declined(format!("{here}: a null patched with a null"));
            }
            (Some(_), Value::Null) => {
                d.remove(k);
            }
            (None | Some(Value::Null), Value::Object(m)) => {
                if directive(m) == Some("delete") {
                    d.remove(k);
                } else {
                    d.insert(k.clone(), Value::Object(added(m)));
                }
            }
            (Some(Value::Object(dm)), Value::Object(m)) => {
                // foreign_gvk of either source, or of the two together
                let keys = |key: &str| dm.contains_key(key) || m.contains_key(key);
                let flux = |v: Option<&Value>| {
                    v.is_none_or(|a| {
                        a.as_str().is_some_and(|a| {
                            a.rsplit_once('/')
                                .is_some_and(|(g, _)| g.ends_with(".fluxcd.io"))
                        })
                    })
                };
                if keys("apiVersion")
                    && keys("kind")
                    && !(flux(dm.get("apiVersion")) && flux(m.get("apiVersion")))
                {
                    return declined(format!("{here} has an apiVersion and kind"));
                }
                match directive(m) {
                    Some("delete") => {
                        d.remove(k);
                    }
                    Some("replace") => {
                        d.insert(k.clone(), Value::Object(added(m)));
                    }
                    _ => {
                        if let Some(Value::Object(dm)) = d.get_mut(k) {
                            merge_map(dm, m, &here)?;
                        }
                    }
                }
            }
            (None | Some(Value::Null | Value::Array(_)), Value::Array(_)) => {
                d.insert(k.clone(), pv.clone());
            }
            (None | Some(Value::Null), _) if !pv.is_object() && !pv.is_array() => {
                d.insert(k.clone(), pv.clone());
            }
            (Some(old @ (Value::String(_) | Value::Number(_) | Value::Bool(_))), _)
                if !pv.is_object() && !pv.is_array() =>
            {
                // FieldSetter (`kyaml/yaml/fns.go:742-751`) gives the new node the old one's style: a number or
                // boolean replacing a quoted or block string becomes a string (cases 22, 50)
                if old.is_string() && !pv.is_string() {
                    return declined(format!(
                        "{here}: a number or boolean replaces a string, whose quoting kustomize keeps"
                    ));
                }
                d.insert(k.clone(), pv.clone());
            }
            // walk.go `ErrorIfAnyInvalidAndNonNull` (cases 23, 23b, 23c): kustomize's error
            _ => return declined(format!("{here}: a map, list and scalar meet")),
        }
    }
    Ok(())
}

/// A patch map taken where the object has none (or replacing it): walked against itself, its nulls and
/// `$patch: delete` maps are dropped, other directives removed, lists copied as they are (note §3.5, cases 03, 06).
fn added(m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        if k == "$patch" {
            continue;
        }
        match v {
            Value::Null => {}
            Value::Object(x) if directive(x) == Some("delete") => {}
            Value::Object(x) => {
                out.insert(k.clone(), Value::Object(added(x)));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// What a patch has done to one object so far.
#[derive(Clone)]
enum Slot {
    Same,
    Patched(Value),
    Deleted,
}

impl Slot {
    fn value<'a>(&'a self, o: &'a Object) -> &'a Value {
        match self {
            Slot::Patched(v) => v,
            _ => &o.value,
        }
    }
}

impl Plan {
    /// Whether the plan matches objects by name or namespace (a strategic-merge patch without target, a target with
    /// a name or namespace): kustomize also matches those against an object's earlier ids (`reswrangler.go:180`
    /// `GetMatchingResourcesByAnyId`, `:632` Select), so the plan holds only where no kustomization on the path
    /// renamed an object.
    pub fn needs_original_ids(&self) -> bool {
        let by_id = |t: &Target| t.name.is_some() || t.namespace.is_some();
        self.patches.iter().any(|p| match p {
            Patch::Json6902(p) => by_id(&p.target),
            Patch::Merge(p) => p.target.as_ref().is_none_or(by_id),
        })
    }

    /// Apply the patches, in order, to the objects of the path, as kustomize does. `Err` when the outcome is not
    /// certain here: the objects are then left as they were (kustomize builds the path instead). A strategic-merge
    /// patch needs the text of each object it applies to ([`Self::apply_with`]); here it is declined.
    pub fn apply(&self, objects: &mut Vec<Object>) -> Result<(), Declined> {
        self.apply_with(objects, |_| None)
    }

    /// [`Self::apply`], with `source` giving the text an object was read from (its whole file will do): a
    /// strategic-merge patch applies only to an object whose text has no comment that kyaml could read as a schema
    /// (case 24c) and no tag (a quoted scalar read as a number: note §4.2).
    pub fn apply_with(
        &self,
        objects: &mut Vec<Object>,
        source: impl Fn(&Object) -> Option<String>,
    ) -> Result<(), Declined> {
        if let Some(o) = objects.iter().find(|o| o.kind().ends_with("List")) {
            return declined(format!("{} is a list kustomize expands", o.id()));
        }
        // what kustomize refuses to build (it says why, in its own words)
        if let Some(o) = objects.iter().find(|o| o.name().is_empty()) {
            return declined(format!("{} has no name", o.id()));
        }
        let mut ids = std::collections::HashSet::new();
        if let Some(o) = objects.iter().find(|o| !ids.insert(o.id())) {
            return declined(format!("{} is there twice", o.id()));
        }
        let mut slots: Vec<Slot> = vec![Slot::Same; objects.len()];
        for (i, p) in self.patches.iter().enumerate() {
            match p {
                Patch::Json6902(p) => {
                    for (o, slot) in objects.iter().zip(slots.iter_mut()) {
                        if matches!(slot, Slot::Deleted) || !p.target.selects(o)? {
                            continue;
                        }
                        let mut value = slot.value(o).clone();
                        json_patch::patch(&mut value, &p.ops).or_else(|e| {
                            declined(format!("patches[{i}] does not apply to {}: {e}", o.id()))
                        })?;
                        as_float64(&mut value);
                        annotations_written_back(&mut value)
                            .map_err(|Declined(why)| Declined(format!("{}: {why}", o.id())))?;
                        *slot = Slot::Patched(value);
                    }
                }
                Patch::Merge(p) => {
                    let mut chosen = Vec::new();
                    match &p.target {
                        Some(t) => {
                            for (k, (o, slot)) in objects.iter().zip(&slots).enumerate() {
                                if !matches!(slot, Slot::Deleted) && t.selects(o)? {
                                    chosen.push((k, &p.docs[0]));
                                }
                            }
                        }
                        None => {
                            for doc in &p.docs {
                                let k = by_id(doc, objects, &slots).map_err(|Declined(why)| {
                                    Declined(format!("patches[{i}]: {why}"))
                                })?;
                                chosen.push((k, doc));
                            }
                        }
                    }
                    for (k, doc) in chosen {
                        let o = &objects[k];
                        let in_o =
                            |Declined(why)| Declined(format!("patches[{i}] on {}: {why}", o.id()));
                        if !flux_group(o.api_version()) {
                            return Err(in_o(Declined(
                                "not a Flux kind (kustomize knows its schema)".into(),
                            )));
                        }
                        match source(o) {
                            None => {
                                return Err(in_o(Declined(
                                    "its text is not known here (a comment may give it a schema)"
                                        .into(),
                                )));
                            }
                            Some(t) if SCHEMA_COMMENT.is_match(&t) => {
                                return Err(in_o(Declined(
                                    "a comment that kyaml may read as a schema (`# {…}`)".into(),
                                )));
                            }
                            Some(t) if TAG.is_match(&t) => {
                                return Err(in_o(Declined("a YAML tag in its text".into())));
                            }
                            Some(_) => {}
                        }
                        let merged = merge_object(slots[k].value(o), doc, p.target.is_some())
                            .map_err(in_o)?;
                        slots[k] = merged.map_or(Slot::Deleted, Slot::Patched);
                    }
                }
            }
        }
        let mut slots = slots.into_iter();
        objects.retain_mut(|o| match slots.next() {
            Some(Slot::Deleted) => false,
            Some(Slot::Patched(v)) => {
                o.value = v;
                true
            }
            _ => true,
        });
        Ok(())
    }
}

/// The one object that has the id of a strategic-merge document without target: group, version, kind and name
/// equal, namespaces equal with an absent one `default` (`reswrangler.go:180-216`, kyaml `resid.go:107-139`; a Flux
/// kind is namespaced, `gvk.go:253`; cases 17, 18, 19). None or several: kustomize's error (cases 36, 46, 47).
fn by_id(doc: &Map<String, Value>, objects: &[Object], slots: &[Slot]) -> Result<usize, Declined> {
    let effective = |ns: Option<&str>| match ns {
        None | Some("") => "default".to_string(),
        Some(n) => n.to_string(),
    };
    let api = doc["apiVersion"].as_str().unwrap_or("");
    let kind = doc["kind"].as_str().unwrap_or("");
    let name = doc["metadata"]["name"].as_str().unwrap_or("");
    let ns = effective(doc["metadata"]["namespace"].as_str());
    let found: Vec<usize> = objects
        .iter()
        .zip(slots)
        .enumerate()
        .filter(|(_, (o, slot))| {
            !matches!(slot, Slot::Deleted)
                && o.api_version() == api
                && o.kind() == kind
                && o.name() == name
                && effective(o.namespace()) == ns
        })
        .map(|(k, _)| k)
        .collect();
    match found[..] {
        [k] => Ok(k),
        [] => declined(format!(
            "no object is {kind} {ns}/{name} of {api} (kustomize's error)"
        )),
        _ => declined(format!("several objects are {kind} {ns}/{name} of {api}")),
    }
}

impl Target {
    fn selects(&self, o: &Object) -> Result<bool, Declined> {
        let api = o.api_version();
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let hits = |re: &Option<Regex>, s: &str| re.as_ref().is_none_or(|re| re.is_match(s));
        if !(hits(&self.group, group)
            && hits(&self.version, version)
            && hits(&self.kind, o.kind())
            && hits(&self.name, o.name()))
        {
            return Ok(false);
        }
        let Some(ns) = &self.namespace else {
            return Ok(true);
        };
        match o.namespace().filter(|n| !n.is_empty()) {
            Some(n) if !crate::objects::object::cluster_scoped(o.kind()) => Ok(ns.is_match(n)),
            _ => declined(format!(
                "a namespace selector on {}, whose effective namespace kustomize decides",
                o.id()
            )),
        }
    }
}

/// Every number as `encoding/json` reads it into `interface{}` (a float64), then as this crate's YAML reader reads
/// the JSON kustomize writes of it: integral and within an integer's range, an integer; else the float.
fn as_float64(v: &mut Value) {
    match v {
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            *n = if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                Number::from(f as i64)
            } else if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 {
                Number::from(f as u64)
            } else {
                Number::from_f64(f).unwrap_or_else(|| n.clone())
            };
        }
        Value::Array(a) => a.iter_mut().for_each(as_float64),
        Value::Object(m) => m.values_mut().for_each(as_float64),
        _ => {}
    }
}

/// kustomize's `SetAnnotations` after a JSON patch: an empty or null `annotations` is dropped; a value that is not a
/// string would be rewritten as its YAML text, which is left to kustomize.
fn annotations_written_back(v: &mut Value) -> Result<(), Declined> {
    let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) else {
        return declined("metadata is not a mapping");
    };
    match meta.get("annotations") {
        None => Ok(()),
        Some(Value::Null) => {
            meta.remove("annotations");
            Ok(())
        }
        Some(Value::Object(a)) if a.is_empty() => {
            meta.remove("annotations");
            Ok(())
        }
        Some(Value::Object(a)) if a.values().all(Value::is_string) => Ok(()),
        Some(_) => declined("annotations that are not all strings"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        Object::plain(v, "app/x.yaml")
    }

    fn deployment(name: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "headlamp"},
               "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}})
    }

    fn spec(patch: &str, target: Value) -> Value {
        json!({"path": "./app", "patches": [{"patch": patch, "target": target}]})
    }

    const SCALE: &str = "- op: replace\n  path: /spec/replicas\n  value: 0\n";

    #[test]
    fn the_fixtures_patch_is_applied_to_its_target_only() {
        // clusters/e2e/apps.yaml of fixtures/gitops
        let plan = plan(&spec(
            SCALE,
            json!({"kind": "Deployment", "name": "cloudflared"}),
        ))
        .unwrap();
        let mut objects = vec![obj(deployment("cloudflared")), obj(deployment("headlamp"))];
        plan.apply(&mut objects).unwrap();
        assert_eq!(objects[0].value["spec"]["replicas"], 0);
        assert_eq!(objects[1].value["spec"]["replicas"], 2);
    }

    #[test]
    fn selectors_are_anchored_regular_expressions() {
        let mut objects = vec![
            obj(deployment("cloudflared")),
            obj(deployment("cloudflared-2")),
            obj(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cloudflared", "namespace": "headlamp"}, "spec": {"replicas": 1}}),
            ),
        ];
        plan(&spec(SCALE, json!({"kind": "Deploy", "name": "cloud.*"})))
            .unwrap()
            .apply(&mut objects)
            .unwrap();
        assert_eq!(
            objects[0].value["spec"]["replicas"], 2,
            "Deploy is not Deployment"
        );
        plan(&spec(
            SCALE,
            json!({"group": "apps", "version": "v1", "name": "cloud.*", "namespace": "head.*"}),
        ))
        .unwrap()
        .apply(&mut objects)
        .unwrap();
        assert_eq!(objects[0].value["spec"]["replicas"], 0);
        assert_eq!(objects[1].value["spec"]["replicas"], 0);
        assert_eq!(
            objects[2].value["spec"]["replicas"], 1,
            "group apps is not the core group"
        );
    }

    #[test]
    fn numbers_of_a_patched_object_become_float64s() {
        let mut d = deployment("cloudflared");
        d["spec"]["big"] = json!(9007199254740993u64);
        d["spec"]["half"] = json!(1.5);
        d["metadata"]["annotations"] = json!({});
        let mut objects = vec![
            obj(d),
            obj(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {}}, "n": 9007199254740993u64}),
            ),
        ];
        plan(&spec(SCALE, json!({"kind": "Deployment"})))
            .unwrap()
            .apply(&mut objects)
            .unwrap();
        let v = &objects[0].value;
        assert_eq!(v["spec"]["big"], json!(9007199254740992u64));
        assert_eq!(v["spec"]["half"], json!(1.5));
        assert_eq!(v["spec"]["replicas"], json!(0));
        assert!(
            v["metadata"].get("annotations").is_none(),
            "SetAnnotations drops an empty map"
        );
        // an object no patch selects is as it was read
        assert_eq!(objects[1].value["n"], json!(9007199254740993u64));
        assert_eq!(objects[1].value["metadata"]["annotations"], json!({}));
    }

    #[test]
    fn what_is_left_to_kustomize() {
        let t = json!({"kind": "Deployment", "name": "cloudflared"});
        let cases = [
            (
                json!({"patches": [{"patch": SCALE, "target": t}], "components": ["../c"]}),
                "features",
            ),
            (
                json!({"patches": [{"patch": SCALE, "target": t}], "postBuild": {"substitute": {}}}),
                "postBuild",
            ),
            (
                spec(SCALE, json!({"kind": "Deployment", "labelSelector": "a=b"})),
                "target.labelSelector",
            ),
            (spec(SCALE, json!({"kind": "Deploy\\w+"})), "escape"),
            (spec(SCALE, json!({})), "empty target"),
            (json!({"patches": [{"patch": SCALE}]}), "no target"),
            (
                json!({"patches": [{"patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"}]}),
                "not a Flux API",
            ),
            (
                spec("- op: add\n  path: /spec/paused\n  value: yes\n", t.clone()),
                "YAML 1.1",
            ),
            (
                spec("- op: add\n  path: /spec/x\n  value: 0777\n", t.clone()),
                "YAML 1.1",
            ),
            (
                spec("- op: add\n  path: /spec/x\n  value: !!str 1\n", t.clone()),
                "tag",
            ),
            (
                spec("- op: move\n  from: /a\n  path: /b\n", t.clone()),
                "\"move\"",
            ),
            (
                spec(
                    "- op: replace\n  path: /metadata/name\n  value: y2\n",
                    t.clone(),
                ),
                "identity",
            ),
            (
                spec(
                    "- op: remove\n  path: /spec/template/spec/containers/-1\n",
                    t.clone(),
                ),
                "\"-1\"",
            ),
            (
                spec(
                    "- op: remove\n  path: /spec/template/spec/containers/-\n",
                    t.clone(),
                ),
                "\"-\"",
            ),
            (
                spec("- op: replace\n  path: /spec/replicas\n", t.clone()),
                "no value",
            ),
        ];
        for (s, why) in cases {
            let Err(Declined(got)) = plan(&s) else {
                panic!("{s} is applied here");
            };
            assert!(got.contains(why), "{s}: {got}");
        }
        // accepted: JSON text, quoted YAML 1.1 words, an append
        for p in [
            r#"[{"op": "replace", "path": "/spec/replicas", "value": 0}]"#,
            "- op: add\n  path: /metadata/labels/on\n  value: \"yes\"\n",
            "- op: add\n  path: /spec/template/spec/containers/-\n  value: {name: b, image: nginx}\n",
        ] {
            assert!(plan(&spec(p, t.clone())).is_ok(), "{p}");
        }
    }

    #[test]
    fn an_operation_that_does_not_apply_is_left_to_kustomize() {
        let p = plan(&spec(
            "- op: replace\n  path: /spec/missing\n  value: 1\n",
            json!({"kind": "Deployment"}),
        ))
        .unwrap();
        let mut objects = vec![obj(deployment("a"))];
        let before = objects[0].value.clone();
        assert!(p.apply(&mut objects).is_err());
        assert_eq!(objects[0].value, before, "nothing changed");
        // two objects with one id, or one without a name: kustomize refuses the build, and says so
        let p = plan(&spec(SCALE, json!({"kind": "Deployment"}))).unwrap();
        let mut twice = vec![obj(deployment("a")), obj(deployment("a"))];
        assert!(p.apply(&mut twice).unwrap_err().0.contains("twice"));
        let mut nameless = vec![obj(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        )];
        assert!(p.apply(&mut nameless).unwrap_err().0.contains("no name"));
        // a namespace selector on an object without a namespace: kustomize's EffectiveNamespace decides
        let p = plan(&spec(SCALE, json!({"namespace": "default"}))).unwrap();
        let mut objects = vec![obj(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 1}}),
        )];
        assert!(p.apply(&mut objects).is_err());
    }

    // strategic merge (docs/upstream-notes/kustomize-merge2.md; "case" is its §7)

    fn hr() -> Value {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "app", "namespace": "apps"},
               "spec": {"interval": "30m", "values": {"a": 1, "m": {"x": 1, "y": 2},
                        "l": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}}})
    }

    fn merged(obj: Value, patch: Value, with_target: bool) -> Result<Option<Value>, Declined> {
        let Value::Object(mut m) = patch else {
            panic!("a patch is a map");
        };
        m.entry("apiVersion")
            .or_insert(json!("helm.toolkit.fluxcd.io/v2"));
        m.entry("kind").or_insert(json!("HelmRelease"));
        m.entry("metadata")
            .or_insert(json!({"name": "app", "namespace": "apps"}));
        merge_object(&obj, &m, with_target)
    }

    fn values(v: Option<Value>) -> Value {
        v.expect("not deleted")["spec"]["values"].clone()
    }

    #[test]
    fn maps_merge_lists_and_scalars_are_replaced() {
        // case 01: lists of maps with `name` are replaced whole (no schema)
        let out = merged(
            hr(),
            json!({"spec": {"interval": "5m", "values": {"m": {"y": 20, "z": 30}, "l": [{"name": "b", "v": 3}]}}}),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(out["spec"]["interval"], "5m");
        assert_eq!(
            out["spec"]["values"],
            json!({"a": 1, "m": {"x": 1, "y": 20, "z": 30}, "l": [{"name": "b", "v": 3}]})
        );
        // case 29: a list added, emptied, removed; case 38: list contents verbatim, nulls too
        let mut o = hr();
        o["spec"]["values"] = json!({"l1": [1, 2], "l2": [1, 2], "l4": [1]});
        let v = values(
            merged(
                o,
                json!({"spec": {"values": {"l1": [], "l2": null, "l3": ["x"], "l4": [null, 3]}}}),
                false,
            )
            .unwrap(),
        );
        assert_eq!(v, json!({"l1": [], "l3": ["x"], "l4": [null, 3]}));
        // case 30: an empty map is a no-op, an empty map in the object merges
        let mut o = hr();
        o["spec"]["values"] = json!({"m": {}, "n": {"k": 1}});
        let v = values(
            merged(
                o,
                json!({"spec": {"values": {"m": {"k": 2}, "n": {}}}}),
                false,
            )
            .unwrap(),
        );
        assert_eq!(v, json!({"m": {"k": 2}, "n": {"k": 1}}));
        // a scalar replaces a scalar of another type, a string a number (case 22 `n`)
        let v = values(
            merged(
                hr(),
                json!({"spec": {"values": {"a": "3", "new": true}}}),
                false,
            )
            .unwrap(),
        );
        assert_eq!(v["a"], "3");
        assert_eq!(v["new"], true);
    }

    #[test]
    fn nulls_of_the_patch_delete() {
        // case 02: null deletes, a null for an absent key does nothing; case 37: whole subtrees
        let v = values(
            merged(
                hr(),
                json!({"spec": {"values": {"a": null, "m": {"x": null}, "l": null, "absent": null}}}),
                false,
            )
            .unwrap(),
        );
        assert_eq!(v, json!({"m": {"y": 2}}));
        let mut o = hr();
        o["metadata"]["labels"] = json!({"k": "v"});
        let out = merged(
            o,
            json!({"metadata": {"name": "app", "namespace": "apps", "labels": null}, "spec": null}),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                   "metadata": {"name": "app", "namespace": "apps"}})
        );
        // case 41: a null of the object replaced by a value
        let mut o = hr();
        o["spec"]["values"] = json!({"m": null, "l": null});
        let v = values(
            merged(
                o,
                json!({"spec": {"values": {"m": {"k": 1}, "l": [1]}}}),
                false,
            )
            .unwrap(),
        );
        assert_eq!(v, json!({"m": {"k": 1}, "l": [1]}));
    }

    #[test]
    fn patch_directives_on_maps() {
        // case 03: a subtree added where the object has nothing
        let v = values(
            merged(
                hr(),
                json!({"spec": {"values": {"new": {"k": 1, "gone": null, "sub": {"$patch": "delete", "q": 1},
                        "rep": {"$patch": "replace", "r": 1}, "lst": [{"name": "x", "gone": null}]}}}}),
                false,
            )
            .unwrap(),
        );
        assert_eq!(
            v["new"],
            json!({"k": 1, "rep": {"r": 1}, "lst": [{"name": "x", "gone": null}]})
        );
        // case 05: delete; case 06 and 40: replace; case 08: merge
        let m = |d: &str| {
            values(
                merged(
                    hr(),
                    json!({"spec": {"values": {"m": {"$patch": d, "z": 3}}}}),
                    false,
                )
                .unwrap(),
            )
            .get("m")
            .cloned()
        };
        assert_eq!(m("delete"), None);
        assert_eq!(m("replace"), Some(json!({"z": 3})));
        assert_eq!(m("merge"), Some(json!({"x": 1, "y": 2, "z": 3})));
        // at the root: delete removes the object (case 04), replace is a no-op (case 07)
        assert_eq!(
            merged(hr(), json!({"$patch": "delete"}), false).unwrap(),
            None
        );
        assert_eq!(
            merged(
                hr(),
                json!({"$patch": "replace", "spec": {"interval": "1m"}}),
                false
            )
            .unwrap(),
            Some(hr())
        );
        assert_eq!(
            merged(
                hr(),
                json!({"$patch": "merge", "spec": {"interval": "1m"}}),
                false
            )
            .unwrap()
            .unwrap()["spec"]["interval"],
            "1m"
        );
    }

    #[test]
    fn kind_name_and_namespace_stay() {
        // case 13: with a target the patch's apiVersion, kind, name and namespace do not matter
        let out = merged(
            hr(),
            json!({"apiVersion": "foo/v9", "kind": "Whatever",
                   "metadata": {"name": "not-important", "namespace": "elsewhere"}, "spec": {"interval": "1m"}}),
            true,
        )
        .unwrap()
        .unwrap();
        let mut want = hr();
        want["spec"]["interval"] = json!("1m");
        assert_eq!(out, want);
        // case 42: an object without a namespace keeps none
        let mut o = hr();
        o["metadata"].as_object_mut().unwrap().remove("namespace");
        let out = merged(o.clone(), json!({"spec": {"interval": "1m"}}), true)
            .unwrap()
            .unwrap();
        assert!(out["metadata"].get("namespace").is_none());
    }

    #[test]
    fn merges_kustomize_does_otherwise_or_refuses_are_declined() {
        let no = |o: Value, p: Value, why: &str| {
            let Err(Declined(got)) = merged(o, p.clone(), false) else {
                panic!("{p} is applied here");
            };
            assert!(got.contains(why), "{p}: {got}");
        };
        // cases 23, 23b, 23c: kustomize's error
        no(hr(), json!({"spec": {"values": {"m": 5}}}), "meet");
        no(hr(), json!({"spec": {"values": {"l": {"k": 1}}}}), "meet");
        no(hr(), json!({"spec": {"values": {"a": {"k": 1}}}}), "meet");
        no(hr(), json!({"spec": {"values": {"m": [1]}}}), "meet");
        // case 22: a number replacing a string may keep its quotes
        let mut o = hr();
        o["spec"]["values"]["s"] = json!("1");
        no(o, json!({"spec": {"values": {"s": 2}}}), "quoting");
        // cases 26, 49: a null of the object, `key:` or `key: null`
        let mut o = hr();
        o["spec"]["values"]["deep"] = json!({"e": null});
        no(o.clone(), json!({"spec": {"values": {"a": 2}}}), "null");
        no(
            o,
            json!({"spec": {"values": {"deep": {"e": null}}}}),
            "null",
        );
        // cases 25, 25b: a nested built-in type has a schema
        let mut o = hr();
        o["spec"]["values"]["extra"] = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        no(
            o,
            json!({"spec": {"interval": "1m"}}),
            "apiVersion and kind",
        );
        no(
            hr(),
            json!({"spec": {"values": {"m": {"apiVersion": "v1", "kind": "ConfigMap"}}}}),
            "apiVersion and kind",
        );
        // a Flux reference is harmless
        let mut o = hr();
        o["spec"]["chart"] = json!({"spec": {"sourceRef": {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "name": "r"}}});
        assert!(merged(o, json!({"spec": {"interval": "1m"}}), false).is_ok());
        // … also where the patch merges into it
        let mut o = hr();
        o["spec"]["chart"] = json!({"spec": {"sourceRef": {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "name": "r"}}});
        let out = merged(
            o,
            json!({"spec": {"chart": {"spec": {"sourceRef": {"name": "s"}}}}}),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(out["spec"]["chart"]["spec"]["sourceRef"]["name"], "s");
        // the object's apiVersion and the patch's kind, together
        let mut o = hr();
        o["spec"]["values"]["extra"] = json!({"apiVersion": "apps/v1"});
        no(
            o,
            json!({"spec": {"values": {"extra": {"kind": "Deployment"}}}}),
            "apiVersion and kind",
        );
        // nulls in a list of the object are not walked (case 49)
        let mut o = hr();
        o["spec"]["values"]["l"] = json!([{"a": null, "b": 1}]);
        assert!(merged(o, json!({"spec": {"interval": "1m"}}), false).is_ok());
    }

    fn sm(text: &str, target: Option<Value>) -> Value {
        match target {
            Some(t) => json!({"path": "./app", "patches": [{"patch": text, "target": t}]}),
            None => json!({"path": "./app", "patches": [{"patch": text}]}),
        }
    }

    const HEAD: &str = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\n  namespace: apps\n";

    fn text(o: &Object) -> Option<String> {
        Some(serde_json::to_string(&o.value).unwrap_or_default())
    }

    #[test]
    fn strategic_merge_patches_without_target_apply_by_id() {
        let mut other = hr();
        other["metadata"]["name"] = json!("other");
        let mut objects = vec![obj(hr()), obj(other), obj(deployment("app"))];
        let two = format!(
            "{HEAD}spec:\n  interval: 1m\n---\n{}spec:\n  interval: 2m\n",
            HEAD.replace("name: app", "name: other")
        );
        let p = plan(&sm(&two, None)).unwrap();
        assert!(p.needs_original_ids());
        p.apply_with(&mut objects, text).unwrap();
        assert_eq!(objects[0].value["spec"]["interval"], "1m");
        assert_eq!(objects[1].value["spec"]["interval"], "2m");
        // without the objects' texts: declined, nothing changed
        let before: Vec<Value> = objects.iter().map(|o| o.value.clone()).collect();
        let Err(Declined(why)) = plan(&sm(&format!("{HEAD}spec:\n  interval: 5m\n"), None))
            .unwrap()
            .apply(&mut objects)
        else {
            panic!("applied without the object's text");
        };
        assert!(why.contains("text is not known"), "{why}");
        let after: Vec<Value> = objects.iter().map(|o| o.value.clone()).collect();
        assert_eq!(before, after);
        // case 18: `default` is the namespace of an object without one
        let mut o = hr();
        o["metadata"].as_object_mut().unwrap().remove("namespace");
        let mut objects = vec![obj(o)];
        plan(&sm(
            &format!("{}spec:\n  interval: 1m\n", HEAD.replace("apps", "default")),
            None,
        ))
        .unwrap()
        .apply_with(&mut objects, text)
        .unwrap();
        assert_eq!(objects[0].value["spec"]["interval"], "1m");
        assert!(objects[0].value["metadata"].get("namespace").is_none());
        // case 04: deleted; case 46: a later patch finds nothing
        let mut objects = vec![obj(hr())];
        let del = json!({"path": ".", "patches": [{"patch": format!("{HEAD}$patch: delete\n")}]});
        plan(&del).unwrap().apply_with(&mut objects, text).unwrap();
        assert!(objects.is_empty());
        let mut objects = vec![obj(hr())];
        let twice = json!({"path": ".", "patches": [{"patch": format!("{HEAD}$patch: delete\n")},
                                                     {"patch": format!("{HEAD}spec:\n  interval: 1m\n")}]});
        let Err(Declined(why)) = plan(&twice).unwrap().apply_with(&mut objects, text) else {
            panic!("case 46 applied");
        };
        assert!(why.contains("no object"), "{why}");
        assert_eq!(objects.len(), 1, "nothing changed");
        // cases 17, 19, 36: no object has the id
        for head in [
            HEAD.replace("  namespace: apps\n", ""),
            HEAD.replace("/v2", "/v2beta2"),
            HEAD.replace("name: app", "name: renamed"),
        ] {
            let mut objects = vec![obj(hr())];
            assert!(
                plan(&sm(&format!("{head}spec:\n  interval: 1m\n"), None))
                    .unwrap()
                    .apply_with(&mut objects, text)
                    .is_err(),
                "{head}"
            );
        }
    }

    #[test]
    fn strategic_merge_patches_with_target_apply_to_flux_kinds_only() {
        // case 14: every selected object
        let mut app2 = hr();
        app2["metadata"]["name"] = json!("app2");
        let mut zzz = hr();
        zzz["metadata"]["name"] = json!("zzz");
        let mut objects = vec![obj(hr()), obj(app2), obj(zzz)];
        let p = plan(&sm(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: any\nspec:\n  interval: 2m\n",
            Some(json!({"kind": "HelmRelease", "name": "app.*"})),
        ))
        .unwrap();
        assert!(p.needs_original_ids());
        p.apply_with(&mut objects, text).unwrap();
        let got: Vec<&Value> = objects
            .iter()
            .map(|o| &o.value["spec"]["interval"])
            .collect();
        assert_eq!(got, ["2m", "2m", "30m"]);
        // a selected object of another API: the whole plan is left to kustomize
        let p = plan(&sm(
            &format!("{HEAD}spec:\n  interval: 1m\n"),
            Some(json!({"name": "app"})),
        ))
        .unwrap();
        let mut objects = vec![obj(hr()), obj(deployment("app"))];
        let Err(Declined(why)) = p.apply_with(&mut objects, text) else {
            panic!("a Deployment patched here");
        };
        assert!(why.contains("not a Flux kind"), "{why}");
        assert_eq!(objects[0].value, hr(), "nothing changed");
        // a schema comment or a tag in the object's text
        for t in ["# {\"type\": \"array\"}", "port: !!int \"80\""] {
            let mut objects = vec![obj(hr())];
            assert!(
                plan(&sm(
                    &format!("{HEAD}spec:\n  interval: 1m\n"),
                    Some(json!({"kind": "HelmRelease"}))
                ))
                .unwrap()
                .apply_with(&mut objects, |_| Some(t.to_string()))
                .is_err(),
                "{t}"
            );
        }
        // the target of group and kind only does not need the objects' earlier ids
        let p = plan(&sm(
            &format!("{HEAD}spec:\n  interval: 1m\n"),
            Some(json!({"group": "helm.toolkit.fluxcd.io", "kind": "HelmRelease"})),
        ))
        .unwrap();
        assert!(!p.needs_original_ids());
        assert!(
            !plan(&spec(SCALE, json!({"kind": "Deployment"})))
                .unwrap()
                .needs_original_ids()
        );
        assert!(
            plan(&spec(SCALE, json!({"kind": "Deployment", "name": "a"})))
                .unwrap()
                .needs_original_ids()
        );
    }

    #[test]
    fn strategic_merge_patches_left_to_kustomize() {
        let t = Some(json!({"kind": "HelmRelease"}));
        let cases = [
            // case 24
            (
                format!(
                    "{HEAD}spec:\n  values:\n    l: # {{\"type\": \"array\"}}\n      - name: b\n"
                ),
                t.clone(),
                "schema",
            ),
            // case 16
            (
                format!("{HEAD}spec: {{}}\n---\n{HEAD}spec: {{}}\n"),
                t.clone(),
                "several",
            ),
            (format!("{HEAD}---\n---\n{HEAD}"), None, "empty document"),
            (format!("{HEAD}...\n"), None, "end marker"),
            // cases 20, 21
            (
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec: {}\n".into(),
                t.clone(),
                "metadata",
            ),
            (
                "apiVersion: helm.toolkit.fluxcd.io/v2\nmetadata: {name: a}\n".into(),
                t.clone(),
                "no kind",
            ),
            // cases 09, 12, 10
            (
                format!("{HEAD}spec:\n  values:\n    m:\n      $patch: bogus\n"),
                None,
                "not delete",
            ),
            (
                format!("{HEAD}spec:\n  values:\n    m:\n      $retainKeys: [x]\n"),
                None,
                "directive",
            ),
            (
                format!(
                    "{HEAD}spec:\n  values:\n    l:\n      - name: a\n        $patch: delete\n"
                ),
                None,
                "list",
            ),
            // case 27c
            (
                format!("{HEAD}  labels:\n    drop: null\n    add: \"2\"\n"),
                t.clone(),
                "rewrites",
            ),
            (
                format!("{HEAD}  annotations: null\n"),
                t.clone(),
                "not a mapping",
            ),
            (
                format!("{HEAD}  annotations:\n    config.kubernetes.io/index: \"0\"\n"),
                None,
                "kustomize's own",
            ),
            // case 28
            (
                format!("{HEAD}spec:\n  values:\n    oct: 0777\n"),
                None,
                "plain scalar",
            ),
            (
                format!("{HEAD}spec:\n  values:\n    d: 2024-01-01\n"),
                None,
                "plain scalar",
            ),
            (
                format!("{HEAD}spec:\n  values:\n    f: 1.0\n"),
                None,
                "plain scalar",
            ),
            // case 33
            (
                format!("{HEAD}spec:\n  values:\n    b: &b {{k: 1}}\n    c: *b\n"),
                None,
                "anchor",
            ),
            // case 25
            (
                format!(
                    "{HEAD}spec:\n  values:\n    extra:\n      apiVersion: apps/v1\n      kind: Deployment\n"
                ),
                None,
                "apiVersion and kind",
            ),
            // rule 4: a patch by id of a kind kustomize knows
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n".into(),
                None,
                "not a Flux API",
            ),
            (
                format!("{HEAD}  labels: {{$patch: delete}}\n"),
                None,
                "a $patch directive in metadata",
            ),
            (
                format!("{HEAD}  $patch: replace\n"),
                None,
                "a $patch directive in metadata",
            ),
            (
                format!("{HEAD}spec: {{}}\nspec: {{}}\n"),
                None,
                "already defined",
            ),
        ];
        for (text, target, why) in cases {
            let Err(Declined(got)) = plan(&sm(&text, target)) else {
                panic!("{text} is applied here");
            };
            assert!(got.contains(why), "{text}: {got}");
        }
        // accepted: case 27 (strings), the YAML 1.1 booleans and `_` (kyaml reads the patch with go-yaml v3)
        for (text, target) in [
            (format!("{HEAD}  labels:\n    add: \"2\"\n"), t.clone()),
            (format!("{HEAD}spec:\n  values:\n    y: yes\n    o: on\n"), None),
            (
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: _\nspec:\n  prune: true\n"
                    .into(),
                Some(json!({"kind": "Kustomization"})),
            ),
            (format!("---\n{HEAD}spec:\n  interval: 5m\n"), None),
        ] {
            assert!(plan(&sm(&text, target)).is_ok(), "{text}");
        }
    }

    #[test]
    fn plain_scalars_that_read_the_same_in_yaml_1_1() {
        for s in [
            "_", "_x", "$patch", "5m", "1h30m", "512Mi", "1.2.3", "10s", "12E", "05m", "abc", "/x",
            "--flag", "1", "-2", "0",
        ] {
            assert!(same_in_yaml_1_1(s), "{s}");
        }
        for s in [
            "0777",
            "0x1F",
            "0o17",
            "0b101",
            "1e3",
            "1E3",
            "1.0",
            "1.",
            "1_000",
            "2024-01-01",
            "1:30",
            ".inf",
            "yes",
            "on",
            "y",
            "N",
            "<<",
            "+1",
            "1.5e3",
            "0e",
            "12345678901234567",
        ] {
            assert!(!same_in_yaml_1_1(s), "{s}");
        }
        // and as this crate reads them (go-yaml v3): strings
        for s in ["_", "$patch", "5m", "512Mi", "1.2.3"] {
            let docs = headlamp_e2e_yaml::parse_documents(&format!("k: {s}\n")).unwrap();
            assert_eq!(docs[0]["k"], json!(s), "{s}");
        }
    }
}
