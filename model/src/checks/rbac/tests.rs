use std::collections::HashSet;

use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::*;

pub(crate) const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aGVhZGxhbXA6aGVhZGxhbXAtbG9naW4ifQ.c2lnbmF0dXJl";
const PLAIN_TOKEN: &str = "plain-opaque-token-0123456789";
/// A throwaway test server certificate for 127.0.0.1 signed by [`CA_PEM`] (DER, base64; both valid 2000..2100) and
/// its P-256 key (PKCS#8 DER, base64). Test data only: it protects nothing.
pub(crate) const POD: &str = "headlamp-6d9f7c9b8-abcde";

// ---------------------------------------------------------------- the matrix

#[test]
fn matrix_ids_are_unique_and_stable() {
    let ids: Vec<_> = MATRIX.iter().map(|c| c.id).collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate ids in {ids:?}");
    for id in &ids {
        assert!(
            id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{id} is not kebab-case"
        );
        assert!(id.starts_with(check(id).unwrap().verb.as_str()), "{id}");
    }
    assert_eq!(check("list-secrets").unwrap().expected, Expected::Forbidden);
    assert!(check("no-such-check").is_none());
}

// ---- an RBAC rule evaluator over the real roles ----------------------------------------------------------------

/// The rules `view` grants, read from the sources, not copied: every ClusterRole labelled
/// `rbac.authorization.k8s.io/aggregate-to-view: "true"` in data/upstream/kubernetes/view-clusterrole.yaml
/// (Kubernetes' bootstrap policy; provenance in data/upstream/provenance.json) and in Flux v2.9.4's components
/// (`flux-view-flux-system`, committed as the GitOps fixture's gotk-components.yaml), plus the roles the bootstrap
/// policy binds to every authenticated user (system:basic-user, system:discovery, system:public-info-viewer).
fn view_rules() -> (Vec<serde_json::Value>, Vec<String>) {
    let mut roles = Vec::new();
    for path in [
        crate::test_support::upstream_dir().join("kubernetes/view-clusterrole.yaml"),
        crate::test_support::flux_components_file(),
    ] {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for doc in crate::yaml::parse_yaml_documents(&text, &path).unwrap() {
            let items = match doc["kind"].as_str() {
                Some("List") => doc["items"].as_array().cloned().unwrap_or_default(),
                _ => vec![doc],
            };
            roles.extend(items.into_iter().filter(|r| r["kind"] == "ClusterRole"));
        }
    }
    let authenticated = [
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
    ];
    let mut names = Vec::new();
    let mut rules = Vec::new();
    for r in roles {
        let name = r["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let aggregated =
            r["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true";
        if aggregated || authenticated.contains(&name.as_str()) {
            rules.extend(r["rules"].as_array().cloned().unwrap_or_default());
            names.push(name);
        }
    }
    (rules, names)
}

/// The request attributes the API server's RBAC authorizer sees for an HTTP request (k8s.io/apiserver
/// `pkg/endpoints/request/requestinfo.go`): API group, resource, subresource, name, verb.
#[derive(Debug, PartialEq)]
struct Attributes {
    group: String,
    resource: String,
    subresource: String,
    name: String,
    verb: &'static str,
}

fn attributes(method: &Method, api_path: &str) -> Attributes {
    let path = api_path.split('?').next().unwrap();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => (String::new(), rest.to_vec()),
        ["apis", group, _version, rest @ ..] => (group.to_string(), rest.to_vec()),
        other => panic!("not a resource path: {other:?}"),
    };
    // namespaces/<ns>/<resource>/... is namespaced, except `namespaces` and `namespaces/<name>` themselves
    let rest = match rest.as_slice() {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail.to_vec(),
        _ => rest,
    };
    let resource = rest.first().copied().unwrap_or_default().to_string();
    let name = rest.get(1).copied().unwrap_or_default().to_string();
    let subresource = rest.get(2).copied().unwrap_or_default().to_string();
    let verb = match (method.as_str(), name.is_empty()) {
        ("GET", true) => "list",
        ("GET", false) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "deletecollection",
        ("DELETE", false) => "delete",
        (m, _) => panic!("method {m}"),
    };
    Attributes {
        group,
        resource,
        subresource,
        name,
        verb,
    }
}

/// RBAC's rule match (plugin/pkg/auth/authorizer/rbac/rbac.go `RuleAllows`): verb, API group, resource (with its
/// subresource as `resource/sub`, or `*`, or `*/sub`), and resourceNames when the rule lists any.
fn rule_allows(rule: &serde_json::Value, a: &Attributes) -> bool {
    let list = |key: &str| -> Vec<String> {
        rule[key]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let has = |key: &str, want: &str| list(key).iter().any(|v| v == want || v == "*");
    if rule.get("nonResourceURLs").is_some_and(|v| !v.is_null()) && rule.get("resources").is_none()
    {
        return false;
    }
    let combined = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let resource_ok = list("resources").iter().any(|r| {
        r == "*"
            || *r == combined
            || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
    });
    let names = list("resourceNames");
    has("verbs", a.verb)
        && has("apiGroups", &a.group)
        && resource_ok
        && (names.is_empty() || names.contains(&a.name))
}

fn view_allows(rules: &[serde_json::Value], a: &Attributes) -> bool {
    rules.iter().any(|r| rule_allows(r, a))
}

#[test]
fn the_evaluator_reads_what_the_roles_grant() {
    let (rules, names) = view_rules();
    assert!(
        names.contains(&"system:aggregate-to-view".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"flux-view-flux-system".to_string()),
        "{names:?}"
    );
    let a = |m: Method, p: &str| view_allows(&rules, &attributes(&m, p));
    // Flux's aggregated role: HelmReleases readable, not writable
    assert!(a(
        Method::GET,
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/headlamp/helmreleases"
    ));
    assert!(!a(
        Method::PATCH,
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/headlamp/helmreleases/headlamp"
    ));
    // bootstrap rules
    assert!(a(Method::GET, "/api/v1/namespaces/headlamp/pods/x/log"));
    assert!(!a(Method::GET, "/api/v1/namespaces/headlamp/pods/x/exec"));
    assert!(!a(Method::GET, "/api/v1/namespaces/headlamp/secrets"));
    assert!(a(
        Method::POST,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    ));
    assert_eq!(
        attributes(
            &Method::POST,
            "/api/v1/namespaces/headlamp/pods/p/exec?command=true"
        ),
        Attributes {
            group: String::new(),
            resource: "pods".into(),
            subresource: "exec".into(),
            name: "p".into(),
            verb: "create"
        }
    );
    assert_eq!(
        attributes(&Method::GET, "/api/v1/namespaces?limit=1").resource,
        "namespaces"
    );
    assert_eq!(
        attributes(&Method::GET, "/api/v1/namespaces?limit=1").verb,
        "list"
    );
}

#[test]
fn every_matrix_entry_expects_what_view_really_grants() {
    let (rules, _) = view_rules();
    let mut wrong = Vec::new();
    for c in MATRIX {
        let a = attributes(&c.method(), &c.api_path(POD));
        // the entry's own resource label names the same thing
        let label = if a.group.is_empty() {
            a.resource.clone()
        } else {
            format!("{}.{}", a.resource, a.group)
        };
        let label = if a.subresource.is_empty() {
            label
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        assert_eq!(c.resource, label, "{}: resource label vs path", c.id);
        assert_eq!(c.verb.as_str(), a.verb, "{}: verb vs method and path", c.id);
        let expected = if view_allows(&rules, &a) {
            Expected::Allowed
        } else {
            Expected::Forbidden
        };
        if c.expected != expected {
            wrong.push(format!(
                "{} ({a:?}): matrix says {:?}, view grants {:?}",
                c.id, c.expected, expected
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "the matrix drifted from ClusterRole view:\n{}",
        wrong.join("\n")
    );
    // both outcomes are exercised
    assert!(MATRIX.iter().any(|c| c.expected == Expected::Allowed));
    assert!(MATRIX.iter().any(|c| c.expected == Expected::Forbidden));
}

#[test]
fn writes_are_dry_runs_on_a_probe_object() {
    for c in MATRIX.iter().filter(|c| c.verb.is_write()) {
        if c.id == "create-pod-exec" {
            // exec has no dry run; without upgrade headers it cannot start a stream
            assert_eq!(c.method(), Method::POST);
            assert!(c.body.is_none());
            continue;
        }
        assert!(c.path.contains("dryRun=All"), "{} is not a dry run", c.id);
        match c.verb {
            Verb::Patch | Verb::Delete => {
                assert!(
                    c.path.contains(PROBE_NAME),
                    "{} must target {PROBE_NAME}",
                    c.id
                )
            }
            Verb::Create => {
                let body: serde_json::Value = serde_json::from_str(c.body.unwrap()).unwrap();
                assert_eq!(body["metadata"]["name"], PROBE_NAME, "{}", c.id);
                assert!(
                    body["kind"].is_string() && body["apiVersion"].is_string(),
                    "{}",
                    c.id
                );
            }
            _ => unreachable!(),
        }
    }
    // bodies are valid JSON; a patch is a merge patch
    for c in MATRIX {
        if let Some(b) = c.body {
            serde_json::from_str::<serde_json::Value>(b).unwrap();
        }
    }
    assert_eq!(
        check("patch-deployment").unwrap().content_type(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        check("create-pod").unwrap().content_type(),
        Some("application/json")
    );
    assert_eq!(check("delete-pod").unwrap().content_type(), None);
}

#[test]
fn probe_pods_satisfy_restricted_pod_security() {
    // so that a wrongly allowed create is not hidden behind a PodSecurity 403
    for id in ["create-pod", "create-deployment"] {
        let body: serde_json::Value =
            serde_json::from_str(check(id).unwrap().body.unwrap()).unwrap();
        let spec = if id == "create-pod" {
            &body["spec"]
        } else {
            &body["spec"]["template"]["spec"]
        };
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &spec["containers"][0]["securityContext"];
        assert_eq!(c["allowPrivilegeEscalation"], false);
        assert_eq!(c["capabilities"]["drop"], json!(["ALL"]));
    }
}

#[test]
fn api_paths_fill_namespace_and_pod() {
    assert_eq!(
        check("get-pod-log").unwrap().api_path(POD),
        format!("/api/v1/namespaces/headlamp/pods/{POD}/log?tailLines=1&limitBytes=1024")
    );
    assert_eq!(
        check("list-clusterrolebindings").unwrap().api_path(POD),
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?limit=1"
    );
    assert_eq!(
        check("create-pod-exec").unwrap().api_path("a/b?c"),
        "/api/v1/namespaces/headlamp/pods/a%2Fb%3Fc/exec?command=true&stdout=true"
    );
    for c in MATRIX {
        let p = c.api_path(POD);
        assert!(!p.contains('{'), "{p}");
        assert!(p.starts_with("/api/v1/") || p.starts_with("/apis/"), "{p}");
    }
}

// ---------------------------------------------------------------- routes and requests

#[test]
fn routes_build_urls() {
    let direct = Route::direct("https://127.0.0.1:6443/");
    assert_eq!(
        direct.url("/api/v1/namespaces"),
        "https://127.0.0.1:6443/api/v1/namespaces"
    );
    let via = Route::via_headlamp("http://127.0.0.1:8080");
    assert_eq!(
        via.url("/api/v1/namespaces"),
        "http://127.0.0.1:8080/clusters/main/api/v1/namespaces"
    );
    assert_eq!(direct.to_string(), "via apiserver");
    assert_eq!(via.to_string(), "via headlamp");
    assert_eq!((direct.id(), via.id()), ("apiserver", "headlamp"));
}

#[test]
fn request_via_headlamp_has_host_prefix_and_bearer() {
    let r = build_request(
        check("patch-pod").unwrap(),
        &Route::via_headlamp("http://127.0.0.1:8080"),
        TOKEN,
        POD,
    )
    .unwrap();
    assert_eq!(r.method, Method::PATCH);
    assert_eq!(
        r.url,
        "http://127.0.0.1:8080/clusters/main/api/v1/namespaces/headlamp/pods/headlamp-e2e-probe?dryRun=All"
    );
    assert_eq!(r.headers[HOST], "headlamp.example.net");
    assert_eq!(r.headers[AUTHORIZATION], format!("Bearer {TOKEN}").as_str());
    assert!(r.headers[AUTHORIZATION].is_sensitive());
    assert_eq!(r.headers[CONTENT_TYPE], "application/merge-patch+json");
    assert_eq!(r.headers[ACCEPT], "application/json");
    assert_eq!(r.body.as_deref(), Some(PROBE_PATCH.as_bytes()));
}

#[test]
fn request_direct_has_no_host_override() {
    let r = build_request(
        check("list-namespaces").unwrap(),
        &Route::direct("https://127.0.0.1:6443"),
        &format!("  {PLAIN_TOKEN}\n"),
        POD,
    )
    .unwrap();
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.url, "https://127.0.0.1:6443/api/v1/namespaces?limit=1");
    assert!(r.headers.get(HOST).is_none());
    assert!(r.headers.get(CONTENT_TYPE).is_none());
    assert!(r.body.is_none());
    // the token is trimmed (a Secret read with a trailing newline)
    assert_eq!(
        r.headers[AUTHORIZATION],
        format!("Bearer {PLAIN_TOKEN}").as_str()
    );
}

#[test]
fn request_debug_never_shows_the_token() {
    for route in [
        Route::direct("https://127.0.0.1:6443"),
        Route::via_headlamp("http://127.0.0.1:80"),
    ] {
        for c in MATRIX {
            let r = build_request(c, &route, TOKEN, POD).unwrap();
            let d = format!("{r:?}");
            assert!(!d.contains(TOKEN), "{d}");
            assert!(!d.contains("c2lnbmF0dXJl"), "{d}");
        }
    }
    let r = build_request(
        check("list-pods").unwrap(),
        &Route::direct("https://x"),
        PLAIN_TOKEN,
        POD,
    )
    .unwrap();
    let d = format!("{r:?}");
    assert!(!d.contains(PLAIN_TOKEN));
    assert!(d.contains(r#"("authorization", "<redacted>")"#), "{d}");
}

#[test]
fn bad_tokens_are_errors_without_the_token() {
    let c = check("list-pods").unwrap();
    let route = Route::direct("https://x");
    assert!(build_request(c, &route, "  \n", POD).is_err());
    let err = build_request(c, &route, "abc\ndef-secret", POD)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("def-secret"), "{err}");
    assert!(err.contains("newline"), "{err}");
}

// ---------------------------------------------------------------- verdicts and judgements

fn status_json(code: u16, reason: &str, message: &str) -> Vec<u8> {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    })
    .to_string()
    .into_bytes()
}

const RBAC_DENIAL: &str = r#"secrets is forbidden: User "system:serviceaccount:headlamp:headlamp-login" cannot list resource "secrets" in API group "" in the namespace "headlamp""#;

#[test]
fn verdict_classifies_statuses() {
    assert_eq!(verdict(200, b"{}"), Verdict::Allowed(200));
    assert_eq!(verdict(201, b""), Verdict::Allowed(201));
    assert_eq!(verdict(401, b"Unauthorized"), Verdict::Unauthorized);
    assert_eq!(verdict(404, b""), Verdict::NotFound);
    assert_eq!(
        verdict(403, &status_json(403, "Forbidden", RBAC_DENIAL)),
        Verdict::Forbidden(Denial {
            reason: Some("Forbidden".into()),
            message: Some(RBAC_DENIAL.into())
        })
    );
    // a 403 without a Status body (a proxy's own page) is still forbidden, without detail
    assert_eq!(
        verdict(403, b"<html>no</html>"),
        Verdict::Forbidden(Denial::default())
    );
    match verdict(
        502,
        "Bad gateway\n\n  upstream   down ".repeat(50).as_bytes(),
    ) {
        Verdict::Unexpected(502, body) => {
            assert!(
                body.starts_with("Bad gateway upstream down Bad gateway"),
                "{body}"
            );
            assert!(body.chars().count() <= BODY_EXCERPT + 1);
            assert!(body.ends_with('…'));
        }
        other => panic!("{other:?}"),
    }
    // bodies are redacted
    match verdict(500, format!("token: {TOKEN}").as_bytes()) {
        Verdict::Unexpected(500, body) => assert!(!body.contains(TOKEN), "{body}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn verdicts_display_as_status_lines() {
    assert_eq!(Verdict::Allowed(200).to_string(), "200 OK");
    assert_eq!(Verdict::Allowed(201).to_string(), "201 Created");
    assert_eq!(
        Verdict::Forbidden(Denial::default()).to_string(),
        "403 Forbidden"
    );
    assert_eq!(Verdict::Unauthorized.to_string(), "401 Unauthorized");
    assert_eq!(Verdict::NotFound.to_string(), "404 Not Found");
    assert_eq!(
        Verdict::Unexpected(500, String::new()).to_string(),
        "500 Internal Server Error"
    );
    assert_eq!(Verdict::Unexpected(599, String::new()).to_string(), "599");
    assert_eq!(
        Verdict::NoResponse("refused".into()).to_string(),
        "no response"
    );
}

#[test]
fn judge_names_check_route_expected_and_actual() {
    let via = Route::via_headlamp("http://127.0.0.1:8080");
    let direct = Route::direct("https://127.0.0.1:6443");
    let secrets = check("list-secrets").unwrap();

    let o = judge(secrets, &via, Verdict::Allowed(200));
    assert!(!o.passed);
    assert!(
        o.message
            .starts_with("list-secrets via headlamp: expected 403 Forbidden, got 200 OK"),
        "{}",
        o.message
    );
    assert!(o.message.contains("list secrets"), "{}", o.message);
    assert_eq!(o.assertion_name(), "rbac-headlamp-list-secrets");

    let o = judge(
        secrets,
        &direct,
        verdict(403, &status_json(403, "Forbidden", RBAC_DENIAL)),
    );
    assert!(o.passed);
    assert_eq!(
        o.message,
        "list-secrets via apiserver: 403 Forbidden as expected"
    );

    let pods = check("list-pods").unwrap();
    let o = judge(pods, &direct, Verdict::Allowed(200));
    assert!(o.passed);
    assert_eq!(o.message, "list-pods via apiserver: 200 OK as expected");

    let o = judge(
        pods,
        &via,
        verdict(
            403,
            &status_json(
                403,
                "Forbidden",
                "pods is forbidden: User \"x\" cannot list",
            ),
        ),
    );
    assert!(!o.passed);
    assert!(
        o.message.starts_with(
            "list-pods via headlamp: expected 2xx (allowed), got 403 Forbidden: pods is forbidden: User \"x\" cannot list"
        ),
        "{}",
        o.message
    );
    assert!(o.message.contains("ClusterRole view"));

    let o = judge(pods, &via, Verdict::Unauthorized);
    assert!(!o.passed);
    assert!(o.message.contains("got 401 Unauthorized"));
    assert!(o.message.contains("token was not accepted"));

    let o = judge(pods, &via, Verdict::NotFound);
    assert!(o.message.contains("/clusters/main"), "{}", o.message);

    let o = judge(
        pods,
        &direct,
        Verdict::NoResponse("connection refused".into()),
    );
    assert_eq!(
        o.message,
        "list-pods via apiserver: expected 2xx (allowed), got no response: connection refused"
    );
}

#[test]
fn admission_denials_do_not_count_as_rbac_denials() {
    let psa = "pods \"headlamp-e2e-probe\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true";
    let o = judge(
        check("create-pod").unwrap(),
        &Route::direct("https://x"),
        verdict(403, &status_json(403, "Forbidden", psa)),
    );
    assert!(!o.passed);
    assert!(
        o.message.contains("came from admission, not RBAC"),
        "{}",
        o.message
    );
}

// ---------------------------------------------------------------- token rotation

fn pod(uid: &str, restarts: &[(&str, i32)]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(POD.into()),
            namespace: Some("headlamp".into()),
            uid: Some(uid.into()),
            ..ObjectMeta::default()
        },
        status: Some(PodStatus {
            container_statuses: Some(
                restarts
                    .iter()
                    .map(|(name, n)| ContainerStatus {
                        name: (*name).into(),
                        restart_count: *n,
                        ..ContainerStatus::default()
                    })
                    .collect(),
            ),
            ..PodStatus::default()
        }),
        ..Pod::default()
    }
}

#[test]
fn rotation_passes_when_old_is_401_new_is_2xx_and_pod_is_untouched() {
    let route = Route::via_headlamp("http://127.0.0.1:8080");
    let before = pod("uid-1", &[("headlamp", 0)]);
    let after = pod("uid-1", &[("headlamp", 0)]);
    let out = judge_token_rotation(
        &route,
        &Verdict::Unauthorized,
        &Verdict::Allowed(200),
        &before,
        &after,
    );
    assert!(out.iter().all(|o| o.passed), "{out:?}");
    let names: Vec<_> = out.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "token-old-rejected-headlamp",
            "token-new-accepted-headlamp",
            "headlamp-pod-not-restarted"
        ]
    );
    assert_eq!(
        out[0].message,
        "old token via headlamp: 401 Unauthorized as expected"
    );
    assert!(
        out[2].message.contains("kept uid uid-1"),
        "{}",
        out[2].message
    );
}

#[test]
fn rotation_fails_when_the_old_token_still_works() {
    let o = judge_old_token(&Route::direct("https://x"), &Verdict::Allowed(200));
    assert!(!o.passed);
    assert!(
        o.message
            .starts_with("old token via apiserver: expected 401 Unauthorized, got 200 OK")
    );
    assert!(o.message.contains("still works"));
    let o = judge_new_token(&Route::direct("https://x"), &Verdict::Unauthorized);
    assert!(!o.passed);
    assert_eq!(
        o.message,
        "new token via apiserver: expected 2xx (allowed), got 401 Unauthorized"
    );
}

#[test]
fn rotation_fails_on_new_pod_or_restart() {
    let before = pod("uid-1", &[("headlamp", 0)]);
    let replaced = judge_pod_unchanged(&before, &pod("uid-2", &[("headlamp", 0)]));
    assert!(!replaced.passed);
    assert!(
        replaced.message.contains("was replaced"),
        "{}",
        replaced.message
    );
    assert!(replaced.message.contains("uid-1") && replaced.message.contains("uid-2"));

    let restarted = judge_pod_unchanged(&before, &pod("uid-1", &[("headlamp", 1)]));
    assert!(!restarted.passed);
    assert!(
        restarted
            .message
            .contains("container headlamp restartCount 0 -> 1"),
        "{}",
        restarted.message
    );

    let sidecar = judge_pod_unchanged(&before, &pod("uid-1", &[("headlamp", 0), ("sidecar", 0)]));
    assert!(!sidecar.passed);
    assert!(sidecar.message.contains("container sidecar appeared"));

    let mut no_status = before.clone();
    no_status.status = None;
    let o = judge_pod_unchanged(&no_status, &before);
    assert!(!o.passed);
    assert!(o.message.contains("containerStatuses"));

    let mut no_uid = before.clone();
    no_uid.metadata.uid = None;
    assert!(!judge_pod_unchanged(&before, &no_uid).passed);
}

// ---------------------------------------------------------------- the runner against a fake API server

#[test]
fn scrub_removes_the_token_and_known_secret_forms() {
    assert_eq!(scrub("sent abc123 to x", "abc123"), "sent <redacted> to x");
    assert_eq!(
        scrub("Authorization: Bearer zzz", ""),
        "Authorization: Bearer <redacted>"
    );
    let v = Verdict::NoResponse(format!("error for {PLAIN_TOKEN}")).scrubbed(PLAIN_TOKEN);
    assert_eq!(v, Verdict::NoResponse("error for <redacted>".into()));
}
