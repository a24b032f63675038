//! Flux `postBuild` variable substitution, as kustomize-controller v1.9.4 (Flux v2.9.4) does it.
//!
//! Read in fluxcd/pkg `kustomize/kustomize_varsub.go` and its `envsubst` package (a fork of drone/envsubst:
//! `envsubst/parse/scan.go`, `parse/parse.go`, `template.go`, `funcs.go`):
//! - the variables are the data keys of each `substituteFrom` ConfigMap/Secret in list order (a later source
//!   overwrites an earlier one; Secret `data` is base64), then `substitute` (inline, wins over all sources); every
//!   value has its newlines removed (`strings.ReplaceAll(v, "\n", "")`);
//! - every variable name must match `^[_[:alpha:]][_[:alpha:][:digit:]]*$`, else the whole Kustomization fails
//!   (`'%s' var name is invalid`);
//! - a source is looked up in the Kustomization's namespace; a missing one fails the Kustomization unless `optional`;
//! - an object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is left alone;
//! - substitution runs on the YAML text of each object (`res.AsYAML()`, then `envsubst.Eval`, then YAMLToJSON), only
//!   when at least one variable is defined, unless `postBuild.substituteStrategy: Always` (the enum of the v2.9.4 CRD:
//!   `WithVariables`, the default, or `Always`);
//! - syntax: `${VAR}`, the default operators `${VAR:=w}` `${VAR:-w}` `${VAR=w}` `${VAR:?w}` `${VAR:+w}` (all of them
//!   "the value if not empty, else w" in this fork's `toDefault`), `${#VAR}`, casing `${VAR,}` `${VAR,,}` `${VAR^}`
//!   `${VAR^^}`, substrings `${VAR:o}` `${VAR:o:l}`, replacement `${VAR/p/r}` `${VAR//p/r}` `${VAR/#p/r}` `${VAR/%p/r}`,
//!   trimming `${VAR#p}` `${VAR##p}` `${VAR%p}` `${VAR%%p}`; `$$` is a literal `$` (so `$${VAR}` stays `${VAR}`), and
//!   `$VAR` without braces is not a variable;
//! - an unset variable is the empty string (non-strict mode); with the `StrictPostBuildSubstitutions` feature gate an
//!   unset variable referenced without a default operator fails the build (`variable not set (strict mode)`).

use std::collections::BTreeMap;

use crate::Object;
use crate::finding::{Finding, Severity};

/// The outcome of substituting one text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Substituted {
    pub text: String,
    /// Variables referenced without a default operator that have no value, in order of first use.
    pub unresolved: Vec<String>,
}

/// Whether `name` may be a variable (the `varsubRegex` of kustomize_varsub.go; `[:alpha:]` is ASCII in Go's RE2).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Substitute `vars` into `text` as fluxcd/pkg envsubst does in non-strict mode. An error is a text Flux's parser
/// refuses (`bad substitution`, `missing closing brace`, …): Flux fails the Kustomization with it.
pub fn eval(text: &str, vars: &BTreeMap<String, String>) -> Result<Substituted, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = Parser {
        s: &chars,
        i: 0,
        depth: 0,
    };
    let nodes = p.top()?;
    let mut out = Substituted::default();
    let budget = MAX_OUTPUT_BYTES.max(text.len());
    for n in &nodes {
        n.eval(vars, &mut out, budget)?;
    }
    Ok(out)
}

/// Deepest nesting of `${…}` inside the arguments of another read here: 64. fluxcd/pkg envsubst has no bound of its
/// own (Go's stack grows); no Flux repository nests substitutions more than a few deep, and the parser and the
/// evaluation here recurse once per level, so a deeper text (`${a:=${a:=…` 5000 times) is refused with this bound's
/// words instead of overflowing the stack.
pub const MAX_NESTING: usize = 64;

/// The largest text one substitution may produce (the object's text after substitution, and every intermediate
/// value): 16 MiB, or the input's size when that is larger. envsubst has no bound (`${X//a/${Y}}` with long X and Y
/// is |X|·|Y| bytes); no object that large can be applied: the API server refuses a request body over 3 MiB
/// (k8s.io/apiserver `pkg/server/config.go` `MaxRequestBodyBytes`).
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// The most steps one trimming pattern (`${X#p}` …) may take matching a value: 50 million (value length times pattern
/// length, after runs of `*` are folded as Go's `path.Match` folds them). Far above any real pattern; a hostile one
/// on a long value is refused with these words instead of running for minutes.
pub const MAX_MATCH_STEPS: usize = 50_000_000;

fn too_big(budget: usize) -> String {
    format!(
        "the substituted text would be over {} MiB (lint's bound on substitution output; the API server refuses a \
         request body over 3 MiB)",
        budget >> 20
    )
}

#[derive(Debug)]
enum Node {
    Text(String),
    Func {
        param: String,
        name: String,
        args: Vec<Vec<Node>>,
    },
}

fn eval_all(
    nodes: &[Node],
    vars: &BTreeMap<String, String>,
    out: &mut Substituted,
    budget: usize,
) -> Result<String, String> {
    let mut sub = Substituted::default();
    for n in nodes {
        n.eval(vars, &mut sub, budget)?;
    }
    for u in sub.unresolved {
        if !out.unresolved.contains(&u) {
            out.unresolved.push(u);
        }
    }
    Ok(sub.text)
}

impl Node {
    /// Append this node's value to `out`; an error when `out.text` would pass `budget` bytes.
    fn eval(
        &self,
        vars: &BTreeMap<String, String>,
        out: &mut Substituted,
        budget: usize,
    ) -> Result<(), String> {
        let piece = match self {
            Node::Text(t) => {
                if out.text.len() + t.len() > budget {
                    return Err(too_big(budget));
                }
                out.text.push_str(t);
                return Ok(());
            }
            Node::Func { param, name, args } => {
                let args = args
                    .iter()
                    .map(|a| eval_all(a, vars, out, budget))
                    .collect::<Result<Vec<String>, String>>()?;
                let value = vars.get(param);
                // template.go: a missing variable is "not set" unless a default operator handles it
                if value.is_none() && !is_default_op(name) && !out.unresolved.contains(param) {
                    out.unresolved.push(param.clone());
                }
                let v = value.map(String::as_str).unwrap_or("");
                apply(name, v, &args, budget)?
            }
        };
        if out.text.len() + piece.len() > budget {
            return Err(too_big(budget));
        }
        out.text.push_str(&piece);
        Ok(())
    }
}

/// The length of `s` with every `from` (non-overlapping, left to right, at most `limit` of them) replaced by `to`,
/// computed without building it.
fn replaced_len(s: &str, from: &str, to: &str, limit: usize) -> usize {
    let n = if from.is_empty() {
        // Go's strings.Replace with an empty old string inserts `to` before every character and at the end
        s.chars().count() + 1
    } else {
        s.matches(from).count()
    };
    let n = n.min(limit);
    (s.len() - n * from.len()).saturating_add(n.saturating_mul(to.len()))
}

fn is_default_op(name: &str) -> bool {
    matches!(name, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

/// template.go `lookupFunc` and funcs.go; an error when the result would pass `budget` bytes (a replacement or a
/// default can grow the text) or a trimming pattern would take more than [`MAX_MATCH_STEPS`].
fn apply(name: &str, s: &str, args: &[String], budget: usize) -> Result<String, String> {
    let grows = match (name, args) {
        ("/" | "/#", [from, to, ..]) => replaced_len(s, from, to, 1),
        ("//", [from]) => replaced_len(s, from, "", usize::MAX),
        ("//", [from, to, ..]) => replaced_len(s, from, to, usize::MAX),
        ("/%", [_, to]) => s.len().saturating_add(to.len()),
        _ if s.is_empty() => args.iter().map(String::len).sum(),
        // casing can make a character longer (at most 3 bytes for 1 in Unicode's mappings)
        (",," | "^^" | "," | "^", _) => s.len().saturating_mul(3),
        _ => s.len(),
    };
    if grows > budget {
        return Err(too_big(budget));
    }
    Ok(match name {
        "," => first(s, |c| c.to_lowercase().collect()),
        ",," => s.to_lowercase(),
        "^" => first(s, |c| c.to_uppercase().collect()),
        "^^" => s.to_uppercase(),
        "#" if args.is_empty() => s.len().to_string(),
        "#" => trim_prefix(s, &args[0], false)?,
        "##" => trim_prefix(s, &args[0], true)?,
        "%" => trim_suffix(s, &args[0], false)?,
        "%%" => trim_suffix(s, &args[0], true)?,
        ":" => substr(s, args),
        "/#" => match args {
            [from, to] if s.starts_with(from.as_str()) => s.replacen(from.as_str(), to, 1),
            _ => s.to_string(),
        },
        "/%" => match args {
            [from, to] if s.ends_with(from.as_str()) => {
                format!("{}{to}", &s[..s.len() - from.len()])
            }
            _ => s.to_string(),
        },
        "/" => match args {
            [] => s.to_string(),
            [from] => s.replacen(from.as_str(), "", 1),
            [from, to, ..] => s.replacen(from.as_str(), to, 1),
        },
        "//" => match args {
            [] => s.to_string(),
            [from] => s.replace(from.as_str(), ""),
            [from, to, ..] => s.replace(from.as_str(), to),
        },
        // every default operator and the bare `${VAR}`: `toDefault`
        _ => {
            if s.is_empty() && !args.is_empty() {
                args.concat()
            } else {
                s.to_string()
            }
        }
    })
}

fn first(s: &str, f: impl Fn(char) -> String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => f(c) + chars.as_str(),
        None => String::new(),
    }
}

/// funcs.go `toSubstr` (byte offsets, as Go slices strings; a cut inside a UTF-8 sequence keeps the text whole).
fn substr(s: &str, args: &[String]) -> String {
    let Some(pos) = args.first().and_then(|a| a.trim().parse::<i64>().ok()) else {
        return s.to_string();
    };
    let len = s.len() as i64;
    let pos = if pos < 0 { (len + pos).max(0) } else { pos };
    let slice = |a: i64, b: i64| -> String {
        s.get(a as usize..b as usize)
            .map(str::to_string)
            .unwrap_or_else(|| s.to_string())
    };
    let Some(length) = args.get(1) else {
        return if pos < len {
            slice(pos, len)
        } else {
            String::new()
        };
    };
    let Ok(length) = length.trim().parse::<i64>() else {
        return s.to_string();
    };
    if length < 0 {
        let end = len + length;
        return if end < pos {
            String::new()
        } else {
            slice(pos, end)
        };
    }
    if pos + length >= len {
        return if pos < len {
            slice(pos, len)
        } else {
            String::new()
        };
    }
    slice(pos, pos + length)
}

/// One element of a trimming pattern.
#[derive(Clone, Copy, PartialEq)]
enum Pat {
    /// A run of `*`: any characters but `/` (Go's `path.Match` folds a run into one star, `scanChunk`).
    Star,
    /// `?`: one character but `/`.
    One,
    /// A literal character (`\x` is a literal x).
    Lit(char),
}

/// The elements of `pattern`: `*` (any run without `/`), `?` (one character but `/`), `\x` (a literal x) and literal
/// characters; character classes (`[a-z]`) are compared literally.
fn compile(pattern: &str) -> Vec<Pat> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let p = match c {
            '*' => Pat::Star,
            '?' => Pat::One,
            '\\' => match chars.next() {
                Some(n) => Pat::Lit(n),
                None => Pat::Lit('\\'),
            },
            c => Pat::Lit(c),
        };
        if !(p == Pat::Star && out.last() == Some(&Pat::Star)) {
            out.push(p);
        }
    }
    out
}

/// For every prefix length of `s` (`0..=s.len()`), whether `pat` matches that whole prefix, as Go's `path.Match`
/// would (what funcs.go `trimShortest`/`trimLongest` ask, one `path.Match` per prefix). All prefixes are found in
/// one pass over `s` that tracks the set of pattern positions reached, so the time is at most `s.len()` times the
/// pattern's length (no backtracking, no recursion), and bounded by [`MAX_MATCH_STEPS`].
fn matching_prefixes(pat: &[Pat], s: &[char]) -> Result<Vec<bool>, String> {
    let steps = s.len().saturating_add(1).saturating_mul(pat.len() + 1);
    if steps > MAX_MATCH_STEPS {
        return Err(format!(
            "the pattern ({} elements) on a value of {} characters would take more than {} million matching \
             steps (lint's bound on trimming patterns)",
            pat.len(),
            s.len(),
            MAX_MATCH_STEPS / 1_000_000
        ));
    }
    let m = pat.len();
    // reached[i]: the pattern's first i elements match the characters read so far
    let mut reached = vec![false; m + 1];
    let close = |r: &mut Vec<bool>| {
        for i in 0..m {
            if r[i] && pat[i] == Pat::Star {
                r[i + 1] = true;
            }
        }
    };
    reached[0] = true;
    close(&mut reached);
    let mut out = Vec::with_capacity(s.len() + 1);
    out.push(reached[m]);
    let mut next = vec![false; m + 1];
    for &c in s {
        next.iter_mut().for_each(|x| *x = false);
        let mut any = false;
        for i in 0..m {
            if !reached[i] {
                continue;
            }
            match pat[i] {
                Pat::Star if c != '/' => next[i] = true,
                Pat::One if c != '/' => next[i + 1] = true,
                Pat::Lit(l) if l == c => next[i + 1] = true,
                _ => continue,
            }
            any = true;
        }
        close(&mut next);
        std::mem::swap(&mut reached, &mut next);
        out.push(reached[m]);
        if !any {
            // nothing can match a longer prefix
            out.resize(s.len() + 1, false);
            break;
        }
    }
    Ok(out)
}

/// funcs.go `trimShortest`/`trimLongest`: the prefixes tried are `s[0:len-i]` for i in 0..len (never the empty one).
fn trim_prefix(s: &str, pattern: &str, longest: bool) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let matches = matching_prefixes(&compile(pattern), &chars)?;
    let mut ends = (1..=chars.len()).filter(|&end| matches[end]);
    let found = if longest {
        ends.next_back()
    } else {
        ends.next()
    };
    Ok(match found {
        Some(end) => chars[end..].iter().collect(),
        None => s.to_string(),
    })
}

fn trim_suffix(s: &str, pattern: &str, longest: bool) -> Result<String, String> {
    let rev = |t: &str| t.chars().rev().collect::<String>();
    Ok(rev(&trim_prefix(&rev(s), &rev(pattern), longest)?))
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    /// `${` opened and not closed yet ([`MAX_NESTING`]).
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }
    fn opens(&self) -> bool {
        self.peek() == Some('$') && self.at(1) == Some('{')
    }

    /// scan.go `parseAny`: text with `$$` → `$`, and `${…}`.
    fn top(&mut self) -> Result<Vec<Node>, String> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if self.opens() {
                if !text.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut text)));
                }
                self.i += 2;
                nodes.push(self.func()?);
            } else if c == '$' && self.at(1) == Some('$') {
                text.push('$');
                self.i += 2;
            } else {
                text.push(c);
                self.i += 1;
            }
        }
        if !text.is_empty() {
            nodes.push(Node::Text(text));
        }
        Ok(nodes)
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.i += 1;
        }
        self.s[start..self.i].iter().collect()
    }

    fn close(&mut self) -> Result<(), String> {
        if self.peek() == Some('}') {
            self.i += 1;
            Ok(())
        } else {
            Err("bad substitution".into())
        }
    }

    /// A function argument: text up to a character `stop` refuses, or a nested `${…}`. `escapes`: `\/`, `\\` and `$$`
    /// stand for `/`, `\` and `$` (the replacement arguments). An empty argument is an error, as in parse.go.
    fn param(&mut self, stop: impl Fn(char) -> bool, escapes: bool) -> Result<Vec<Node>, String> {
        if self.opens() {
            self.i += 2;
            return Ok(vec![self.func()?]);
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if self.opens() {
                break;
            }
            if escapes {
                let next = self.at(1);
                if (c == '\\' && matches!(next, Some('/') | Some('\\')))
                    || (c == '$' && next == Some('$'))
                {
                    text.push(next.unwrap_or(c));
                    self.i += 2;
                    continue;
                }
            }
            if stop(c) {
                break;
            }
            text.push(c);
            self.i += 1;
        }
        if text.is_empty() {
            // parse.go: a `}` where an argument must be is "unable to parse substitution within function"
            return Err("unable to parse substitution within function".into());
        }
        Ok(vec![Node::Text(text)])
    }

    /// parse.go `parseFunc`, after `${`, with [`MAX_NESTING`].
    fn func(&mut self) -> Result<Node, String> {
        if self.depth >= MAX_NESTING {
            return Err(format!(
                "`${{` nested more than {MAX_NESTING} deep (lint's bound on nested substitutions)"
            ));
        }
        self.depth += 1;
        let r = self.func_inner();
        self.depth -= 1;
        r
    }

    fn func_inner(&mut self) -> Result<Node, String> {
        if self.peek() == Some('#') {
            self.i += 1;
            let param = self.ident();
            if param.is_empty() {
                return Err("bad substitution".into());
            }
            self.close()?;
            return Ok(Node::Func {
                param,
                name: "#".into(),
                args: vec![],
            });
        }
        let param = self.ident();
        if param.is_empty() {
            return Err("unable to parse variable name".into());
        }
        let func = |name: &str, args| Node::Func {
            param: param.clone(),
            name: name.to_string(),
            args,
        };
        match self.peek() {
            Some('}') => {
                self.i += 1;
                Ok(func("", vec![]))
            }
            Some(':') if matches!(self.at(1), Some('=' | '-' | '?' | '+')) => {
                let name: String = self.s[self.i..self.i + 2].iter().collect();
                self.i += 2;
                let args = self.default_args()?;
                Ok(func(&name, args))
            }
            Some('=') => {
                self.i += 1;
                let args = self.default_args()?;
                Ok(func("=", args))
            }
            Some(':') => {
                self.i += 1;
                let mut args = vec![self.param(|c| c == ':' || c == '}', false)?];
                if self.peek() == Some(':') {
                    self.i += 1;
                    args.push(self.param(|c| c == '}', false)?);
                }
                self.close()?;
                Ok(func(":", args))
            }
            Some(c @ (',' | '^')) => {
                let mut name = String::from(c);
                self.i += 1;
                if self.peek() == Some(c) {
                    name.push(c);
                    self.i += 1;
                }
                self.close()?;
                Ok(func(&name, vec![]))
            }
            Some('/') => {
                let mut name = String::from('/');
                self.i += 1;
                if let Some(c @ ('/' | '#' | '%')) = self.peek() {
                    name.push(c);
                    self.i += 1;
                }
                let mut args = vec![if self.peek() == Some('/') {
                    vec![Node::Text(String::new())]
                } else {
                    self.param(|c| c == '/', true)?
                }];
                if self.peek() != Some('/') {
                    return Err("bad substitution".into());
                }
                self.i += 1;
                if self.peek() != Some('}') {
                    args.push(self.param(|c| c == '}', true)?);
                }
                self.close()?;
                Ok(func(&name, args))
            }
            Some(c @ ('#' | '%')) => {
                let mut name = String::from(c);
                self.i += 1;
                if self.peek() == Some(c) {
                    name.push(c);
                    self.i += 1;
                }
                let args = vec![self.param(|c| c == '}', false)?];
                self.close()?;
                Ok(func(&name, args))
            }
            _ => Err("missing closing brace".into()),
        }
    }

    /// The arguments of a default operator: text and nested `${…}` up to `}`.
    fn default_args(&mut self) -> Result<Vec<Vec<Node>>, String> {
        let mut args = Vec::new();
        loop {
            match self.peek() {
                Some('}') => {
                    self.i += 1;
                    return Ok(args);
                }
                None => return Err("missing closing brace".into()),
                _ => args.push(self.param(|c| c == '}', false)?),
            }
        }
    }
}

/// Rule ids of the findings substitution gives.
pub const UNRESOLVED_RULE: &str = "flux-substitution-unresolved";
pub const SOURCE_RULE: &str = "flux-substitution-source";
pub const FAILED_RULE: &str = "flux-substitution-failed";

const DISABLED_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The variables of a Flux Kustomization, from the tree: `substituteFrom` in order, then `substitute`. Also whether
/// substitution runs at all (some variable defined, a source that Flux would read but the tree lacks, or
/// `substituteStrategy: Always`), and the findings on the sources.
pub struct Variables {
    pub vars: BTreeMap<String, String>,
    pub enabled: bool,
    /// Sources that were not read (missing from the tree, SOPS-encrypted): named in unresolved-variable messages.
    pub unread: Vec<String>,
    /// Sources whose keys are not known from the tree (written in the cluster by an ExternalSecret that reads them
    /// from its store): a variable not found is left as a reference, not reported.
    pub open: Vec<String>,
    pub findings: Vec<Finding>,
}

/// An object in the tree that writes a substituteFrom source in the cluster, so that the source's keys and values
/// there are not (only) those of the tree's copy, if any.
struct Writer {
    kind: String,
    name: String,
    file: String,
    /// The keys it writes, when the tree tells them (else they come from outside the tree).
    keys: Option<Vec<String>>,
}

/// The ExternalSecret or SealedSecret of the tree that writes `kind/ns/name` in the cluster.
///
/// - external-secrets (`apis/externalsecrets/v1`, docs/guides/ownership-deletion-policy.md and
///   targeting-custom-resources.md): the target is `spec.target.name`, defaulting to the ExternalSecret's own name,
///   in its own namespace; a Secret, or the `spec.target.manifest` kind (a ConfigMap, say); `creationPolicy: None`
///   writes nothing. The keys are those of `spec.data[].secretKey` and `spec.target.template.data`, unless
///   `spec.dataFrom` or `template.templateFrom` bring keys from the store.
/// - bitnami-labs/sealed-secrets (`pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`, `Unseal`): the
///   Secret has the SealedSecret's own name and namespace (`secret.SetName(smeta.GetName())`), and the keys of
///   `spec.encryptedData` and `spec.template.data`.
fn writer(known: &[&Object], kind: &str, name: &str, ns: &str) -> Option<Writer> {
    let keys_of = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.clone())
            .collect()
    };
    let nonempty = |v: &serde_json::Value| v.as_array().is_some_and(|a| !a.is_empty());
    known.iter().find_map(|o| {
        if o.namespace().unwrap_or("default") != ns {
            return None;
        }
        let spec = &o.value["spec"];
        let keys = if o.is("external-secrets.io", "ExternalSecret") {
            let target = &spec["target"];
            if target["creationPolicy"] == "None" {
                return None;
            }
            let target_name = target["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(o.name());
            let target_kind = target["manifest"]["kind"].as_str().unwrap_or("Secret");
            if target_name != name || target_kind != kind {
                return None;
            }
            let template = &target["template"];
            if nonempty(&spec["dataFrom"]) || nonempty(&template["templateFrom"]) {
                None
            } else {
                let mut keys: Vec<String> = spec["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d["secretKey"].as_str().map(str::to_string))
                    .collect();
                keys.extend(keys_of(&template["data"]));
                Some(keys)
            }
        } else if o.is("bitnami.com", "SealedSecret") {
            if kind != "Secret" || o.name() != name {
                return None;
            }
            if spec["data"].is_string() {
                // the deprecated whole-Secret ciphertext: no key is visible
                None
            } else {
                let mut keys = keys_of(&spec["encryptedData"]);
                keys.extend(keys_of(&spec["template"]["data"]));
                Some(keys)
            }
        } else {
            return None;
        };
        Some(Writer {
            kind: o.kind().to_string(),
            name: o.name().to_string(),
            file: o.file_display(),
            keys,
        })
    })
}

pub fn variables(ks: &Object, known: &[&Object]) -> Variables {
    use base64::Engine as _;
    let post = &ks.value["spec"]["postBuild"];
    let ns = ks.namespace().unwrap_or("default");
    let mut out = Variables {
        vars: BTreeMap::new(),
        enabled: post["substituteStrategy"] == "Always",
        unread: Vec::new(),
        open: Vec::new(),
        findings: Vec::new(),
    };
    let finding = |rule: &str, sev: Severity, path: String, message: String, fix: &str| {
        Finding::new(rule, sev)
            .file(ks.file_display())
            .object(ks.id())
            .path(path)
            .message(message)
            .fix(fix.to_string())
    };
    for (i, r) in post["substituteFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = r["kind"].as_str().unwrap_or("");
        let name = r["name"].as_str().unwrap_or("");
        let optional = r["optional"].as_bool().unwrap_or(false);
        let path = format!("spec.postBuild.substituteFrom[{i}]");
        let source = known.iter().find(|o| {
            o.is("", kind) && o.name() == name && o.namespace().unwrap_or("default") == ns
        });
        let made = writer(known, kind, name, ns);
        if let Some(w) = &made {
            // a note, not a warning: nothing to change (grouped per source in the text report)
            let what = match &w.keys {
                None => {
                    out.open.push(format!("{kind}/{ns}/{name}"));
                    "its keys and values come from the secret store, not from the tree, so variables not defined in the tree are left as references in the objects linted, not reported".to_string()
                }
                Some(keys) => {
                    out.unread.push(format!("{kind}/{ns}/{name}"));
                    format!(
                        "its values are not known here, so the variables it defines ({}) are left as references in the objects linted",
                        if keys.is_empty() {
                            "none".to_string()
                        } else {
                            keys.join(", ")
                        }
                    )
                }
            };
            out.findings.push(finding(
                SOURCE_RULE,
                Severity::Info,
                path.clone(),
                // no namespace in the text: the same component in every namespace is one note with its places
                format!(
                    "substituteFrom {kind} {name} is written in the cluster by {} {name_w} of the Kustomization's namespace ({}){}: {what}",
                    w.kind,
                    w.file,
                    if source.is_some() { ", over the copy in the tree" } else { "" },
                    name_w = w.name,
                ),
                "nothing to change if that object's controller (external-secrets, sealed-secrets) runs in the cluster",
            ));
            // Flux reads the written source from the cluster: substitution runs
            out.enabled = true;
            // its keys, in this source's place in the order; the tree's copy (read below) gives the values it has
            for k in w.keys.iter().flatten() {
                out.vars.insert(k.clone(), format!("${{{k}}}"));
            }
        }
        let Some(source) = source else {
            if !optional && made.is_none() {
                // Flux reads it from the cluster: it may be made there by other means; substitution still runs
                out.enabled = true;
                out.unread.push(format!("{kind}/{ns}/{name}"));
                out.findings.push(finding(
                    SOURCE_RULE,
                    Severity::Warning,
                    path,
                    format!(
                        "substituteFrom {kind}/{ns}/{name} is not in the GitOps directory: its variables cannot be checked, and kustomize-controller fails this Kustomization (`substitute from '{kind}/{name}' error`) unless it exists in the cluster"
                    ),
                    "commit the ConfigMap/Secret (SOPS-encrypted for a Secret) in the Kustomization's namespace, or mark the reference `optional: true` if it may be absent",
                ));
            }
            continue;
        };
        let mut data: Vec<(String, String)> = Vec::new();
        if kind == "Secret" && source.value.get("sops").is_some() {
            // the keys are plain text in a SOPS file, the values are not: the references stay as they are
            let keys: Vec<String> = ["data", "stringData"]
                .iter()
                .filter_map(|f| source.value[*f].as_object())
                .flat_map(|m| m.keys().cloned())
                .collect();
            out.unread.push(format!("{kind}/{ns}/{name}"));
            // a note, not a warning: nothing to change (one line per source in the text report, with the count of
            // Kustomizations substituting from it)
            out.findings.push(finding(
                SOURCE_RULE,
                Severity::Info,
                path,
                format!(
                    "substituteFrom {kind}/{ns}/{name} is SOPS-encrypted ({}): its values are not known here, so the variables it defines ({}) are left as references in the objects linted",
                    source.file_display(),
                    if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
                ),
                "nothing to change if kustomize-controller decrypts it (spec.decryption); the objects that use these variables are linted with the references unresolved",
            ));
            for k in keys {
                let literal = format!("${{{k}}}");
                data.push((k, literal));
            }
        } else {
            for (k, v) in source.value["data"].as_object().into_iter().flatten() {
                let v = v.as_str().unwrap_or_default();
                let v = if kind == "Secret" {
                    let compact: String = v.split_whitespace().collect();
                    match base64::engine::general_purpose::STANDARD.decode(compact) {
                        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                        Err(_) => continue,
                    }
                } else {
                    v.to_string()
                };
                data.push((k.clone(), v));
            }
            if kind == "Secret" {
                // the API server merges stringData into data (stringData wins): what Flux reads from the cluster
                for (k, v) in source.value["stringData"].as_object().into_iter().flatten() {
                    data.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
                }
            }
        }
        for (k, v) in data {
            out.vars.insert(k, v.replace('\n', ""));
        }
    }
    for (k, v) in post["substitute"].as_object().into_iter().flatten() {
        out.vars
            .insert(k.clone(), v.as_str().unwrap_or_default().replace('\n', ""));
    }
    // kustomize_varsub.go: `if len(vars) > 0` (the WithVariables strategy)
    out.enabled |= !out.vars.is_empty();
    let invalid: Vec<&String> = out.vars.keys().filter(|k| !valid_name(k)).collect();
    if let Some(k) = invalid.first() {
        out.findings.push(finding(
            FAILED_RULE,
            Severity::Error,
            "spec.postBuild".into(),
            format!(
                "variable name {k:?} is invalid: kustomize-controller fails the whole Kustomization (`'{k}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'`); every key of a substituteFrom ConfigMap/Secret is a variable"
            ),
            "rename the key (letters, digits and `_`, not starting with a digit), or move it out of the ConfigMap/Secret used for substitution",
        ));
    }
    out
}

/// Substitute the variables of `ks` into `objects` as kustomize-controller does after the build. `texts[i]`, when
/// there, is the YAML text kustomize wrote for `objects[i]` (substituted as it is, quoting and all); otherwise the
/// object is written out as YAML first (strings that need no quotes are then plain: `"${N}"` with N=3 becomes a
/// number, as it would from an unquoted source). Objects whose text Flux could not substitute keep their text (the
/// finding says the Kustomization fails).
pub fn post_build(
    ks: &Object,
    objects: &mut [Object],
    texts: &[Option<String>],
    known: &[Object],
) -> Vec<Finding> {
    let known: Vec<&Object> = known.iter().collect();
    post_build_with(ks, objects, texts, &known)
}

/// Whether a `$` is in a key or a string of `v`: the only places YAML text written from `v` can hold one (numbers,
/// booleans and null are written without it).
fn has_dollar(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => s.contains('$'),
        Value::Array(a) => a.iter().any(has_dollar),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('$') || has_dollar(v)),
        _ => false,
    }
}

/// [`post_build`], with the ConfigMaps and Secrets the variables may come from by reference (the loader's tree is
/// not copied for each Kustomization).
pub fn post_build_with(
    ks: &Object,
    objects: &mut [Object],
    texts: &[Option<String>],
    known: &[&Object],
) -> Vec<Finding> {
    if !ks.value["spec"]["postBuild"].is_object() {
        return Vec::new();
    }
    let v = variables(ks, known);
    let mut findings = v.findings;
    if !v.enabled || findings.iter().any(|f| f.rule == FAILED_RULE) {
        return findings;
    }
    for (i, o) in objects.iter_mut().enumerate() {
        if o.label(DISABLED_KEY) == Some("disabled")
            || o.value["metadata"]["annotations"][DISABLED_KEY] == "disabled"
        {
            continue;
        }
        // envsubst changes nothing in a text without `$` (no variable, no escape, no error): such an object is left
        // as it is, and its text is not written
        let text = match texts.get(i) {
            Some(Some(t)) if !t.contains('$') => continue,
            Some(Some(t)) => t.clone(),
            _ if !has_dollar(&o.value) => continue,
            _ => match headlamp_e2e_yaml::to_norway_string(&o.value) {
                Ok(t) => t,
                Err(_) => continue,
            },
        };
        let failed = |message: String| {
            Finding::new(FAILED_RULE, Severity::Error)
                .file(o.file_display())
                .object(o.id())
                .message(message)
                .fix("write `$${VAR}` for a literal `${VAR}`, and close every `${`".to_string())
        };
        let result = match eval(&text, &v.vars) {
            Ok(r) => r,
            Err(e) if e.contains("lint's bound") => {
                // a bound of lint's own, not Flux's words: the object is linted as it is, unsubstituted
                findings.push(
                    Finding::new(FAILED_RULE, Severity::Error)
                        .file(o.file_display())
                        .object(o.id())
                        .message(format!(
                            "the substitution of Kustomization {} in this object is not evaluated: {e}",
                            ks.id()
                        ))
                        .fix("simplify the substitution (no object needs this much); the object is linted unsubstituted".to_string()),
                );
                continue;
            }
            Err(e) => {
                findings.push(failed(format!(
                    "kustomize-controller fails Kustomization {} here: variable substitution failed: {e}",
                    ks.id()
                )));
                continue;
            }
        };
        let result = if !result.unresolved.is_empty() && !v.open.is_empty() {
            // a source whose keys the tree does not know may define them: left as references, not reported
            let mut vars = v.vars.clone();
            for var in &result.unresolved {
                vars.insert(var.clone(), format!("${{{var}}}"));
            }
            eval(&text, &vars).unwrap_or(result)
        } else {
            result
        };
        for var in &result.unresolved {
            let from = if v.unread.is_empty() {
                String::new()
            } else {
                format!(" (not read: {})", v.unread.join(", "))
            };
            findings.push(
                Finding::new(UNRESOLVED_RULE, Severity::Warning)
                    .file(o.file_display())
                    .object(o.id())
                    .message(format!(
                        "`${{{var}}}` has no value: Flux Kustomization {} defines no variable {var} in postBuild.substitute or in the substituteFrom sources in the tree{from}. kustomize-controller v1.9.4 substitutes an empty string (and fails the Kustomization with the StrictPostBuildSubstitutions feature gate)",
                        ks.id()
                    ))
                    .fix(format!(
                        "if `${{{var}}}` is meant for another program (a Grafana dashboard variable, a shell script), keep it from Flux: write `$${{{var}}}`, or label or annotate the object `kustomize.toolkit.fluxcd.io/substitute: disabled`; if it is meant for Flux, add {var} to postBuild.substitute or to a substituteFrom ConfigMap/Secret, or give it a default: `${{{var}:=value}}`"
                    )),
            );
        }
        if result.text == text {
            continue;
        }
        match super::parse_yaml_documents(&result.text, &o.file) {
            Ok(docs) => match docs.into_iter().next() {
                Some(mut doc) => {
                    super::flux_build::take_origin(&mut doc);
                    o.value = doc
                }
                None => findings.push(failed(format!(
                    "after substitution the object is empty (Kustomization {})",
                    ks.id()
                ))),
            },
            Err(e) => findings.push(failed(format!(
                "after substitution the object is no longer YAML, and kustomize-controller fails Kustomization {}: {e}",
                ks.id()
            ))),
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sub(text: &str, pairs: &[(&str, &str)]) -> String {
        eval(text, &vars(pairs)).unwrap().text
    }

    #[test]
    fn plain_variables_and_defaults() {
        let v = [("SECRET_DOMAIN", "example.org"), ("EMPTY", "")];
        assert_eq!(
            sub("host: headlamp.${SECRET_DOMAIN}", &v),
            "host: headlamp.example.org"
        );
        // the default operators: the value if it is not empty, else the default (toDefault)
        assert_eq!(sub("${HEADLAMP_VERSION:=0.41.0}", &v), "0.41.0");
        assert_eq!(sub("${HEADLAMP_VERSION:-0.41.0}", &v), "0.41.0");
        assert_eq!(sub("${HEADLAMP_VERSION=0.41.0}", &v), "0.41.0");
        assert_eq!(sub("${EMPTY:=d}", &v), "d");
        assert_eq!(sub("${SECRET_DOMAIN:=d}", &v), "example.org");
        // `:+` is toDefault too in this fork (not bash's "alternate value")
        assert_eq!(sub("${SECRET_DOMAIN:+x}", &v), "example.org");
        // a default may hold spaces, colons and a nested variable
        assert_eq!(
            sub("${NOPE:=a b:c}/${NOPE:-${SECRET_DOMAIN}}", &v),
            "a b:c/example.org"
        );
    }

    #[test]
    fn escapes_and_what_is_not_a_variable() {
        let v = [("A", "1")];
        // `$${VAR}` is the literal `${VAR}`; `$$` is `$`; `$VAR` is untouched
        assert_eq!(sub("echo $${A} $$A $A ${A}", &v), "echo ${A} $A $A 1");
        assert_eq!(sub("cost: 5$", &v), "cost: 5$");
        assert_eq!(sub("a { b } $ {A}", &v), "a { b } $ {A}");
    }

    #[test]
    fn unset_variables_are_empty_and_reported() {
        let r = eval(
            "a: ${MISSING}\nb: ${MISSING}\nc: ${DEFAULTED:=x}\nd: ${#OTHER}",
            &vars(&[]),
        )
        .unwrap();
        assert_eq!(r.text, "a: \nb: \nc: x\nd: 0");
        // once each; a default operator is no unresolved variable (template.go isDefaultOp)
        assert_eq!(r.unresolved, ["MISSING", "OTHER"]);
    }

    #[test]
    fn string_functions() {
        let v = [("V", "Hello/World"), ("T", "v0.41.0")];
        assert_eq!(sub("${V,,}", &v), "hello/world");
        assert_eq!(sub("${V^^}", &v), "HELLO/WORLD");
        assert_eq!(sub("${V,}", &v), "hello/World");
        assert_eq!(sub("${#V}", &v), "11");
        assert_eq!(sub("${V:6}", &v), "World");
        assert_eq!(sub("${V:0:5}", &v), "Hello");
        assert_eq!(sub("${V:1:-1}", &v), "ello/Worl");
        assert_eq!(sub("${V/o/0}", &v), "Hell0/World");
        assert_eq!(sub("${V//o/0}", &v), "Hell0/W0rld");
        assert_eq!(sub("${V/\\//-}", &v), "Hello-World");
        // funcs.go replacePrefix needs two arguments: an empty replacement leaves the value as it is
        assert_eq!(sub("${T/#v/}", &v), "v0.41.0");
        assert_eq!(sub("${T/#v/x}", &v), "x0.41.0");
        assert_eq!(sub("${T/%.0/.1}", &v), "v0.41.1");
        assert_eq!(sub("${T#v}", &v), "0.41.0");
        assert_eq!(sub("${T%.*}", &v), "v0.41");
        assert_eq!(sub("${T%%.*}", &v), "v0");
        assert_eq!(sub("${T##*.}", &v), "0");
    }

    #[test]
    fn syntax_flux_refuses_is_an_error() {
        for bad in ["${A", "${}", "${A-x}", "${-A}", "${A:=x"] {
            assert!(eval(bad, &vars(&[("A", "1")])).is_err(), "{bad}");
        }
    }

    #[test]
    fn variable_names() {
        for ok in ["A", "_a", "cluster_env", "SECRET_DOMAIN2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "2A", "my-key", "a.b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    fn object(yaml: &str, file: &str) -> Object {
        Object::plain(serde_norway::from_str(yaml).unwrap(), file)
    }

    fn ks(post_build: &str) -> Object {
        object(
            &format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: apps, namespace: flux-system}}\nspec:\n  path: ./apps\n  postBuild:\n{post_build}"
            ),
            "clusters/home/apps.yaml",
        )
    }

    fn sources() -> Vec<Object> {
        vec![
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: flux-system}\ndata: {A: from-settings, B: from-settings, MULTI: \"x\\ny\\n\"}\n",
                "cm.yaml",
            ),
            object(
                "apiVersion: v1\nkind: Secret\nmetadata: {name: secrets, namespace: flux-system}\ndata: {B: ZnJvbS1zZWNyZXQ=}\nstringData: {C: plain}\n",
                "secret.yaml",
            ),
            // the same name in another namespace is not the Kustomization's
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: tools}\ndata: {D: no}\n",
                "other.yaml",
            ),
        ]
    }

    #[test]
    fn substitute_from_in_order_then_substitute_wins() {
        let k = ks(
            "    substitute: {A: inline}\n    substituteFrom:\n      - {kind: ConfigMap, name: settings}\n      - {kind: Secret, name: secrets}\n      - {kind: ConfigMap, name: other, optional: true}\n",
        );
        let v = variables(&k, &sources().iter().collect::<Vec<_>>());
        assert!(v.findings.is_empty(), "{:#?}", v.findings);
        assert!(v.enabled);
        assert_eq!(v.vars["A"], "inline");
        // the later source overwrites the earlier; Secret data is base64, stringData plain
        assert_eq!(v.vars["B"], "from-secret");
        assert_eq!(v.vars["C"], "plain");
        // newlines are removed from values
        assert_eq!(v.vars["MULTI"], "xy");
        assert!(!v.vars.contains_key("D"));
    }

    #[test]
    fn a_variable_is_found_in_keys_and_in_kustomize_text_and_nowhere_else() {
        // a `$` in a key only: the object is still substituted (text written from the value)
        let mut objs = vec![
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k, namespace: n}\ndata: {\"${A}\": x}\n",
                "k.yaml",
            ),
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: n}\ndata: {n: 3, b: true}\n",
                "plain.yaml",
            ),
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: built, namespace: n}\ndata: {v: \"${A}\"}\n",
                "built.yaml",
            ),
        ];
        let k = ks("    substitute: {A: inline}\n");
        // the third object's text as kustomize wrote it decides, not its value: none there, nothing substituted
        let texts = [
            None,
            None,
            Some(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: built, namespace: n}\n"
                    .to_string(),
            ),
        ];
        assert!(post_build(&k, &mut objs, &texts, &[]).is_empty());
        assert_eq!(objs[0].value["data"]["inline"], "x");
        assert_eq!(objs[1].value["data"]["n"], 3);
        assert_eq!(objs[2].value["data"]["v"], "${A}");
        assert!(has_dollar(&serde_json::json!({"a": [1, {"b": "$"}]})));
        assert!(!has_dollar(
            &serde_json::json!({"a": [1, {"b": "x"}], "n": null})
        ));
    }

    #[test]
    fn no_variable_no_substitution_unless_always() {
        let mut objs = vec![object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: n}\ndata: {v: \"${V:=dflt}\"}\n",
            "x.yaml",
        )];
        // an optional source that is absent defines nothing: WithVariables does not substitute
        let k =
            ks("    substituteFrom:\n      - {kind: ConfigMap, name: absent, optional: true}\n");
        assert!(post_build(&k, &mut objs, &[], &[]).is_empty());
        assert_eq!(objs[0].value["data"]["v"], "${V:=dflt}");
        let k = ks(
            "    substituteStrategy: Always\n    substituteFrom:\n      - {kind: ConfigMap, name: absent, optional: true}\n",
        );
        assert!(post_build(&k, &mut objs, &[], &[]).is_empty());
        assert_eq!(objs[0].value["data"]["v"], "dflt");
    }

    #[test]
    fn disabled_objects_are_left_alone_and_unset_variables_reported_per_object() {
        let mut objs = vec![
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  namespace: n\n  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\ndata: {run.sh: \"echo ${HOME}\"}\n",
                "script.yaml",
            ),
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labelled\n  namespace: n\n  labels: {kustomize.toolkit.fluxcd.io/substitute: disabled}\ndata: {v: \"${NOPE}\"}\n",
                "labelled.yaml",
            ),
            object(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: n}\ndata: {a: \"${A}\", b: \"${NOPE}\", c: \"$${NOPE}\"}\n",
                "app.yaml",
            ),
        ];
        let k = ks("    substituteFrom:\n      - {kind: ConfigMap, name: settings}\n");
        let f = post_build(&k, &mut objs, &[], &sources());
        assert_eq!(objs[0].value["data"]["run.sh"], "echo ${HOME}");
        assert_eq!(objs[1].value["data"]["v"], "${NOPE}");
        assert_eq!(objs[2].value["data"]["a"], "from-settings");
        // written out without its source's quotes, `${NOPE}` is a plain scalar: empty, it is null (the kustomize-built
        // path keeps the quotes; see tests/gitops_flux.rs)
        assert_eq!(objs[2].value["data"]["b"], Value::Null);
        assert_eq!(objs[2].value["data"]["c"], "${NOPE}");
        let got: Vec<(&str, &str, &str)> = f
            .iter()
            .map(|f| (f.rule.as_str(), f.object.as_str(), f.file.as_str()))
            .collect();
        assert_eq!(got, [(UNRESOLVED_RULE, "ConfigMap/n/app", "app.yaml")]);
        assert!(
            f[0].message.contains("${NOPE}")
                && f[0].message.contains("Kustomization/flux-system/apps")
        );
    }

    #[test]
    fn an_invalid_variable_name_fails_the_kustomization() {
        let srcs = vec![object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: flux-system}\ndata: {my-key: v}\n",
            "cm.yaml",
        )];
        let mut objs = vec![object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: n}\ndata: {a: \"${A}\"}\n",
            "app.yaml",
        )];
        let k = ks("    substituteFrom:\n      - {kind: ConfigMap, name: settings}\n");
        let f = post_build(&k, &mut objs, &[], &srcs);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            (f[0].rule.as_str(), f[0].severity),
            (FAILED_RULE, Severity::Error)
        );
        assert!(f[0].message.contains("\"my-key\""), "{}", f[0].message);
    }

    #[test]
    fn secret_values_never_reach_a_finding() {
        let srcs = vec![object(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: flux-system}\ndata: {TOKEN: aHVudGVyMg==}\n",
            "s.yaml",
        )];
        let mut objs = vec![object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: n}\ndata: {a: \"${TOKEN} ${MISSING}\"}\n",
            "app.yaml",
        )];
        let k = ks("    substituteFrom:\n      - {kind: Secret, name: s}\n");
        let f = post_build(&k, &mut objs, &[], &srcs);
        assert_eq!(f.len(), 1);
        assert!(!format!("{f:?}").contains("hunter2"));
    }

    fn unresolved(k: &Object, srcs: &[Object]) -> (Vec<Finding>, Object) {
        let mut objs = vec![object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: n}\ndata: {a: \"${DOMAIN}\", b: \"${STORE_ONLY}\"}\n",
            "app.yaml",
        )];
        let f = post_build(k, &mut objs, &[], srcs);
        (f, objs.remove(0))
    }

    fn placeholder() -> Object {
        object(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: cluster-secrets, namespace: flux-system}\nstringData: {DOMAIN: example.com}\n",
            "cluster-secrets.yaml",
        )
    }

    fn external_secret(ns: &str, target: &str, rest: &str) -> Object {
        object(
            &format!(
                "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: es, namespace: {ns}}}\nspec:\n  secretStoreRef: {{kind: ClusterSecretStore, name: onepassword}}\n  target: {target}\n{rest}"
            ),
            "es.yaml",
        )
    }

    fn rules(f: &[Finding]) -> Vec<(&str, Severity)> {
        f.iter().map(|f| (f.rule.as_str(), f.severity)).collect()
    }

    #[test]
    fn a_source_an_external_secret_writes_from_its_store_reports_no_unset_variable() {
        let k = ks("    substituteFrom:\n      - {kind: Secret, name: cluster-secrets}\n");
        let dataf = "  dataFrom:\n    - extract: {key: cluster-secrets}\n";
        // the target named, and by default the ExternalSecret's own name; Owner, Merge and the default policy
        for target in [
            "{name: cluster-secrets, creationPolicy: Owner}",
            "{name: cluster-secrets, creationPolicy: Merge}",
            "{name: cluster-secrets}",
        ] {
            let srcs = [placeholder(), external_secret("flux-system", target, dataf)];
            let (f, o) = unresolved(&k, &srcs);
            assert_eq!(
                rules(&f),
                [(SOURCE_RULE, Severity::Info)],
                "{target}: {f:#?}"
            );
            assert!(
                f[0].message.contains("substituteFrom Secret cluster-secrets is written in the cluster by ExternalSecret es of the Kustomization's namespace (es.yaml), over the copy in the tree"),
                "{}",
                f[0].message
            );
            assert_eq!(o.value["data"]["a"], "example.com");
            assert_eq!(o.value["data"]["b"], "${STORE_ONLY}");
        }
        // no copy in the tree at all: not "missing", and substitution runs
        let mut es = external_secret("flux-system", "{}", dataf);
        es.value["metadata"]["name"] = "cluster-secrets".into();
        let (f, o) = unresolved(&k, &[es]);
        assert_eq!(rules(&f), [(SOURCE_RULE, Severity::Info)], "{f:#?}");
        assert_eq!(o.value["data"]["b"], "${STORE_ONLY}");
    }

    #[test]
    fn an_external_secret_elsewhere_or_writing_nothing_leaves_the_warning() {
        let k = ks("    substituteFrom:\n      - {kind: Secret, name: cluster-secrets}\n");
        let dataf = "  dataFrom:\n    - extract: {key: cluster-secrets}\n";
        for es in [
            // another namespace: kustomize-controller reads the Kustomization's own
            external_secret("tools", "{name: cluster-secrets}", dataf),
            // another Secret
            external_secret("flux-system", "{name: other}", dataf),
            // a ConfigMap of that name (a manifest target), not the Secret
            external_secret(
                "flux-system",
                "{name: cluster-secrets, manifest: {apiVersion: v1, kind: ConfigMap}}",
                dataf,
            ),
            // creationPolicy None writes nothing
            external_secret(
                "flux-system",
                "{name: cluster-secrets, creationPolicy: None}",
                dataf,
            ),
        ] {
            let (f, _) = unresolved(&k, &[placeholder(), es.clone()]);
            assert_eq!(
                rules(&f),
                [(UNRESOLVED_RULE, Severity::Warning)],
                "{:#?}",
                es.value
            );
            assert!(f[0].message.contains("${STORE_ONLY}"), "{}", f[0].message);
        }
    }

    #[test]
    fn the_keys_an_external_secret_or_sealed_secret_names_are_checked() {
        // `data` only: the Secret has these keys and no other; a variable outside them is still reported
        let k = ks("    substituteFrom:\n      - {kind: Secret, name: cluster-secrets}\n");
        let es = external_secret(
            "flux-system",
            "{name: cluster-secrets, template: {data: {DSN: \"x\"}}}",
            "  data:\n    - {secretKey: TOKEN, remoteRef: {key: item, property: token}}\n",
        );
        let mut objs = vec![object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: n}\ndata: {a: \"${TOKEN}${DSN}${DOMAIN}\", b: \"${NOPE}\"}\n",
            "app.yaml",
        )];
        let f = post_build(&k, &mut objs, &[], &[placeholder(), es]);
        assert_eq!(
            rules(&f),
            [
                (SOURCE_RULE, Severity::Info),
                (UNRESOLVED_RULE, Severity::Warning)
            ],
            "{f:#?}"
        );
        assert!(f[0].message.contains("(TOKEN, DSN)"), "{}", f[0].message);
        assert!(f[1].message.contains("${NOPE}"), "{}", f[1].message);
        assert_eq!(objs[0].value["data"]["a"], "${TOKEN}${DSN}example.com");

        // a ConfigMap an ExternalSecret writes (manifest target)
        let k = ks("    substituteFrom:\n      - {kind: ConfigMap, name: settings}\n");
        let es = external_secret(
            "flux-system",
            "{name: settings, manifest: {apiVersion: v1, kind: ConfigMap}}",
            "  dataFrom:\n    - extract: {key: settings}\n",
        );
        let (f, o) = unresolved(&k, &[es]);
        assert_eq!(rules(&f), [(SOURCE_RULE, Severity::Info)], "{f:#?}");
        assert_eq!(o.value["data"]["b"], "${STORE_ONLY}");

        // a SealedSecret: its Secret has its own name and namespace, and the keys of encryptedData
        let k = ks("    substituteFrom:\n      - {kind: Secret, name: cluster-secrets}\n");
        let sealed = object(
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: cluster-secrets, namespace: flux-system}\nspec:\n  encryptedData: {DOMAIN: AgBy3i4OJSWK}\n  template: {metadata: {name: cluster-secrets}}\n",
            "sealed.yaml",
        );
        let (f, o) = unresolved(&k, std::slice::from_ref(&sealed));
        assert_eq!(
            rules(&f),
            [
                (SOURCE_RULE, Severity::Info),
                (UNRESOLVED_RULE, Severity::Warning)
            ],
            "{f:#?}"
        );
        assert!(
            f[0].message.contains("by SealedSecret cluster-secrets of the Kustomization's namespace (sealed.yaml): its values are not known here, so the variables it defines (DOMAIN)"),
            "{}",
            f[0].message
        );
        assert!(f[1].message.contains("${STORE_ONLY}"), "{}", f[1].message);
        assert_eq!(o.value["data"]["a"], "${DOMAIN}");
        let mut elsewhere = sealed;
        elsewhere.value["metadata"]["namespace"] = "tools".into();
        let (f, _) = unresolved(&k, &[elsewhere]);
        assert_eq!(rules(&f)[0], (SOURCE_RULE, Severity::Warning), "{f:#?}");
        assert!(f[0].message.contains("is not in the GitOps directory"));
    }
}
