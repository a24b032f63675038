//! Kubernetes client errors as a user reads them.

/// A short, readable message for a Kubernetes client error: `403 Forbidden: <what the API server said>` for API
/// errors (instead of the Debug dump in `kube::Error`'s own Display), the error itself otherwise.
pub fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => {
            let mut out = String::new();
            if status.code != 0 {
                out.push_str(&status.code.to_string());
                out.push(' ');
            }
            if !status.reason.is_empty() {
                out.push_str(&status.reason);
            }
            if !status.message.is_empty() {
                if !out.is_empty() {
                    out = format!("{}: ", out.trim_end());
                }
                out.push_str(&status.message);
            }
            if out.is_empty() {
                "API error without a message".into()
            } else {
                out
            }
        }
        other => other.to_string(),
    }
}
