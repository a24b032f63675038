//! Where each key and item of a document is written: the line and column a finding points at.
//!
//! [`parse_documents_with_positions`] reads a text as [`parse_documents`](crate::parse_documents) does and gives each
//! document's value with a [`Positions`] tree beside it; the [`Value`] type is unchanged. A path is looked up the way
//! findings write it: dotted keys and `[n]` indices (`spec.values.image.tag`,
//! `spec.template.spec.containers[0].image`), where a key may itself contain dots
//! (`metadata.labels.app.kubernetes.io/name`): the longest key that exists is taken first.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{Decoder, Doc, Mark, Node, Reader, YamlError};

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl From<Mark> for Pos {
    fn from(m: Mark) -> Pos {
        Pos {
            line: m.line,
            column: m.column,
        }
    }
}

/// One node of a document: where its key is written (for a mapping value; for an item, where the item starts), and
/// its own keys and items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PosNode {
    /// The key's position (a mapping value), the item's (a sequence item), the document's first node (the root).
    pub at: Option<Pos>,
    /// The value's own position (for `key: value`, where `value` starts; for a block mapping value, its first key).
    pub value: Option<Pos>,
    pub keys: BTreeMap<String, PosNode>,
    pub items: Vec<PosNode>,
}

/// Where the keys and items of one document are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    pub root: PosNode,
}

/// A path segment: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl Positions {
    /// The document's first line and column (its first node).
    pub fn start(&self) -> Pos {
        self.root.at.unwrap_or(Pos { line: 1, column: 1 })
    }

    /// The position of the key (or item) at `path`, when it is written in this document.
    pub fn get(&self, path: &str) -> Option<Pos> {
        match self.nearest(path) {
            (pos, true) => Some(pos),
            _ => None,
        }
    }

    /// The node at `path`, when it is written in this document.
    pub fn node(&self, path: &str) -> Option<&PosNode> {
        let segs = split(path);
        let (node, depth) = deepest(&self.root, &segs);
        (depth == segs.len()).then_some(node)
    }

    /// The position of `path`, or of the deepest key above it that is written (the document's start when none is),
    /// with whether `path` itself was found.
    pub fn nearest(&self, path: &str) -> (Pos, bool) {
        let segs = split(path);
        let mut node = &self.root;
        let mut pos = self.start();
        let (found, depth) = deepest(node, &segs);
        if depth > 0 {
            node = found;
            pos = node.at.unwrap_or(pos);
        }
        (pos, depth == segs.len())
    }
}

/// `a.b[0].c` as segments; a key's dots are kept together later ([`deepest`] joins segments to find a key).
fn split(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        // `[n]` indices; anything else in brackets stays part of the key text
        while let Some(end) = rest.find(']') {
            match rest[1..end].parse::<usize>() {
                Ok(i) if rest.starts_with('[') => out.push(Seg::Index(i)),
                _ => {
                    out.push(Seg::Key(rest));
                    rest = "";
                    break;
                }
            }
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            out.push(Seg::Key(rest));
        }
    }
    out
}

/// The deepest node `segs` reaches from `node`, and how many segments it took. A key may span several dotted
/// segments (`app.kubernetes.io/name`): the longest written key is tried first, then shorter ones.
fn deepest<'n>(node: &'n PosNode, segs: &[Seg<'_>]) -> (&'n PosNode, usize) {
    let Some(first) = segs.first() else {
        return (node, 0);
    };
    let mut best: (&PosNode, usize) = (node, 0);
    match first {
        Seg::Index(i) => {
            if let Some(item) = node.items.get(*i) {
                let (n, d) = deepest(item, &segs[1..]);
                best = (n, d + 1);
            }
        }
        Seg::Key(_) => {
            // the keys `segs[..k]` joined by dots, longest first
            let keys: Vec<&str> = segs
                .iter()
                .map_while(|s| match s {
                    Seg::Key(k) => Some(*k),
                    Seg::Index(_) => None,
                })
                .collect();
            for k in (1..=keys.len()).rev() {
                let key = keys[..k].join(".");
                if let Some(child) = node.keys.get(&key) {
                    let (n, d) = deepest(child, &segs[k..]);
                    if d + k > best.1 {
                        best = (n, d + k);
                    }
                    if best.1 == segs.len() {
                        break;
                    }
                }
            }
        }
    }
    best
}

/// [`crate::parse_documents`], with where each document's keys and items are written.
pub fn parse_documents_with_positions(text: &str) -> Result<Vec<(Value, Positions)>, YamlError> {
    let text = &*crate::without_line_boms(text);
    let mut docs = Vec::new();
    let mut reader = Reader::new(text);
    while let Some(doc) = reader.document()? {
        let mut d = Decoder::new(&doc, text);
        let v = d.decode(doc.root, true, 0)?;
        if !v.is_null() {
            let mut root = tree(&doc, doc.root, 0);
            root.at = Some(doc.nodes[doc.root].mark().into());
            docs.push((v, Positions { root }));
        }
    }
    Ok(docs)
}

/// The positions below node `id` (aliases are not followed: what an alias copies is written at its anchor).
fn tree(doc: &Doc, id: usize, depth: usize) -> PosNode {
    let mut out = PosNode {
        value: Some(doc.nodes[id].mark().into()),
        ..PosNode::default()
    };
    if depth > crate::MAX_DEPTH {
        return out;
    }
    match &doc.nodes[id] {
        Node::Map { pairs, .. } => {
            for &(k, v) in pairs {
                let Node::Scalar { value: key, .. } = &doc.nodes[k] else {
                    continue;
                };
                let mut child = tree(doc, v, depth + 1);
                child.at = Some(doc.nodes[k].mark().into());
                // a duplicate key is an error of the decoder; the first one is kept here
                out.keys.entry(key.clone()).or_insert(child);
            }
        }
        Node::Seq { items, .. } => {
            for &i in items {
                let mut child = tree(doc, i, depth + 1);
                child.at = child.value;
                out.items.push(child);
            }
        }
        Node::Scalar { .. } | Node::Alias { .. } => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HR: &str = "\
# a comment
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  labels:
    app.kubernetes.io/name: headlamp
spec:
  values:
    image:
      tag: v0.1.0
    containers:
      - name: a
        image: x
      - name: b
        image: 'y'
---
kind: ConfigMap
data:
  values.yaml: |
    replicas: 2
";

    fn pos(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn keys_and_items_have_their_lines_and_columns() {
        let docs = parse_documents_with_positions(HR).unwrap();
        assert_eq!(docs.len(), 2);
        let (v, p) = &docs[0];
        assert_eq!(v["spec"]["values"]["image"]["tag"], "v0.1.0");
        assert_eq!(p.start(), pos(3, 1));
        assert_eq!(p.get("spec.values.image.tag"), Some(pos(12, 7)));
        assert_eq!(p.get("spec.values"), Some(pos(10, 3)));
        assert_eq!(p.get("spec.values.containers[1]"), Some(pos(16, 9)));
        assert_eq!(p.get("spec.values.containers[1].image"), Some(pos(17, 9)));
        // a key with dots in it
        assert_eq!(
            p.get("metadata.labels.app.kubernetes.io/name"),
            Some(pos(8, 5))
        );
        // the value's own position
        assert_eq!(
            p.node("spec.values.image.tag").unwrap().value,
            Some(pos(12, 12))
        );
        assert_eq!(docs[1].1.start(), pos(19, 1));
        assert_eq!(docs[1].1.get("data.values.yaml"), Some(pos(21, 3)));
    }

    #[test]
    fn a_missing_path_is_placed_at_its_deepest_written_parent() {
        let docs = parse_documents_with_positions(HR).unwrap();
        let p = &docs[0].1;
        assert_eq!(p.get("spec.values.image.repository"), None);
        assert_eq!(
            p.nearest("spec.values.image.repository"),
            (pos(11, 5), false)
        );
        assert_eq!(
            p.nearest("spec.values.containers[7].image"),
            (pos(13, 5), false)
        );
        assert_eq!(p.nearest("status.conditions"), (pos(3, 1), false));
        assert_eq!(p.nearest("spec.values.image.tag"), (pos(12, 7), true));
    }

    #[test]
    fn values_are_those_of_parse_documents() {
        let with = parse_documents_with_positions(HR).unwrap();
        let plain = crate::parse_documents(HR).unwrap();
        assert_eq!(with.into_iter().map(|(v, _)| v).collect::<Vec<_>>(), plain);
    }
}
