//! A fake API server (wiremock) answering the access matrix as an identity bound to ClusterRole `view`: for this
//! crate's probe tests and, with the `test-support` feature, for the tests of the crates above (verify).

use wiremock::matchers::{header, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use serde_json::json;

use crate::rbac::*;

pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aGVhZGxhbXA6aGVhZGxhbXAtbG9naW4ifQ.c2lnbmF0dXJl";
pub const POD: &str = "headlamp-6d9f7c9b8-abcde";

/// Mimics the API server's answers for an identity bound to ClusterRole view, and checks the requests are well
/// formed (bearer token, dry runs, merge-patch content type) before answering.
pub struct FakeApiServer {
    /// Path prefix the route adds (`/clusters/main` via Headlamp).
    pub prefix: &'static str,
    pub token: &'static str,
    /// A broken setup: Secrets readable (and SelfSubjectAccessReviews allow everything).
    pub allow_secrets: bool,
}

impl FakeApiServer {
    fn user(&self) -> &'static str {
        "system:serviceaccount:headlamp:headlamp-login"
    }
}

impl Respond for FakeApiServer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let Some(path) = req.url.path().strip_prefix(self.prefix) else {
            return ResponseTemplate::new(404).set_body_string("404 page not found");
        };
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if auth != format!("Bearer {}", self.token) {
            return ResponseTemplate::new(401).set_body_raw(
                status_json(401, "Unauthorized", "Unauthorized"),
                "application/json",
            );
        }
        let query = req.url.query().unwrap_or_default();
        let method = req.method.as_str();
        if method == "POST" && path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" {
            // An access review is a question, not a write: the API server answers 201 with the decision
            // (k8s.io/kubernetes pkg/registry/authorization/selfsubjectaccessreview/rest.go).
            let Ok(mut review) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
                return ResponseTemplate::new(400)
                    .set_body_string("test fake: review body is not JSON");
            };
            let attrs = &review["spec"]["resourceAttributes"];
            let read = matches!(attrs["verb"].as_str(), Some("get" | "list" | "watch"))
                && attrs["resource"] != "secrets";
            review["status"] = json!({"allowed": self.allow_secrets || read});
            return ResponseTemplate::new(201).set_body_json(review);
        }
        let is_exec = path.ends_with("/exec");
        if method != "GET" && !is_exec && !query.contains("dryRun=All") {
            return ResponseTemplate::new(500)
                .set_body_string("test fake: write without dryRun=All");
        }
        if method == "PATCH"
            && req
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                != Some("application/merge-patch+json")
        {
            return ResponseTemplate::new(415)
                .set_body_string("test fake: patch needs merge-patch+json");
        }
        if method == "POST"
            && !is_exec
            && serde_json::from_slice::<serde_json::Value>(&req.body).is_err()
        {
            return ResponseTemplate::new(400)
                .set_body_string("test fake: create body is not JSON");
        }
        let resource = path
            .split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        let readable = method == "GET"
            && !is_exec
            && !path.contains("rbac.authorization.k8s.io")
            && (self.allow_secrets || !resource.contains(&"secrets"));
        if readable {
            if path.ends_with("/log") {
                return ResponseTemplate::new(200).set_body_string("listening on :4466\n");
            }
            return ResponseTemplate::new(200).set_body_json(
                json!({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []}),
            );
        }
        let verb = match method {
            "GET" if resource.len() % 2 == 1 => "list",
            "GET" => "get",
            "POST" => "create",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "unknown",
        };
        let message = format!(
            "{} is forbidden: User \"{}\" cannot {verb} resource in the namespace \"headlamp\"",
            resource.last().copied().unwrap_or_default(),
            self.user()
        );
        ResponseTemplate::new(403)
            .set_body_raw(status_json(403, "Forbidden", &message), "application/json")
    }
}

pub async fn fake(token: &'static str, allow_secrets: bool) -> (MockServer, Route, Route) {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/clusters/main/"))
        .and(header("host", HEADLAMP_HOST))
        .respond_with(FakeApiServer {
            prefix: "/clusters/main",
            token,
            allow_secrets,
        })
        .mount(&server)
        .await;
    Mock::given(path_regex("^/apis?/"))
        .respond_with(FakeApiServer {
            prefix: "",
            token,
            allow_secrets,
        })
        .mount(&server)
        .await;
    let direct = Route::direct(server.uri());
    let via = Route::via_headlamp(server.uri());
    (server, direct, via)
}

/// A Kubernetes `Status` answer body.
pub fn status_json(code: u16, reason: &str, message: &str) -> Vec<u8> {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    })
    .to_string()
    .into_bytes()
}
