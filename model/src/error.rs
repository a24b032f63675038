//! The model's error type: what reading a file or a YAML document can go wrong with. Every variant is something a
//! user can cause or fix; its message says what and how. The crates above wrap it (`#[from]`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}:{line}:{column}: YAML syntax error: {message}")]
    Yaml {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// An error and its sources on one line, without repeating a source its parent already quotes:
/// "ServiceError: client error (Connect): tcp connect error: Connection refused" (reqwest's own message rarely says
/// why).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
