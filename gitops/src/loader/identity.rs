//! Which objects are "the same", and which directories are not roots of their own.
//!
//! - An object is identified as kustomize and the API server identify it: (API group, kind, namespace, name); the
//!   version is not part of it (`apps/v1` and `apps/v1beta1` Deployment x are one object).
//! - The same object reached twice with the same content (a base read through two overlays that change nothing in
//!   it, two Flux Kustomizations of one path) is kept once, so it is linted once.
//! - Objects with the same identity and different content are all kept. In a GitOps repository that is the normal
//!   case of several clusters (`clusters/home` and `clusters/e2e` both define Kustomization flux-system/headlamp, each
//!   for its own cluster), and of one base rendered by overlays for different clusters: each is what one cluster
//!   gets, and each is linted. A finding that is the same for both is reported once (findings are deduplicated).
//! - A directory with a kustomization file that another kustomization in the tree includes (`resources: [../base]`,
//!   `components: [../tls]`) is not read as a root of its own when the walk reaches it: its objects are linted as the
//!   including overlay renders them, once.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::kustomize::paths::KUSTOMIZATION_NAMES;
use crate::objects::object::Object;

/// (API group, kind, namespace, name).
pub fn key(o: &Object) -> (String, String, String, String) {
    (
        o.group().to_string(),
        o.kind().to_string(),
        o.namespace().unwrap_or("").to_string(),
        o.name().to_string(),
    )
}

/// Drop every object that an earlier one has the same identity and the same content as; keep the first.
///
/// Only objects that share their identity with another one are compared, and those are grouped by a hash of their
/// content first, so the time is linear in the number of objects (20k files of one object each, or 20k objects of
/// one identity with different content, are one pass), not quadratic. An object whose identity is its own (nearly
/// every one) is kept without hashing its content: hashing all 1,159 objects of a 350-app repository was a tenth of
/// the loader's time in a debug build (issue 22).
pub fn dedup(objects: &mut Vec<Object>) {
    let keys: Vec<(String, String, String, String)> = objects.iter().map(key).collect();
    let mut count: HashMap<&(String, String, String, String), usize> = HashMap::new();
    for k in &keys {
        *count.entry(k).or_default() += 1;
    }
    let shared: Vec<bool> = keys.iter().map(|k| count[k] > 1).collect();
    drop(count);
    let mut groups: HashMap<(String, String, String, String, u64), Vec<usize>> = HashMap::new();
    let mut kept: Vec<Object> = Vec::with_capacity(objects.len());
    for ((o, k), shared) in objects.drain(..).zip(keys).zip(shared) {
        if !shared {
            kept.push(o);
            continue;
        }
        let mut h = DefaultHasher::new();
        hash_value(&o.value, &mut h);
        let (g, k, ns, n) = k;
        let group = groups.entry((g, k, ns, n, h.finish())).or_default();
        if !group.iter().any(|&i| kept[i].value == o.value) {
            group.push(kept.len());
            kept.push(o);
        }
    }
    *objects = kept;
}

/// A hash of a JSON value that agrees with its `==` (a map's keys are hashed in sorted order, whatever order the map
/// keeps them in).
fn hash_value(v: &Value, h: &mut DefaultHasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => (2u8, n.to_string()).hash(h),
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(a) => {
            (4u8, a.len()).hash(h);
            for x in a {
                hash_value(x, h);
            }
        }
        Value::Object(m) => {
            (5u8, m.len()).hash(h);
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            for k in keys {
                k.hash(h);
                hash_value(&m[k], h);
            }
        }
    }
}

fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The directories (canonical) with a kustomization file that a kustomization the walk reads includes. The walk is
/// the one of [`super::load`]: hidden entries skipped, a directory with a kustomization file is what it lists, any
/// other directory is descended into; nothing outside `real_root` counts.
pub fn included_bases(real_root: &Path) -> BTreeSet<PathBuf> {
    let mut included = BTreeSet::new();
    let mut visited = BTreeSet::new();
    walk(real_root, real_root, &mut included, &mut visited);
    included
}

fn walk(
    real_root: &Path,
    dir: &Path,
    included: &mut BTreeSet<PathBuf>,
    visited: &mut BTreeSet<PathBuf>,
) {
    let Ok(real) = dir.canonicalize() else {
        return;
    };
    if !real.starts_with(real_root) || !visited.insert(real.clone()) {
        return;
    }
    if let Some(k) = kustomization_file(&real) {
        for base in references(&real, &k) {
            included.insert(base.clone());
            walk(real_root, &base, included, visited);
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(&real) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden && p.is_dir() {
            walk(real_root, &p, included, visited);
        }
    }
}

/// The directories with a kustomization file that the kustomization `file` in `dir` lists in `resources` or
/// `components` (canonical; remote and missing ones left out).
fn references(dir: &Path, file: &Path) -> Vec<PathBuf> {
    let Ok(text) = crate::files::read_text(file) else {
        return Vec::new();
    };
    let Ok(doc) = headlamp_e2e_yaml::from_norway_str(&text) else {
        return Vec::new();
    };
    ["resources", "components", "bases"]
        .iter()
        .filter_map(|f| doc[*f].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| !r.contains("://"))
        .filter_map(|r| dir.join(r).canonicalize().ok())
        .filter(|p| p.is_dir() && kustomization_file(p).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(yaml: &str) -> Object {
        Object::plain(serde_norway::from_str(yaml).unwrap(), "t.yaml")
    }

    #[test]
    fn same_identity_same_content_is_kept_once_different_content_twice() {
        let a = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec: {replicas: 1}\n";
        let mut objects = vec![
            obj(a),
            // the version is not part of the identity
            obj(
                "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec: {replicas: 1}\n",
            ),
            obj(a),
            obj(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec: {replicas: 0}\n",
            ),
            obj(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: other}\nspec: {replicas: 1}\n",
            ),
        ];
        dedup(&mut objects);
        let replicas: Vec<_> = objects
            .iter()
            .map(|o| {
                (
                    o.namespace().unwrap().to_string(),
                    o.value["spec"]["replicas"].clone(),
                )
            })
            .collect();
        // apps/v1beta1 has other content (its apiVersion), so it is kept: content decides, identity only groups
        assert_eq!(objects.len(), 4, "{replicas:?}");
        assert_eq!(objects[2].value["spec"]["replicas"], 0);
        // an object whose identity is its own is kept without comparing, in its place
        assert_eq!(objects[3].namespace(), Some("other"));
        let mut order = vec![
            obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
            obj(a),
            obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"),
            obj(a),
        ];
        dedup(&mut order);
        let names: Vec<&str> = order.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["a", "d", "b"]);
    }

    #[test]
    fn a_base_included_by_an_overlay_is_no_root_of_its_own() {
        let d = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w(
            "apps/base/hl/kustomization.yaml",
            "resources: [hr.yaml, ../common]\n",
        );
        w("apps/base/common/kustomization.yaml", "resources: []\n");
        w(
            "apps/overlays/home/kustomization.yaml",
            "resources: [../../base/hl]\n",
        );
        // a kustomization the walk never reads (below a directory with its own kustomization) includes nothing
        w("other/kustomization.yaml", "resources: []\n");
        w(
            "other/unread/kustomization.yaml",
            "resources: [../../lonely]\n",
        );
        w("lonely/kustomization.yaml", "resources: []\n");
        let root = d.path().canonicalize().unwrap();
        let inc = included_bases(&root);
        let names: Vec<String> = inc
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["apps/base/common", "apps/base/hl"]);
    }
}
