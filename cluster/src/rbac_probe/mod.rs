//! The access matrix's probes sent for real: an HTTP client for the API server (directly or through Headlamp's
//! proxy), one request per check, judged by [`crate::rbac`].

use std::time::{Duration, Instant};

use crate::error::error_chain;
use crate::rbac::*;
use crate::{Error, Result};

/// The reqwest request of `request` for `client`, with [`PROBE_TIMEOUT`].
pub fn to_reqwest(request: &ProbeRequest, client: &reqwest::Client) -> reqwest::RequestBuilder {
    let mut builder = client
        .request(request.method.clone(), &request.url)
        .headers(request.headers.clone())
        .timeout(PROBE_TIMEOUT);
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    builder
}

/// A reqwest client for the probes: no redirects (a redirect is an answer to judge, not to follow), no proxy,
/// [`PROBE_TIMEOUT`]. With `ca_pem` (the API server's self-signed CA, e.g. the kubeconfig's
/// certificate-authority-data decoded) only that CA is trusted. Installs the rustls crypto provider.
pub fn http_client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client> {
    http_client_with(ca_pem, false)
}

/// [`http_client`], and with `accept_invalid_certs` no certificate check at all (a kubeconfig's
/// `insecure-skip-tls-verify: true`, honoured as kubectl does).
pub fn http_client_with(
    ca_pem: Option<&[u8]>,
    accept_invalid_certs: bool,
) -> Result<reqwest::Client> {
    crate::tls::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_danger_accept_invalid_certs(accept_invalid_certs);
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            Error::Other(format!("the API server CA is not a PEM certificate: {e}"))
        })?;
        if certs.is_empty() {
            return Err(Error::Other(
                "the API server CA holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"
                    .to_string(),
            ));
        }
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map_err(|e| Error::Other(format!("building the HTTP client: {}", error_chain(&e))))
}

/// Send `request` and judge the answer. The verdict's texts are scrubbed of `token`.
pub async fn send(client: &reqwest::Client, request: &ProbeRequest, token: &str) -> Verdict {
    let v = match to_reqwest(request, client).send().await {
        Err(e) => Verdict::NoResponse(error_chain(&e)),
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.bytes().await {
                Ok(body) => verdict(status, &body),
                Err(e) if (200..300).contains(&status) => {
                    tracing::debug!(
                        status,
                        "reading a 2xx body failed: {}",
                        scrub(&error_chain(&e), token)
                    );
                    Verdict::Allowed(status)
                }
                Err(_) => verdict(status, &[]),
            }
        }
    };
    v.scrubbed(token)
}

/// Run one check on one route: build, send, judge. The outcome never contains `token`.
pub async fn probe(
    client: &reqwest::Client,
    check: &AccessCheck,
    route: &Route,
    token: &str,
    pod_name: &str,
) -> CheckOutcome {
    probe_in(client, check, route, token, NAMESPACE, pod_name).await
}

/// [`probe`] for an app in `namespace`.
pub async fn probe_in(
    client: &reqwest::Client,
    check: &AccessCheck,
    route: &Route,
    token: &str,
    namespace: &str,
    pod_name: &str,
) -> CheckOutcome {
    let start = Instant::now();
    let actual = match build_request_in(check, route, token, namespace, pod_name) {
        Ok(request) => send(client, &request, token).await,
        Err(e) => Verdict::NoResponse(scrub(&e.to_string(), token)),
    };
    let mut outcome = judge(check, route, actual);
    outcome.message = scrub(&outcome.message, token);
    outcome.duration = start.elapsed();
    if outcome.passed {
        tracing::debug!(check = check.id, route = route.id(), "{}", outcome.message);
    } else {
        tracing::warn!(check = check.id, route = route.id(), "{}", outcome.message);
    }
    outcome
}

/// Run the whole [`MATRIX`] on `route` with `token`, one request at a time, for the pod `pod_name` (pods/log and
/// exec). Build `client` with [`http_client`] (which installs the crypto provider).
pub async fn run_matrix(
    client: &reqwest::Client,
    route: &Route,
    token: &str,
    pod_name: &str,
) -> Vec<CheckOutcome> {
    let mut outcomes = Vec::with_capacity(MATRIX.len());
    for check in MATRIX {
        outcomes.push(probe(client, check, route, token, pod_name).await);
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    tracing::info!(
        route = route.id(),
        "access matrix {route}: {} checks, {failed} failed",
        outcomes.len()
    );
    outcomes
}

/// Send `request` with the old `token` every `interval` until the answer is 401 or `deadline` (counted from
/// `since`, when the token's Secret was deleted) has passed. At least one attempt is made. Verdicts are scrubbed of
/// the token.
pub async fn poll_until_revoked(
    client: &reqwest::Client,
    request: &ProbeRequest,
    token: &str,
    since: Instant,
    deadline: Duration,
    interval: Duration,
) -> Revocation {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last = send(client, request, token).await;
        let took = since.elapsed();
        if last == Verdict::Unauthorized || took >= deadline {
            return Revocation {
                took,
                attempts,
                last,
            };
        }
        tokio::time::sleep(interval.min(deadline.saturating_sub(took))).await;
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod fake;
#[cfg(test)]
mod tests;
