use super::*;
use serde_json::json;

const JWT_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJlLXBhcnQtMTIzNDU2";

fn assert_idempotent(text: &str) {
    let once = redact(text);
    assert_eq!(redact(&once), once, "redacting twice changed {once:?}");
}

/// `text` redacted contains none of `markers`.
fn assert_gone(text: &str, markers: &[&str]) -> String {
    let r = redact(text);
    for m in markers {
        assert!(!r.contains(m), "{m:?} left in {r:?} (from {text:?})");
    }
    assert_idempotent(text);
    r
}

#[test]
fn patterns_compile() {
    for re in [
        &*PEM_BLOCK,
        &*PEM_TRUNCATED,
        &*PEM_ORPHAN_END,
        &*K3S_TOKEN,
        &*GITHUB_TOKEN,
        &*JWT,
        &*URL_USERINFO,
        &*KEY_SEP,
        &*FLAG_VALUE,
        &*BEARER,
        &*SCHEME,
    ] {
        assert!(!re.as_str().is_empty());
    }
}

#[test]
fn secret_keys_by_word() {
    for k in [
        "password",
        "PASSWORD",
        "passwd",
        "clientSecret",
        "client-secret",
        "bearerToken",
        "apiToken",
        "APIToken",
        "privateKey",
        "apikey",
        "key",
        "credentials",
        "auth",
        "Authorization",
        "Proxy-Authorization",
        "X-Auth-Token",
        "Cookie",
        "Set-Cookie",
        "aws_secret_access_key",
        "OIDC_CLIENT_SECRET",
        "--token",
        "-oidc-client-secret",
        "client-key-data",
        "client-certificate-data",
        "certificate-authority-data",
        "ca.crt",
        "existingSecret",
    ] {
        assert!(is_secret_key(k), "{k} should be a credential key");
    }
    for k in [
        "secretName",
        "tokenRef",
        "tokenFile",
        "keyPath",
        "authType",
        "name",
        "server",
        "serviceAccountName",
        "namespace",
        "clientID",
        "image",
        "",
        "--in-cluster",
    ] {
        assert!(!is_secret_key(k), "{k} should not be a credential key");
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
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  greeting: value\n",
        "secrets is forbidden: User \"system:serviceaccount:headlamp:headlamp-login\" cannot list resource \"secrets\"",
        "flag provided but not defined: -in-cluster-context-name",
        "mkdir /home/headlamp/.config: read-only file system",
        "Running 'install' action with timeout of 10m0s",
        "secretRef: flux-system",
        "server: https://127.0.0.1:6443",
        "eyJ alone is not a token",
        "automountServiceAccountToken: true",
        "see https://github.com/fluxcd/helm-controller at 12:30:01",
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
            r#"{"Authorization":["Bearer s3cr3t"]}"#,
            r#"{"Authorization":["Bearer <redacted>"]}"#,
        ),
        (
            "map[Authorization:[Bearer s3cr3t] Accept:[*/*]]",
            "map[Authorization:[Bearer <redacted>] Accept:[*/*]]",
        ),
        (
            "curl -H 'Authorization: Bearer s3cr3t' x",
            "curl -H 'Authorization: Bearer <redacted>' x",
        ),
        (
            "Proxy-Authorization: Basic cHJveHk6cHc=",
            "Proxy-Authorization: Basic <redacted>",
        ),
        ("X-Auth-Token: t0k3n-abc", "X-Auth-Token: <redacted>"),
        ("Cookie: session=abc123; csrf=def456", "Cookie: <redacted>"),
        (
            "map[Cookie:[session=abc123; csrf=def456]]",
            "map[Cookie:[<redacted>]]",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(redact(input), want, "{input}");
        assert_idempotent(input);
    }
}

#[test]
fn pairs_in_every_notation_lose_values_with_spaces_and_semicolons() {
    assert_gone("password=hunter2;more", &["hunter2", "more"]);
    assert_gone(
        "password: correct horse battery",
        &["correct", "horse", "battery"],
    );
    assert_gone(r#"{"clientSecret":"a b; c"}"#, &["a b", "; c"]);
    assert_gone(r#"{\"token\":\"esc4ped\"}"#, &["esc4ped"]);
    assert_gone("password = 'quoted value'", &["quoted value"]);
    assert_gone(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG",
        &["wJalrXUtnFEMI"],
    );
    assert_gone(
        r#"{"auths":{"ghcr.io":{"auth":"dXNlcjpnaHBfc2VjcmV0"}}}"#,
        &["dXNlcjpnaHBfc2VjcmV0"],
    );
    let r = assert_gone(
        "-oidc-client-secret=s3cr3t password: \"hunter2\" token=abc&x=1",
        &["s3cr3t", "hunter2", "abc&"],
    );
    assert!(r.contains("&x=1"), "{r}");
    assert_gone(
        "run --token abc123 --password 'pw two' -v",
        &["abc123", "pw two"],
    );
    let r = assert_gone("level=info user=bob apiToken=zz9 msg=ok", &["zz9"]);
    assert!(r.contains("user=bob") && r.contains("msg=ok"), "{r}");
}

#[test]
fn url_userinfo_k3s_github_and_bearer_tokens() {
    let r = assert_gone("cloning https://git:p4ss@example.com/repo.git", &["p4ss"]);
    assert!(
        r.contains("https://git:<redacted>@example.com/repo.git"),
        "{r}"
    );
    let r = assert_gone(
        "K3S_TOKEN=K1012ab34cd56ef7890::server:topsecretpw node joined",
        &["topsecretpw", "K1012ab34cd56ef7890"],
    );
    assert!(r.ends_with(" node joined"), "{r}");
    assert_gone(
        "joining with K10aabbccddeeff00112233::node:p4ssw0rd",
        &["p4ssw0rd"],
    );
    assert_gone(
        "pushed with ghp_abcdefghijklmnopqrstuvwxyz0123456789 and github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        &["ghp_abcdef", "github_pat_11ABC"],
    );
    let t = "sending Bearer K10abcdef0123456789abcdef::server:xyz to the API";
    let r = assert_gone(t, &["K10abcdef0123456789abcdef", "xyz"]);
    assert!(r.starts_with("sending Bearer <redacted"), "{r}");
}

#[test]
fn jwts_are_redacted_anywhere_with_or_without_padding() {
    let t = format!("jwt was {JWT_TOKEN} (expired)");
    assert_eq!(redact(&t), "jwt was <redacted JWT> (expired)");
    let unsigned = "x eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0. y";
    assert_eq!(redact(unsigned), "x <redacted JWT> y");
    let padded = "x eyJhbGciOiJub25lIn0=.eyJzdWIiOiJhYiJ9==.c2lnbmF0dXJl== y";
    assert_eq!(redact(padded), "x <redacted JWT> y");
    assert_idempotent(&t);
}

#[test]
fn pem_blocks_are_redacted_whole() {
    let key =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc+/=\n-----END RSA PRIVATE KEY-----";
    assert_eq!(
        redact(&format!("tls:\n{key}\nafter")),
        "tls:\n<redacted PEM RSA PRIVATE KEY>\nafter"
    );
    let json = r#"{"pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}"#;
    assert_eq!(redact(json), r#"{"pem":"<redacted PEM CERTIFICATE>\n"}"#);
    let tail = "MIIEowIBAAKCAQEAbody1\nZmFrZWtleWJvZHky\n-----END RSA PRIVATE KEY-----\nnext line";
    assert_eq!(redact(tail), "<redacted PEM RSA PRIVATE KEY>\nnext line");
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
    let r = assert_gone(
        kubeconfig,
        &[
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
            "LS0tLS1CRUdJTiBDRVJU",
            "LS0tLS1CRUdJTiBFQyBQUklWQVRF",
            "abc123notajwt",
        ],
    );
    assert!(r.contains("    certificate-authority-data: <redacted>\n"));
    assert!(r.contains("    client-key-data: <redacted>\n"));
    assert!(r.contains("    token: <redacted>\n"));
    assert!(r.contains("server: https://127.0.0.1:6443"));
    assert!(r.contains("- name: login\n"));
    assert_eq!(r.lines().count(), kubeconfig.lines().count());
}

#[test]
fn yaml_block_scalars_go_whole() {
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
    assert_eq!(
        redact(secret),
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
    let nested = "config:\n  credentials:\n    user: bob\n    pass: hunter2\n  other: 1\n";
    let r = assert_gone(nested, &["hunter2"]);
    assert!(r.contains("  other: 1"), "{r}");
}

#[test]
fn json_credential_fields_are_redacted() {
    let inline = r#"{"kind":"Secret","data":{"token":"ZXlKaGJH","ca.crt":"LS0tLS1C"},"x":"y"}"#;
    assert_eq!(
        redact(inline),
        r#"{"kind":"Secret","data":{"token":"<redacted>","ca.crt":"<redacted>"},"x":"y"}"#
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
fn control_characters_are_escaped_for_terminals() {
    assert_eq!(
        escape_controls("a\u{1b}[31mred\rb\n\tc"),
        "a\\u{1b}[31mred\\u{d}b\n\tc"
    );
    assert_eq!(
        for_terminal("x\u{7}password=p"),
        "x\\u{7}password=<redacted>"
    );
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
                LAST_APPLIED: "{\"kind\":\"Secret\",\"data\":{\"token\":\"c2VjcmV0\"},\"stringData\":\"raw\"}"
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
    let applied: Value = serde_json::from_str(
        secret["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(applied["data"]["token"], "<redacted>");
    assert_eq!(applied["stringData"], "<redacted>");
    assert_eq!(
        secret["metadata"]["annotations"]["kubernetes.io/service-account.name"],
        "headlamp-login"
    );
    assert_eq!(secret["metadata"]["name"], "headlamp-login-token");
}

#[test]
fn malformed_secret_data_and_unparsable_last_applied_go_whole() {
    let mut s = json!({"kind": "Secret", "data": "c2VjcmV0LXN0cmluZw==", "stringData": ["a", "b"],
        "metadata": {"annotations": {LAST_APPLIED: "{not json, password: x"}}});
    redact_object(&mut s);
    assert_eq!(s["data"], "<redacted>");
    assert_eq!(s["stringData"], "<redacted>");
    assert_eq!(s["metadata"]["annotations"][LAST_APPLIED], "<redacted>");
}

/// A pod and a HelmRelease with a planted marker in every place a credential can be.
#[test]
fn planted_markers_in_every_object_position_are_gone() {
    let mut list = json!({
        "kind": "List",
        "items": [
            {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
             "metadata": {"name": "headlamp", "annotations": {LAST_APPLIED:
                "{\"spec\":{\"values\":{\"config\":{\"oidc\":{\"clientSecret\":\"MARKER-LA\"}}}}}"}},
             "spec": {"values": {
                "config": {"oidc": {"clientID": "headlamp", "clientSecret": "MARKER-CS"}},
                "db": {"password": "MARKER-PW", "Passwd": 1234567},
                "api": {"bearerToken": "MARKER-BT", "apiToken": "MARKER-AT", "privateKey": "MARKER-PK"},
                "list": {"credentials": ["MARKER-L1", "MARKER-L2"]},
                "free": "text with token=MARKER-TXT inside",
                "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
                "env": [{"name": "OIDC_CLIENT_SECRET", "value": "MARKER-ENVV"}],
             }},
             "status": {"conditions": [{"type": "Ready", "message":
                "install failed: Authorization: Bearer MARKER-COND"}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
             "spec": {"containers": [{
                "name": "c",
                "args": ["-oidc-client-secret=MARKER-ARG1", "--token", "MARKER-ARG2", "-in-cluster",
                         "--password", "MARKER-ARG3"],
                "command": ["sh", "-c", "run --api-key MARKER-SH"],
                "env": [
                    {"name": "OIDC_CLIENT_SECRET", "value": "MARKER-ENV"},
                    {"name": "GITHUB_TOKEN", "value": "MARKER-ENV2"},
                    {"name": "HOME", "value": "/home/headlamp"},
                    {"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}
                ]}],
                "volumes": [{"name": "v", "secret": {"secretName": "headlamp-tls"}}]}},
            {"apiVersion": "v1", "kind": "Event", "message":
                "pulled with https://u:MARKER-URL@registry.example ghp_MARKERabcdefghijklmnopqrstuv"},
            {"kind": "Config", "users": [{"user": {"token": "MARKER-KC", "client-key-data": "MARKER-KCK"}}]}
        ]
    });
    redact_object(&mut list);
    let text = list.to_string();
    assert!(!text.contains("MARKER"), "{text}");
    let hr = &list["items"][0]["spec"]["values"];
    assert_eq!(hr["config"]["oidc"]["clientID"], "headlamp");
    assert_eq!(
        hr["tolerations"][0]["key"],
        "node-role.kubernetes.io/control-plane"
    );
    let pod = &list["items"][1]["spec"];
    assert_eq!(
        pod["containers"][0]["args"],
        json!([
            "-oidc-client-secret=<redacted>",
            "--token",
            "<redacted>",
            "-in-cluster",
            "--password",
            "<redacted>"
        ])
    );
    assert_eq!(pod["containers"][0]["env"][2]["value"], "/home/headlamp");
    assert_eq!(
        pod["containers"][0]["env"][3]["valueFrom"]["secretKeyRef"]["key"],
        "token"
    );
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "headlamp-tls");
    // idempotent
    let once = list.clone();
    redact_object(&mut list);
    assert_eq!(list, once);
}

#[test]
fn non_secret_data_is_kept() {
    let mut cm = json!({"kind": "ConfigMap", "data": {"token-name": "x", "values.yaml": "a: 1"}});
    let before = cm.clone();
    redact_object(&mut cm);
    assert_eq!(cm, before);
}

// ---- hostile text (issue 23 item 9) ----------------------------------------------------------------------------

#[test]
fn bidi_controls_are_shown_escaped() {
    // "evil" written right to left: a reviewer would read another name
    let t = for_terminal("ConfigMap/app/\u{202E}live\u{202C}.yaml and \u{2067}x\u{2069}");
    assert!(!t.contains('\u{202E}') && !t.contains('\u{2067}'), "{t}");
    assert!(t.contains("\\u{202e}") && t.contains("\\u{2067}"), "{t}");
    // ordinary non-ASCII text stays
    assert_eq!(for_terminal("café ünïcode"), "café ünïcode");
}

#[test]
fn one_line_fields_cannot_start_a_line() {
    let t = one_line("HelmRelease/ns/x\n::error file=a::pwned\r\tz");
    assert!(!t.contains(['\n', '\r', '\t']), "{t}");
    assert_eq!(
        t,
        "HelmRelease/ns/x\\u{a}::error file=a::pwned\\u{d}\\u{9}z"
    );
}

#[test]
fn workflow_commands_in_text_are_made_inert() {
    let t = no_workflow_commands(
        "ok line\n  ::add-mask::x\n::error::y\nnot::a command\nsee ##[warning]z",
    );
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "ok line");
    for l in &lines {
        assert!(!l.trim_start().starts_with("::"), "{l}");
        assert!(!l.contains("##["), "{l}");
    }
    assert_eq!(lines[1], "  \\u{3a}:add-mask::x");
    assert_eq!(
        lines[3], "not::a command",
        "a `::` inside a line is no command"
    );
    // nothing to do: the same text
    assert_eq!(no_workflow_commands("a: b"), "a: b");
}

#[test]
fn markdown_inline_text_cannot_leave_its_cell_or_span() {
    let t = markdown_inline("x` | <img src=y> [a](http://z) *b*\nc");
    for bad in ['`', '|', '<', '>', '[', ']', '*', '\n'] {
        assert!(!t.contains(bad), "{bad:?} in {t}");
    }
    assert!(t.starts_with("x&#96; &#124; &lt;img"), "{t}");
}

#[test]
fn a_markdown_fence_outlasts_every_backtick_run_in_its_body() {
    let body = "a\n```\n</details>\n````x\n";
    let f = markdown_fence("diff", body);
    assert!(f.starts_with("`````diff\n"), "{f}");
    assert!(f.ends_with("\n`````"), "{f}");
    assert_eq!(markdown_fence("diff", "plain\n"), "```diff\nplain\n```");
}

#[test]
fn a_secrets_annotations_keep_only_names() {
    let mut s = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "login", "annotations": {
            "kubernetes.io/service-account.name": "headlamp-login",
            "meta.helm.sh/release-name": "headlamp",
            "example.com/backup-of-password": "hunter2-plain-copy",
            "notes": "Zm9vYmFyYmF6"
        }},
        "data": {"token": "c2VjcmV0"}
    });
    redact_object(&mut s);
    let a = &s["metadata"]["annotations"];
    assert_eq!(a["kubernetes.io/service-account.name"], "headlamp-login");
    assert_eq!(a["meta.helm.sh/release-name"], "headlamp");
    assert_eq!(a["example.com/backup-of-password"], REDACTED);
    assert_eq!(a["notes"], REDACTED);
    // a ConfigMap's annotations are not a Secret's: kept
    let mut cm =
        json!({"kind": "ConfigMap", "metadata": {"annotations": {"notes": "Zm9vYmFyYmF6"}}});
    redact_object(&mut cm);
    assert_eq!(cm["metadata"]["annotations"]["notes"], "Zm9vYmFyYmF6");
}

/// Issue 19 cause 7: kustomize's own error for a remote base that cannot be fetched (a DNS failure, as `kubectl
/// kustomize` v1.35.2 prints it on a machine without that name) holds no secret: nothing in it is redacted.
#[test]
fn a_kustomize_dns_error_is_not_redacted() {
    let e = "accumulating resources: accumulation err='accumulating resources from 'https://github.com/fluxcd/flux2-kustomize-helm-example//apps/base/podinfo?ref=main': Get \"https://github.com/fluxcd/flux2-kustomize-helm-example//apps/base/podinfo?ref=main\": dial tcp: lookup github.com on 10.255.255.53:53: no such host': failed to run '/usr/local/bin/git fetch --depth=1 https://github.com/fluxcd/flux2-kustomize-helm-example main': fatal: unable to access 'https://github.com/fluxcd/flux2-kustomize-helm-example/': Could not resolve host: github.com\n: exit status 128";
    assert_eq!(redact(e), e);
    assert_eq!(for_terminal(e), e);
}
