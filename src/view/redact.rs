//! Redaction of what leaves the cluster (logs, object fields written to snapshots, printed output): the one
//! implementation is [`crate::report::redact`]; this module applies it to every string of an object.

use serde_json::Value;

pub use crate::report::redact::{REDACTED, redact};

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
        assert!(r.contains("<redacted PEM CERTIFICATE>\nafter"), "{r}");
    }

    #[test]
    fn unterminated_pem_and_pairs() {
        let r = redact("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC");
        assert!(!r.contains("MIIEow") && !r.contains("IBAAKC"), "{r}");
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
        assert!(
            v["env"][0]["value"]
                .as_str()
                .unwrap()
                .starts_with("<redacted"),
            "{v}"
        );
    }
}
