//! kustomize, as lint runs it: a kustomization built here when what kustomize would build is certain
//! ([`kustomize_here`], with the patches applied here: [`flux_patch`]), otherwise the real kustomize in a sandbox
//! ([`sandbox`]), its builds cached ([`build_cache`]); the file names and path helpers they share ([`paths`]).

pub mod build_cache;
pub mod flux_patch;
pub mod kustomize_here;
pub(crate) mod paths;
pub mod sandbox;
