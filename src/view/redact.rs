//! Redaction of secrets in text that leaves the cluster (logs, object fields written to snapshots, printed output):
//! PEM blocks, bearer tokens, JWTs (ServiceAccount tokens are JWTs) and `password=…`-style pairs.
//!
//! A `redact` is being written in `src/report` by another change; the two are to be unified (this one stays small).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// The text that replaces a secret.
pub const REDACTED: &str = "<redacted>";

struct Patterns {
    pem: Regex,
    bearer: Regex,
    jwt: Regex,
    pair: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        // The patterns are constants: a failure to compile them is a bug, caught by the tests below.
        let re = |s: &str| Regex::new(s).unwrap_or_else(|e| panic!("redact pattern {s}: {e}"));
        Patterns {
            pem: re(r"(?s)-----BEGIN ([A-Z0-9 ]+)-----(?:.*?-----END [A-Z0-9 ]+-----|.*)"),
            bearer: re(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]+=*"),
            jwt: re(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
            pair: re(
                r#"(?i)\b((?:access[_-]?|refresh[_-]?|id[_-]?|auth[_-]?)?token|password|passwd|client[_-]?secret|secret[_-]?key|api[_-]?key)(["']?\s*[:=]\s*["']?)[^\s"',;&]+"#,
            ),
        }
    })
}

/// `text` with PEM blocks, bearer tokens, JWTs and `token=`/`password:`-style values replaced by `<redacted>`.
pub fn redact(text: &str) -> String {
    let p = patterns();
    let t = p.pem.replace_all(text, |c: &regex::Captures| {
        // a block cut off (log tail limit) has no END line: it is redacted to the end of the text
        if c[0].contains("-----END ") {
            format!("-----BEGIN {0}-----<redacted>-----END {0}-----", &c[1])
        } else {
            format!("-----BEGIN {}-----<redacted>", &c[1])
        }
    });
    let t = p.bearer.replace_all(&t, "$1$2<redacted>");
    let t = p.jwt.replace_all(&t, REDACTED);
    let t = p.pair.replace_all(&t, "$1$2<redacted>");
    t.into_owned()
}

/// Redact every string in a JSON value (keys are left as they are).
pub fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => m.values_mut().for_each(redact_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkV4In0.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJlLWJ5dGVz";

    #[test]
    fn tokens_jwts_and_pem_blocks_are_redacted() {
        let log = format!(
            "GET /clusters/main/api/v1/pods Authorization: Bearer abc.DEF-123_x==\nsa token {JWT} ok\n-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUX\n-----END CERTIFICATE-----\nafter\n"
        );
        let r = redact(&log);
        assert!(!r.contains("abc.DEF"), "{r}");
        assert!(r.contains("Bearer <redacted>"), "{r}");
        assert!(!r.contains("eyJhbGci"), "{r}");
        assert!(!r.contains("MIIBszCC"), "{r}");
        assert!(
            r.contains("-----BEGIN CERTIFICATE-----<redacted>-----END CERTIFICATE-----\nafter")
        );
    }

    #[test]
    fn unterminated_pem_and_pairs() {
        let r = redact("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC");
        assert_eq!(r, "key:\n-----BEGIN RSA PRIVATE KEY-----<redacted>");
        let r = redact("-oidc-client-secret=s3cr3t password: \"hunter2\" token=abc&x=1");
        assert!(
            !r.contains("s3cr3t") && !r.contains("hunter2") && !r.contains("abc&"),
            "{r}"
        );
        assert!(r.contains("&x=1"), "{r}");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for s in [
            "mkdir /home/headlamp/.config: read-only file system",
            "flag provided but not defined: -in-cluster-context-name",
            "Running 'install' action with timeout of 10m0s",
            "secretRef: flux-system",
        ] {
            assert_eq!(redact(s), s);
        }
    }

    #[test]
    fn values_are_walked() {
        let mut v = serde_json::json!({"env": [{"name": "T", "value": JWT}], "n": 1});
        redact_value(&mut v);
        assert_eq!(v["env"][0]["value"], REDACTED);
    }
}
