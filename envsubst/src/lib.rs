//! Flux's `envsubst`: the variable substitution kustomize-controller v1.9.4 (Flux v2.9.4) runs on the YAML text of
//! each object after a build (`postBuild`), as a pure function of a text and the variables.
//!
//! Read in fluxcd/pkg `envsubst` (a fork of drone/envsubst: `envsubst/parse/scan.go`, `parse/parse.go`,
//! `template.go`, `funcs.go`). Syntax: `${VAR}`, the default operators `${VAR:=w}` `${VAR:-w}` `${VAR=w}` `${VAR:?w}`
//! `${VAR:+w}` (all of them "the value if not empty, else w" in this fork's `toDefault`), `${#VAR}`, casing `${VAR,}`
//! `${VAR,,}` `${VAR^}` `${VAR^^}`, substrings `${VAR:o}` `${VAR:o:l}`, replacement `${VAR/p/r}` `${VAR//p/r}`
//! `${VAR/#p/r}` `${VAR/%p/r}`, trimming `${VAR#p}` `${VAR##p}` `${VAR%p}` `${VAR%%p}`; `$$` is a literal `$` (so
//! `$${VAR}` stays `${VAR}`), and `$VAR` without braces is not a variable. An unset variable is the empty string
//! (non-strict mode). What the variables are, and which objects are substituted, is Flux's semantics and lives in
//! the gitops crate (`headlamp_e2e_gitops::substitute`).
//!
//! Its own crate so that the dev profile `cargo xtask` runs builds it optimised (see the root Cargo.toml): every
//! object a Flux Kustomization substitutes goes through [`eval`], character by character. Its bounds
//! ([`MAX_NESTING`], [`MAX_OUTPUT_BYTES`], [`MAX_MATCH_STEPS`]) hold for any input.

use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
