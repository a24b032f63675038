//! `manifest-unknown-field`: fields an object's API type does not have; `manifest-invalid`: values of the wrong type.
//!
//! Two sources of truth, both offline:
//! - built-in kinds: the object is deserialized into its k8s-openapi type ([`typed`]); every field the type ignores is
//!   unknown, and a deserialization error is an invalid value;
//! - Flux custom resources: the CRDs' openAPIV3Schema, pruned to field names in `data/flux-crd-fields.json` ([`crd`]),
//!   derived from the Flux release's `flux install` output by [`derive_flux_fields`].
//!
//! Kinds neither knows (e.g. Traefik's IngressRoute) are skipped. Paths are printed the way
//! `kubectl apply --validate=strict` does: `spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem`.

mod crd;

use headlamp_e2e_typed as typed;
use headlamp_e2e_typed::{child_index, child_key};

use std::path::Path;

use serde_json::Value;

pub use crd::{FLUX_FIELDS_JSON, derive_flux_fields, render_flux_fields};

use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
use crate::gitops::{Object, Origin};
use crate::rules::input::{LintInput, pointer_to_path};

pub const RULE: &str = "manifest-unknown-field";
pub const INVALID_RULE: &str = "manifest-invalid";

/// Where the derived Flux field tree is committed, relative to the project root.
pub const FLUX_FIELDS_FILE: &str = "data/flux-crd-fields.json";
/// The Flux install manifest it is derived from (Flux v2.9.4's `flux install --export`, as the GitOps fixture commits
/// it; provenance in data/upstream/provenance.json), relative to the project root.
pub const FLUX_COMPONENTS_FILE: &str =
    "fixtures/gitops/clusters/home/flux-system/gotk-components.yaml";

pub use headlamp_e2e_typed::{Invalid, Report, Unknown};

/// Does this rule have a schema for objects of this apiVersion and kind?
pub fn knows(api_version: &str, kind: &str) -> bool {
    typed::lookup(api_version, kind).is_some() || crd::lookup(api_version, kind).is_some()
}

/// Check one object (any JSON value with `apiVersion` and `kind`); `None` when its kind is not known.
pub fn validate(value: &Value) -> Option<Report> {
    let api_version = value["apiVersion"].as_str()?;
    let kind = value["kind"].as_str()?;
    if let Some(check) = typed::lookup(api_version, kind) {
        return Some(check(value));
    }
    crd::lookup(api_version, kind).map(|root| crd::check(value, root))
}

/// Derive the Flux field tree from `components` (the `flux install` output) and write it to `out`.
/// The xtask and `tests/flux_crd_fields.rs` call this to regenerate [`FLUX_FIELDS_FILE`].
pub fn regenerate_flux_fields(components: &Path, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(components).map_err(|e| Error::io(components, e))?;
    let fields = derive_flux_fields(&text)?;
    std::fs::write(out, render_flux_fields(&fields)).map_err(|e| Error::io(out, e))
}

/// Both rules over every plain and rendered object (the plain objects' findings taken from
/// [`LintInput::plain_fields`] when the pipeline computed them ahead).
pub fn check(input: &LintInput) -> Vec<Finding> {
    let mut out = match &input.plain_fields {
        Some(found) => found.clone(),
        None => check_plain(&input.objects),
    };
    out.extend(input.releases.iter().flat_map(|r| {
        r.rendered
            .iter()
            .flat_map(|o| check_object(o, Some(&r.values)))
    }));
    out
}

/// Both rules over plain manifests.
pub fn check_plain(objects: &[Object]) -> Vec<Finding> {
    objects.iter().flat_map(|o| check_object(o, None)).collect()
}

/// Objects, each with its `manifest-unknown-field`/`manifest-invalid` findings.
pub type Checked = Vec<(Object, Vec<Finding>)>;

/// [`check_plain`] one object at a time, each kept with its findings: the objects the directory walk read, checked
/// while the tree is still being read ([`crate::engine::ahead`]), for [`check_plain_reusing`].
pub fn check_each(objects: Vec<Object>) -> Checked {
    objects
        .into_iter()
        .map(|o| {
            let found = check_object(&o, None);
            (o, found)
        })
        .collect()
}

/// [`check_plain`] of `objects`, where an object equal to one checked ahead (same file, origin and value: the
/// findings are a function of those) takes that one's findings instead of being checked again.
pub fn check_plain_reusing(objects: &[Object], ahead: &[(Object, Vec<Finding>)]) -> Vec<Finding> {
    let mut known: std::collections::HashMap<(&std::path::Path, String), Vec<usize>> =
        std::collections::HashMap::new();
    for (i, (o, _)) in ahead.iter().enumerate() {
        known.entry((o.file.as_path(), o.id())).or_default().push(i);
    }
    objects
        .iter()
        .flat_map(|o| {
            let same = known.get(&(o.file.as_path(), o.id())).and_then(|is| {
                is.iter()
                    .map(|&i| &ahead[i])
                    .find(|(a, _)| a.origin == o.origin && a.value == o.value)
            });
            match same {
                Some((_, found)) => found.clone(),
                None => check_object(o, None),
            }
        })
        .collect()
}

/// Findings for one object; `values` are the HelmRelease values it was rendered from.
pub fn check_object(o: &Object, values: Option<&Value>) -> Vec<Finding> {
    // `status` is the controllers' to write (doctor lints live objects): only what a person authors is checked.
    let authored;
    let value = if o.value.get("status").is_some() {
        let mut v = o.value.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("status");
        }
        authored = v;
        &authored
    } else {
        &o.value
    };
    // SOPS: a document with a top-level `sops:` mapping is encrypted (SOPS keeps its metadata there; Flux's
    // kustomize-controller decrypts such documents and applies them without it). Its key names are plain text and
    // still checked; the `sops` block and the encrypted `ENC[...]` values are not.
    let decrypted;
    let mut encrypted_paths = Vec::new();
    let value = if value.get("sops").is_some_and(Value::is_object) {
        let mut v = value.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("sops");
        }
        blank_encrypted(&mut v, String::new(), &mut encrypted_paths);
        decrypted = v;
        &decrypted
    } else {
        value
    };
    // base64 wrapped into lines (kustomize's secretGenerator, `base64 -w`) is valid for the API server
    // ([`super::values_from::decode_base64`]): the lines are joined before the typed check, which decodes without
    // skipping newlines
    let unwrapped;
    let value = match unwrapped_base64(value) {
        Some(v) => {
            unwrapped = v;
            &unwrapped
        }
        None => value,
    };
    let Some(mut report) = validate(value) else {
        return Vec::new();
    };
    report.invalid.retain(|inv| {
        !encrypted_paths
            .iter()
            .any(|p| inv.path == *p || inv.path.starts_with(&format!("{p}.")))
    });
    let what = format!("{} {}", o.api_version(), o.kind());
    let mut out = Vec::new();
    for u in &report.unknown {
        let suggestion = closest(&u.key, &u.known);
        let mut message = format!("unknown field \"{}\" in {what}", u.path);
        if let Some(s) = &suggestion {
            message.push_str(&format!(" (did you mean \"{s}\"?)"));
        }
        message.push_str(": Kubernetes drops it (or `kubectl apply --validate=strict` rejects it), so it has no effect");
        let fix = match &o.origin {
            Origin::Rendered { release, template } => rendered_fix(
                o,
                u,
                suggestion.as_deref(),
                release,
                template.as_deref(),
                values,
            ),
            Origin::Plain => plain_fix(o, u, suggestion.as_deref()),
        };
        out.push(
            Finding::new(RULE, Severity::Error)
                .file(o.location())
                .object(o.id())
                .path(&u.path)
                .message(message)
                .fix(fix),
        );
    }
    for inv in &report.invalid {
        let at = if inv.path.is_empty() {
            String::new()
        } else {
            format!(" at \"{}\"", inv.path)
        };
        let mut fix = format!(
            "give the value{at} the type its API expects; `{}` describes it",
            explain(o, &inv.path)
        );
        if let Origin::Rendered { release, .. } = &o.origin {
            fix.push_str(&format!(
                "; the object is rendered from HelmRelease {release}, so the value most likely comes from its spec.values"
            ));
        }
        out.push(
            Finding::new(INVALID_RULE, Severity::Error)
                .file(o.location())
                .object(o.id())
                .path(&inv.path)
                .message(format!("invalid value{at} in {what}: {}", inv.message))
                .fix(fix),
        );
    }
    out
}

/// A copy of a core `v1` Secret (`data`) or ConfigMap (`binaryData`) whose base64 values hold line breaks, with them
/// removed (what the API server's decoder ignores); `None` when there is none.
fn unwrapped_base64(value: &Value) -> Option<Value> {
    let field = match (value["apiVersion"].as_str(), value["kind"].as_str()) {
        (Some("v1"), Some("Secret")) => "data",
        (Some("v1"), Some("ConfigMap")) => "binaryData",
        _ => return None,
    };
    let wrapped = |v: &Value| v.as_str().is_some_and(|s| s.contains(['\n', '\r']));
    if !value[field].as_object()?.values().any(wrapped) {
        return None;
    }
    let mut copy = value.clone();
    for v in copy[field].as_object_mut()?.values_mut() {
        if let Some(s) = v.as_str().filter(|s| s.contains(['\n', '\r'])) {
            *v = Value::String(s.chars().filter(|c| *c != '\n' && *c != '\r').collect());
        }
    }
    Some(copy)
}

/// Replace every SOPS-encrypted string (`ENC[AES256_GCM,data:…,type:…]`) by `""` (valid as a string and as base64
/// bytes) and record its JSON pointer, as a kubectl-style path.
fn blank_encrypted(v: &mut Value, ptr: String, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with("ENC[") && s.ends_with(']') => {
            s.clear();
            out.push(pointer_to_path(&ptr));
        }
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                blank_encrypted(child, format!("{ptr}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                blank_encrypted(child, format!("{ptr}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn plain_fix(o: &Object, u: &Unknown, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("rename \"{}\" to \"{s}\"", u.key),
        None => format!(
            "remove \"{}\" or correct its name; `{}` lists the valid fields",
            u.key,
            explain(o, parent_of(&u.path, &u.key))
        ),
    }
}

/// For a rendered object: the field came through the HelmRelease values; name its values path when it is there.
fn rendered_fix(
    o: &Object,
    u: &Unknown,
    suggestion: Option<&str>,
    release: &str,
    template: Option<&str>,
    values: Option<&Value>,
) -> String {
    let found = values
        .map(|v| values_paths_of(v, &o.value, &u.path, &u.key))
        .unwrap_or_default();
    let through = "the chart passes it through to this object unchanged";
    match (found.first(), suggestion) {
        (Some(p), Some(s)) => format!(
            "rename `{p}` to `{}` in spec.values of HelmRelease {release}: {through}",
            replace_last(p, &u.key, s)
        ),
        (Some(p), None) => format!(
            "remove or correct `{p}` in spec.values of HelmRelease {release} ({through}); `{}` lists the valid fields",
            explain(o, parent_of(&u.path, &u.key))
        ),
        (None, _) => format!(
            "{}; this object is rendered from HelmRelease {release}: the field came through its spec.values{}",
            plain_fix(o, u, suggestion),
            template
                .map(|t| format!(" (or is written by the chart template {t})"))
                .unwrap_or_default()
        ),
    }
}

/// The values paths (of a release's `values`) whose last key is `key`, the field at `path` of a rendered `object`
/// most likely came from: those holding the very value the object has, else all with that key. The first is the one
/// the fix names, and where the finding is placed ([`crate::engine::positions`]).
pub(crate) fn values_paths_of(
    values: &Value,
    object: &Value,
    path: &str,
    key: &str,
) -> Vec<String> {
    let mut found = Vec::new();
    find_key(values, key, "", &mut found);
    if let Some(x) = at_path(object, path) {
        let same: Vec<String> = found
            .iter()
            .filter(|p| at_path(values, p) == Some(x))
            .cloned()
            .collect();
        if !same.is_empty() {
            found = same;
        }
    }
    found
}

/// Dotted paths (with `[i]`) in `v` whose last key is `key`.
fn find_key(v: &Value, key: &str, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = child_key(path, k);
                if k == key {
                    out.push(p.clone());
                }
                find_key(x, key, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                find_key(x, key, &child_index(path, i), out);
            }
        }
        _ => {}
    }
}

/// The value at a path as [`child_key`]/[`child_index`] write it (keys with dots are not found).
fn at_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.') {
        let (key, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            cur = cur.get(index.strip_suffix(']')?.parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}

fn replace_last(path: &str, key: &str, with: &str) -> String {
    match path.strip_suffix(key) {
        Some(prefix) => format!("{prefix}{with}"),
        None => path.to_string(),
    }
}

fn parent_of<'a>(path: &'a str, key: &str) -> &'a str {
    path.strip_suffix(key)
        .map(|p| p.strip_suffix('.').unwrap_or(p))
        .unwrap_or(path)
}

/// `kubectl explain deployment.spec.template.spec.containers --api-version=apps/v1`
fn explain(o: &Object, path: &str) -> String {
    let mut fields = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => fields.push(c),
            _ => {}
        }
    }
    let kind = o.kind().to_ascii_lowercase();
    let target = if fields.is_empty() {
        kind
    } else {
        format!("{kind}.{fields}")
    };
    format!("kubectl explain {target} --api-version={}", o.api_version())
}

/// A known field that differs from `key` only by case, or is very close to it.
pub fn closest(key: &str, known: &[String]) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    let candidates = known.iter().filter(|k| k.as_str() != key);
    if let Some(k) = candidates.clone().find(|k| k.to_ascii_lowercase() == lower) {
        return Some(k.clone());
    }
    candidates
        .map(|k| {
            let kl = k.to_ascii_lowercase();
            (
                strsim::damerau_levenshtein(&lower, &kl),
                strsim::normalized_damerau_levenshtein(&lower, &kl),
                k,
            )
        })
        .filter(|(distance, score, _)| *distance <= 2 && *score >= 0.7)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(_, _, k)| k.clone())
}

#[cfg(test)]
mod status_tests {
    use super::*;
    use crate::rules::input::testutil::obj;

    #[test]
    fn base64_wrapped_into_lines_is_valid_and_a_space_inside_is_not() {
        // as kustomize's secretGenerator writes a long value (kyaml/yaml/datamap.go encodeBase64: 70 columns, a
        // literal block); the API server's decoder ignores the line breaks
        let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx";
        let secret = obj(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: n}}\ntype: Opaque\ndata:\n  values.yaml: |\n    {}\n    {}MjM0NTY3ODk=\n",
            &line[..70],
            &line[70..]
        ));
        assert_eq!(check_object(&secret, None), Vec::new());
        let cm = obj(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\nbinaryData:\n  blob: |\n    QUJD\n    REVG\n",
        );
        assert_eq!(check_object(&cm, None), Vec::new());
        let mut spaced = secret.clone();
        spaced.value["data"]["values.yaml"] = "QUJD REVG".into();
        let found = check_object(&spaced, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, INVALID_RULE);
    }

    #[test]
    fn status_written_by_controllers_is_not_checked() {
        let o = obj(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec:\n  selector: {}\n  template: {spec: {containers: [{name: c, image: x}]}}\nstatus: {someFutureField: 1}\n",
        );
        assert!(check_object(&o, None).is_empty());
        let mut bad = o.clone();
        bad.value["spec"]["replicaz"] = 1.into();
        assert_eq!(check_object(&bad, None).len(), 1);
    }

    #[test]
    fn an_object_checked_ahead_keeps_its_findings_and_a_changed_one_is_checked_again() {
        let d = obj(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec:\n  replicaz: 1\n  selector: {}\n  template: {spec: {containers: [{name: c, image: x}]}}\n",
        );
        let ahead = check_each(vec![d.clone()]);
        assert_eq!(ahead[0].1.len(), 1, "{:?}", ahead[0].1);
        assert_eq!(
            check_plain_reusing(std::slice::from_ref(&d), &ahead),
            ahead[0].1
        );
        // the findings reused are the ones checked ahead, not computed again (a marked copy shows which)
        let mut marked = ahead.clone();
        marked[0].1[0].message = "checked ahead".into();
        assert_eq!(
            check_plain_reusing(std::slice::from_ref(&d), &marked)[0].message,
            "checked ahead"
        );
        // a Flux patch changed it after the walk (same file, same name): checked again
        let mut patched = d.clone();
        let spec = patched.value["spec"].as_object_mut().unwrap();
        spec.remove("replicaz");
        spec.insert("replicas".into(), 0.into());
        assert!(check_plain_reusing(&[patched.clone()], &marked).is_empty());
        // another file with the same object is another object: checked on its own
        let mut moved = d.clone();
        moved.file = "elsewhere.yaml".into();
        let f = check_plain_reusing(&[moved], &marked);
        assert_eq!(f.len(), 1);
        assert_ne!(f[0].message, "checked ahead");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::input::testutil::*;

    #[test]
    fn a_sops_encrypted_secret_is_checked_without_its_sops_block_and_ciphertext() {
        let path =
            crate::test_support::project_root().join("fixtures/layouts/sops/secret.sops.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let o = obj(&text);
        assert_eq!(check_object(&o, None), Vec::new());
        // without the `sops` block it is not SOPS: the ciphertext is invalid base64 and `sops` unknown
        let mut plain = o.clone();
        plain.value.as_object_mut().unwrap().remove("sops");
        plain.value["bogus"] = "x".into();
        let rules: Vec<String> = check_object(&plain, None)
            .into_iter()
            .map(|f| format!("{} {}", f.rule, f.path))
            .collect();
        assert!(
            rules
                .iter()
                .any(|r| r == "manifest-invalid data.clientSecret"),
            "{rules:?}"
        );
        // key names are not encrypted: a typo in one is still found in a SOPS document
        let mut typo = o.clone();
        let sd = typo.value["stringData"].take();
        typo.value["stringdata"] = sd;
        let f = check_object(&typo, None);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].path, "stringdata");
    }

    const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: headlamp
  namespace: headlamp
  labels: {app.kubernetes.io/name: headlamp}
  annotations: {deployment.kubernetes.io/revision: "1"}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: headlamp}
  template:
    metadata:
      labels: {app.kubernetes.io/name: headlamp}
    spec:
      serviceAccountName: headlamp
      automountServiceAccountToken: true
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: headlamp
          image: ghcr.io/headlamp-k8s/headlamp:v0.41.0
          imagePullPolicy: IfNotPresent
          args: [-in-cluster, -in-cluster-context-name=main, -plugins-dir=/headlamp/plugins]
          ports:
            - {name: http, containerPort: 4466, protocol: TCP}
          livenessProbe:
            httpGet: {path: /, port: http}
          readinessProbe:
            httpGet: {path: /, port: http}
          resources:
            limits: {cpu: 1, memory: 256Mi}
            requests: {cpu: 100m, memory: 128Mi}
          securityContext:
            runAsNonRoot: true
            runAsUser: 100
            runAsGroup: 101
            privileged: false
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: home, mountPath: /home/headlamp}
      volumes:
        - {name: home, emptyDir: {}}
"#;

    const HELMRELEASE: &str = r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: headlamp, namespace: headlamp}
spec:
  interval: 30m
  timeout: 5m
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef: {kind: HelmRepository, name: headlamp}
      interval: 1h
  install:
    remediation: {retries: 3}
  upgrade:
    cleanupOnFail: true
    remediation: {retries: 3, remediateLastFailure: true}
  values:
    anything: {goes: [1, 2, {deep: true}]}
    securityContext: {readOnlyRootFileSystem: true}
"#;

    fn with(yaml: &str, pointer: &str, key: &str, value: Value) -> Object {
        let mut o = obj(yaml);
        if let Some(Value::Object(m)) = o.value.pointer_mut(pointer) {
            m.insert(key.to_string(), value);
        }
        o
    }

    fn run(objects: Vec<Object>) -> Vec<Finding> {
        check(&input(objects, Vec::new()))
    }

    #[test]
    fn correct_deployment_has_no_findings() {
        assert_eq!(run(vec![obj(DEPLOYMENT)]), Vec::<Finding>::new());
    }

    #[test]
    fn miscased_security_context_field_is_reported_with_its_exact_path() {
        let mut o = obj(DEPLOYMENT);
        let sc = o
            .value
            .pointer_mut("/spec/template/spec/containers/0/securityContext")
            .and_then(Value::as_object_mut)
            .unwrap();
        let v = sc.remove("readOnlyRootFilesystem").unwrap();
        sc.insert("readOnlyRootFileSystem".into(), v);
        let f = run(vec![o]);
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!(f.rule, RULE);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(
            f.path,
            "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"
        );
        assert_eq!(f.object, "Deployment/headlamp/headlamp");
        assert_eq!(f.file, "apps/base/headlamp/x.yaml");
        assert!(
            f.message.starts_with(
                "unknown field \"spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem\" in apps/v1 Deployment (did you mean \"readOnlyRootFilesystem\"?)"
            ),
            "{}",
            f.message
        );
        assert_eq!(
            f.fix,
            "rename \"readOnlyRootFileSystem\" to \"readOnlyRootFilesystem\""
        );
    }

    #[test]
    fn rendered_object_points_at_the_helmrelease_values() {
        let mut o = rendered(DEPLOYMENT);
        o.value["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] =
            true.into();
        let mut r = helmrelease("securityContext:\n  readOnlyRootFileSystem: true\n");
        r.rendered.push(o);
        let f = check(&input(Vec::new(), vec![r]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].file, "apps/base/headlamp/helmrelease.yaml");
        assert!(
            f[0].fix.contains("HelmRelease headlamp/headlamp"),
            "{}",
            f[0].fix
        );
        assert!(
            f[0].fix.starts_with("rename `securityContext.readOnlyRootFileSystem` to `securityContext.readOnlyRootFilesystem` in spec.values of HelmRelease headlamp/headlamp"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn rendered_fix_names_the_values_entry_with_the_same_value() {
        let mut o = rendered(DEPLOYMENT);
        o.value["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUsr"] =
            100.into();
        let mut r =
            helmrelease("podSecurityContext:\n  runAsUsr: 1\nsecurityContext:\n  runAsUsr: 100\n");
        r.rendered.push(o);
        let f = check(&input(Vec::new(), vec![r]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].fix
                .starts_with("rename `securityContext.runAsUsr` to `securityContext.runAsUser`"),
            "{}",
            f[0].fix
        );
        let v = serde_json::json!({"a": [{"b": {"c": [1, [2, 3]]}}]});
        assert_eq!(at_path(&v, "a[0].b.c[1][0]"), Some(&Value::from(2)));
        assert_eq!(at_path(&v, "a[1]"), None);
    }

    #[test]
    fn unknown_top_level_field() {
        let f = run(vec![with(
            DEPLOYMENT,
            "",
            "sepc",
            serde_json::json!({"replicas": 2}),
        )]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].path, "sepc");
        assert!(
            f[0].message.contains("(did you mean \"spec\"?)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn unknown_field_without_a_close_name_says_how_to_look_it_up() {
        let f = run(vec![with(
            DEPLOYMENT,
            "/spec/template/spec",
            "extraVolumes",
            serde_json::json!([]),
        )]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].path, "spec.template.spec.extraVolumes");
        assert!(!f[0].message.contains("did you mean"), "{}", f[0].message);
        assert!(
            f[0].fix
                .contains("kubectl explain deployment.spec.template.spec --api-version=apps/v1"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn every_unknown_field_is_reported_not_the_first() {
        let mut o = with(DEPLOYMENT, "/metadata", "lables", serde_json::json!({}));
        o.value["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["sizeLimt"] = "1Gi".into();
        let mut paths: Vec<String> = run(vec![o]).into_iter().map(|f| f.path).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "metadata.lables",
                "spec.template.spec.volumes[0].emptyDir.sizeLimt"
            ]
        );
    }

    #[test]
    fn type_error_is_manifest_invalid_with_its_path() {
        let mut o = obj(DEPLOYMENT);
        o.value["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] =
            "http".into();
        let f = run(vec![o]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, INVALID_RULE);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].path,
            "spec.template.spec.containers[0].ports[0].containerPort"
        );
        assert!(
            f[0].message.contains("invalid type: string \"http\""),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn every_type_error_and_the_unknown_fields_after_it_are_reported() {
        let mut o = obj(DEPLOYMENT);
        o.value["spec"]["replicas"] = "two".into();
        o.value["metadata"]["labels"]["app.kubernetes.io/version"] = 1.5.into();
        let c = &mut o.value["spec"]["template"]["spec"]["containers"][0];
        c["ports"][0]["containerPort"] = "http".into();
        c["securityContext"]["runAsUsr"] = 100.into();
        let mut f: Vec<(String, String)> =
            run(vec![o]).into_iter().map(|f| (f.rule, f.path)).collect();
        f.sort();
        let expected = [
            (INVALID_RULE, "metadata.labels.app.kubernetes.io/version"),
            (INVALID_RULE, "spec.replicas"),
            (
                INVALID_RULE,
                "spec.template.spec.containers[0].ports[0].containerPort",
            ),
            (
                RULE,
                "spec.template.spec.containers[0].securityContext.runAsUsr",
            ),
        ]
        .map(|(r, p)| (r.to_string(), p.to_string()));
        assert_eq!(f, expected);
    }

    #[test]
    fn an_invalid_array_element_stops_the_read_without_misplaced_paths() {
        let mut o = obj(DEPLOYMENT);
        o.value["spec"]["template"]["spec"]["containers"][0]["args"][1] =
            serde_json::json!({"a": 1});
        let f = run(vec![o]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, INVALID_RULE);
        assert_eq!(f[0].path, "spec.template.spec.containers[0].args[1]");
    }

    #[test]
    fn numbers_where_kubernetes_takes_them_are_fine() {
        // Quantities and int-or-string fields accept plain numbers.
        let mut o = obj(DEPLOYMENT);
        o.value["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
            268435456.into();
        o.value["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] =
            4466.into();
        o.value["spec"]["strategy"] =
            serde_json::json!({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}});
        assert_eq!(run(vec![o]), Vec::<Finding>::new());
    }

    #[test]
    fn helmrelease_typo_in_spec_is_reported() {
        let mut o = obj(HELMRELEASE);
        let spec = o.value["spec"].as_object_mut().unwrap();
        let v = spec.remove("interval").unwrap();
        spec.insert("intervall".into(), v);
        let f = run(vec![o]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].path, "spec.intervall");
        assert_eq!(f[0].object, "HelmRelease/headlamp/headlamp");
        assert!(
            f[0].message.starts_with(
                "unknown field \"spec.intervall\" in helm.toolkit.fluxcd.io/v2 HelmRelease (did you mean \"interval\"?)"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn helmrelease_values_are_free_form() {
        assert_eq!(run(vec![obj(HELMRELEASE)]), Vec::<Finding>::new());
    }

    #[test]
    fn nested_flux_fields_and_metadata_are_checked() {
        let mut o = obj(HELMRELEASE);
        o.value["spec"]["upgrade"]["remediation"]["retry"] = 3.into();
        o.value["spec"]["chart"]["spec"]["sourceRef"]["namepsace"] = "flux-system".into();
        o.value["metadata"]["anotations"] = serde_json::json!({});
        let mut f: Vec<(String, bool)> = run(vec![o])
            .into_iter()
            .map(|f| (f.path, f.message.contains("did you mean")))
            .collect();
        f.sort();
        assert_eq!(
            f,
            [
                ("metadata.anotations".to_string(), true),
                ("spec.chart.spec.sourceRef.namepsace".to_string(), true),
                ("spec.upgrade.remediation.retry".to_string(), false),
            ]
        );
    }

    #[test]
    fn flux_sources_and_kustomizations_are_known() {
        for (v, k) in [
            ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
            ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
            ("source.toolkit.fluxcd.io/v1", "GitRepository"),
            ("source.toolkit.fluxcd.io/v1", "OCIRepository"),
            ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
            ("apps/v1", "Deployment"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ] {
            assert!(knows(v, k), "{v} {k}");
        }
        assert!(!knows("traefik.io/v1alpha1", "IngressRoute"));
        assert!(!knows("apps/v1beta1", "Deployment"));
    }

    #[test]
    fn kustomization_patches_are_checked_item_by_item() {
        let o = obj(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a, namespace: flux-system}\nspec:\n  interval: 1m\n  path: ./a\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n  patches:\n    - target: {kind: Deployment, name: x}\n      patch: '[]'\n    - targte: {kind: Deployment}\n      patch: '[]'\n",
        );
        let f = run(vec![o]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].path, "spec.patches[1].targte");
    }

    #[test]
    fn unknown_kinds_are_skipped() {
        let o = obj(
            "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: headlamp, namespace: headlamp}\nspec:\n  entryPoints: [web]\n  routes:\n    - kind: Rule\n      match: Host(`h`)\n      services: [{name: headlamp, port: 80}]\n      bogus: 1\n",
        );
        assert_eq!(run(vec![o]), Vec::<Finding>::new());
    }

    #[test]
    fn core_and_rbac_kinds() {
        let svc = obj(
            "apiVersion: v1\nkind: Service\nmetadata: {name: headlamp, namespace: headlamp}\nspec:\n  type: ClusterIP\n  ports: [{port: 80, targetPort: http, protocl: TCP}]\n  selector: {app: headlamp}\n",
        );
        let crb = obj(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubject:\n  - {kind: ServiceAccount, name: headlamp, namespace: headlamp}\n",
        );
        let secret = obj(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\ntype: Opaque\nstringData: {a: b}\ndata: {c: aGVsbG8=}\n",
        );
        let mut f: Vec<String> = run(vec![svc, crb, secret])
            .into_iter()
            .map(|f| f.path)
            .collect();
        f.sort();
        assert_eq!(f, ["spec.ports[0].protocl", "subject"]);
    }

    #[test]
    fn suggestions() {
        let known: Vec<String> = [
            "readOnlyRootFilesystem",
            "runAsUser",
            "interval",
            "labels",
            "ports",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            closest("readOnlyRootFileSystem", &known).as_deref(),
            Some("readOnlyRootFilesystem")
        );
        assert_eq!(closest("intervall", &known).as_deref(), Some("interval"));
        assert_eq!(closest("lables", &known).as_deref(), Some("labels"));
        assert_eq!(closest("extraVolumes", &known), None);
        assert_eq!(closest("ab", &known), None);
    }

    #[test]
    fn embedded_data_parses_and_covers_flux() {
        let v: Value = serde_json::from_str(FLUX_FIELDS_JSON).unwrap();
        assert!(
            v["helm.toolkit.fluxcd.io/v2"]["HelmRelease"]["properties"]["spec"]["properties"]["values"]
                ["open"]
                == true
        );
        assert!(
            FLUX_FIELDS_JSON.len() < 200_000,
            "{} bytes",
            FLUX_FIELDS_JSON.len()
        );
        assert!(!FLUX_FIELDS_JSON.contains("\"description\""));
    }

    #[test]
    fn derivation_prunes_to_names_items_and_open_markers() {
        let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          description: drop me
          properties:
            apiVersion: {type: string}
            metadata: {type: object}
            spec:
              type: object
              properties:
                labels: {type: object, additionalProperties: {type: string}}
                values: {type: object, x-kubernetes-preserve-unknown-fields: true}
                ports:
                  type: array
                  items: {type: object, properties: {port: {type: integer}}}
                empty: {type: object}
    - name: v0
      served: false
      storage: false
      schema: {openAPIV3Schema: {type: object}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ignored}
"#;
        let v = derive_flux_fields(crd).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"example.com/v1": {"Widget": {"properties": {
                "apiVersion": {},
                "metadata": {"properties": {}},
                "spec": {"properties": {
                    "labels": {"open": true},
                    "values": {"open": true},
                    "ports": {"items": {"properties": {"port": {}}}},
                    "empty": {"properties": {}},
                }},
            }}}})
        );
        let text = render_flux_fields(&v);
        assert!(text.ends_with("}\n") && text.find("\"apiVersion\"") < text.find("\"metadata\""));
        assert!(
            derive_flux_fields("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n").is_err()
        );
    }
}
