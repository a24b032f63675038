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
//! - the text substitution itself (syntax, functions, escapes) is the `headlamp-e2e-envsubst` crate ([`eval`]);
//! - an unset variable is the empty string (non-strict mode); with the `StrictPostBuildSubstitutions` feature gate an
//!   unset variable referenced without a default operator fails the build (`variable not set (strict mode)`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::finding::{Finding, Severity};
use crate::kustomize::build_cache;
use crate::objects::object::Object;

pub use headlamp_e2e_envsubst::{
    MAX_MATCH_STEPS, MAX_NESTING, MAX_OUTPUT_BYTES, Substituted, eval, valid_name,
};

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

/// What one object's substitution is keyed by ([`Memo::key`]).
enum Input<'a> {
    /// The YAML text kustomize wrote.
    Text(&'a str),
    /// An object whose text lint writes.
    Value(&'a serde_json::Value),
}

/// What one object's substitution gave: the variables without a value, and the object read back (`None`: unchanged).
type Kept = (Vec<String>, Option<serde_json::Value>);

/// Substitution results across runs: `$HEADLAMP_E2E_CACHE/substitutions`, on when the build cache is
/// ([`crate::kustomize::build_cache::enabled`]: `cargo xtask lint`, not `--no-cache`, not the library's default).
///
/// One entry per Flux Kustomization's substitution: keyed by this program (its path, size and modification time: the
/// substitution and the YAML reader are its code), each object substituted, in order (kustomize's text of the object,
/// or the SHA-256 of the object's JSON when lint writes the text itself: another input, another key), the variables
/// (names and values, in order) and whether unknown variables stay references. It holds what the substitution gave
/// each object: the variables without a value, and the object read back from the substituted text (or that the text
/// did not change). A warm lint then neither writes nor re-reads the YAML of a substituted object: that was a third
/// of the loader's time on the 350-app repository in a debug build (issue 22); one entry per Kustomization, not per
/// object, reads and writes a third of the files (creating a thousand files was most of a cold run's system time).
/// Substitutions that fail (Flux's errors, lint's bounds) are not kept: the Kustomization's objects are evaluated
/// again, with today's words. Entries are written as render-cache entries (atomic, their own SHA-256, mode 0600): a
/// substituted Secret's values are in them, as they are in the kustomize build cache.
struct Memo {
    cache: crate::chart::RenderCache,
    /// The SHA-256 state after this format's version and this program's identity.
    program: sha2::Sha256,
}

impl Memo {
    /// A memo in `dir`, for this program; `None` when the program cannot be looked at.
    fn new(dir: PathBuf) -> Option<Memo> {
        let program = build_cache::program_key(b"headlamp-e2e substitution v3\0")?;
        Some(Memo {
            cache: crate::chart::RenderCache::new(dir),
            program,
        })
    }

    /// The memo of this process, when the cache is on and this program can be looked at.
    fn get() -> Option<&'static Memo> {
        static MEMO: std::sync::OnceLock<Option<Memo>> = std::sync::OnceLock::new();
        if !build_cache::enabled() {
            return None;
        }
        MEMO.get_or_init(|| Memo::new(crate::chart::cache_root()?.join("substitutions")))
            .as_ref()
    }

    /// The key of substituting `vars` into `inputs`, in order: kustomize's text, else the object (by the SHA-256 of its
    /// JSON, written straight into the hash: a warm lint of the 350-app repository wrote 2 MB of JSON text only to
    /// hash it).
    fn key(&self, inputs: &[Input<'_>], vars: &BTreeMap<String, String>, open: bool) -> String {
        use sha2::Digest;
        /// `fmt::Write` into a hash: serde_json's own `Display` (optimised even in the debug build) writes the JSON,
        /// piece by piece.
        struct Hashing(sha2::Sha256);
        impl std::fmt::Write for Hashing {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0.update(s.as_bytes());
                Ok(())
            }
        }
        let mut h = self.program.clone();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(&(inputs.len() as u64).to_le_bytes());
        for input in inputs {
            match input {
                Input::Text(t) => {
                    field(b"text");
                    field(t.as_bytes());
                }
                Input::Value(v) => {
                    let mut json = Hashing(sha2::Sha256::new());
                    let _ = std::fmt::Write::write_fmt(&mut json, format_args!("{v}"));
                    field(b"json-sha256");
                    field(&json.0.finalize());
                }
            }
        }
        field(if open { b"open" } else { b"closed" });
        for (k, v) in vars {
            field(k.as_bytes());
            field(v.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The kept results for `key`, one per object (`n` of them).
    fn recall(&self, key: &str, n: usize) -> Option<Vec<Kept>> {
        // `str::parse`, serde_json's own `FromStr`: optimised even in the debug build (a generic `from_str` would be
        // compiled here, unoptimised)
        let mut entry: serde_json::Value = self.cache.get(key)?.parse().ok()?;
        let entries = entry.as_array_mut().filter(|a| a.len() == n)?;
        entries
            .iter_mut()
            .map(|e| {
                let unresolved = e["unresolved"]
                    .as_array()?
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<String>>>()?;
                let value = match e.get_mut("value")? {
                    serde_json::Value::Null => None,
                    v => Some(v.take()),
                };
                Some((unresolved, value))
            })
            .collect()
    }

    /// One object's result as its entry keeps it: `{"unresolved": [...], "value": <the object read back, or null:
    /// unchanged>}`, written with serde_json's own `Display` (optimised even in the debug build: a generic
    /// `to_string` of a struct would be compiled here, unoptimised, for every object of a cold run).
    fn written(unresolved: &[String], value: Option<&serde_json::Value>) -> String {
        let unresolved = serde_json::Value::from(unresolved.to_vec());
        let value = value.map_or_else(|| "null".to_string(), ToString::to_string);
        format!("{{\"unresolved\":{unresolved},\"value\":{value}}}")
    }

    /// Keep a Kustomization's substitution: its objects' results ([`Self::written`]), in order.
    fn keep(&self, key: &str, written: &[String]) {
        self.cache.put(key, &format!("[{}]", written.join(",")));
    }
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

/// The warnings for the variables `unresolved` that have no value in `o`, substituted by `ks` (`unread`: the sources
/// not read, named in the message).
fn unresolved_findings(
    ks: &Object,
    o: &Object,
    unresolved: &[String],
    unread: &[String],
) -> Vec<Finding> {
    let from = if unread.is_empty() {
        String::new()
    } else {
        format!(" (not read: {})", unread.join(", "))
    };
    unresolved
        .iter()
        .map(|var| {
            Finding::new(UNRESOLVED_RULE, Severity::Warning)
            .file(o.file_display())
            .object(o.id())
            .message(format!(
                "`${{{var}}}` has no value: Flux Kustomization {} defines no variable {var} in postBuild.substitute or in the substituteFrom sources in the tree{from}. kustomize-controller v1.9.4 substitutes an empty string (and fails the Kustomization with the StrictPostBuildSubstitutions feature gate)",
                ks.id()
            ))
            .fix(format!(
                "if `${{{var}}}` is meant for another program (a Grafana dashboard variable, a shell script), keep it from Flux: write `$${{{var}}}`, or label or annotate the object `kustomize.toolkit.fluxcd.io/substitute: disabled`; if it is meant for Flux, add {var} to postBuild.substitute or to a substituteFrom ConfigMap/Secret, or give it a default: `${{{var}:=value}}`"
            ))
        })
        .collect()
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
    post_build_replacing(ks, objects, texts, known, &mut Vec::new())
}

/// [`post_build_with`], the values substitution replaced given to `replaced` (the caller frees them when it likes:
/// the loader, on a thread of its own after the load; freeing them as they were replaced was a tenth of its
/// substituting, issue 22).
pub fn post_build_replacing(
    ks: &Object,
    objects: &mut [Object],
    texts: &[Option<String>],
    known: &[&Object],
    replaced: &mut Vec<serde_json::Value>,
) -> Vec<Finding> {
    if !ks.value["spec"]["postBuild"].is_object() {
        return Vec::new();
    }
    let mut v = variables(ks, known);
    let findings = std::mem::take(&mut v.findings);
    if !v.enabled || findings.iter().any(|f| f.rule == FAILED_RULE) {
        return findings;
    }
    post_build_memo(Memo::get(), ks, objects, texts, &v, findings, replaced)
}

/// The substitution of `v` into `objects` (see [`post_build_with`]), through `memo` when there is one; `findings`:
/// those on the variables so far.
fn post_build_memo(
    memo: Option<&Memo>,
    ks: &Object,
    objects: &mut [Object],
    texts: &[Option<String>],
    v: &Variables,
    mut findings: Vec<Finding>,
    replaced: &mut Vec<serde_json::Value>,
) -> Vec<Finding> {
    // the objects substitution may change: envsubst changes nothing in a text without `$` (no variable, no escape, no
    // error), so such an object is left as it is, and its text is not written
    let todo: Vec<usize> = (0..objects.len())
        .filter(|&i| {
            let o = &objects[i];
            let disabled = o.label(DISABLED_KEY) == Some("disabled")
                || o.value["metadata"]["annotations"][DISABLED_KEY] == "disabled";
            !disabled
                && match texts.get(i) {
                    Some(Some(t)) => t.contains('$'),
                    _ => has_dollar(&o.value),
                }
        })
        .collect();
    if todo.is_empty() {
        return findings;
    }
    // the Kustomization's substitution kept from an earlier run ([`Memo`]): the same findings, the same objects
    let key = memo.map(|m| {
        let inputs: Vec<Input<'_>> = todo
            .iter()
            .map(|&i| match texts.get(i) {
                Some(Some(t)) => Input::Text(t),
                _ => Input::Value(&objects[i].value),
            })
            .collect();
        m.key(&inputs, &v.vars, !v.open.is_empty())
    });
    if let (Some(m), Some(key)) = (memo, &key)
        && let Some(kept) = m.recall(key, todo.len())
    {
        for (&i, (unresolved, value)) in todo.iter().zip(kept) {
            let o = &mut objects[i];
            findings.extend(unresolved_findings(ks, o, &unresolved, &v.unread));
            if let Some(value) = value {
                replaced.push(std::mem::replace(&mut o.value, value));
            }
        }
        return findings;
    }
    // what the memo keeps, while every object's substitution is one to keep
    let mut keep: Option<Vec<String>> = memo.map(|_| Vec::new());
    for &i in &todo {
        let o = &mut objects[i];
        let text = match texts.get(i) {
            Some(Some(t)) => t.clone(),
            _ => match headlamp_e2e_yaml::to_norway_string(&o.value) {
                Ok(t) => t,
                Err(_) => {
                    keep = None;
                    continue;
                }
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
                keep = None;
                continue;
            }
            Err(e) => {
                findings.push(failed(format!(
                    "kustomize-controller fails Kustomization {} here: variable substitution failed: {e}",
                    ks.id()
                )));
                keep = None;
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
        findings.extend(unresolved_findings(ks, o, &result.unresolved, &v.unread));
        if result.text == text {
            if let Some(keep) = &mut keep {
                keep.push(Memo::written(&result.unresolved, None));
            }
            continue;
        }
        match crate::yaml::parse_yaml_documents(&result.text, &o.file) {
            Ok(docs) => match docs.into_iter().next() {
                Some(mut doc) => {
                    super::flux_build::take_origin(&mut doc);
                    if let Some(keep) = &mut keep {
                        keep.push(Memo::written(&result.unresolved, Some(&doc)));
                    }
                    replaced.push(std::mem::replace(&mut o.value, doc));
                }
                None => {
                    findings.push(failed(format!(
                        "after substitution the object is empty (Kustomization {})",
                        ks.id()
                    )));
                    keep = None;
                }
            },
            Err(e) => {
                findings.push(failed(format!(
                    "after substitution the object is no longer YAML, and kustomize-controller fails Kustomization {}: {e}",
                    ks.id()
                )));
                keep = None;
            }
        }
    }
    if let (Some(m), Some(key), Some(keep)) = (memo, &key, keep) {
        m.keep(key, &keep);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
    fn a_kept_substitution_gives_the_same_objects_and_findings_and_only_for_the_same_input() {
        let d = tempfile::tempdir().unwrap();
        let memo = Memo::new(d.path().join("substitutions")).unwrap();
        let objects = || {
            vec![
                // written as YAML by lint (no text): `${N}` becomes a number, `${NOPE}` is unresolved
                object(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {n: \"${N}\", u: \"${NOPE}\"}\n",
                    "a.yaml",
                ),
                // no change: `$$` is an escape
                object(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: n}\ndata: {x: \"$${N}\"}\n",
                    "b.yaml",
                ),
                object(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {v: from-text}\n",
                    "c.yaml",
                ),
            ]
        };
        // kustomize's text of the third object decides what it becomes
        let texts = [
            None,
            None,
            Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {v: \"${N}-t\"}\n".to_string()),
        ];
        let run = |memo: Option<&Memo>, n: &str| {
            let k = ks(&format!("    substitute: {{N: \"{n}\"}}\n"));
            let mut v = variables(&k, &[]);
            let found = std::mem::take(&mut v.findings);
            let mut objs = objects();
            let found = post_build_memo(memo, &k, &mut objs, &texts, &v, found, &mut Vec::new());
            let values: Vec<Value> = objs.into_iter().map(|o| o.value).collect();
            (values, found)
        };
        let (plain, plain_findings) = run(None, "3");
        assert_eq!(plain[0]["data"]["n"], 3);
        // `u: ` read back is null, as Flux's YAMLToJSON reads it
        assert_eq!(plain[0]["data"]["u"], Value::Null);
        assert_eq!(plain[1]["data"]["x"], "${N}");
        assert_eq!(plain[2]["data"]["v"], "3-t");
        assert_eq!(plain_findings.len(), 1, "{plain_findings:#?}");
        assert!(plain_findings[0].message.contains("${NOPE}"));
        // the first run keeps what it computed (one entry for the Kustomization), the second gives it back: the same
        // objects, the same findings
        let first = run(Some(&memo), "3");
        let entries: Vec<std::path::PathBuf> = std::fs::read_dir(d.path().join("substitutions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1);
        let second = run(Some(&memo), "3");
        assert_eq!(first, (plain.clone(), plain_findings.clone()));
        assert_eq!(second, (plain.clone(), plain_findings.clone()));
        // the second run read the kept entry: one altered by hand is what it gives (the three objects have a `$`)
        let key = entries[0]
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let altered = serde_json::json!({"altered": true});
        memo.keep(
            &key,
            &[
                Memo::written(&[], Some(&altered)),
                Memo::written(&[], None),
                Memo::written(&[], None),
            ],
        );
        let third = run(Some(&memo), "3");
        assert_eq!(third.0[0], altered);
        // (`$${N}` would become `${N}`: the entry says unchanged, so it is the object as built)
        assert_eq!(third.0[1], objects()[1].value);
        assert!(
            third.1.is_empty(),
            "the kept entry names no unresolved variable"
        );
        // other values of the variables are another input: computed, not recalled
        let (other, _) = run(Some(&memo), "4");
        assert_eq!(other[0]["data"]["n"], 4);
        assert_eq!(other[2]["data"]["v"], "4-t");
        // a Kustomization whose substitution Flux fails in one object keeps nothing: evaluated again, with today's words
        let bad = tempfile::tempdir().unwrap();
        let bad_memo = Memo::new(bad.path().join("substitutions")).unwrap();
        let k = ks("    substitute: {N: \"3\"}\n");
        let mut objs = objects();
        objs.push(object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, namespace: n}\ndata: {n: \"${N\"}\n",
            "d.yaml",
        ));
        let texts = [None, None, texts[2].clone(), None];
        let v = variables(&k, &[]);
        let found = post_build_memo(
            Some(&bad_memo),
            &k,
            &mut objs,
            &texts,
            &v,
            Vec::new(),
            &mut Vec::new(),
        );
        assert!(found.iter().any(|f| f.rule == FAILED_RULE), "{found:#?}");
        let kept = std::fs::read_dir(bad.path().join("substitutions")).map_or(0, Iterator::count);
        assert_eq!(kept, 0);
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
