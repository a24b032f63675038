//! What Flux's kustomize-controller does with a Kustomization: where its `spec.path` leads and what it does to the
//! objects there ([`flux_kustomization`]), the build of a path with kustomize features ([`flux_build`]), and postBuild
//! substitution ([`substitute`]).

pub mod flux_build;
pub(crate) mod flux_kustomization;
pub mod substitute;
