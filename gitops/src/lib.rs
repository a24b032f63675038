//! Read a GitOps directory the way Flux's kustomize-controller does: a directory with a `kustomization.yaml` is what
//! that file lists; a directory without one is every YAML file below it (stopping at directories that have one).
//! Kustomizations that do more than list resources are rendered with the real kustomize (`kubectl kustomize`).

pub mod error;
mod flux;
mod kustomize;
mod loader;
mod objects;

pub use crate::error::{Error, Result};
pub use crate::flux::flux_kustomization::{
    FluxPath, apply_flux_kustomization, cluster_name, flux_path, repository_root,
};
pub use crate::flux::{flux_build, substitute};
pub use crate::kustomize::flux_patch::set_patches_in_process;
pub use crate::kustomize::paths::normalise;
pub use crate::kustomize::{build_cache, flux_patch, kustomize_here, sandbox};
pub use crate::loader::{
    FLUX_BUILD_RULE, KUSTOMIZATION_BUILD_RULE, MAX_FLUX_ROUNDS, NOT_DEPLOYED_RULE,
    NOT_FOLLOWED_RULE, OTHER_SOURCE_RULE, OUTSIDE_ROOT_RULE, load, load_each, load_each_then,
    load_each_watching,
};
pub use crate::loader::{big_files, identity};
pub use crate::objects::object::{CLUSTER_SCOPED, Object, Origin, cluster_scoped};
pub use crate::objects::tree::Tree;
pub use crate::yaml::parse_yaml_documents;
use headlamp_e2e_model::{files, finding, redact, yaml};
#[cfg(test)]
use headlamp_e2e_test_support as test_support;
use headlamp_e2e_tools::{chart, process};
