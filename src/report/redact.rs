//! Redaction: no token, key, certificate or Secret value leaves the harness, in logs, reports or artifacts.
//!
//! [`redact`] works on free text (logs, error messages, YAML or JSON dumps); [`redact_object`] on a parsed object
//! before it is written as an artifact. Both are idempotent: redacting twice changes nothing more.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// What every removed value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Keys whose values are credentials, in kubeconfigs (`token`, `client-key-data`, …) and in Secret data (`token`,
/// `ca.crt` of a service-account token Secret).
pub const CREDENTIAL_KEYS: &[&str] = &[
    "token",
    "id-token",
    "refresh-token",
    "access-token",
    "password",
    "client-secret",
    "client-key-data",
    "client-certificate-data",
    "certificate-authority-data",
    "ca.crt",
];

/// The annotation `kubectl apply` writes: a full copy of the object, Secret data included.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn keys_alternation() -> String {
    CREDENTIAL_KEYS
        .iter()
        .map(|k| regex::escape(k))
        .collect::<Vec<_>>()
        .join("|")
}

fn compile(pattern: &str) -> Regex {
    // The patterns are constants of this file; a unit test compiles every one of them.
    Regex::new(pattern).expect("redaction patterns are valid regular expressions")
}

/// A complete PEM block, also inside JSON strings where its newlines are `\n`.
static PEM_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?s)-----BEGIN ([A-Z0-9 ]{1,64})-----.*?-----END [A-Z0-9 ]{1,64}-----")
});
/// A PEM block cut short (a truncated log line): everything base64-ish after BEGIN.
static PEM_TRUNCATED: LazyLock<Regex> =
    LazyLock::new(|| compile(r"-----BEGIN ([A-Z0-9 ]{1,64})-----[A-Za-z0-9+/=\s\\]*"));
/// A YAML (or pretty JSON) line whose key is a credential: `  token: abc`, `- "ca.crt": |`, `"token": "abc",`.
static FIELD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r#"^(?P<head>(?P<indent>[ \t]*(?:-[ \t]+)?)["']?(?:{})["']?[ \t]*:)(?P<rest>.*)$"#,
        keys_alternation()
    ))
});
/// A JSON member anywhere in a line: `"token":"abc"`.
static JSON_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r#""(?P<key>{})"\s*:\s*"(?:[^"\\]|\\.)*""#,
        keys_alternation()
    ))
});
/// An Authorization header in any rendering: `Authorization: Bearer x`, `"authorization":"Bearer x"`,
/// Go's `Authorization:[Bearer x]`.
static AUTHORIZATION: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)(?P<head>authorization["']?\s*[:=]\s*["'\[]?\s*(?:(?:bearer|basic|token)\s+)?)(?P<value>[^\s"',;\]<]+)"#,
    )
});
/// A bearer token outside an Authorization header (long enough not to be an English word).
static BEARER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b(?P<head>Bearer\s+)[A-Za-z0-9\-._~+/]{16,}=*"));
/// An inline `key=value` / `key: value` credential in free text (flags, log lines): `-oidc-client-secret=x`,
/// `password: "x"`, `token=x&…`.
static INLINE_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)\b(?P<head>(?:(?:access|refresh|id|auth)[_-]?)?token|password|passwd|client[_-]?secret|secret[_-]?key|api[_-]?key)(?P<sep>["']?[ \t]*[:=][ \t]*["']?)(?P<value>[^\s"',;&<]+)"#,
    )
});
/// A JWT: three base64url segments, the first (the JSON header) starting `eyJ`; the signature may be empty.
static JWT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"));

/// Remove secrets from free text: bearer tokens, JWTs, PEM blocks and the values of kubeconfig / Secret credential
/// fields ([`CREDENTIAL_KEYS`]). Ordinary text comes back unchanged.
pub fn redact(text: &str) -> String {
    let text = PEM_BLOCK.replace_all(text, |c: &Captures| format!("<redacted PEM {}>", &c[1]));
    let text = PEM_TRUNCATED.replace_all(&text, |c: &Captures| format!("<redacted PEM {}>", &c[1]));
    let text = redact_field_lines(&text);
    let text = JSON_FIELD.replace_all(&text, |c: &Captures| {
        format!(r#""{}": "{REDACTED}""#, &c["key"])
    });
    let text = AUTHORIZATION.replace_all(&text, |c: &Captures| {
        let value = &c["value"];
        // `Authorization: Bearer <redacted>` must stay as it is: the scheme alone is no secret.
        if ["bearer", "basic", "token"].contains(&value.to_ascii_lowercase().as_str()) {
            c[0].to_string()
        } else {
            format!("{}{REDACTED}", &c["head"])
        }
    });
    let text = BEARER.replace_all(&text, |c: &Captures| format!("{}{REDACTED}", &c["head"]));
    let text = JWT.replace_all(&text, "<redacted JWT>");
    let text = INLINE_PAIR.replace_all(&text, |c: &Captures| {
        if c["value"].starts_with("<redacted") {
            c[0].to_string()
        } else {
            format!("{}{}{REDACTED}", &c["head"], &c["sep"])
        }
    });
    text.into_owned()
}

/// `key: value` lines with a credential key lose their value; a block value (`key: |` and the more indented lines
/// after it) becomes one `key: <redacted>` line.
fn redact_field_lines(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(c) = FIELD_LINE.captures(line) else {
            out.push(line.to_string());
            continue;
        };
        let head = &c["head"];
        let rest = c["rest"].trim();
        if rest.starts_with("<redacted")
            || rest.starts_with("\"<redacted")
            || rest.starts_with("'<redacted")
        {
            out.push(line.to_string());
            continue;
        }
        let block = rest.is_empty() || rest.starts_with('|') || rest.starts_with('>');
        if block {
            // The key's column: its value lines are indented further.
            let key_indent = c["indent"].len();
            let mut end = i;
            let mut j = i;
            while j < lines.len() {
                let l = lines[j];
                if l.trim().is_empty() {
                    j += 1;
                    continue;
                }
                if indent_of(l) > key_indent {
                    j += 1;
                    end = j;
                } else {
                    break;
                }
            }
            if end == i && rest.is_empty() {
                // `token:` with nothing after it and nothing under it: an empty value, nothing to hide.
                out.push(line.to_string());
                continue;
            }
            i = end;
            out.push(format!("{head} {REDACTED}"));
            continue;
        }
        let comma = if rest.ends_with(',') { "," } else { "" };
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => format!("{q}{REDACTED}{q}"),
            _ => REDACTED.to_string(),
        };
        out.push(format!("{head} {value}{comma}"));
    }
    out.join("\n")
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Redact an object (a parsed YAML or JSON artifact) in place: Secrets keep their `data` / `stringData` keys but every
/// value becomes `<redacted>`; the last-applied-configuration annotation is redacted; credential fields
/// ([`CREDENTIAL_KEYS`], e.g. in a kubeconfig) lose their values; and every other string goes through [`redact`].
/// Lists (`kind: List`, `items`) and nested objects are walked.
pub fn redact_object(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret");
            for (key, v) in map.iter_mut() {
                if is_secret && (key == "data" || key == "stringData") {
                    if let Value::Object(data) = v {
                        for item in data.values_mut() {
                            *item = Value::String(REDACTED.to_string());
                        }
                    }
                    continue;
                }
                if CREDENTIAL_KEYS.contains(&key.as_str()) && v.is_string() {
                    *v = Value::String(REDACTED.to_string());
                    continue;
                }
                if key == "annotations"
                    && let Value::Object(annotations) = v
                    && let Some(applied) = annotations.get_mut(LAST_APPLIED)
                {
                    *applied = Value::String(REDACTED.to_string());
                }
                redact_object(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_object),
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JWT_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJlLXBhcnQtMTIzNDU2";

    fn assert_idempotent(text: &str) {
        let once = redact(text);
        assert_eq!(redact(&once), once, "redacting twice changed {once:?}");
    }

    #[test]
    fn patterns_compile() {
        for re in [
            &*PEM_BLOCK,
            &*PEM_TRUNCATED,
            &*FIELD_LINE,
            &*JSON_FIELD,
            &*AUTHORIZATION,
            &*BEARER,
            &*JWT,
        ] {
            assert!(!re.as_str().is_empty());
        }
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for text in [
            "",
            "HelmRelease headlamp/headlamp is Ready: Helm install succeeded for release headlamp/headlamp.v1",
            "list-secrets via headlamp: expected 403 Forbidden, got 200 OK",
            "the bearer token was rotated; Authorization failed",
            "Bearer auth is configured",
            "  tokenRef: headlamp-login-token\n  serviceAccountName: headlamp\n",
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  key: value\n",
            "secrets is forbidden: User \"system:serviceaccount:headlamp:headlamp-login\" cannot list resource \"secrets\"",
            "flag provided but not defined: -in-cluster-context-name",
            "eyJ alone is not a token",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn authorization_headers_lose_their_value() {
        let cases = [
            (
                "Authorization: Bearer abc.def-123",
                "Authorization: Bearer <redacted>",
            ),
            (
                "authorization: bearer s3cr3t",
                "authorization: bearer <redacted>",
            ),
            (
                "Authorization: Basic dXNlcjpwYXNz",
                "Authorization: Basic <redacted>",
            ),
            (
                r#"{"Authorization":"Bearer s3cr3t"}"#,
                r#"{"Authorization":"Bearer <redacted>"}"#,
            ),
            (
                "map[Authorization:[Bearer s3cr3t]]",
                "map[Authorization:[Bearer <redacted>]]",
            ),
            (
                "curl -H 'Authorization: Bearer s3cr3t' x",
                "curl -H 'Authorization: Bearer <redacted>' x",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
            assert_idempotent(input);
        }
    }

    #[test]
    fn bare_bearer_tokens_are_redacted() {
        let t = "sending Bearer K10abcdef0123456789abcdef::server:xyz to the API";
        let r = redact(t);
        assert!(!r.contains("K10abcdef0123456789abcdef"), "{r}");
        assert!(r.starts_with("sending Bearer <redacted>"), "{r}");
        assert_idempotent(t);
    }

    #[test]
    fn jwts_are_redacted_anywhere() {
        let t = format!("token was {JWT_TOKEN} (expired)");
        assert_eq!(redact(&t), "token was <redacted JWT> (expired)");
        // unsigned JWT: empty signature
        let unsigned = "x eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0. y";
        assert_eq!(redact(unsigned), "x <redacted JWT> y");
        assert_idempotent(&t);
    }

    #[test]
    fn pem_blocks_are_redacted() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc+/=\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            redact(&format!("key:\n{key}\nafter")),
            "key:\n<redacted PEM RSA PRIVATE KEY>\nafter"
        );
        // in a JSON string, newlines are escaped
        let json = r#"{"pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}"#;
        assert_eq!(redact(json), r#"{"pem":"<redacted PEM CERTIFICATE>\n"}"#);
        // truncated in a log line
        let cut = "got -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg";
        assert_eq!(redact(cut), "got <redacted PEM PRIVATE KEY>");
        assert_idempotent(key);
        assert_idempotent(cut);
    }

    #[test]
    fn kubeconfig_credentials_are_redacted() {
        let kubeconfig = "\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    server: https://127.0.0.1:6443
  name: default
users:
- name: default
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJU
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRF
- name: login
  user:
    token: abc123notajwt
";
        let r = redact(kubeconfig);
        for secret in [
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
            "LS0tLS1CRUdJTiBDRVJU",
            "LS0tLS1CRUdJTiBFQyBQUklWQVRF",
            "abc123notajwt",
        ] {
            assert!(!r.contains(secret), "{secret} left in\n{r}");
        }
        assert!(r.contains("    certificate-authority-data: <redacted>\n"));
        assert!(r.contains("    client-key-data: <redacted>\n"));
        assert!(r.contains("    token: <redacted>\n"));
        assert!(r.contains("server: https://127.0.0.1:6443"));
        assert!(r.contains("- name: login\n"));
        assert_eq!(r.lines().count(), kubeconfig.lines().count());
        assert_idempotent(kubeconfig);
    }

    #[test]
    fn secret_yaml_fields_and_block_scalars_are_redacted() {
        let secret = "\
kind: Secret
data:
  ca.crt: |
    LS0tLS1CRUdJTi
    BDRVJUSUZJQ0FU

  namespace: aGVhZGxhbXA=
  token: ZXlKaGJHY2lPaUpTVXpJMU5pSXNJbXRwWkNJNkltRmlZeUo5
type: kubernetes.io/service-account-token
";
        let r = redact(secret);
        assert_eq!(
            r,
            "\
kind: Secret
data:
  ca.crt: <redacted>

  namespace: aGVhZGxhbXA=
  token: <redacted>
type: kubernetes.io/service-account-token
"
        );
        assert_idempotent(secret);
    }

    #[test]
    fn json_credential_fields_are_redacted() {
        let inline = r#"{"kind":"Secret","data":{"token":"ZXlKaGJH","ca.crt":"LS0tLS1C"},"x":"y"}"#;
        assert_eq!(
            redact(inline),
            r#"{"kind":"Secret","data":{"token": "<redacted>","ca.crt": "<redacted>"},"x":"y"}"#
        );
        let pretty = "{\n  \"token\": \"ZXlKaGJH\",\n  \"namespace\": \"aGVhZGxhbXA=\"\n}";
        assert_eq!(
            redact(pretty),
            "{\n  \"token\": \"<redacted>\",\n  \"namespace\": \"aGVhZGxhbXA=\"\n}"
        );
        assert!(serde_json::from_str::<Value>(&redact(pretty)).is_ok());
        assert_idempotent(inline);
        assert_idempotent(pretty);
    }

    #[test]
    fn empty_credential_field_is_kept() {
        let t = "user:\n  token:\nname: x";
        assert_eq!(redact(t), t);
    }

    #[test]
    fn secret_objects_keep_keys_and_lose_values() {
        let mut secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "headlamp-login-token",
                "annotations": {
                    "kubernetes.io/service-account.name": "headlamp-login",
                    LAST_APPLIED: "{\"data\":{\"token\":\"c2VjcmV0\"}}"
                }
            },
            "type": "kubernetes.io/service-account-token",
            "data": {"token": "ZXlK", "ca.crt": "LS0t", "namespace": "aGVhZGxhbXA="},
            "stringData": {"password": "hunter2"}
        });
        redact_object(&mut secret);
        assert_eq!(
            secret["data"],
            json!({"token": "<redacted>", "ca.crt": "<redacted>", "namespace": "<redacted>"})
        );
        assert_eq!(secret["stringData"], json!({"password": "<redacted>"}));
        assert_eq!(
            secret["metadata"]["annotations"][LAST_APPLIED],
            "<redacted>"
        );
        assert_eq!(
            secret["metadata"]["annotations"]["kubernetes.io/service-account.name"],
            "headlamp-login"
        );
        assert_eq!(secret["metadata"]["name"], "headlamp-login-token");
    }

    #[test]
    fn objects_in_lists_and_all_strings_are_redacted() {
        let mut list = json!({
            "kind": "List",
            "items": [
                {"kind": "Secret", "metadata": {"name": "a"}, "data": {"k": "dg=="}},
                {"kind": "ConfigMap", "metadata": {"name": "b", "annotations": {LAST_APPLIED: "{}"}},
                 "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "plain": "hello"}},
                {"kind": "Pod", "spec": {"containers": [{"args": [format!("--token={JWT_TOKEN}"), "-in-cluster"]}]}},
                {"kind": "Config", "users": [{"user": {"token": "abc", "client-key-data": "LS0t"}}]}
            ]
        });
        redact_object(&mut list);
        assert_eq!(list["items"][0]["data"]["k"], "<redacted>");
        assert_eq!(list["items"][1]["data"]["ca.crt"], "<redacted>");
        assert_eq!(list["items"][1]["data"]["plain"], "hello");
        assert_eq!(
            list["items"][1]["metadata"]["annotations"][LAST_APPLIED],
            "<redacted>"
        );
        assert_eq!(
            list["items"][2]["spec"]["containers"][0]["args"],
            json!(["--token=<redacted JWT>", "-in-cluster"])
        );
        assert_eq!(
            list["items"][3]["users"][0]["user"],
            json!({"token": "<redacted>", "client-key-data": "<redacted>"})
        );
        let text = list.to_string();
        assert!(!text.contains(JWT_TOKEN));
    }

    #[test]
    fn non_secret_data_is_kept() {
        let mut cm =
            json!({"kind": "ConfigMap", "data": {"token-name": "x", "values.yaml": "a: 1"}});
        let before = cm.clone();
        redact_object(&mut cm);
        assert_eq!(cm, before);
    }
}
