//! The probes against fake API servers (wiremock) and a TLS server: what goes on the wire and how it is judged.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::fake::*;
use super::*;

const PLAIN_TOKEN: &str = "plain-opaque-token-0123456789";
/// A throwaway test server certificate for 127.0.0.1 signed by [`CA_PEM`] (DER, base64; both valid 2000..2100) and
/// its P-256 key (PKCS#8 DER, base64). Test data only: it protects nothing.
const SERVER_CERT_DER: &str = "MIIBrTCCAVOgAwIBAgICEAEwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSazNzLXNlcnZlci1jYUB0ZXN0MCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAOMQwwCgYDVQQDDANrM3MwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASS8YU803asygFM5B+P9PD1hPrQEjmOQNqyj/HbFt9kr2N+ZIyHIZZh1j+WDo2SxCoySKXz9M1Rq2xbId14kLcxo4GPMIGMMAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGHBH8AAAGCCWxvY2FsaG9zdDAfBgNVHSMEGDAWgBSg3hX0TP10QMbVpMe7LfAxfirgHDAdBgNVHQ4EFgQUKkcRTQm3i90tCdni+8aSocQU9XAwCgYIKoZIzj0EAwIDSAAwRQIhAJ77XX0KU4o7abrCHODYXRkZlrwv2ba8kyvnDPI/3YYmAiBAmZvRZAHZl3ofDGREfzcbBHMfc69rnBGZRldhEqzF0Q==";
const SERVER_KEY_DER: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqyVi0ULo6pvKmcw+oAZmNZMUS3kIsXjvrGyqYIz3e5mhRANCAASS8YU803asygFM5B+P9PD1hPrQEjmOQNqyj/HbFt9kr2N+ZIyHIZZh1j+WDo2SxCoySKXz9M1Rq2xbId14kLcx";
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBbjCCARSgAwIBAgICEAAwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSazNzLXNl
cnZlci1jYUB0ZXN0MCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAd
MRswGQYDVQQDDBJrM3Mtc2VydmVyLWNhQHRlc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQYhWfOXCOJBRGbKQjtmXja1qze5Jj3fFMMpg67s3jQmeAu95eOPTqO
3oezh0VmYsC8+5hxCnpAPDRnQuNJIBdpo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4G
A1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUoN4V9Ez9dEDG1aTHuy3wMX4q4BwwCgYI
KoZIzj0EAwIDSAAwRQIhAIvBPGna57yiOIlQJOgKF2lSMLeUxxiWeJmo2nK6MEk/
AiA5fEpp0kv6P9dSXIsEkyCENwfspkQMDKjOwyp/VEtd0w==
-----END CERTIFICATE-----
";

/// kube-apiserver's token cache: a deleted token's successful authentication is served from the cache for a while
/// (`cached` more requests, on any route: one API server), then it gets 401.
struct TokenCache {
    cached: usize,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Respond for TokenCache {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < self.cached {
            ResponseTemplate::new(200).set_body_json(
                json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}),
            )
        } else {
            ResponseTemplate::new(401).set_body_raw(
                status_json(401, "Unauthorized", "Unauthorized"),
                "application/json",
            )
        }
    }
}

async fn token_cache(cached: usize) -> (MockServer, Route, Route) {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/(clusters/main/)?api/"))
        .respond_with(TokenCache {
            cached,
            seen: Default::default(),
        })
        .mount(&server)
        .await;
    let (direct, via) = (
        Route::direct(server.uri()),
        Route::via_headlamp(server.uri()),
    );
    (server, direct, via)
}

#[tokio::test]
async fn revocation_is_polled_until_401_on_each_route() {
    let (_server, direct, via) = token_cache(3).await;
    let client = http_client(None).unwrap();
    let list_pods = check("list-pods").unwrap();
    let since = Instant::now();
    let mut outcomes = Vec::new();
    for (route, attempts) in [(&direct, 4), (&via, 1)] {
        let req = build_request(list_pods, route, TOKEN, POD).unwrap();
        let r = poll_until_revoked(
            &client,
            &req,
            TOKEN,
            since,
            Duration::from_secs(30),
            Duration::from_millis(20),
        )
        .await;
        assert!(r.revoked(), "{r:?}");
        assert_eq!(r.attempts, attempts, "{route}");
        let o = judge_revocation(route, &r, REVOCATION_DEADLINE);
        assert!(o.passed, "{o:?}");
        assert!(
            o.message.contains("401 Unauthorized")
                && o.message.contains("after its Secret was deleted"),
            "{}",
            o.message
        );
        outcomes.push(o);
    }
    assert_eq!(outcomes[0].name, "token-old-rejected-apiserver");
    assert_eq!(outcomes[1].name, "token-old-rejected-headlamp");
    assert!(
        outcomes[0].message.contains("(4 attempt(s);"),
        "{}",
        outcomes[0].message
    );
}

#[tokio::test]
async fn a_token_still_accepted_at_the_deadline_fails_with_how_long_it_was_tried() {
    let (_server, direct, _) = token_cache(usize::MAX).await;
    let client = http_client(None).unwrap();
    let req = build_request(check("list-pods").unwrap(), &direct, TOKEN, POD).unwrap();
    let r = poll_until_revoked(
        &client,
        &req,
        TOKEN,
        Instant::now(),
        Duration::from_millis(200),
        Duration::from_millis(20),
    )
    .await;
    assert!(!r.revoked());
    assert!(r.attempts >= 2, "{r:?}");
    assert_eq!(r.last, Verdict::Allowed(200));
    let o = judge_revocation(&direct, &r, Duration::from_secs(30));
    assert!(!o.passed);
    assert!(
        o.message
            .starts_with("old token via apiserver: expected 401 Unauthorized, got 200 OK"),
        "{}",
        o.message
    );
    assert!(o.message.contains("past the 30s deadline"), "{}", o.message);
    assert!(!o.message.contains(TOKEN));
}

fn assert_no_token(outcomes: &[CheckOutcome], token: &str) {
    for o in outcomes {
        assert!(!o.message.contains(token), "token in {}", o.message);
    }
    let debug = format!("{outcomes:?}");
    assert!(!debug.contains(token), "token in Debug output");
}

#[tokio::test]
async fn matrix_passes_against_a_view_only_api_on_both_routes() {
    let client = http_client(None).unwrap();
    let (server, direct, via) = fake(TOKEN, false).await;
    for route in [&direct, &via] {
        let outcomes = run_matrix(&client, route, TOKEN, POD).await;
        assert_eq!(outcomes.len(), MATRIX.len());
        let failed: Vec<_> = outcomes
            .iter()
            .filter(|o| !o.passed)
            .map(|o| &o.message)
            .collect();
        assert!(failed.is_empty(), "{route}: {failed:#?}");
        assert!(outcomes.iter().all(|o| o.route == route.id()));
        assert_no_token(&outcomes, TOKEN);
        let secrets = outcomes.iter().find(|o| o.check == "list-secrets").unwrap();
        assert!(
            matches!(&secrets.actual, Verdict::Forbidden(d) if d.reason.as_deref() == Some("Forbidden"))
        );
    }
    // the Headlamp route really went through /clusters/main with the Host header
    let requests = server.received_requests().await.unwrap();
    let via_headlamp = requests
        .iter()
        .filter(|r| r.url.path().starts_with("/clusters/main/"))
        .count();
    assert_eq!(via_headlamp, MATRIX.len());
    assert_eq!(requests.len(), 2 * MATRIX.len());
}

#[tokio::test]
async fn broken_rbac_is_reported_with_check_route_expected_and_actual() {
    let client = http_client(None).unwrap();
    let (_server, _direct, via) = fake(PLAIN_TOKEN, true).await;
    let outcomes = run_matrix(&client, &via, PLAIN_TOKEN, POD).await;
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed).collect();
    let ids: Vec<_> = failed.iter().map(|o| o.check).collect();
    assert_eq!(ids, ["get-secret", "list-secrets"]);
    assert!(
        failed[1]
            .message
            .starts_with("list-secrets via headlamp: expected 403 Forbidden, got 200 OK"),
        "{}",
        failed[1].message
    );
    assert_no_token(&outcomes, PLAIN_TOKEN);
}

#[tokio::test]
async fn a_rejected_token_gives_401_everywhere_and_is_never_printed() {
    let client = http_client(None).unwrap();
    let (_server, direct, via) = fake(TOKEN, false).await;
    for (route, token) in [
        (&direct, PLAIN_TOKEN),
        (&via, PLAIN_TOKEN),
        (&via, "eyJold.eyJtoken.sig"),
    ] {
        let outcomes = run_matrix(&client, route, token, POD).await;
        assert!(
            outcomes.iter().all(|o| o.actual == Verdict::Unauthorized),
            "{outcomes:?}"
        );
        assert!(outcomes.iter().all(|o| !o.passed));
        assert!(outcomes[0].message.contains("got 401 Unauthorized"));
        assert_no_token(&outcomes, token);
    }
    // the rotation judgement over real probes
    let old = probe(
        &client,
        check("list-namespaces").unwrap(),
        &via,
        PLAIN_TOKEN,
        POD,
    )
    .await;
    let new = probe(&client, check("list-namespaces").unwrap(), &via, TOKEN, POD).await;
    assert!(judge_old_token(&via, &old.actual).passed);
    assert!(judge_new_token(&via, &new.actual).passed);
}

#[tokio::test]
async fn wrong_host_or_context_shows_up_as_404_with_a_hint() {
    let client = http_client(None).unwrap();
    let (_server, _direct, via) = fake(TOKEN, false).await;
    let Route::ViaHeadlamp { base_url, .. } = via else {
        unreachable!()
    };
    let wrong = Route::ViaHeadlamp {
        base_url,
        host: "other.example.net".into(),
        context: "main".into(),
    };
    let o = probe(&client, check("list-pods").unwrap(), &wrong, TOKEN, POD).await;
    assert_eq!(o.actual, Verdict::NotFound);
    assert!(o.message.contains("Ingress host"), "{}", o.message);
}

#[tokio::test]
async fn unreachable_server_is_no_response_without_the_token() {
    let client = http_client(None).unwrap();
    // a port nothing listens on: bind, read the port, close
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let route = Route::direct(format!("http://127.0.0.1:{port}"));
    let o = probe(
        &client,
        check("list-pods").unwrap(),
        &route,
        PLAIN_TOKEN,
        POD,
    )
    .await;
    assert!(matches!(o.actual, Verdict::NoResponse(_)), "{o:?}");
    assert!(
        o.message
            .starts_with("list-pods via apiserver: expected 2xx (allowed), got no response")
    );
    assert!(!format!("{o:?}").contains(PLAIN_TOKEN));
    // an empty token never reaches the wire
    let o = probe(&client, check("list-pods").unwrap(), &route, "", POD).await;
    assert!(
        matches!(&o.actual, Verdict::NoResponse(e) if e.contains("empty")),
        "{o:?}"
    );
}

#[test]
fn http_client_accepts_a_ca_pem_and_rejects_garbage() {
    assert!(http_client(Some(CA_PEM.as_bytes())).is_ok());
    assert!(http_client(Some(b"not a certificate")).is_err());
    let e = http_client(Some(b"")).unwrap_err().to_string();
    assert!(e.contains("CA"), "{e}");
}

/// A one-request-per-connection HTTPS server with the test certificate, answering 200 with an empty list.
fn tls_server(connections: usize) -> u16 {
    use base64::Engine as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::io::{Read, Write};

    crate::tls::install_crypto_provider();
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert = CertificateDer::from(b64.decode(SERVER_CERT_DER).unwrap());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        b64.decode(SERVER_KEY_DER).unwrap(),
    ));
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((tcp, _)) = listener.accept() else {
                return;
            };
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            if request.is_empty() {
                continue; // the client refused our certificate
            }
            let body = r#"{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[]}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

#[tokio::test]
async fn direct_route_trusts_exactly_the_given_ca() {
    let port = tls_server(2);
    let route = Route::direct(format!("https://127.0.0.1:{port}"));
    let list = check("list-namespaces").unwrap();

    let trusting = http_client(Some(CA_PEM.as_bytes())).unwrap();
    let o = probe(&trusting, list, &route, TOKEN, POD).await;
    assert_eq!(o.actual, Verdict::Allowed(200), "{}", o.message);
    assert!(o.passed);

    let untrusting = http_client(None).unwrap();
    let o = probe(&untrusting, list, &route, TOKEN, POD).await;
    assert!(matches!(o.actual, Verdict::NoResponse(_)), "{o:?}");
    assert!(!o.message.contains(TOKEN));
}
