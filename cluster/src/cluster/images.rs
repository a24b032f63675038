//! `--image-cache DIR` and `--registry-mirror URL`: a run that pulls nothing from Docker Hub once DIR is warm.
//!
//! k3s's air-gap mechanism (k3s-io/k3s: the agent's images directory is `<data-dir>/agent/images`, `nodeConfig.Images
//! = filepath.Join(envInfo.DataDir, "agent", "images")` in `pkg/daemons/control/deps` / `pkg/cli/server`, data-dir
//! `/var/lib/rancher/k3s` in the `rancher/k3s` image; `pkg/agent/containerd` imports every tarball found there into
//! containerd's `k8s.io` namespace when the agent starts). So:
//!
//! - before k3s starts, `DIR/agent-images/` is bind-mounted at [`AGENT_IMAGES_DIR`] (k3s imports what an earlier run
//!   exported there), and `DIR/rancher-k3s.tar` is `docker load`ed (the k3s image itself, not in the air-gap set);
//! - after setup (the first HelmRelease Ready: every image of the baseline has been pulled), the images containerd
//!   holds are exported into `DIR/agent-images/k3s-images.tar` with `k3s ctr -n k8s.io images export` inside the
//!   container (then `docker cp` out), and the k3s image is `docker save`d once. The export is skipped when the list
//!   of images is the one exported before (`DIR/k3s-images.list`).
//!
//! `--registry-mirror URL` writes k3s's `registries.yaml` (k3s-io/k3s `pkg/cli/cmds/agent.go`: `--private-registry`
//! defaults to `/etc/rancher/k3s/registries.yaml`) with `docker.io` mirrored at URL, and mounts it read-only.
//! These paths were read at stored k3s-io/k3s commits, not at the v1.35.5+k3s1 tag itself (the repository is too
//! large to fetch here); the live tier is where a wrong path would show (a warm cache that still pulls).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// k3s's agent images directory in the `rancher/k3s` image: tarballs there are imported at start.
pub const AGENT_IMAGES_DIR: &str = "/var/lib/rancher/k3s/agent/images";
/// Where k3s reads its registry configuration.
pub const REGISTRIES_YAML: &str = "/etc/rancher/k3s/registries.yaml";
/// `DIR/<this>`: mounted at [`AGENT_IMAGES_DIR`].
pub const AGENT_IMAGES_SUBDIR: &str = "agent-images";
/// The export of the images the run pulled, in `DIR/agent-images`.
pub const EXPORT_TAR: &str = "k3s-images.tar";
/// The images in [`EXPORT_TAR`], one reference a line.
pub const EXPORT_LIST: &str = "k3s-images.list";
/// `docker save` of the `rancher/k3s` image.
pub const K3S_TAR: &str = "rancher-k3s.tar";
/// Inside the container, where the export is written before `docker cp` (not the images dir: k3s would import it).
const EXPORT_IN_CONTAINER: &str = "/tmp/headlamp-e2e-images.tar";
/// Deadline of one docker/ctr call (an export or a load of a few GB on a slow disk).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// One external call: `docker …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub program: String,
    pub args: Vec<String>,
}

impl Call {
    pub fn docker<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> Self {
        Call {
            program: "docker".into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.program, self.args.join(" "))
    }
}

/// Runs [`Call`]s: [`Cli`] for real, a recording fake in tests.
#[allow(async_fn_in_trait)]
pub trait Runner {
    /// Run `call` within `timeout`; its stdout, or what it said when it failed.
    async fn run(&mut self, call: &Call, timeout: Duration) -> Result<String, String>;
}

/// The docker CLI on this machine.
#[derive(Debug, Default)]
pub struct Cli;

impl Runner for Cli {
    async fn run(&mut self, call: &Call, timeout: Duration) -> Result<String, String> {
        let out = crate::process::Cmd::new(&call.program)
            .args(&call.args)
            .timeout(timeout)
            .run()
            .await
            .map_err(|e| format!("{call}: {e}"))?;
        if out.success() {
            Ok(out.stdout_text())
        } else {
            Err(format!("{call}: {}", out.complaint()))
        }
    }
}

/// `amd64`/`arm64` for this machine (containerd's platform names), for `ctr images export --platform`.
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("linux/{arch}")
}

/// The image cache directory of `--image-cache DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCache {
    pub dir: PathBuf,
}

impl ImageCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ImageCache { dir: dir.into() }
    }

    /// `DIR/agent-images`, mounted at [`AGENT_IMAGES_DIR`].
    pub fn agent_images(&self) -> PathBuf {
        self.dir.join(AGENT_IMAGES_SUBDIR)
    }

    pub fn k3s_tar(&self) -> PathBuf {
        self.dir.join(K3S_TAR)
    }

    /// Before k3s starts: create `DIR/agent-images`, and `docker load` the k3s image when DIR has it. Returns
    /// whether it was loaded.
    pub async fn prepare(&self, runner: &mut impl Runner) -> Result<bool, String> {
        let images = self.agent_images();
        std::fs::create_dir_all(&images).map_err(|e| format!("{}: {e}", images.display()))?;
        let tar = self.k3s_tar();
        if !tar.is_file() {
            return Ok(false);
        }
        runner
            .run(
                &Call::docker(["load", "-i", &tar.to_string_lossy()]),
                CALL_TIMEOUT,
            )
            .await?;
        Ok(true)
    }

    /// After setup: save the k3s image (once), and export the images containerd holds when they differ from the
    /// last export. Returns the images exported (empty: nothing new).
    pub async fn save(
        &self,
        runner: &mut impl Runner,
        container: &str,
        k3s_image: &str,
        platform: &str,
    ) -> Result<Vec<String>, String> {
        let tar = self.k3s_tar();
        if !tar.is_file() {
            runner
                .run(
                    &Call::docker(["save", "-o", &tar.to_string_lossy(), k3s_image]),
                    CALL_TIMEOUT,
                )
                .await?;
        }
        let listed = runner
            .run(
                &Call::docker([
                    "exec", container, "k3s", "ctr", "-n", "k8s.io", "images", "ls", "-q",
                ]),
                Duration::from_secs(60),
            )
            .await?;
        let refs = exportable(&listed);
        let list = self.dir.join(EXPORT_LIST);
        let before = std::fs::read_to_string(&list).unwrap_or_default();
        let export = self.agent_images().join(EXPORT_TAR);
        if refs.is_empty() || (before == refs.join("\n") && export.is_file()) {
            return Ok(Vec::new());
        }
        let mut args: Vec<String> = [
            "exec",
            container,
            "k3s",
            "ctr",
            "-n",
            "k8s.io",
            "images",
            "export",
            "--platform",
            platform,
            EXPORT_IN_CONTAINER,
        ]
        .into_iter()
        .map(String::from)
        .collect();
        args.extend(refs.iter().cloned());
        runner.run(&Call::docker(args), CALL_TIMEOUT).await?;
        let copied = runner
            .run(
                &Call::docker([
                    "cp".to_string(),
                    format!("{container}:{EXPORT_IN_CONTAINER}"),
                    export.to_string_lossy().into_owned(),
                ]),
                CALL_TIMEOUT,
            )
            .await;
        // the export is removed from the container whether the copy worked or not
        let removed = runner
            .run(
                &Call::docker(["exec", container, "rm", "-f", EXPORT_IN_CONTAINER]),
                Duration::from_secs(60),
            )
            .await;
        copied?;
        removed?;
        std::fs::write(&list, refs.join("\n")).map_err(|e| format!("{}: {e}", list.display()))?;
        Ok(refs)
    }
}

/// The references of `ctr images ls -q` worth exporting: tagged names (`docker.io/rancher/mirrored-pause:3.6`), not
/// the digest-only aliases (`…@sha256:…`) or bare image ids (`sha256:…`) containerd lists beside them. Sorted.
pub fn exportable(listed: &str) -> Vec<String> {
    let mut refs: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("sha256:") && !l.contains('@'))
        .map(str::to_string)
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// The `registries.yaml` of `--registry-mirror URL`: `docker.io` pulled through URL (k3s falls back to the
/// registry itself when the mirror fails). URL must be `http(s)://host[:port][/path]` without credentials (they
/// would be written to a file and into the container; configure them in registries.yaml yourself).
pub fn registries_yaml(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("--registry-mirror {url}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "--registry-mirror {url}: the scheme must be http or https"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "--registry-mirror: the URL holds credentials; put them in your own registries.yaml instead".into(),
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) || parsed.query().is_some() {
        return Err(format!(
            "--registry-mirror {url}: expected http(s)://host[:port][/path]"
        ));
    }
    let endpoint = parsed.as_str().trim_end_matches('/');
    Ok(format!(
        "# written by headlamp-e2e --registry-mirror\nmirrors:\n  docker.io:\n    endpoint:\n      - \"{endpoint}\"\n"
    ))
}

/// Write the `registries.yaml` of `url` to `path` (0600); returns the path.
pub fn write_registries_yaml(path: &Path, url: &str) -> Result<PathBuf, String> {
    let yaml = registries_yaml(url)?;
    crate::private_file::write_private_file(path, yaml.as_bytes()).map_err(|e| e.to_string())?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests;
