//! `verify` end to end against a scripted API server for the caller's reads (tower-test, [`crate::mock_api`]) and
//! the rbac tests' fake API server for the login token's probes (wiremock), on both routes.

use base64::Engine as _;
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::mock_api::{mock_client, status, step, step_status};
use crate::rbac_probe::fake::{FakeApiServer, POD, TOKEN, fake};

fn secret(type_: &str, token: Option<&str>) -> Value {
    let mut s = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "headlamp-login-token", "namespace": "headlamp",
                     "annotations": {"kubernetes.io/service-account.name": "headlamp-login"}},
        "type": type_,
    });
    if let Some(t) = token {
        s["data"] = json!({
            "token": base64::engine::general_purpose::STANDARD.encode(t),
            "ca.crt": base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
        });
    }
    s
}

/// The live pod as chart 0.41.0 renders it with the fixtures' values.
fn pod_list(tmp: bool) -> Value {
    let mounts = if tmp {
        json!([{"name": "home", "mountPath": "/home/headlamp"}, {"name": "tmp", "mountPath": "/tmp"}])
    } else {
        json!([{"name": "home", "mountPath": "/home/headlamp"}])
    };
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [{
        "metadata": {"name": POD, "namespace": "headlamp", "labels": {"app.kubernetes.io/name": "headlamp"}},
        "spec": {
            "serviceAccountName": "headlamp",
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "headlamp", "image": "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
                "securityContext": {"runAsNonRoot": true, "runAsUser": 100, "runAsGroup": 101, "privileged": false,
                    "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": mounts,
            }]
        },
        "status": {"phase": "Running"}
    }]})
}

fn namespace() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "headlamp", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest"}}})
}

fn crb_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBindingList", "metadata": {}, "items": items})
}

fn crb(name: &str, role: &str, sa: &str) -> Value {
    json!({"metadata": {"name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
           "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "headlamp"}]})
}

fn rb_list() -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBindingList", "metadata": {}, "items": []})
}

/// The caller's reads of a healthy install, in the order `run` makes them.
fn healthy_reads(crbs: Vec<Value>) -> Vec<crate::mock_api::Step> {
    vec![
        step(
            "GET",
            "/api/v1/namespaces/headlamp/secrets/headlamp-login-token",
            secret("kubernetes.io/service-account-token", Some(TOKEN)),
        ),
        step("GET", "/api/v1/namespaces/headlamp/pods?", pod_list(true)),
        step("GET", "/api/v1/namespaces/headlamp", namespace()),
        step(
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            crb_list(crbs),
        ),
        step(
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/rolebindings",
            rb_list(),
        ),
    ]
}

fn view_bindings() -> Vec<Value> {
    vec![
        crb("headlamp-login-view", "view", "headlamp-login"),
        crb("headlamp", "view", "headlamp"),
    ]
}

/// The rbac fake without its Host matcher: `--url` sends the URL's own host.
async fn mount_headlamp(server: &MockServer, allow_secrets: bool) {
    Mock::given(path_regex("^/clusters/main/"))
        .respond_with(FakeApiServer {
            prefix: "/clusters/main",
            token: TOKEN,
            allow_secrets,
        })
        .mount(server)
        .await;
}

fn opts(headlamp: HeadlampRoute) -> Options {
    Options {
        headlamp,
        ..Options::default()
    }
}

fn assert_no_token(v: &Verification) {
    let text = v.to_text(false);
    let json = v.to_json().to_string();
    let junit = v.to_junit().unwrap();
    let debug = format!("{v:?}");
    for (what, s) in [
        ("text", &text),
        ("json", &json),
        ("junit", &junit),
        ("debug", &debug),
    ] {
        assert!(!s.contains(TOKEN), "the token is in the {what} output");
    }
}

#[tokio::test]
async fn a_read_only_install_holds_on_both_routes_and_nothing_is_written() {
    let (server, _, _) = fake(TOKEN, false).await;
    mount_headlamp(&server, false).await;
    let (client, handle) = mock_client(healthy_reads(view_bindings()));
    let api = ApiServer {
        url: server.uri(),
        http: rbac_probe::http_client(None).unwrap(),
    };
    let v = run(
        &client,
        &api,
        "home",
        &opts(HeadlampRoute::Url(server.uri())),
    )
    .await
    .unwrap();
    let seen = handle.await.unwrap();
    assert!(
        seen.iter().all(|s| s.method == "GET"),
        "the caller's credentials only read: {seen:?}"
    );

    let text = v.to_text(false);
    assert_eq!(v.exit_code(), 0, "{text}");
    let c = v.report.counts();
    // 6 posture + 1 pod security + 2 bindings + the matrix on two routes
    assert_eq!(
        (c.passed, c.failed, c.skipped),
        (9 + 2 * rbac::MATRIX.len(), 0, 0),
        "{text}"
    );
    assert!(text.contains(WRITES_NOTE), "{text}");
    assert!(text.contains("rbac-headlamp-create-pod-exec"), "{text}");
    assert_no_token(&v);
    println!("{text}");

    // every request the login token sent: reads, dry-run writes, and access reviews; never an exec
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests.len(),
        2 * rbac::MATRIX.len() + 1,
        "the matrix twice and one preflight"
    );
    for r in &requests {
        let path = r.url.path();
        assert!(!path.ends_with("/exec"), "an exec request was sent: {path}");
        if r.method.as_str() != "GET" {
            let review = path.ends_with("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
            let dry_run = r
                .url
                .query_pairs()
                .any(|(k, v)| k == "dryRun" && v == "All");
            assert!(
                review || dry_run,
                "{} {} is neither a dry run nor an access review",
                r.method,
                r.url
            );
        }
    }
    let reviews = requests
        .iter()
        .filter(|r| r.url.path().ends_with("selfsubjectaccessreviews"))
        .count();
    assert_eq!(reviews, 2, "pods/exec asked once per route");
}

#[test]
fn every_write_in_the_matrix_is_a_dry_run_or_asked_as_an_access_review() {
    let mut reviewed = Vec::new();
    for c in rbac::MATRIX {
        if c.verb.is_write() {
            if c.is_side_effect_free() {
                assert!(c.path.contains("dryRun=All"), "{}", c.id);
            } else {
                reviewed.push(c.id);
            }
        }
    }
    assert_eq!(reviewed, ["create-pod-exec"]);
}

#[tokio::test]
async fn a_writable_install_fails_with_what_is_wrong() {
    let (server, _, _) = fake(TOKEN, true).await;
    mount_headlamp(&server, true).await;
    let mut reads = healthy_reads(vec![
        crb("headlamp-login-view", "view", "headlamp-login"),
        crb("headlamp-admin", "cluster-admin", "headlamp"),
    ]);
    reads[1] = step("GET", "/api/v1/namespaces/headlamp/pods?", pod_list(false));
    reads.push(step(
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin",
        json!({"metadata": {"name": "cluster-admin"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
    ));
    let (client, handle) = mock_client(reads);
    let api = ApiServer {
        url: server.uri(),
        http: rbac_probe::http_client(None).unwrap(),
    };
    let v = run(
        &client,
        &api,
        "home",
        &opts(HeadlampRoute::Url(server.uri())),
    )
    .await
    .unwrap();
    handle.await.unwrap();
    let text = v.to_text(false);
    assert_eq!(v.exit_code(), 1, "{text}");
    let failed: Vec<String> = v
        .report
        .failures()
        .map(|a| format!("{}/{}", a.scenario, a.name))
        .collect();
    assert_eq!(
        failed,
        [
            "posture/tmp-writable",
            "bindings/headlamp-bound-to-view-only",
            "access-apiserver/rbac-apiserver-get-secret",
            "access-apiserver/rbac-apiserver-list-secrets",
            "access-apiserver/rbac-apiserver-create-pod-exec",
            "access-headlamp/rbac-headlamp-get-secret",
            "access-headlamp/rbac-headlamp-list-secrets",
            "access-headlamp/rbac-headlamp-create-pod-exec",
        ],
        "{text}"
    );
    assert!(
        text.contains(
            "ClusterRoleBinding/headlamp-admin binds it to ClusterRole cluster-admin granting"
        ),
        "{text}"
    );
    assert!(
        text.contains("a SelfSubjectAccessReview says allowed"),
        "{text}"
    );
    assert!(text.contains("verify: a check FAILED"), "{text}");
    assert_no_token(&v);
    println!("{text}");
}

#[tokio::test]
async fn cloudflare_access_in_front_is_named_not_judged() {
    let (server, _, _) = fake(TOKEN, false).await;
    let edge = MockServer::start().await;
    Mock::given(path_regex(".*"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "https://myteam.cloudflareaccess.com/cdn-cgi/access/login/headlamp.example.net?kid=0123&redirect_url=%2Fclusters%2Fmain%2Fapi%2Fv1%2Fnamespaces")
                .insert_header("cf-ray", "8f1c2d3e4f5a6b7c-AMS")
                .insert_header("server", "cloudflare"),
        )
        .mount(&edge)
        .await;
    let (client, handle) = mock_client(healthy_reads(view_bindings()));
    let api = ApiServer {
        url: server.uri(),
        http: rbac_probe::http_client(None).unwrap(),
    };
    let v = run(&client, &api, "home", &opts(HeadlampRoute::Url(edge.uri())))
        .await
        .unwrap();
    handle.await.unwrap();
    let text = v.to_text(false);
    assert_eq!(v.exit_code(), 2, "{text}");
    assert_eq!(
        v.report.counts().failed,
        0,
        "no verdict from Access's answer: {text}"
    );
    assert_eq!(v.inconclusive.len(), 1);
    assert!(
        v.inconclusive[0].contains("Cloudflare Access is in front"),
        "{}",
        v.inconclusive[0]
    );
    assert!(
        v.inconclusive[0].contains("--service"),
        "{}",
        v.inconclusive[0]
    );
    assert!(
        text.contains("verify: could not judge everything"),
        "{text}"
    );
    assert_eq!(
        edge.received_requests().await.unwrap().len(),
        1,
        "one request, then stop"
    );
    assert_eq!(v.to_json()["exit_code"], 2);
    assert_no_token(&v);
    println!("{text}");
}

#[tokio::test]
async fn no_headlamp_route_is_a_visible_skip() {
    let (server, _, _) = fake(TOKEN, false).await;
    let (client, handle) = mock_client(healthy_reads(view_bindings()));
    let api = ApiServer {
        url: server.uri(),
        http: rbac_probe::http_client(None).unwrap(),
    };
    let v = run(&client, &api, "home", &Options::default())
        .await
        .unwrap();
    handle.await.unwrap();
    assert_eq!(v.exit_code(), 0);
    assert_eq!(v.report.counts().skipped, 1);
    assert!(v.to_text(false).contains("pass --url URL or --service"));
}

#[tokio::test]
async fn the_login_secret_must_exist_be_a_token_secret_and_be_populated() {
    let api = ApiServer {
        url: "https://127.0.0.1:1".into(),
        http: rbac_probe::http_client(None).unwrap(),
    };
    let cases = [
        (
            step_status(
                "GET",
                "/api/v1/namespaces/headlamp/secrets/headlamp-login-token",
                404,
                status(
                    404,
                    "NotFound",
                    "secrets \"headlamp-login-token\" not found",
                ),
            ),
            "does not exist",
        ),
        (
            step_status(
                "GET",
                "/api/v1/namespaces/headlamp/secrets/headlamp-login-token",
                403,
                status(
                    403,
                    "Forbidden",
                    "secrets is forbidden: User \"me\" cannot get",
                ),
            ),
            "your credentials may not read Secret headlamp/headlamp-login-token",
        ),
        (
            step(
                "GET",
                "/api/v1/namespaces/headlamp/secrets/headlamp-login-token",
                secret("Opaque", Some(TOKEN)),
            ),
            "is of type Opaque, not kubernetes.io/service-account-token",
        ),
        (
            step(
                "GET",
                "/api/v1/namespaces/headlamp/secrets/headlamp-login-token",
                secret("kubernetes.io/service-account-token", None),
            ),
            "has no token yet",
        ),
    ];
    for (reply, expected) in cases {
        let (client, handle) = mock_client(vec![reply]);
        let e = run(&client, &api, "home", &Options::default())
            .await
            .unwrap_err()
            .to_string();
        handle.await.unwrap();
        assert!(e.contains(expected), "{e}");
        assert!(!e.contains(TOKEN));
    }
}

#[tokio::test]
async fn the_timeout_covers_the_whole_run_and_says_where_it_was() {
    // an API server that takes the request and never answers
    let (service, mut handle) = tower_test::mock::pair::<
        http::Request<kube::client::Body>,
        http::Response<kube::client::Body>,
    >();
    let hold = tokio::spawn(async move {
        let pending = handle.next_request().await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(pending);
    });
    let client = kube::Client::new(service, "default");
    let api = ApiServer {
        url: "https://10.0.0.1:6443".into(),
        http: rbac_probe::http_client(None).unwrap(),
    };
    let o = Options {
        timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let e = run(&client, &api, "home", &o)
        .await
        .unwrap_err()
        .to_string();
    hold.abort();
    assert!(e.contains("not finished within 0.2s (--timeout)"), "{e}");
    assert!(
        e.contains("reading Secret headlamp/headlamp-login-token at https://10.0.0.1:6443"),
        "{e}"
    );
}

#[test]
fn a_bad_url_and_der_certificates() {
    assert!(
        headlamp_route("headlamp.example.net")
            .unwrap_err()
            .contains("is not a URL")
    );
    assert!(
        headlamp_route("ftp://h")
            .unwrap_err()
            .contains("only http and https")
    );
    let r = headlamp_route("https://headlamp.example.net/").unwrap();
    assert_eq!(
        r.url("/api/v1/pods"),
        "https://headlamp.example.net/clusters/main/api/v1/pods"
    );
    let pem = der_to_pem(&[vec![1u8; 100]]);
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----\n")
            && pem.ends_with("-----END CERTIFICATE-----\n")
    );
    assert!(pem.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
}

#[test]
fn cannot_run_outputs_are_one_object_and_a_failing_junit_case() {
    let j = cannot_run_json("Secret headlamp/x does not exist");
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["error"], "Secret headlamp/x does not exist");
    let x = cannot_run_junit("token: abc").unwrap();
    assert!(x.contains("could-not-run") && x.contains("<failure"), "{x}");
    assert!(!x.contains("abc"), "{x}");
}
