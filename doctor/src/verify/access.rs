//! What answers at `--url` before Headlamp does: Cloudflare Access (or another gate) must be recognised and named,
//! never judged as if Headlamp had answered.
//!
//! Cloudflare Access sends an unauthenticated request "a redirect or `403` error instead of the expected response"
//! (cloudflare/cloudflare-docs, src/content/docs/cloudflare-one/access-controls/authenticate-agents.mdx). Its
//! redirect is a 302 whose Location path starts with `/cdn-cgi/access/login`: that is exactly the test cloudflared
//! itself applies (cloudflare/cloudflared, carrier/carrier.go `IsAccessResponse`, `token.AccessLoginWorkerPath`), on
//! the team domain `<team>.cloudflareaccess.com` or the application's own host. A 403 from the Cloudflare edge carries
//! its `CF-Ray` header (and `Server: cloudflare`); a 403 from Headlamp's proxy is the API server's JSON `Status` —
//! which, behind Cloudflare, also has a `CF-Ray`, so the body decides.

use reqwest::header::{HeaderMap, LOCATION, SERVER};

/// Who answered the first request on the Headlamp route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Headlamp (or the API server behind it) answered: judge the answers.
    Headlamp,
    /// Cloudflare Access redirected to its login page.
    AccessLogin { location: String },
    /// The Cloudflare edge refused (403 without a Kubernetes `Status` body): an Access policy, WAF or a rule.
    CloudflareForbidden { ray: Option<String> },
    /// Some other redirect (an OAuth proxy, http → https, a wrong path).
    Redirect { status: u16, location: String },
}

impl Gate {
    /// Why the Headlamp route cannot be judged, or `None` when it can.
    pub fn refusal(&self, url: &str) -> Option<String> {
        match self {
            Gate::Headlamp => None,
            Gate::AccessLogin { location } => Some(format!(
                "Cloudflare Access is in front of {url}: it redirected to its login page ({location}) before Headlamp saw the request, so its access matrix says nothing about Headlamp; verify behind Access with --service (a port-forward through the API server), or from inside the network with the LAN URL"
            )),
            Gate::CloudflareForbidden { ray } => Some(format!(
                "the Cloudflare edge answered 403 for {url} before Headlamp (no Kubernetes Status in the body{}): Cloudflare Access or a firewall rule refuses this client; use --service or the LAN URL",
                ray.as_deref()
                    .map(|r| format!(", CF-Ray {r}"))
                    .unwrap_or_default()
            )),
            Gate::Redirect { status, location } => Some(format!(
                "{url} answered {status} with a redirect to {location} instead of Headlamp's proxy: something (an auth proxy, an http→https redirect) is in front; pass the URL Headlamp itself serves"
            )),
        }
    }
}

fn is_access_login(location: &str) -> bool {
    // cloudflared's IsAccessResponse: the Location's path starts with /cdn-cgi/access/login
    let without_scheme = location
        .split_once("://")
        .map_or(location, |(_, rest)| rest);
    let path = if location.starts_with('/') {
        location
    } else {
        without_scheme
            .find('/')
            .map_or("", |i| &without_scheme[i..])
    };
    let host = if location.starts_with('/') {
        ""
    } else {
        without_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
    };
    path.starts_with("/cdn-cgi/access/login")
        || host
            .rsplit_once(':')
            .map_or(host, |(h, _)| h)
            .ends_with(".cloudflareaccess.com")
}

/// A Kubernetes `Status` object (what the API server, and Headlamp's proxy passing it through, send with an error).
fn is_kubernetes_status(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v["kind"] == "Status" && v["apiVersion"] == "v1")
}

/// Classify the answer to the first request on the Headlamp route.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Gate {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if (300..400).contains(&status) {
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(no Location header)")
            .to_string();
        // cloudflared tests 302 only; Access is the same gate whatever redirect code a proxy turns it into
        if is_access_login(&location) {
            return Gate::AccessLogin {
                location: short_location(&location),
            };
        }
        return Gate::Redirect {
            status,
            location: short_location(&location),
        };
    }
    let from_cloudflare = headers.contains_key("cf-ray")
        || header(SERVER.as_str()).is_some_and(|s| s.eq_ignore_ascii_case("cloudflare"));
    if status == 403 && from_cloudflare && !is_kubernetes_status(body) {
        return Gate::CloudflareForbidden {
            ray: header("cf-ray"),
        };
    }
    Gate::Headlamp
}

/// The Location without its query (Access puts `redirect_url` and a `kid` there; no secret, but noise).
fn short_location(location: &str) -> String {
    location
        .split(['?', '#'])
        .next()
        .unwrap_or(location)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn access_login_redirects_are_recognised() {
        for location in [
            "https://myteam.cloudflareaccess.com/cdn-cgi/access/login/headlamp.example.net?kid=abc&redirect_url=%2Fclusters%2Fmain",
            "https://headlamp.example.net/cdn-cgi/access/login/headlamp.example.net?kid=abc",
            "/cdn-cgi/access/login/headlamp.example.net",
            "https://myteam.cloudflareaccess.com/",
        ] {
            let g = classify(302, &headers(&[("location", location)]), b"");
            assert!(matches!(g, Gate::AccessLogin { .. }), "{location}: {g:?}");
            let why = g.refusal("https://headlamp.example.net").unwrap();
            assert!(why.contains("Cloudflare Access is in front"), "{why}");
            assert!(!why.contains("kid="), "the query is dropped: {why}");
        }
    }

    #[test]
    fn other_redirects_are_named_but_not_called_access() {
        let g = classify(
            302,
            &headers(&[("location", "https://auth.example.net/oauth2/start?rd=/")]),
            b"",
        );
        assert_eq!(
            g,
            Gate::Redirect {
                status: 302,
                location: "https://auth.example.net/oauth2/start".into()
            }
        );
        // a host that merely contains the name is not Access
        let g = classify(
            301,
            &headers(&[("location", "https://cloudflareaccess.com.evil.example/x")]),
            b"",
        );
        assert!(matches!(g, Gate::Redirect { status: 301, .. }), "{g:?}");
    }

    #[test]
    fn a_cloudflare_403_is_the_edge_but_a_kubernetes_403_behind_cloudflare_is_headlamp() {
        let edge = classify(
            403,
            &headers(&[("cf-ray", "8f1c2d3e4f5a6b7c-AMS"), ("server", "cloudflare")]),
            b"<!DOCTYPE html><title>Forbidden</title>",
        );
        assert_eq!(
            edge,
            Gate::CloudflareForbidden {
                ray: Some("8f1c2d3e4f5a6b7c-AMS".into())
            }
        );
        assert!(
            edge.refusal("https://h")
                .unwrap()
                .contains("CF-Ray 8f1c2d3e4f5a6b7c-AMS")
        );
        let status = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","reason":"Forbidden","code":403}"#;
        assert_eq!(
            classify(403, &headers(&[("cf-ray", "x-AMS")]), status),
            Gate::Headlamp
        );
        // a 403 without any Cloudflare header is Headlamp's (or the API server's) to judge
        assert_eq!(
            classify(403, &HeaderMap::new(), b"forbidden"),
            Gate::Headlamp
        );
        assert_eq!(classify(200, &HeaderMap::new(), b"{}"), Gate::Headlamp);
        assert_eq!(Gate::Headlamp.refusal("https://h"), None);
    }
}
