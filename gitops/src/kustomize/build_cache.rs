//! The kustomize build cache: `$HEADLAMP_E2E_CACHE/kustomize` (else `~/.cache/headlamp-e2e/kustomize`), one entry per
//! build, keyed by the content of everything the build reads, so a warm lint re-runs kustomize only for what changed.
//!
//! What a build reads is exactly its sandbox ([`super::sandbox`]): the kustomization graph is resolved and checked
//! first, and only what it names is mirrored (the kustomization lint writes for a Flux Kustomization included). The
//! key is the SHA-256 of: this format's version, the kubectl that builds (its resolved path, size and modification
//! time: another kubectl is another kustomize), and the sandbox's content key (every entry the mirror would write,
//! in order: a file's bytes, a symlink's target, a directory's name, the kustomizations written, and the directory
//! built), which is computed without writing the mirror: a warm build creates no file. kustomize reads nothing
//! else: builds run with plugins off and `LoadRestrictionsNone` inside the mirror. A build that fetches a remote base
//! (`--allow-remote-bases`) reads the network and is never cached; a failed build is not stored (it runs again, so
//! its message is kustomize's own, today's).
//!
//! Off unless the CLI turns it on ([`set_enabled`]: `cargo xtask lint` does, `--no-cache` does not), so library users
//! and tests read no cache. Entries are written atomically and carry their own SHA-256 ([`crate::chart::RenderCache`]):
//! a corrupt one is built again.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use crate::chart::RenderCache;
use crate::process::{Cmd, Output, ProcessError};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turn the cache on (`cargo xtask lint`) or off (`--no-cache`, the default for the library).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

fn cache() -> Option<RenderCache> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    crate::chart::cache_root().map(|d| RenderCache::new(d.join("kustomize")))
}

/// The kubectl that builds: `$KUBECTL_BIN`, else `kubectl` on PATH.
fn kubectl() -> Option<PathBuf> {
    let named = std::env::var_os("KUBECTL_BIN").filter(|v| !v.is_empty());
    let found = match named {
        Some(p) if Path::new(&p).components().count() > 1 => Some(PathBuf::from(p)),
        named => {
            let name = named.unwrap_or_else(|| "kubectl".into());
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join(&name))
                .find(|p| p.is_file())
        }
    };
    found.and_then(|p| p.canonicalize().ok())
}

/// The key of a build whose sandbox content key is `content`, built by `kubectl`; `None` when kubectl cannot be
/// looked at.
pub fn key(kubectl: &Path, content: &str) -> Option<String> {
    let mut h = Sha256::new();
    h.update(b"headlamp-e2e kustomize build v1\0");
    let meta = std::fs::metadata(kubectl).ok()?;
    h.update(kubectl.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    h.update(meta.len().to_le_bytes());
    h.update(meta.mtime().to_le_bytes());
    h.update(meta.mtime_nsec().to_le_bytes());
    h.update(content.as_bytes());
    Some(hex::encode(h.finalize()))
}

/// A SHA-256 started with `format` (the kind of entry and its version) and this program's identity: its path, size
/// and modification time (the code that computes an entry is this program's: another build is another key). `None`
/// when the program cannot be looked at.
pub fn program_key(format: &[u8]) -> Option<Sha256> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let mut h = Sha256::new();
    h.update(format);
    h.update(exe.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    h.update(meta.len().to_le_bytes());
    h.update(meta.mtime().to_le_bytes());
    h.update(meta.mtime_nsec().to_le_bytes());
    Some(h)
}

/// Whether builds are cached ([`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The stored output of the build whose sandbox content key is `content`.
pub fn get(content: &str) -> Option<String> {
    let text = cache()?.get(&key(&kubectl()?, content)?)?;
    tracing::debug!("kustomize build from the cache");
    Some(text)
}

/// Run `cmd` (a `kubectl kustomize` of a sandbox's start directory); store its output when it succeeds and the
/// sandbox has a content key (`content`, [`super::sandbox::Sandbox::content_key`]).
pub fn run(content: Option<&str>, cmd: Cmd) -> Result<Output, ProcessError> {
    let out = cmd.run_blocking()?;
    if out.success()
        && let Some(content) = content
        && let Some(c) = cache()
        && let Some(key) = kubectl().and_then(|k| key(&k, content))
        && let Ok(text) = std::str::from_utf8(&out.stdout)
    {
        c.put(&key, text);
    }
    Ok(out)
}

/// A build's output, from the cache or run ([`super::sandbox::Prepared`]).
pub fn cached_output(text: String) -> Output {
    Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(0),
        stdout: text.into_bytes(),
        stderr: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_kubectl_or_another_content_is_another_build() {
        let d = tempfile::tempdir().unwrap();
        let (k1, k2) = (d.path().join("k1"), d.path().join("k2"));
        std::fs::write(&k1, "#!/bin/sh\n").unwrap();
        std::fs::write(&k2, "#!/bin/sh\necho\n").unwrap();
        assert_eq!(key(&k1, "abc"), key(&k1, "abc"));
        assert_ne!(key(&k1, "abc"), key(&k2, "abc"));
        assert_ne!(key(&k1, "abc"), key(&k1, "abd"));
        assert!(key(&d.path().join("missing"), "abc").is_none());
    }
}
