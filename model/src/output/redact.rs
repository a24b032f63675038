//! Redaction: no token, password, key, certificate or Secret value leaves the harness, in logs, reports, snapshots,
//! artifacts, JUnit, step summaries, terminal output or error messages.
//!
//! There are exactly two functions, and every writer and printer uses them:
//! - [`redact_object`] for a parsed object (a snapshot file, an e2e artifact): by key, at any depth, for every kind.
//! - [`redact`] for text (logs, condition and event messages, errors, YAML or JSON dumps): on the whole text at once,
//!   so multi-line values (PEM blocks, YAML block scalars) go as a whole.
//!
//! [`for_terminal`] is [`redact`] plus escaping of control characters, for what is printed.
//!
//! Which keys are credentials is decided in one place, [`is_secret_key`]. Both functions are idempotent.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// What every removed value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// The annotation `kubectl apply` writes: a full copy of the object, Secret data included.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A key naming a credential when one of its words contains one of these (case-insensitive): `clientSecret`,
/// `bearerToken`, `apiToken`, `privateKey`, `X-Auth-Token`, `Cookie`, `aws_secret_access_key`, `-oidc-client-secret`.
pub const SECRET_STEMS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "cookie",
];

/// Keys that are credentials without a stem word (kubeconfig and Secret data keys).
const SECRET_KEYS: &[&str] = &[
    "client-certificate-data",
    "ca.crt",
    "tls.crt",
    ".dockerconfigjson",
    ".dockercfg",
];

/// A key whose last word is one of these names a credential, it does not hold one: `secretName`, `tokenRef`,
/// `tokenFile`, `keyPath`, `authType`.
const REFERENCE_WORDS: &[&str] = &[
    "name",
    "names",
    "ref",
    "refs",
    "path",
    "paths",
    "file",
    "files",
    "dir",
    "type",
    "kind",
    "namespace",
    "enabled",
    "disabled",
    "mode",
    "length",
    "size",
    "ttl",
    "seconds",
    "expiration",
    "algorithm",
    "format",
    "count",
    "version",
];

/// Words of a key: split at `-`, `_`, `.`, spaces and camelCase boundaries (`APIToken` → `api`, `token`), lower case.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = key.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Is `key` (a map key, an env var or flag name, a header name) the name of a credential? One of its words contains
/// a [`SECRET_STEMS`] stem and its last word is not a reference word (`secretName`, `tokenRef`): `password`,
/// `clientSecret`, `OIDC_CLIENT_SECRET`, `--token`, `Authorization`, `X-Auth-Token`, `client-key-data`.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.trim_start_matches('-').trim_matches(['"', '\'']);
    if SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return true;
    }
    let w = words(key);
    let Some(last) = w.last() else {
        return false;
    };
    if REFERENCE_WORDS.contains(&last.as_str()) {
        return false;
    }
    w.iter()
        .any(|word| SECRET_STEMS.iter().any(|s| word.contains(s)))
}

fn compile(pattern: &str) -> Regex {
    // The patterns are constants of this file; a unit test compiles every one of them.
    Regex::new(pattern).expect("redaction patterns are valid regular expressions")
}

/// A complete PEM block, also inside JSON strings where its newlines are `\n`.
static PEM_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?s)-----BEGIN ([A-Z0-9 ]{1,64})-----.*?-----END [A-Z0-9 ]{1,64}-----")
});
/// A PEM block cut short (a truncated log): everything base64-ish after BEGIN.
static PEM_TRUNCATED: LazyLock<Regex> =
    LazyLock::new(|| compile(r"-----BEGIN ([A-Z0-9 ]{1,64})-----[A-Za-z0-9+/=\s\\]*"));
/// The end of a PEM block whose BEGIN was cut off (a log read from its end): the base64 lines and the END line.
static PEM_ORPHAN_END: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?m)(?:^[ \t]*[A-Za-z0-9+/=]{8,}[ \t]*\r?\n)*^[ \t]*-----END ([A-Z0-9 ]{1,64})-----")
});
/// A k3s token, whole: `K10<ca hash>::<user>:<password>` (the password is the secret part).
static K3S_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| compile(r#"\bK10[0-9A-Fa-f]{8,}::[^\s"':]+:[^\s"',;\]\}<>]+"#));
/// GitHub tokens: classic (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and fine-grained (`github_pat_`).
static GITHUB_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"));
/// A JWT: three base64url segments (padding allowed), the first (the JSON header) starting `eyJ`; the signature may
/// be empty.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"eyJ[A-Za-z0-9_-]{4,}=*\.[A-Za-z0-9_-]{4,}=*\.(?:[A-Za-z0-9_-]+=*)?")
});
/// The password of a URL's userinfo: `https://user:pw@host`.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    compile(r#"(?i)\b(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@"'<>]*:)(?P<pw>[^/\s@"'<>]+)@"#)
});
/// A key and its separator: `token=`, `password: `, `"clientSecret":`, `Authorization: `, `\"token\":`, `Cookie:`.
static KEY_SEP: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*|\.[A-Za-z0-9_.\-]+)(?P<q>\\?["']?)(?P<sep>[ \t]*[:=][ \t]*)"#,
    )
});
/// A flag and the next word: `--token abc`, `-password abc`.
static FLAG_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?P<head>(?:^|[\s"'\[,(])(?P<flag>--?[A-Za-z][A-Za-z0-9_.\-]*)[ \t]+)(?P<value>'[^'\n]*'|"[^"\n]*"|[^\s"'\],\-<][^\s"'\],]*)"#,
    )
});
/// A bearer token outside an Authorization header (long enough not to be an English word).
static BEARER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b(?P<head>Bearer\s+)[A-Za-z0-9\-._~+/]{16,}=*"));
/// An HTTP authorization scheme in front of a credential (kept: the scheme alone is no secret).
static SCHEME: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?i)^(?:bearer|basic|token|negotiate|digest)[ \t]+"));

/// Remove secrets from text: PEM blocks, k3s tokens, GitHub tokens, JWTs, URL passwords, the values of credential keys
/// ([`is_secret_key`]) in `key=value`, `key: value`, `"key":"value"`, headers (`Authorization: Bearer x`,
/// `{"Authorization":["x"]}`, `map[Authorization:[x]]`), YAML block scalars and `--flag value`, and bearer tokens.
/// Works on the whole text (multi-line values go as a whole); ordinary text comes back unchanged.
pub fn redact(text: &str) -> String {
    let text = PEM_BLOCK.replace_all(text, |c: &Captures| format!("<redacted PEM {}>", &c[1]));
    let text = PEM_TRUNCATED.replace_all(&text, |c: &Captures| format!("<redacted PEM {}>", &c[1]));
    let text =
        PEM_ORPHAN_END.replace_all(&text, |c: &Captures| format!("<redacted PEM {}>", &c[1]));
    let text = K3S_TOKEN.replace_all(&text, "<redacted k3s token>");
    let text = GITHUB_TOKEN.replace_all(&text, "<redacted GitHub token>");
    let text = JWT.replace_all(&text, "<redacted JWT>");
    let text = URL_USERINFO.replace_all(&text, |c: &Captures| format!("{}{REDACTED}@", &c["head"]));
    let text = redact_pairs(&text);
    let text = FLAG_VALUE.replace_all(&text, |c: &Captures| {
        if is_secret_key(&c["flag"]) && !c["value"].starts_with("<redacted") {
            format!("{}{REDACTED}", &c["head"])
        } else {
            c[0].to_string()
        }
    });
    let text = BEARER.replace_all(&text, |c: &Captures| format!("{}{REDACTED}", &c["head"]));
    text.into_owned()
}

/// Values that are no secret whatever the key: `automountServiceAccountToken: true`.
fn harmless(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || v.starts_with("<redacted")
        || ["true", "false", "null", "~", "[]", "{}", "\"\"", "''"].contains(&v)
}

/// `value` redacted, keeping a leading authorization scheme (`Bearer <redacted>`).
fn redacted_value(value: &str) -> String {
    let scheme = SCHEME.find(value).map(|m| m.as_str()).unwrap_or("");
    let rest = &value[scheme.len()..];
    if harmless(rest) {
        return value.to_string();
    }
    format!("{scheme}{REDACTED}")
}

/// The column of byte offset `at` in its line.
fn column(text: &str, at: usize) -> usize {
    at - text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// The value of every credential key in `text`, replaced.
fn redact_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(c) = KEY_SEP.captures_at(text, pos) {
        let (Some(whole), Some(key)) = (c.get(0), c.name("key")) else {
            break;
        };
        let end = whole.end();
        out.push_str(&text[pos..end]);
        pos = end;
        if !is_secret_key(key.as_str()) {
            continue;
        }
        let sep = &c["sep"];
        let rest = &text[end..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let line = rest[..line_end].trim_end_matches('\r');
        // a key inside a quoted string (`-H 'Authorization: Bearer x'`) ends at that quote
        let opening = text[..key.start()]
            .chars()
            .next_back()
            .filter(|q| matches!(q, '"' | '\''));
        let (replacement, used) = if let Some(inner) = rest.strip_prefix("\\\"") {
            // a JSON string inside a JSON string: `\"token\":\"abc\"`
            let close = inner.find("\\\"").unwrap_or(inner.len());
            let v = &inner[..close];
            (format!("\\\"{}", redacted_value(v)), 2 + close)
        } else if let Some(q @ ('"' | '\'')) = rest.chars().next() {
            let inner = &rest[1..];
            let mut close = None;
            let mut escaped = false;
            for (i, ch) in inner.char_indices() {
                if escaped {
                    escaped = false;
                } else if ch == '\\' && q == '"' {
                    escaped = true;
                } else if ch == q {
                    close = Some(i);
                    break;
                } else if ch == '\n' {
                    break;
                }
            }
            let close = close.unwrap_or(line.len().saturating_sub(1));
            (format!("{q}{}", redacted_value(&inner[..close])), 1 + close)
        } else if let Some(inner) = rest.strip_prefix('[') {
            // Go's `map[Authorization:[Bearer x]]`, JSON's `"Authorization":["Bearer x"]`
            let close = inner.find(']').unwrap_or(inner.len());
            let v = &inner[..close];
            let r = match v.strip_prefix('"') {
                Some(q) => format!("\"{}\"", redacted_value(q.trim_end_matches('"'))),
                None => redacted_value(v),
            };
            (format!("[{r}"), 1 + close)
        } else if rest.starts_with('{') {
            // a nested object: its own keys are looked at
            continue;
        } else if sep.contains(':')
            && (line.trim().is_empty()
                || line.trim_start().starts_with('|')
                || line.trim_start().starts_with('>'))
        {
            // a YAML block value (`key: |` or `key:` and the more indented lines under it)
            let key_col = column(text, key.start());
            let mut block_end = end + line_end;
            let mut cursor = block_end;
            while cursor < text.len() {
                let next = &text[cursor + 1..];
                let l = next.split('\n').next().unwrap_or("");
                if l.trim().is_empty() {
                    cursor += 1 + l.len();
                    continue;
                }
                if indent_of(l) > key_col {
                    cursor += 1 + l.len();
                    block_end = cursor;
                } else {
                    break;
                }
            }
            if block_end == end + line_end && line.trim().is_empty() {
                // `token:` with nothing after it and nothing under it: an empty value
                continue;
            }
            let space = if sep.ends_with([' ', '\t']) { "" } else { " " };
            (format!("{space}{REDACTED}"), block_end - end)
        } else {
            let spaced = sep.ends_with([' ', '\t']);
            let stop = |ch: char| match opening {
                Some(q) if ch == q => true,
                _ if spaced => false,
                _ => {
                    ch.is_whitespace()
                        || matches!(ch, '&' | '"' | '\'' | ',' | '}' | ']' | ')' | '<' | '>')
                }
            };
            let len = line.find(stop).unwrap_or(line.len());
            let v = &line[..len];
            // `Authorization: Bearer x`: the value is scheme and credential
            let v_trimmed = v.trim_end();
            (redacted_value(v_trimmed), v_trimmed.len())
        };
        out.push_str(&replacement);
        pos = end + used;
    }
    out.push_str(&text[pos..]);
    out
}

/// Characters that reorder or hide text where it is shown (Trojan Source, CVE-2021-42574): the bidirectional
/// embeddings, overrides and isolates, and the directional marks. Like control characters, they are shown escaped.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

fn must_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// Escape control characters (other than newline and tab) and bidirectional controls as `\u{1b}`: text from a
/// cluster, a chart or a file must not move the cursor, recolour a terminal or reorder what a reviewer reads.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(must_escape) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if must_escape(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`redact`], then [`escape_controls`]: what any text from input goes through before it is printed.
pub fn for_terminal(text: &str) -> String {
    escape_controls(&redact(text))
}

/// [`for_terminal`] for a field shown on one line (a file, an object id, a path): newline, carriage return and tab
/// are escaped too, so a name cannot start a line of its own in a log.
pub fn one_line(text: &str) -> String {
    let t = for_terminal(text);
    if !t.contains(['\n', '\r', '\t']) {
        return t;
    }
    t.replace('\n', "\\u{a}")
        .replace('\r', "\\u{d}")
        .replace('\t', "\\u{9}")
}

/// Lines of text from input made inert for a CI log: GitHub's runner takes a line whose first non-blank characters
/// are `::` as a workflow command (`::error file=…::`, `::add-mask::`, `::stop-commands::`), and `##[` anywhere in a
/// line as one in the older form (actions/runner `src/Runner.Common/ActionCommand.cs` `TryParseV2`: `TrimStart`, then
/// `StartsWith("::")`; `TryParse`: `IndexOf("##[")`). Such a `::` is shown as `\u{3a}:`, such a `##[` as `#\u{23}[`;
/// every other line is unchanged.
pub fn no_workflow_commands(text: &str) -> String {
    if !text.contains("::") && !text.contains("##[") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let blank = line.len() - line.trim_start().len();
        let (lead, rest) = line.split_at(blank);
        out.push_str(lead);
        let rest = match rest.strip_prefix("::") {
            Some(after) => {
                out.push_str("\\u{3a}:");
                after
            }
            None => rest,
        };
        out.push_str(&rest.replace("##[", "#\\u{23}["));
    }
    out
}

/// Text from input inside markdown or HTML (a table cell, a `<summary>`, a heading): redacted, controls escaped,
/// on one line, and every character that markdown or HTML would read as markup shown as an entity, so a name cannot
/// close a code span, add a table column, open a tag or a link.
pub fn markdown_inline(text: &str) -> String {
    let t = one_line(text);
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '\\' => out.push_str("&#92;"),
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block of `info` holding `body` (already redacted): the fence is longer than any run of backticks in
/// the body, so the body cannot close it (CommonMark: a closing fence is at least as long as the opening one).
pub fn markdown_fence(info: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let body = escape_controls(body);
    let nl = if body.ends_with('\n') || body.is_empty() {
        ""
    } else {
        "\n"
    };
    format!("{fence}{info}\n{body}{nl}{fence}")
}

/// Redact an object (a parsed YAML or JSON artifact) in place, by key at any depth and for every kind:
/// - Secret `data` / `stringData` keep their keys and lose every value (a malformed one, not a map, goes whole);
/// - the last-applied-configuration annotation is parsed and redacted the same way (dropped when it does not parse);
/// - the value of every credential key ([`is_secret_key`]): strings and numbers, also in lists (`password`,
///   `config.oidc.clientSecret`, `users[].user.token`); booleans stay;
/// - `{name: X, value: V}` pairs (container `env`, Helm `set`-style lists) lose `V` when `X` is a credential name;
/// - in lists of strings (container `args`, `command`), `--flag=VALUE` and `--flag VALUE` for credential flags;
/// - every other string goes through [`redact`].
///
/// A bare `key` that is a reference (`tolerations[].key`, `matchExpressions[].key`, `items[].key` with `path`,
/// `secretKeyRef.key`) is kept.
pub fn redact_object(value: &mut Value) {
    walk(value, None);
}

fn redacted() -> Value {
    Value::String(REDACTED.to_string())
}

/// A `key` that names something rather than holding a value.
fn key_is_reference(key: &str, map: &serde_json::Map<String, Value>, parent: Option<&str>) -> bool {
    key == "key"
        && (["operator", "path", "effect"]
            .iter()
            .any(|k| map.contains_key(*k))
            || parent.is_some_and(|p| p.ends_with("KeyRef")))
}

fn walk(value: &mut Value, parent: Option<&str>) {
    match value {
        Value::Object(map) => {
            let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret");
            let env_secret = map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_secret_key)
                && map.contains_key("value");
            let sensitive: Vec<bool> = map
                .iter()
                .map(|(k, _)| is_secret_key(k) && !key_is_reference(k, map, parent))
                .collect();
            for ((key, v), sensitive) in map.iter_mut().zip(sensitive) {
                if is_secret && (key == "data" || key == "stringData") {
                    match v {
                        Value::Object(data) => data.values_mut().for_each(|x| *x = redacted()),
                        Value::Null => {}
                        other => *other = redacted(),
                    }
                    continue;
                }
                if env_secret && key == "value" {
                    if !matches!(v, Value::Null | Value::Bool(_)) {
                        *v = redacted();
                    }
                    continue;
                }
                if is_secret
                    && key == "metadata"
                    && let Some(Value::Object(annotations)) = v.get_mut("annotations")
                {
                    for (k, a) in annotations.iter_mut() {
                        if k != LAST_APPLIED && !secret_annotation_names_only(k) && !a.is_null() {
                            *a = redacted();
                        }
                    }
                }
                if key == "annotations"
                    && let Value::Object(annotations) = v
                    && let Some(applied) = annotations.get_mut(LAST_APPLIED)
                {
                    *applied = match applied.as_str().map(serde_json::from_str::<Value>) {
                        Some(Ok(mut inner)) => {
                            walk(&mut inner, None);
                            Value::String(inner.to_string())
                        }
                        _ => redacted(),
                    };
                }
                if sensitive {
                    redact_secret_value(v, key);
                } else {
                    walk(v, Some(key));
                }
            }
        }
        Value::Array(items) => {
            redact_args(items);
            items.iter_mut().for_each(|i| walk(i, parent));
        }
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        _ => {}
    }
}

/// A Secret's annotations are kept only where they are known to hold names, not values: the ServiceAccount a token
/// Secret is for (what doctor and verify read), and what Helm and Flux write to own an object. Any other annotation of
/// a Secret (a copied value, a tool's cache of its data) goes, like its `data`.
fn secret_annotation_names_only(key: &str) -> bool {
    matches!(
        key,
        "kubernetes.io/service-account.name" | "kubernetes.io/service-account.uid"
    ) || [
        "meta.helm.sh/",
        "kustomize.toolkit.fluxcd.io/",
        "helm.toolkit.fluxcd.io/",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// The value of a credential key: scalars go, lists lose their scalars, maps are walked (their keys decide).
fn redact_secret_value(v: &mut Value, key: &str) {
    match v {
        Value::String(s) if harmless(s) => {}
        Value::String(_) | Value::Number(_) => *v = redacted(),
        Value::Array(items) => {
            for i in items {
                redact_secret_value(i, key);
            }
        }
        Value::Object(_) => walk(v, Some(key)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// `["--token=x"]` and `["--token", "x"]` in a list of strings: the values of credential flags.
fn redact_args(items: &mut [Value]) {
    let mut redact_next = false;
    for item in items.iter_mut() {
        let Value::String(s) = item else {
            redact_next = false;
            continue;
        };
        if redact_next && !s.starts_with('-') {
            redact_next = false;
            if !harmless(s) {
                *s = REDACTED.to_string();
            }
            continue;
        }
        redact_next = false;
        if !s.starts_with('-') || s.contains(char::is_whitespace) {
            continue;
        }
        match s.split_once('=') {
            Some((flag, value)) if is_secret_key(flag) && !harmless(value) => {
                *s = format!("{flag}={REDACTED}");
            }
            Some(_) => {}
            None => redact_next = is_secret_key(s),
        }
    }
}

#[cfg(test)]
mod tests;
