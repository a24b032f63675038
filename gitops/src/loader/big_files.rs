//! The big YAML files of a GitOps directory (a Flux install's `gotk-components.yaml`, a vendored CRD bundle) read
//! and parsed on a thread of their own while the directory walk reads the rest: the walk, which lint's first render
//! waits for, then only takes their documents.
//!
//! Only regular files at least [`BIG`] bytes, under the directory, reached without a symlink and without a hidden
//! component (the walk's own rules decide whether a file is used at all: a file parsed here and never asked for is
//! only wasted work). The walker asks with [`BigFiles::take`]: a file that is not listed here is `None` (the walker
//! reads it itself), a listed one is waited for. Reading and parsing are the walker's own ([`crate::files::read_bytes`],
//! [`crate::yaml::parse_bytes`]), so the result and its errors are the same as if the walker had read it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use serde_json::Value;

/// Files this big or bigger are parsed ahead (the fixture's `gotk-components.yaml` is ~270 KB).
pub const BIG: u64 = 64 * 1024;

/// What reading one file gave: its documents, or the read or YAML error the walker reports.
pub type Parsed = Result<Result<Vec<Value>, crate::yaml::YamlError>, std::io::Error>;

#[derive(Default)]
struct State {
    /// The files parsed here (canonical paths), once listed.
    listed: Option<HashSet<PathBuf>>,
    done: HashMap<PathBuf, Parsed>,
}

/// The parse of the big files of one load.
pub struct BigFiles {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl BigFiles {
    /// List the big files under `real_root` (canonical) and parse them, biggest first, on a new thread. Without a
    /// thread, nothing is listed and the walker reads everything itself.
    pub fn start(real_root: &Path) -> BigFiles {
        let shared: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let worker = shared.clone();
        let root = real_root.to_path_buf();
        let started = std::thread::Builder::new()
            .name("big-files".into())
            .spawn(move || {
                let mut found = Vec::new();
                list(&root, &mut found);
                found.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
                let (lock, ready) = &*worker;
                lock.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .listed = Some(found.iter().map(|(_, p)| p.clone()).collect());
                ready.notify_all();
                for (_, path) in found {
                    let parsed =
                        crate::files::read_bytes(&path).map(|b| crate::yaml::parse_bytes(&b));
                    lock.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .done
                        .insert(path, parsed);
                    ready.notify_all();
                }
            });
        if started.is_err() {
            shared
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .listed = Some(HashSet::new());
        }
        BigFiles { shared }
    }

    /// The parse of `real` (a canonical path), waited for when it is one of the big files; `None` when it is not
    /// (the caller reads it). Each file is handed out once.
    pub fn take(&self, real: &Path) -> Option<Parsed> {
        let (lock, ready) = &*self.shared;
        let mut state = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            match &state.listed {
                None => {}
                Some(listed) if !listed.contains(real) => return None,
                Some(_) => {
                    if let Some(parsed) = state.done.remove(real) {
                        // handed out once: a second ask reads the file itself
                        if let Some(listed) = state.listed.as_mut() {
                            listed.remove(real);
                        }
                        return Some(parsed);
                    }
                }
            }
            state = ready
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// The big regular `.yaml`/`.yml` files under `dir`, with their sizes: no symlink followed, hidden entries skipped
/// (as the walk skips them).
fn list(dir: &Path, out: &mut Vec<(u64, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_str().is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let path = e.path();
        if meta.is_dir() {
            list(&path, out);
        } else if meta.is_file() && meta.len() >= BIG && crate::kustomize::paths::is_yaml(&path) {
            out.push((meta.len(), path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_files_are_parsed_ahead_and_handed_out_once() {
        let d = tempfile::tempdir().unwrap();
        let big = "---\na: 1\n".repeat(12_000);
        std::fs::create_dir_all(d.path().join("flux/.hidden")).unwrap();
        std::fs::write(d.path().join("flux/big.yaml"), &big).unwrap();
        std::fs::write(d.path().join("flux/.hidden/big.yaml"), &big).unwrap();
        std::fs::write(d.path().join("flux/dup.yaml"), "a: 1\n".repeat(20_000)).unwrap();
        std::fs::write(d.path().join("small.yaml"), "a: 1\n").unwrap();
        let root = d.path().canonicalize().unwrap();
        let files = BigFiles::start(&root);
        let Some(Ok(Ok(docs))) = files.take(&root.join("flux/big.yaml")) else {
            panic!("the big file is parsed ahead");
        };
        assert_eq!(docs.len(), 12_000);
        assert!(files.take(&root.join("flux/big.yaml")).is_none(), "once");
        // a duplicate key: go-yaml's error, as the walker would give it
        let Some(Ok(Err(e))) = files.take(&root.join("flux/dup.yaml")) else {
            panic!("the error is handed over");
        };
        assert!(e.message.contains("already defined"), "{e}");
        assert!(files.take(&root.join("small.yaml")).is_none());
        assert!(files.take(&root.join("flux/.hidden/big.yaml")).is_none());
    }
}
