//! TLS for the HTTP clients this crate builds (chart downloads, the Flux release, the API server probes).

/// Install the process-wide rustls crypto provider (ring) once; later calls are no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
