//! YAML read into JSON values the way Flux's kustomize-controller reads it: the `headlamp-e2e-yaml` crate
//! (`yaml/`), a crate of its own only so that the dev profile `cargo xtask` runs builds it optimised (every file lint
//! reads goes through it; see the root Cargo.toml). Its documentation says what it models and from which source.

pub use headlamp_e2e_yaml::*;

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Parse a (multi-document) YAML text into JSON values as Flux's kustomize-controller reads it ([`crate::yaml`]:
/// go-yaml v3 then `encoding/json`); `file` names it in errors (with line and column).
pub fn parse_yaml_documents(text: &str, file: &Path) -> Result<Vec<Value>> {
    parse_documents(text).map_err(|e| yaml_error(e, file))
}

/// [`Error::Yaml`] for a YAML error in `file`.
pub fn yaml_error(e: YamlError, file: &Path) -> Error {
    Error::Yaml {
        file: file.to_path_buf(),
        line: e.line,
        column: e.column,
        message: e.message,
    }
}
