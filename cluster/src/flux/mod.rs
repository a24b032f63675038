//! Flux as the harness drives it: install the pinned release, point it at the harness's git server, request
//! reconciles, suspend / resume, read conditions and wait with deadlines.
//!
//! - [`install`]: Flux v2.9.4 components (a file, or the release install.yaml, sha256-checked), then Available
//!   controllers.
//! - [`conditions`]: pure readings of status (Ready, Stalled, HelmRelease progress, revisions) and kube-runtime
//!   `Condition`s built on them.
//! - [`reconcile`]: `flux reconcile [--force]`, `flux suspend`, `flux resume`.
//! - [`wait`]: poll with a caller's deadline; timeouts name the object, the condition and the last state seen.
//! - [`objects`]: the GitRepository and Kustomization for the harness's git server.
//! - [`kinds`]: the Flux kinds' group / version / plural.

pub mod conditions;
pub mod install;
pub mod kinds;
pub mod objects;
pub mod reconcile;
pub mod wait;

pub use kinds::FluxKind;
