//! YAML read into JSON values the way Flux's kustomize-controller reads it: the `headlamp-e2e-yaml` crate
//! (`yaml/`), a crate of its own only so that the dev profile `cargo xtask` runs builds it optimised (every file lint
//! reads goes through it; see the root Cargo.toml). Its documentation says what it models and from which source.

pub use headlamp_e2e_yaml::*;
