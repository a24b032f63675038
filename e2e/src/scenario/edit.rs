//! Edits a scenario makes to fixture files before committing them: structured (`set`, `remove`, `rename` a key at a
//! dotted path of one YAML document) or textual (`replace`). Structured edits re-serialise the file (comments are
//! lost in the served repo only, never in `fixtures/`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// `{file, [object], set|remove|rename|replace}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "Map<String, Value>", into = "Map<String, Value>")]
pub struct Edit {
    /// Path relative to the GitOps repo root.
    pub file: String,
    /// `Kind/name` of the document to edit in a multi-document file (default: the only, or first, document).
    pub object: Option<String>,
    pub op: Op,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Op {
    /// Set the value at a dotted path, creating maps on the way.
    Set { path: String, value: Value },
    /// Remove the key at a dotted path (it must exist).
    Remove(String),
    /// Rename the key at a dotted path, keeping its value (`volumes` → `extraVolumes`).
    Rename { path: String, to: String },
    /// Replace text (must occur).
    Replace { from: String, to: String },
}

impl TryFrom<Map<String, Value>> for Edit {
    type Error = String;
    fn try_from(mut m: Map<String, Value>) -> std::result::Result<Self, String> {
        let file = match m.remove("file") {
            Some(Value::String(f)) if !f.is_empty() => f,
            _ => return Err("edit: `file` (a path in the GitOps repo) is required".into()),
        };
        let object = match m.remove("object") {
            Some(Value::String(o)) => Some(o),
            None => None,
            Some(other) => return Err(format!("edit: object `{other}` must be Kind/name")),
        };
        if m.len() != 1 {
            return Err(format!(
                "edit of {file}: exactly one of set, remove, rename, replace (got {})",
                m.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let op =
            serde_json::from_value(Value::Object(m)).map_err(|e| format!("edit of {file}: {e}"))?;
        Ok(Edit { file, object, op })
    }
}

impl From<Edit> for Map<String, Value> {
    fn from(e: Edit) -> Self {
        let mut m = match serde_json::to_value(&e.op) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        m.insert("file".into(), e.file.into());
        if let Some(o) = e.object {
            m.insert("object".into(), o.into());
        }
        m
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.split('.').filter(|s| !s.is_empty()).collect()
}

fn parent_mut<'a>(
    root: &'a mut Value,
    segs: &[&str],
    create: bool,
) -> std::result::Result<&'a mut Value, String> {
    let mut cur = root;
    for seg in segs {
        cur = match cur {
            Value::Object(m) => {
                if create && !m.contains_key(*seg) {
                    m.insert(seg.to_string(), Value::Object(Map::new()));
                }
                m.get_mut(*seg).ok_or_else(|| format!("no key `{seg}`"))?
            }
            Value::Array(a) => {
                let i: usize = seg
                    .parse()
                    .map_err(|_| format!("`{seg}` is not a list index"))?;
                a.get_mut(i).ok_or_else(|| format!("no item {i}"))?
            }
            _ => return Err(format!("`{seg}`: not a map or list")),
        };
    }
    Ok(cur)
}

/// Apply an op to one document.
pub fn apply_op(doc: &mut Value, op: &Op) -> std::result::Result<(), String> {
    match op {
        Op::Set { path, value } => {
            let segs = segments(path);
            let (last, parents) = segs.split_last().ok_or("empty path")?;
            match parent_mut(doc, parents, true)? {
                Value::Object(m) => {
                    m.insert(last.to_string(), value.clone());
                    Ok(())
                }
                _ => Err(format!("{path}: parent is not a map")),
            }
        }
        Op::Remove(path) => {
            let segs = segments(path);
            let (last, parents) = segs.split_last().ok_or("empty path")?;
            match parent_mut(doc, parents, false)? {
                Value::Object(m) => m
                    .remove(*last)
                    .map(|_| ())
                    .ok_or_else(|| format!("{path}: no such key")),
                _ => Err(format!("{path}: parent is not a map")),
            }
        }
        Op::Rename { path, to } => {
            let segs = segments(path);
            let (last, parents) = segs.split_last().ok_or("empty path")?;
            match parent_mut(doc, parents, false)? {
                Value::Object(m) => {
                    let v = m
                        .remove(*last)
                        .ok_or_else(|| format!("{path}: no such key"))?;
                    m.insert(to.clone(), v);
                    Ok(())
                }
                _ => Err(format!("{path}: parent is not a map")),
            }
        }
        Op::Replace { .. } => Err("replace is a text edit".into()),
    }
}

/// Apply an edit to the text of its file.
pub fn apply_text(edit: &Edit, text: &str) -> Result<String> {
    let fail = |m: String| Error::Other(format!("edit of {}: {m}", edit.file));
    if let Op::Replace { from, to } = &edit.op {
        if !text.contains(from.as_str()) {
            return Err(fail(format!("text `{from}` not found")));
        }
        return Ok(text.replacen(from.as_str(), to, 1));
    }
    let mut docs = crate::yaml::parse_yaml_documents(text, Path::new(&edit.file))?;
    let idx = match &edit.object {
        Some(id) => docs
            .iter()
            .position(|d| {
                let name = d["metadata"]["name"].as_str().unwrap_or("");
                let kind = d["kind"].as_str().unwrap_or("");
                format!("{kind}/{name}") == *id
            })
            .ok_or_else(|| fail(format!("no document {id}")))?,
        None if docs.is_empty() => return Err(fail("no YAML document".into())),
        None => 0,
    };
    apply_op(&mut docs[idx], &edit.op).map_err(fail)?;
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_norway::to_string(d).map_err(|e| fail(e.to_string()))?);
    }
    Ok(out)
}

/// Apply edits to files under `root` (the served repo's work tree).
pub fn apply_all(root: &Path, edits: &[Edit]) -> Result<()> {
    for e in edits {
        let p = root.join(&e.file);
        let text = std::fs::read_to_string(&p).map_err(|err| Error::io(&p, err))?;
        let new = apply_text(e, &text)?;
        std::fs::write(&p, new).map_err(|err| Error::io(&p, err))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HR: &str = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\nspec:\n  values:\n    volumes: [{name: home}]\n    image: {registry: ghcr.io}\n";

    fn edit(yaml: &str) -> Edit {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn structured_edits() {
        let e = edit("file: hr.yaml\nset: {path: spec.values.image.tag, value: v0.38.0}\n");
        let out = apply_text(&e, HR).unwrap();
        assert!(out.contains("tag: v0.38.0"), "{out}");
        let e = edit("file: hr.yaml\nrename: {path: spec.values.volumes, to: extraVolumes}\n");
        let out = apply_text(&e, HR).unwrap();
        assert!(
            out.contains("extraVolumes:") && !out.contains("  volumes:"),
            "{out}"
        );
        let e = edit("file: hr.yaml\nremove: spec.values.image\n");
        assert!(!apply_text(&e, HR).unwrap().contains("registry"));
        let e = edit("file: hr.yaml\nremove: spec.values.nope\n");
        assert!(
            apply_text(&e, HR)
                .unwrap_err()
                .to_string()
                .contains("no such key")
        );
    }

    #[test]
    fn text_replace_and_object_selection() {
        let e = edit("file: hr.yaml\nreplace: {from: 'name: home', to: 'name: tmp'}\n");
        assert!(apply_text(&e, HR).unwrap().contains("name: tmp"));
        let two = format!("{HR}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n");
        let e = edit("file: x.yaml\nobject: ConfigMap/c\nset: {path: data.k, value: v}\n");
        let out = apply_text(&e, &two).unwrap();
        assert!(out.contains("---\n") && out.contains("k: v"), "{out}");
    }

    #[test]
    fn strict_shape() {
        for bad in [
            "file: a\n",
            "file: a\nset: {path: x, value: 1}\nremove: y\n",
            "set: {path: x, value: 1}\n",
            "file: a\nsett: {path: x, value: 1}\n",
            "file: a\nset: {path: x, value: 1, extra: 2}\n",
        ] {
            assert!(serde_norway::from_str::<Edit>(bad).is_err(), "{bad}");
        }
    }
}
