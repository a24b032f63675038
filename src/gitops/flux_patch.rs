//! A Flux Kustomization's `patches` applied here, without starting kustomize, when what kustomize would build is
//! certain; anything else goes to the real kustomize ([`super::flux_build`]).
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
//!   integer, `true`/`false`/`null` (any case go-yaml knows), or a string starting with a letter, `/` or `--` (a
//!   flag) that is not `y`, `yes`, `n`, `no`, `on` or `off`;
//! - no operation touches `apiVersion`, `kind`, `metadata`, `metadata.name` or `metadata.namespace` (kustomize
//!   re-identifies a renamed object, and the next patch selects by the original id), none uses a negative index
//!   (evanphx/json-patch v4 accepts `-1`) or `-` other than as the end of an `add`;
//! - the path's kustomizations are plain (read here without kustomize), read without a warning or finding, no object
//!   is a `…List`, has no name or shares its id with another (kustomize refuses those builds, in its own words), a
//!   namespace selector meets only objects with an explicit namespace of a namespaced kind;
//! - every operation applies (`json-patch` crate). One that does not is left to kustomize, so its error is
//!   kustomize's own.

use regex::Regex;
use serde_json::{Number, Value};

use super::Object;

/// The patches of one Flux Kustomization spec, ready to apply here.
#[derive(Debug)]
pub struct Plan {
    patches: Vec<Json6902>,
}

#[derive(Debug)]
struct Json6902 {
    target: Target,
    ops: Vec<json_patch::PatchOperation>,
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

/// The plan for a Flux Kustomization `spec`, or why its patches are left to kustomize.
pub fn plan(spec: &Value) -> Result<Plan, Declined> {
    let features = super::flux_build::features(spec);
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

fn one_patch(p: &Value) -> Result<Json6902, Declined> {
    let Some(map) = p.as_object() else {
        return declined("not a mapping");
    };
    if let Some(k) = map
        .keys()
        .find(|k| !["patch", "target"].contains(&k.as_str()))
    {
        return declined(format!("has {k:?}"));
    }
    let target = target(&p["target"])?;
    let Some(text) = p["patch"].as_str() else {
        return declined("no patch text");
    };
    let text = text.trim();
    let list = if text.starts_with('[') {
        serde_json::from_str::<Value>(text).or_else(|e| declined(format!("not JSON: {e}")))?
    } else {
        match headlamp_e2e_yaml::plain_scalars(text) {
            Ok(Some(plain)) => {
                // the value is not quoted in the reason: a patch may set a secret
                if plain.iter().any(|s| !same_in_yaml_1_1(s)) {
                    return declined(
                        "a plain scalar may read otherwise in kustomize's YAML 1.1 decoder (yes, on, 0777, …)",
                    );
                }
            }
            Ok(None) => return declined("a tag, anchor or alias"),
            Err(e) => return declined(format!("not YAML: {e}")),
        }
        let mut docs = headlamp_e2e_yaml::parse_documents(text)
            .or_else(|e| declined(format!("not YAML: {e}")))?;
        if docs.len() != 1 {
            return declined("not one YAML document");
        }
        docs.remove(0)
    };
    let Some(items) = list.as_array() else {
        return declined("a strategic merge patch");
    };
    for op in items {
        check_op(op)?;
    }
    let ops: Vec<json_patch::PatchOperation> =
        serde_json::from_value(list).or_else(|e| declined(format!("not a JSON patch: {e}")))?;
    Ok(Json6902 { target, ops })
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

/// Whether a plain scalar of a patch reads the same in go-yaml v2 (YAML 1.1) and v3.
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
    let first = s.as_bytes()[0];
    (first.is_ascii_alphabetic() || first == b'/' || s.starts_with("--"))
        && !["y", "yes", "n", "no", "on", "off"].contains(&s.to_ascii_lowercase().as_str())
}

impl Plan {
    /// Apply the patches, in order, to the objects of the path, as kustomize does. `Err` when the outcome is not
    /// certain here: the objects are then left as they were (kustomize builds the path instead).
    pub fn apply(&self, objects: &mut [Object]) -> Result<(), Declined> {
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
        let mut patched: Vec<Option<Value>> = vec![None; objects.len()];
        for (i, p) in self.patches.iter().enumerate() {
            for (o, slot) in objects.iter().zip(patched.iter_mut()) {
                if !p.target.selects(o)? {
                    continue;
                }
                let mut value = slot.take().unwrap_or_else(|| o.value.clone());
                json_patch::patch(&mut value, &p.ops).or_else(|e| {
                    declined(format!("patches[{i}] does not apply to {}: {e}", o.id()))
                })?;
                as_float64(&mut value);
                annotations_written_back(&mut value)
                    .map_err(|Declined(why)| Declined(format!("{}: {why}", o.id())))?;
                *slot = Some(value);
            }
        }
        for (o, v) in objects.iter_mut().zip(patched) {
            if let Some(v) = v {
                o.value = v;
            }
        }
        Ok(())
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
            Some(n) if !super::cluster_scoped(o.kind()) => Ok(ns.is_match(n)),
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
                spec(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
                    t.clone(),
                ),
                "strategic merge",
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
}
