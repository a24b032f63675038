//! YAML read into JSON values the way Flux's kustomize-controller reads it.
//!
//! What the API server gets from a file in a Flux repository is, verified with `kubectl kustomize` (kustomize
//! v5.7.1, the kustomize API that kustomize-controller v1.9.x builds with): kustomize parses every resource with
//! go-yaml v3 (kubernetes-sigs/yaml `goyaml.v3`, a fork of go-yaml v3.0.1), decodes it into
//! `map[string]interface{}` (kyaml `RNode.MarshalJSON`: `yaml.Unmarshal` then `json.Marshal`) and writes that JSON
//! back as YAML; kustomize-controller reads that output with sigs.k8s.io/yaml. So the values are those of go-yaml v3
//! `Unmarshal` into `interface{}` followed by Go's `encoding/json`:
//!
//! - scalars resolve as in go-yaml v3 `resolve.go` ([`resolve`]): only `true/True/TRUE`, `false/False/FALSE` are
//!   booleans (`yes`, `no`, `on`, `off`, `y` stay strings); `""`, `~`, `null/Null/NULL` are null; `_` is removed
//!   from a number before Go's `strconv.ParseInt(s, 0, 64)`, so `8_080` is 8080, `0400` (leading 0) and `0o400` are
//!   octal 256, `0x1F` is 31, `0b101` is 5; what does not parse as an integer but matches go-yaml's float pattern is a
//!   float (`1_000.5`, `09` is the float 9); an unquoted `2024-01-02` is a timestamp, which `encoding/json` writes as
//!   RFC 3339 (`"2024-01-02T00:00:00Z"`);
//! - quoted and block scalars are strings; an explicit tag wins (`!!str 0400` is `"0400"`, `!!int "0400"` is 256,
//!   `!!float 3` is 3.0), a value that does not fit its tag is go-yaml's error
//!   ("cannot decode !!str `abc` as a !!int");
//! - merge keys `<<` (one mapping, an alias, or a list of them) as go-yaml v3 `decode.go` applies them: the
//!   mapping's own keys win over merged ones wherever they are written, and the first source in a list wins;
//! - a duplicate key in one mapping is go-yaml's error `mapping key "x" already defined at line N` (kustomize
//!   fails the build on it); a nested mapping with a key that is not a string (`1:`, `true:`) fails kustomize
//!   (`json: unsupported type: map[interface {}]interface {}`), and so do `.inf` / `.nan`
//!   (`json: unsupported value: +Inf`): all three are errors here, with the line and column;
//! - alias expansion is bounded by go-yaml v3's own rule (`allowedAliasRatio`, "document contains excessive
//!   aliasing"): a "YAML bomb" is an error at the document's first alias, never an allocation without end; and by
//!   the bytes the copies take ([`MAX_ALIAS_EXPANSION`]: go-yaml shares an aliased value, each copy here is its own);
//! - a file's bytes are decoded as go-yaml decodes them ([`decode_text`]: UTF-16 after its BOM, invalid UTF-8 is
//!   go-yaml's reader error), and a BOM starting a line is skipped as go-yaml's scanner skips it;
//! - one file holds at most [`MAX_NODES`] nodes and nests at most [`MAX_DEPTH`] collections (lint's bounds).
//!
//! An integral float is held as a JSON integer when it fits one, since that is what `encoding/json` writes
//! (`1.0` → `1`, `1e3` → `1000`) and what the API server reads back.
//!
//! The text is parsed into events by `saphyr-parser` (a YAML 1.2 parser); the values are built here.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

mod positions;
pub use positions::{Pos, PosNode, Positions, parse_documents_with_positions};

/// A YAML text that cannot be read as Flux reads it, at 1-based `line` and `column`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Deepest nesting read (go-yaml's parser stops at 10000; no Kubernetes object comes near this bound, which keeps
/// the recursive decoder far from the end of a thread's stack).
pub const MAX_DEPTH: usize = 1000;

/// The most that the nodes decoded through aliases may cost in one document: 16 MiB, counted as each scalar's text
/// plus [`ALIAS_NODE_COST`] per node. go-yaml v3 bounds aliasing by node count only (`decode.go` `allowedAliasRatio`,
/// applied in [`Decoder::count`] too); its values share memory, these do not. No object reaches this bound: the API
/// server refuses a request body over 3 MiB (k8s.io/apiserver `pkg/server/config.go` `MaxRequestBodyBytes`).
pub const MAX_ALIAS_EXPANSION: usize = 16 << 20;

/// The most nodes (scalars, sequences, mappings, aliases) one YAML stream may hold: 1,000,000. go-yaml has no such
/// bound; each node read here is a value of some hundred bytes held by lint while it lints the tree, so a 50 MB
/// block list (3.6 million items) would take gigabytes. A 10 MB bundle of CRDs is about half this many nodes.
pub const MAX_NODES: usize = 1_000_000;

/// What one node decoded through an alias counts against [`MAX_ALIAS_EXPANSION`] besides its text (about the
/// memory of a JSON value and its place in its parent).
pub const ALIAS_NODE_COST: usize = 64;

/// The text of a file's bytes as go-yaml v3 reads them (`readerc.go` `yaml_parser_determine_encoding` and
/// `yaml_parser_update_buffer`): a UTF-16LE (`FF FE`) or UTF-16BE (`FE FF`) byte order mark makes the rest UTF-16,
/// a UTF-8 one (`EF BB BF`) is dropped, anything else is UTF-8. Bytes that are not valid in that encoding are
/// go-yaml's reader error (`invalid leading UTF-8 octet`, `incomplete UTF-16 character`, …) at their line and column.
pub fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, YamlError> {
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes).map(Cow::Owned),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes).map(Cow::Owned),
        _ => {
            let rest = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            std::str::from_utf8(rest)
                .map(Cow::Borrowed)
                .map_err(|e| utf8_error(rest, &e))
        }
    }
}

/// Line and column (1-based) just after `text`.
fn end_mark(text: &str) -> Mark {
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Mark { line, column }
}

/// go-yaml's words for the first invalid UTF-8 sequence in `bytes`.
fn utf8_error(bytes: &[u8], e: &std::str::Utf8Error) -> YamlError {
    let at = e.valid_up_to();
    let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
    let b = &bytes[at..];
    let width = match b[0] {
        c if c & 0xE0 == 0xC0 => 2,
        c if c & 0xF0 == 0xE0 => 3,
        c if c & 0xF8 == 0xF0 => 4,
        _ => 0,
    };
    let problem = if width == 0 {
        "invalid leading UTF-8 octet"
    } else if b.len() < width {
        "incomplete UTF-8 octet sequence"
    } else if b[1..width].iter().any(|c| c & 0xC0 != 0x80) {
        "invalid trailing UTF-8 octet"
    } else {
        // well formed, but too long for its value (overlong), a surrogate or past U+10FFFF
        let mut v = u32::from(b[0]) & (0x7F >> width);
        for c in &b[1..width] {
            v = (v << 6) | (u32::from(*c) & 0x3F);
        }
        let shortest = match width {
            2 => v >= 0x80,
            3 => v >= 0x800,
            _ => v >= 0x10000,
        };
        if shortest {
            "invalid Unicode character"
        } else {
            "invalid length of a UTF-8 sequence"
        }
    };
    end_mark(valid).err(format!("{problem} (the file is not UTF-8 text)"))
}

/// UTF-16 after its byte order mark, as go-yaml decodes it (its errors: an odd byte, a lone surrogate).
fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, YamlError> {
    let mut out = String::with_capacity(bytes.len() / 2);
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
    let mut i = 0;
    while i < units.len() {
        let u = units[i];
        let fail = |out: &str, problem: &str| end_mark(out).err(format!("{problem} (UTF-16 text)"));
        let c = match u {
            0xDC00..=0xDFFF => return Err(fail(&out, "unexpected low surrogate area")),
            0xD800..=0xDBFF => {
                let Some(&low) = units.get(i + 1) else {
                    return Err(fail(&out, "incomplete UTF-16 surrogate pair"));
                };
                if low & 0xFC00 != 0xDC00 {
                    return Err(fail(&out, "expected low surrogate area"));
                }
                i += 1;
                0x10000 + ((u32::from(u) & 0x3FF) << 10) + (u32::from(low) & 0x3FF)
            }
            _ => u32::from(u),
        };
        out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
        i += 1;
    }
    if bytes.len() % 2 == 1 {
        return Err(end_mark(&out).err("incomplete UTF-16 character (UTF-16 text)"));
    }
    Ok(out)
}

/// [`parse_documents`] of a file's bytes ([`decode_text`]).
pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<Value>, YamlError> {
    parse_documents(&decode_text(bytes)?)
}

/// `text` without the byte order marks that start a line: go-yaml's scanner skips a BOM at column 0 wherever it
/// looks for the next token (`scannerc.go` `yaml_parser_scan_to_next_token`: "Allow the BOM mark to start a line"),
/// so a document after `---` that starts with one (files concatenated) reads as if it had none. (A BOM at the start
/// of a line inside a quoted or block scalar is text to go-yaml; here it is dropped too.)
fn without_line_boms(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{FEFF}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut line_start = true;
    for c in text.chars() {
        if c == '\u{FEFF}' && line_start {
            line_start = false;
            continue;
        }
        line_start = matches!(c, '\n' | '\r');
        out.push(c);
    }
    Cow::Owned(out)
}

/// `v` written as YAML by serde_norway: the text lint takes as kustomize's output for an object it built itself
/// (what kustomize writes is a function of the value). Here, not in the library, so that the serializer is built
/// optimised (generic code is compiled in the crate that instantiates it).
pub fn to_norway_string(v: &Value) -> Result<String, serde_norway::Error> {
    serde_norway::to_string(v)
}

/// One YAML document read by serde_norway into a JSON value (a kustomization file's fields, an origin
/// annotation): built optimised here, as [`to_norway_string`].
pub fn from_norway_str(text: &str) -> Result<Value, serde_norway::Error> {
    serde_norway::from_str(text)
}

/// Parse every document of `text` into JSON values (empty and `null` documents are skipped).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let text = &*without_line_boms(text);
    let mut docs = Vec::new();
    let mut reader = Reader::new(text);
    while let Some(doc) = reader.document()? {
        let mut d = Decoder::new(&doc, text);
        let v = d.decode(doc.root, true, 0)?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// The plain scalars of `text` (unquoted, not block scalars: keys and values, in document order), or `None` when
/// the text has a tag, an anchor or an alias. For a caller that must know whether another YAML reader would read
/// the text the same: go-yaml v2 (YAML 1.1, what `sigs.k8s.io/yaml` `YAMLToJSON` uses) resolves plain `yes`, `on`,
/// `0777` or `1:30` differently from go-yaml v3, while quoted and block scalars are strings in both.
pub fn plain_scalars(text: &str) -> Result<Option<Vec<String>>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut plain = Vec::new();
    while let Some(ev) = parser.next_event() {
        let (ev, _) = ev.map_err(|e| syntax(&e))?;
        match ev {
            Event::Alias(_) => return Ok(None),
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return Ok(None);
                }
                if style == ScalarStyle::Plain {
                    plain.push(value.into_owned());
                }
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                if anchor != 0 || tag.is_some() =>
            {
                return Ok(None);
            }
            _ => {}
        }
    }
    Ok(Some(plain))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    line: usize,
    column: usize,
}

impl Mark {
    fn of(span: &Span) -> Mark {
        Mark {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
    fn err(self, message: impl Into<String>) -> YamlError {
        YamlError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

#[derive(Debug)]
enum Node {
    Scalar {
        value: String,
        plain: bool,
        tag: Option<String>,
        mark: Mark,
    },
    Seq {
        items: Vec<usize>,
        mark: Mark,
    },
    Map {
        pairs: Vec<(usize, usize)>,
        mark: Mark,
    },
    Alias {
        target: usize,
        /// Character index of the `*` in the text (for the anchor's name in messages).
        index: usize,
        mark: Mark,
    },
}

impl Node {
    fn mark(&self) -> Mark {
        match self {
            Node::Scalar { mark, .. }
            | Node::Seq { mark, .. }
            | Node::Map { mark, .. }
            | Node::Alias { mark, .. } => *mark,
        }
    }
}

/// One document as a node arena.
struct Doc {
    nodes: Vec<Node>,
    root: usize,
    first_alias: Option<Mark>,
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Nodes read so far in the stream ([`MAX_NODES`]).
    nodes: usize,
}

fn syntax(e: &saphyr_parser::ScanError) -> YamlError {
    YamlError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    }
}

/// `!!str` for the core schema's tags (as go-yaml's `shortTag`), `!name` for local ones.
fn tag_name(tag: &Tag) -> String {
    let full = format!("{}{}", tag.handle, tag.suffix);
    match full.strip_prefix("tag:yaml.org,2002:") {
        Some(rest) => format!("!!{rest}"),
        None => full,
    }
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            parser: Parser::new_from_str(text),
            nodes: 0,
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(syntax(&e)),
            None => Err(YamlError {
                line: 0,
                column: 0,
                message: "unexpected end of the YAML stream".into(),
            }),
        }
    }

    /// The next document, or `None` at the end of the stream.
    fn document(&mut self) -> Result<Option<Doc>, YamlError> {
        loop {
            let (ev, _) = self.next()?;
            match ev {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(None),
                Event::DocumentStart(_) => break,
                _ => {}
            }
        }
        let mut doc = Doc {
            nodes: Vec::new(),
            root: 0,
            first_alias: None,
        };
        let mut anchors: HashMap<usize, usize> = HashMap::new();
        // open collections: (node id, pending mapping key)
        let mut stack: Vec<(usize, Option<usize>)> = Vec::new();
        let mut root = None;
        loop {
            let (ev, span) = self.next()?;
            let mark = Mark::of(&span);
            if matches!(
                ev,
                Event::Alias(_)
                    | Event::Scalar(..)
                    | Event::SequenceStart(..)
                    | Event::MappingStart(..)
            ) {
                self.nodes += 1;
                if self.nodes > MAX_NODES {
                    return Err(mark.err(format!(
                        "more than {MAX_NODES} YAML nodes (scalars, lists, maps) in one file: lint's bound on what \
                         one file may hold (its values take some hundred bytes each); split the file"
                    )));
                }
            }
            let (id, opens) = match ev {
                Event::DocumentEnd => break,
                Event::StreamEnd => break,
                Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => continue,
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some((id, _)) = stack.pop() else {
                        return Err(mark.err("unbalanced collection end"));
                    };
                    (id, false)
                }
                Event::Alias(anchor) => {
                    let Some(&target) = anchors.get(&anchor) else {
                        return Err(mark.err("unknown anchor"));
                    };
                    doc.first_alias.get_or_insert(mark);
                    doc.nodes.push(Node::Alias {
                        target,
                        index: span.start.index(),
                        mark,
                    });
                    (doc.nodes.len() - 1, false)
                }
                Event::Scalar(value, style, anchor, tag) => {
                    doc.nodes.push(Node::Scalar {
                        value: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        tag: tag.as_deref().map(tag_name),
                        mark,
                    });
                    let id = doc.nodes.len() - 1;
                    if anchor != 0 {
                        anchors.insert(anchor, id);
                    }
                    (id, false)
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(mark.err(format!(
                            "exceeded max depth of {MAX_DEPTH} nested collections"
                        )));
                    }
                    let node = if matches!(ev, Event::SequenceStart(..)) {
                        Node::Seq {
                            items: Vec::new(),
                            mark,
                        }
                    } else {
                        Node::Map {
                            pairs: Vec::new(),
                            mark,
                        }
                    };
                    doc.nodes.push(node);
                    let id = doc.nodes.len() - 1;
                    if anchor != 0 {
                        anchors.insert(anchor, id);
                    }
                    (id, true)
                }
            };
            if opens {
                // attached to its parent when it closes; remember it as open
                stack.push((id, None));
                continue;
            }
            // a finished node: attach it to the open collection, or it is the root
            match stack.last_mut() {
                None => root = Some(id),
                Some((parent, pending)) => match &mut doc.nodes[*parent] {
                    Node::Seq { items, .. } => items.push(id),
                    Node::Map { pairs, .. } => match pending.take() {
                        None => *pending = Some(id),
                        Some(key) => pairs.push((key, id)),
                    },
                    _ => return Err(mark.err("internal error: a scalar is not a collection")),
                },
            }
        }
        match root {
            Some(r) => doc.root = r,
            None => {
                doc.nodes.push(Node::Scalar {
                    value: String::new(),
                    plain: true,
                    tag: None,
                    mark: Mark { line: 1, column: 1 },
                });
                doc.root = doc.nodes.len() - 1;
            }
        }
        Ok(Some(doc))
    }
}

/// A resolved scalar (go-yaml v3 `resolve`), before JSON.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    /// RFC 3339 text, as `encoding/json` writes a `time.Time`.
    Timestamp(String),
}

impl Scalar {
    fn tag(&self) -> &'static str {
        match self {
            Scalar::Null => "!!null",
            Scalar::Bool(_) => "!!bool",
            Scalar::Int(_) | Scalar::Uint(_) => "!!int",
            Scalar::Float(_) => "!!float",
            Scalar::Str(_) => "!!str",
            Scalar::Timestamp(_) => "!!timestamp",
        }
    }
}

/// go-yaml v3 `resolveTable`: the first character says what a plain scalar may be.
fn hint(c: u8) -> u8 {
    match c {
        b'+' | b'-' => b'S',
        b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        _ => 0,
    }
}

/// go-yaml v3 `resolveMap`.
fn lookup(s: &str) -> Option<Scalar> {
    Some(match s {
        "true" | "True" | "TRUE" => Scalar::Bool(true),
        "false" | "False" | "FALSE" => Scalar::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
        ".nan" | ".NaN" | ".NAN" => Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Scalar::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

#[derive(Debug, PartialEq)]
enum IntErr {
    Syntax,
    Range,
}

/// Go's `strconv.ParseUint(s, 0, 64)` (base from the prefix: `0x`, `0o`, `0b`, a leading `0` is octal); `s` has no
/// `_` left (go-yaml removes them first).
fn go_parse_uint(s: &str) -> Result<u64, IntErr> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(IntErr::Syntax);
    }
    let (base, digits): (u64, &[u8]) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &b[2..]),
            Some(b'o') if b.len() >= 3 => (8, &b[2..]),
            Some(b'x') if b.len() >= 3 => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else {
        (10, b)
    };
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => u64::from(c - b'0'),
            b'a'..=b'z' => u64::from(c - b'a') + 10,
            b'A'..=b'Z' => u64::from(c - b'A') + 10,
            _ => return Err(IntErr::Syntax),
        };
        if d >= base {
            return Err(IntErr::Syntax);
        }
        n = n
            .checked_mul(base)
            .and_then(|n| n.checked_add(d))
            .ok_or(IntErr::Range)?;
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Result<i64, IntErr> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(rest)?;
    if neg {
        if u > 1u64 << 63 {
            return Err(IntErr::Range);
        }
        Ok((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).map_err(|_| IntErr::Range)
    }
}

/// go-yaml v3 `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` on what go-yaml hands it; out of range (`1e400`) is an error there.
fn go_parse_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `math/big` `SetString(s, 0)` for an integer past 64 bits, as a float (JSON numbers here are f64 past u64).
fn big_int(s: &str) -> Option<f64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let b = rest.as_bytes();
    let (base, digits): (u32, &[u8]) = match (b.first(), b.get(1).map(u8::to_ascii_lowercase)) {
        (Some(b'0'), Some(b'x')) => (16, &b[2..]),
        (Some(b'0'), Some(b'o')) => (8, &b[2..]),
        (Some(b'0'), Some(b'b')) => (2, &b[2..]),
        (Some(b'0'), Some(_)) => (8, &b[1..]),
        _ => (10, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut f = 0f64;
    for &c in digits {
        let d = (c as char).to_digit(base)?;
        f = f * f64::from(base) + f64::from(d);
    }
    Some(if neg { -f } else { f })
}

/// Days in `month` of `year` (Go's `daysIn`).
fn days_in(month: u32, year: i32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml v3 `parseTimestamp`: Go's `time.Parse` with the layouts `2006-1-2T15:4:5.999999999Z07:00`, the same with
/// a lower-case `t`, `2006-1-2 15:4:5.999999999` (UTC) and `2006-1-2`; returns the RFC 3339 text `encoding/json`
/// writes for the `time.Time` (`time.RFC3339Nano`: trailing zeros of the fraction dropped, `Z` for a zero offset).
fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // quick check of go-yaml: all date formats start with YYYY-
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    // Go's getnum(s, false): one or two digits
    fn num(b: &[u8], i: &mut usize) -> Option<u32> {
        let d0 = b.get(*i).filter(|c| c.is_ascii_digit())?;
        *i += 1;
        let mut n = u32::from(d0 - b'0');
        if let Some(d1) = b.get(*i).filter(|c| c.is_ascii_digit()) {
            n = n * 10 + u32::from(d1 - b'0');
            *i += 1;
        }
        Some(n)
    }
    let year: i32 = s[..4].parse().ok()?;
    let mut i = 5;
    let month = num(b, &mut i)?;
    if b.get(i) != Some(&b'-') {
        return None;
    }
    i += 1;
    let day = num(b, &mut i)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if i == b.len() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = b[i];
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    i += 1;
    if sep == b' ' {
        // Go's skip: a space in the layout matches one or more spaces
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    let hour = num(b, &mut i)?;
    if b.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    let minute = num(b, &mut i)?;
    if b.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    let second = num(b, &mut i)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // fractional second: any number of digits after `.` or `,`; nanoseconds from the first nine
    let mut frac = String::new();
    if matches!(b.get(i), Some(b'.') | Some(b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if frac.len() < 9 {
                frac.push(*c as char);
            }
            i += 1;
        }
    }
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let zone = if sep == b' ' {
        "Z".to_string()
    } else {
        match b.get(i) {
            Some(b'Z') => {
                i += 1;
                "Z".to_string()
            }
            Some(sign @ (b'+' | b'-')) => {
                let z = b.get(i..i + 6)?;
                if z[3] != b':' || !z[1..3].iter().chain(&z[4..6]).all(u8::is_ascii_digit) {
                    return None;
                }
                let hh = u32::from(z[1] - b'0') * 10 + u32::from(z[2] - b'0');
                let mm = u32::from(z[4] - b'0') * 10 + u32::from(z[5] - b'0');
                if hh > 24 || mm > 60 {
                    return None;
                }
                i += 6;
                if hh == 0 && mm == 0 {
                    "Z".to_string()
                } else {
                    format!("{}{hh:02}:{mm:02}", *sign as char)
                }
            }
            _ => return None,
        }
    };
    if i != b.len() {
        return None;
    }
    Some(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{frac}{zone}"
    ))
}

/// go-yaml v3 `resolve(tag, in)` for a plain scalar (or one with an explicit tag). `Err` is go-yaml's message.
fn resolve(tag: Option<&str>, s: &str) -> Result<Scalar, String> {
    let tag = tag.unwrap_or("");
    if !matches!(
        tag,
        "" | "!!str" | "!!bool" | "!!int" | "!!float" | "!!null" | "!!timestamp"
    ) {
        // any other tag (`!!binary` aside) leaves the text as it is
        return Ok(Scalar::Str(s.to_string()));
    }
    let out = resolve_untagged(tag, s);
    let rtag = out.tag();
    match tag {
        "" | "!!str" => Ok(out),
        t if t == rtag => Ok(out),
        "!!float" => match out {
            Scalar::Int(i) => Ok(Scalar::Float(i as f64)),
            Scalar::Uint(u) => Ok(Scalar::Float(u as f64)),
            _ => Err(format!("cannot decode {rtag} `{s}` as a {tag}")),
        },
        _ => Err(format!("cannot decode {rtag} `{s}` as a {tag}")),
    }
}

fn resolve_untagged(tag: &str, s: &str) -> Scalar {
    let h = s.as_bytes().first().map(|c| hint(*c)).unwrap_or(b'N');
    if h == 0 || tag == "!!str" {
        return Scalar::Str(s.to_string());
    }
    if let Some(v) = lookup(s) {
        return v;
    }
    match h {
        b'.' => {
            if let Some(f) = go_parse_float(s) {
                return Scalar::Float(f);
            }
        }
        b'D' | b'S' => {
            if (tag.is_empty() || tag == "!!timestamp")
                && let Some(t) = parse_timestamp(s)
            {
                return Scalar::Timestamp(t);
            }
            let plain = s.replace('_', "");
            if let Ok(i) = go_parse_int(&plain) {
                return Scalar::Int(i);
            }
            let uint = go_parse_uint(&plain);
            if let Ok(u) = uint {
                return Scalar::Uint(u);
            }
            if yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Scalar::Float(f);
            }
            // `0b…`, `-0b…`, `0o…`, `-0o…`: strconv's base 0 above has taken them already
            if uint == Err(IntErr::Range)
                && let Some(f) = big_int(&plain)
            {
                return Scalar::Float(f);
            }
        }
        _ => {}
    }
    Scalar::Str(s.to_string())
}

/// Go's `encoding/json` for a float: an integral value is written without a fraction (`1000`), and read back as an
/// integer when it fits one.
fn float_json(f: f64) -> Option<Value> {
    if f.fract() == 0.0 && f.abs() < 9.223_372_036_854_775e18 {
        return Some(Value::from(f as i64));
    }
    if f.fract() == 0.0 && f > 0.0 && f < 1.844_674_407_370_955e19 {
        return Some(Value::from(f as u64));
    }
    Number::from_f64(f).map(Value::Number)
}

/// go-yaml v3 `allowedAliasRatio`.
fn allowed_alias_ratio(decodes: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decodes <= LOW {
        0.99
    } else if decodes >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decodes - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

struct Decoder<'d> {
    doc: &'d Doc,
    text: &'d str,
    decodes: usize,
    alias_decodes: usize,
    alias_depth: usize,
    /// What the nodes decoded through an alias cost here ([`MAX_ALIAS_EXPANSION`]).
    alias_bytes: usize,
    /// Alias nodes being expanded (one inside itself is go-yaml's "anchor 'x' value contains itself").
    expanding: HashSet<usize>,
}

impl<'d> Decoder<'d> {
    fn new(doc: &'d Doc, text: &'d str) -> Self {
        Decoder {
            doc,
            text,
            decodes: 0,
            alias_decodes: 0,
            alias_depth: 0,
            alias_bytes: 0,
            expanding: HashSet::new(),
        }
    }

    /// go-yaml's `decoder.unmarshal` counting, and its bound on alias expansion.
    fn count(&mut self) -> Result<(), YamlError> {
        self.decodes += 1;
        if self.alias_depth > 0 {
            self.alias_decodes += 1;
        }
        if self.alias_decodes > 100
            && self.decodes > 1000
            && self.alias_decodes as f64 / self.decodes as f64 > allowed_alias_ratio(self.decodes)
        {
            let mark = self.doc.first_alias.unwrap_or(Mark { line: 1, column: 1 });
            return Err(mark.err(
                "repetition limit exceeded (anchors expanded through aliases beyond go-yaml's limit, \
                 \"document contains excessive aliasing\": a \"YAML bomb\"; the first alias is here)",
            ));
        }
        Ok(())
    }

    /// [`Decoder::count`], and for node `id` decoded through an alias its cost against [`MAX_ALIAS_EXPANSION`]: its
    /// text and [`ALIAS_NODE_COST`]. go-yaml shares the aliased values (a Go string is not copied); each copy here
    /// is a value of its own, so a 1 MB scalar aliased 900 times would be 900 MB (and more in what reads it next).
    fn count_node(&mut self, id: usize) -> Result<(), YamlError> {
        self.count()?;
        if self.alias_depth == 0 {
            return Ok(());
        }
        let text = match &self.doc.nodes[id] {
            Node::Scalar { value, .. } => value.len(),
            _ => 0,
        };
        self.alias_bytes = self
            .alias_bytes
            .saturating_add(text)
            .saturating_add(ALIAS_NODE_COST);
        if self.alias_bytes > MAX_ALIAS_EXPANSION {
            let mark = self.doc.first_alias.unwrap_or(Mark { line: 1, column: 1 });
            return Err(mark.err(format!(
                "aliases expand to more than {} MiB in this document (lint's bound on alias expansion; go-yaml \
                 shares aliased values, but kustomize writes each copy out, and the API server refuses a request \
                 body over 3 MiB); the first alias is here",
                MAX_ALIAS_EXPANSION >> 20
            )));
        }
        Ok(())
    }

    /// The name of the anchor an alias at character `index` refers to (`*name`).
    fn alias_name(&self, index: usize) -> String {
        self.text
            .chars()
            .skip(index + 1)
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}'))
            .collect()
    }

    /// The node `id` stands for, aliases followed (for merge sources and keys).
    fn target(&self, mut id: usize) -> usize {
        for _ in 0..=self.doc.nodes.len() {
            match &self.doc.nodes[id] {
                Node::Alias { target, .. } => id = *target,
                _ => break,
            }
        }
        id
    }

    fn scalar(&self, id: usize) -> Result<Scalar, YamlError> {
        let Node::Scalar {
            value,
            plain,
            tag,
            mark,
        } = &self.doc.nodes[id]
        else {
            return Err(self.doc.nodes[id].mark().err("not a scalar"));
        };
        // go-yaml `indicatedString`: a `!!str` tag, or a quoted / block scalar without a specific tag
        let tag = tag.as_deref();
        if tag == Some("!!str") || (!*plain && matches!(tag, None | Some("!"))) {
            return Ok(Scalar::Str(value.clone()));
        }
        if tag == Some("!!binary") {
            use base64::Engine as _;
            let clean: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            return base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map(|b| Scalar::Str(String::from_utf8_lossy(&b).into_owned()))
                .map_err(|_| mark.err("!!binary value contains invalid base64 data"));
        }
        resolve(tag, value).map_err(|m| mark.err(m))
    }

    fn scalar_json(&self, id: usize) -> Result<Value, YamlError> {
        let mark = self.doc.nodes[id].mark();
        Ok(match self.scalar(id)? {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::from(i),
            Scalar::Uint(u) => Value::from(u),
            Scalar::Str(s) | Scalar::Timestamp(s) => Value::String(s),
            Scalar::Float(f) => float_json(f).ok_or_else(|| {
                let shown = if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "+Inf"
                } else {
                    "-Inf"
                };
                mark.err(format!(
                    "{shown} cannot be written as JSON: kustomize fails on it (json: unsupported value: {shown}); quote it if it is a string"
                ))
            })?,
        })
    }

    fn decode(&mut self, id: usize, root: bool, depth: usize) -> Result<Value, YamlError> {
        self.count_node(id)?;
        let node = &self.doc.nodes[id];
        if depth > MAX_DEPTH {
            return Err(node.mark().err(format!(
                "exceeded max depth of {MAX_DEPTH} nested collections (through aliases)"
            )));
        }
        match node {
            Node::Scalar { .. } => self.scalar_json(id),
            Node::Seq { items, .. } => {
                let mut out = Vec::with_capacity(items.len());
                for &item in items {
                    out.push(self.decode(item, false, depth + 1)?);
                }
                Ok(Value::Array(out))
            }
            Node::Map { .. } => {
                let mut out = Map::new();
                self.mapping(id, &mut out, None, root, depth)?;
                Ok(Value::Object(out))
            }
            Node::Alias {
                target,
                index,
                mark,
            } => {
                let (target, index, mark) = (*target, *index, *mark);
                if !self.expanding.insert(id) {
                    return Err(mark.err(format!(
                        "anchor '{}' value contains itself",
                        self.alias_name(index)
                    )));
                }
                self.alias_depth += 1;
                let v = self.decode(target, root, depth + 1);
                self.alias_depth -= 1;
                self.expanding.remove(&id);
                v
            }
        }
    }

    /// go-yaml `isMerge`: a plain `<<` without a tag, with `!` or with `!!merge`.
    fn is_merge(&self, key: usize) -> bool {
        matches!(&self.doc.nodes[key], Node::Scalar { value, plain: true, tag, .. }
            if value == "<<" && matches!(tag.as_deref(), None | Some("!") | Some("!!merge")))
    }

    /// go-yaml's key of a mapping that decodes into a string-keyed map: the scalar's text (`None`: a null key,
    /// which go-yaml drops from such a map).
    fn key(&mut self, key: usize) -> Result<Option<String>, YamlError> {
        let k = self.target(key);
        self.count_node(k)?;
        match &self.doc.nodes[k] {
            Node::Scalar { .. } if self.scalar(k)? == Scalar::Null => Ok(None),
            Node::Scalar { value, .. } => Ok(Some(value.clone())),
            other => Err(other.mark().err(
                "a mapping or sequence as a mapping key: kustomize fails on it (invalid map key)",
            )),
        }
    }

    /// go-yaml v3 `decoder.mapping` into `map[string]interface{}`, with its duplicate-key check and merge keys
    /// (`merged`: the keys already set when this mapping is a merge source).
    fn mapping(
        &mut self,
        id: usize,
        out: &mut Map<String, Value>,
        mut merged: Option<&mut HashSet<String>>,
        root: bool,
        depth: usize,
    ) -> Result<(), YamlError> {
        let doc = self.doc;
        let Node::Map { pairs, .. } = &doc.nodes[id] else {
            return Err(doc.nodes[id].mark().err("not a mapping"));
        };
        // go-yaml `uniqueKeys` (v3 `decode.go` `d.mapping`): two keys of the same kind and text (`a` and `"a"` too).
        // go-yaml compares every pair and reports the first pair (i, j) in that order; the same pair is found here in
        // one pass with a map from each key's text to its first occurrence (the smallest i with a later duplicate is
        // always a first occurrence), so 200k keys are read in linear time, not quadratic.
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(pairs.len());
        let mut dup: Option<(usize, usize)> = None;
        for (j, (kj, _)) in pairs.iter().enumerate() {
            if let Node::Scalar { value, .. } = &doc.nodes[*kj] {
                match first.get(value.as_str()) {
                    Some(&i) => {
                        if dup.is_none_or(|(di, dj)| (i, j) < (di, dj)) {
                            dup = Some((i, j));
                        }
                    }
                    None => {
                        first.insert(value.as_str(), j);
                    }
                }
            }
        }
        if let Some((i, j)) = dup
            && let (
                Node::Scalar {
                    value, mark: mi, ..
                },
                Node::Scalar { mark: mj, .. },
            ) = (&doc.nodes[pairs[i].0], &doc.nodes[pairs[j].0])
        {
            return Err(mj.err(format!(
                "mapping key {} already defined at line {}",
                serde_json::to_string(value).unwrap_or_default(),
                mi.line
            )));
        }
        // a mapping decoded into `interface{}` is `map[string]interface{}` only when every key is a string (go-yaml
        // `isStringMap`); anything else is `map[interface{}]interface{}`, which `encoding/json` refuses. The
        // document's top mapping is kustomize's `map[string]interface{}`, where any scalar key is its text.
        if !root && merged.is_none() {
            for (k, _) in pairs {
                let k = self.target(*k);
                if self.is_merge(k) {
                    continue;
                }
                let tag = match &doc.nodes[k] {
                    Node::Scalar { .. } => self.scalar(k)?.tag(),
                    _ => "!!map",
                };
                if tag != "!!str" {
                    let text = match &doc.nodes[k] {
                        Node::Scalar { value, .. } => value.as_str(),
                        _ => "…",
                    };
                    return Err(doc.nodes[k].mark().err(format!(
                        "mapping key `{text}` is a {tag}, not a string: kustomize fails on it \
                         (json: unsupported type: map[interface {{}}]interface {{}}); quote the key (\"{text}\")"
                    )));
                }
            }
        }
        let mut merge_node = None;
        for &(k, v) in pairs {
            if self.is_merge(k) {
                merge_node = Some(v);
                continue;
            }
            let Some(key) = self.key(k)? else {
                continue;
            };
            if let Some(m) = merged.as_deref_mut() {
                if m.contains(&key) {
                    continue;
                }
                m.insert(key.clone());
            }
            let value = self.decode(v, false, depth + 1)?;
            out.insert(key, value);
        }
        if let Some(source) = merge_node {
            let mut local;
            let set = match merged {
                Some(m) => m,
                None => {
                    local = HashSet::new();
                    for &(k, _) in pairs {
                        if let Some(key) = self.key(k)? {
                            local.insert(key);
                        }
                    }
                    &mut local
                }
            };
            self.merge(source, out, set, root, depth)?;
        }
        Ok(())
    }

    /// go-yaml v3 `decoder.merge`: the value of `<<` is a mapping, an alias of one, or a sequence of them; earlier
    /// sources win over later ones, and keys already set win over all.
    fn merge(
        &mut self,
        source: usize,
        out: &mut Map<String, Value>,
        set: &mut HashSet<String>,
        root: bool,
        depth: usize,
    ) -> Result<(), YamlError> {
        let want_map = |m: Mark| m.err("map merge requires map or sequence of maps as the value");
        let sources: Vec<usize> = match &self.doc.nodes[source] {
            Node::Map { .. } | Node::Alias { .. } => vec![source],
            Node::Seq { items, .. } => items.clone(),
            other => return Err(want_map(other.mark())),
        };
        for s in sources {
            self.count()?;
            let target = self.target(s);
            if !matches!(self.doc.nodes[target], Node::Map { .. }) {
                return Err(want_map(self.doc.nodes[s].mark()));
            }
            let through_alias = target != s;
            if through_alias {
                if !self.expanding.insert(s) {
                    return Err(self.doc.nodes[s].mark().err("anchor value contains itself"));
                }
                self.alias_depth += 1;
            }
            let r = self.mapping(target, out, Some(set), root, depth + 1);
            if through_alias {
                self.alias_depth -= 1;
                self.expanding.remove(&s);
            }
            r?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(yaml: &str) -> Value {
        let mut docs = parse_documents(yaml).unwrap();
        assert_eq!(docs.len(), 1, "{yaml}");
        docs.remove(0)
    }

    fn v(scalar: &str) -> Value {
        one(&format!("v: {scalar}\n"))["v"].clone()
    }

    fn err(yaml: &str) -> YamlError {
        parse_documents(yaml).unwrap_err()
    }

    #[test]
    fn plain_scalars_are_the_unquoted_ones() {
        let text = "- op: add\n  path: /spec/x\n  value: {a: yes, b: \"on\", c: 'off'}\n  d: |\n    0777\n";
        assert_eq!(
            plain_scalars(text).unwrap(),
            Some(
                [
                    "op", "add", "path", "/spec/x", "value", "a", "yes", "b", "c", "d"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        // a tag, an anchor or an alias: another reader may not agree, so no list
        assert_eq!(plain_scalars("a: !!str 1\n").unwrap(), None);
        assert_eq!(plain_scalars("a: &x 1\nb: *x\n").unwrap(), None);
        assert_eq!(plain_scalars("a: &m {b: 1}\n").unwrap(), None);
        assert!(plain_scalars("a: [\n").is_err());
    }

    #[test]
    fn integers_as_go_yaml_v3_resolves_them() {
        assert_eq!(v("0400"), json!(256));
        assert_eq!(v("0o400"), json!(256));
        assert_eq!(v("-0400"), json!(-256));
        assert_eq!(v("0x1F"), json!(31));
        assert_eq!(v("0b101"), json!(5));
        assert_eq!(v("-0b101"), json!(-5));
        assert_eq!(v("8_080"), json!(8080));
        assert_eq!(v("+12"), json!(12));
        assert_eq!(v("0"), json!(0));
        assert_eq!(v("18446744073709551615"), json!(18446744073709551615u64));
        // `_` first: no number at all
        assert_eq!(v("_12"), json!("_12"));
        // not octal, but the float pattern: the float 9, written by encoding/json as 9
        assert_eq!(v("09"), json!(9));
        assert_eq!(v("0x"), json!("0x"));
    }

    #[test]
    fn floats_and_their_json() {
        assert_eq!(v("1_000.5"), json!(1000.5));
        assert_eq!(v("1.5"), json!(1.5));
        assert_eq!(v(".5"), json!(0.5));
        assert_eq!(v("1e3"), json!(1000));
        assert_eq!(v("1.0"), json!(1));
        assert_eq!(v("99999999999999999999"), json!(1e20));
        // out of range for ParseFloat: go-yaml leaves the text
        assert_eq!(v("1e400"), json!("1e400"));
        let e = err("v: .inf\n");
        assert_eq!((e.line, e.column), (1, 4));
        assert!(e.message.contains("json: unsupported value: +Inf"), "{e}");
        assert!(err("v: .nan\n").message.contains("NaN"));
    }

    #[test]
    fn only_yaml_1_2_booleans_and_nulls() {
        for s in ["yes", "no", "on", "off", "y", "n", "Yes", "OFF"] {
            assert_eq!(v(s), json!(s), "{s}");
        }
        for (s, b) in [("true", true), ("True", true), ("FALSE", false)] {
            assert_eq!(v(s), json!(b), "{s}");
        }
        for s in ["~", "null", "Null", "NULL", ""] {
            assert_eq!(v(s), Value::Null, "{s:?}");
        }
    }

    #[test]
    fn quoted_and_tagged_scalars() {
        assert_eq!(v("\"0400\""), json!("0400"));
        assert_eq!(v("'8080'"), json!("8080"));
        assert_eq!(v("\"true\""), json!("true"));
        assert_eq!(v("!!str 0400"), json!("0400"));
        assert_eq!(v("!!int \"0400\""), json!(256));
        assert_eq!(v("!!float 3"), json!(3));
        assert_eq!(v("!!str true"), json!("true"));
        assert_eq!(v("!custom 12"), json!("12"));
        assert_eq!(v("!!binary aGVsbG8="), json!("hello"));
        assert_eq!(one("v: |\n  0400\n")["v"], json!("0400\n"));
        let e = err("a: 1\nv: !!int abc\n");
        assert_eq!(e.message, "cannot decode !!str `abc` as a !!int");
        assert_eq!((e.line, e.column), (2, 4));
        assert_eq!(
            err("v: !!bool yes\n").message,
            "cannot decode !!str `yes` as a !!bool"
        );
    }

    #[test]
    fn timestamps_as_encoding_json_writes_them() {
        assert_eq!(v("2024-01-02"), json!("2024-01-02T00:00:00Z"));
        assert_eq!(v("2024-1-2"), json!("2024-01-02T00:00:00Z"));
        assert_eq!(v("2024-01-02T03:04:05Z"), json!("2024-01-02T03:04:05Z"));
        assert_eq!(
            v("2024-01-02t03:04:05.500Z"),
            json!("2024-01-02T03:04:05.5Z")
        );
        assert_eq!(
            v("2024-01-02T03:04:05+02:00"),
            json!("2024-01-02T03:04:05+02:00")
        );
        assert_eq!(
            v("2024-01-02T03:04:05+00:00"),
            json!("2024-01-02T03:04:05Z")
        );
        assert_eq!(v("2024-01-02 03:04:05"), json!("2024-01-02T03:04:05Z"));
        // not a date: left as text
        assert_eq!(v("2024-13-01"), json!("2024-13-01"));
        assert_eq!(v("2023-02-29"), json!("2023-02-29"));
        assert_eq!(v("\"2024-01-02\""), json!("2024-01-02"));
        assert_eq!(
            v("2001-12-14 21:59:43.10 -5"),
            json!("2001-12-14 21:59:43.10 -5")
        );
    }

    #[test]
    fn merge_keys_with_go_yaml_v3_precedence() {
        let doc = one("base: &base {a: 1, b: 2}\nother: &other {b: 20, c: 30}\n\
             merged:\n  <<: *base\n  b: 3\n\
             after:\n  b: 4\n  <<: *base\n\
             list:\n  <<: [*other, *base]\n\
             inline:\n  <<: {x: 1}\n  y: 2\n");
        assert_eq!(doc["merged"], json!({"a": 1, "b": 3}));
        // the mapping's own keys win wherever they are written
        assert_eq!(doc["after"], json!({"a": 1, "b": 4}));
        // the first source of a list wins
        assert_eq!(doc["list"], json!({"a": 1, "b": 20, "c": 30}));
        assert_eq!(doc["inline"], json!({"x": 1, "y": 2}));
        // a merged value is replaced, never merged deeply
        let doc = one("b: &b {m: {x: 1}}\nv:\n  <<: *b\n  m: {y: 2}\n");
        assert_eq!(doc["v"], json!({"m": {"y": 2}}));
        let e = err("a: &a [1]\nv:\n  <<: *a\n");
        assert_eq!(
            e.message,
            "map merge requires map or sequence of maps as the value"
        );
        // a quoted `<<` is a plain key
        assert_eq!(one("v:\n  '<<': 1\n")["v"], json!({"<<": 1}));
    }

    #[test]
    fn duplicate_keys_are_go_yaml_s_error() {
        let e = err("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: x\n  b: y\n  a: z\n");
        assert_eq!(e.message, "mapping key \"a\" already defined at line 4");
        assert_eq!((e.line, e.column), (6, 3));
        // the same text quoted is the same key
        let e = err("a: 1\n\"a\": 2\n");
        assert_eq!(e.message, "mapping key \"a\" already defined at line 1");
        // different texts are different keys
        assert_eq!(one("a: 1\nb: 2\n"), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn non_string_keys() {
        // the document's mapping is map[string]interface{}: a key is its text
        assert_eq!(one("1: a\ntrue: b\n"), json!({"1": "a", "true": "b"}));
        let e = err("data:\n  x: 1\n  80: http\n");
        assert_eq!((e.line, e.column), (3, 3));
        assert!(e.message.starts_with("mapping key `80` is a !!int"), "{e}");
        assert!(e.message.contains("quote the key"), "{e}");
        assert_eq!(
            one("data:\n  \"80\": http\n")["data"],
            json!({"80": "http"})
        );
    }

    #[test]
    fn aliases_expand_and_loops_are_errors() {
        let doc = one("a: &x {k: v}\nb: *x\nc: &s hello\nd: *s\n");
        assert_eq!(doc["b"], json!({"k": "v"}));
        assert_eq!(doc["d"], json!("hello"));
        let e = err("a: &x [1, *x]\n");
        assert_eq!(e.message, "anchor 'x' value contains itself");
        let e = err("a: *nope\n");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn documents_syntax_errors_and_depth() {
        let docs = parse_documents("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": 2})]);
        assert!(parse_documents("").unwrap().is_empty());
        let e = err("a: 1\nb: [1, 2\nc: 3\n");
        assert!(e.line >= 2, "{e}");
        let e = err("a:\n  b: 1\n c: 2\n");
        assert_eq!(e.line, 3, "{e}");
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 5), "]".repeat(MAX_DEPTH + 5));
        // saphyr-parser stops at 256 levels ("recursion limit exceeded"); go-yaml's parser at 10000
        let e = err(&deep);
        assert!(e.message.contains("recursion limit exceeded"), "{e}");
        // a chain of aliases 1000 deep never reaches the end of the stack: go-yaml's alias bound stops it first
        // (the decoder's own depth bound backs it)
        let mut chain = String::from("a0: &a0 [1]\n");
        for i in 1..=MAX_DEPTH + 1 {
            chain.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        let e = err(&chain);
        assert!(
            e.message.contains("limit exceeded") || e.message.contains("max depth"),
            "{e}"
        );
    }

    #[test]
    fn go_strconv_helpers() {
        assert_eq!(go_parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(go_parse_int("9223372036854775808"), Err(IntErr::Range));
        assert_eq!(go_parse_uint("0o"), Err(IntErr::Syntax));
        assert_eq!(go_parse_uint("0777"), Ok(511));
        assert_eq!(go_parse_uint("08"), Err(IntErr::Syntax));
        assert!(yaml_style_float("1."));
        assert!(yaml_style_float("-.5e-3"));
        assert!(!yaml_style_float("1.2.3"));
        assert!(!yaml_style_float("e5"));
        assert_eq!(v("0x1_0000_0000_0000_0000"), json!(18446744073709551616.0));
    }
}
