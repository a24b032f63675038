//! The k3s image (`rancher/k3s`) as a small testcontainers [`Image`], and its kubeconfig.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::{ContainerRequest, Image, ImageExt};

use super::container::{Container, RunId, start_container};
use super::error::ClusterError;
use super::node::wait_node_ready;
use crate::private_file::write_private_file;

/// The k3s image repository.
pub const K3S_IMAGE: &str = "rancher/k3s";
/// Default tag: k3s v1.35.5+k3s1 (Kubernetes v1.35.5), released as https://github.com/k3s-io/k3s/releases/tag/v1.35.5+k3s1
/// and published as `rancher/k3s:v1.35.5-k3s1` (image tags use `-` for the `+`). Override with [`K3s::with_tag`].
pub const K3S_DEFAULT_TAG: &str = "v1.35.5-k3s1";
/// The Kubernetes API port inside the container.
pub const KUBE_API_PORT: ContainerPort = ContainerPort::Tcp(6443);
/// Traefik's HTTP entrypoint inside the container.
pub const TRAEFIK_HTTP_PORT: ContainerPort = ContainerPort::Tcp(80);
/// Where k3s writes its admin kubeconfig inside the container.
pub const K3S_KUBECONFIG_PATH: &str = "/etc/rancher/k3s/k3s.yaml";
/// The stderr line after which the API server answers (the node may not be Ready yet: see [`wait_node_ready`]).
pub const K3S_READY_LOG: &str = "Node controller sync successful";
/// Startup timeout for the k3s container (testcontainers' default of 60 s is too short on a cold CI runner).
pub const K3S_STARTUP_TIMEOUT: Duration = Duration::from_secs(180);
/// The node name passed to k3s (`--node-name`), so callers know what to wait for.
pub const K3S_NODE_NAME: &str = "headlamp-e2e-server";

/// The k3s server image: `server --snapshotter=native --disable=metrics-server --node-name=headlamp-e2e-server`,
/// ports 6443 and 80, ready on stderr [`K3S_READY_LOG`]. Needs a privileged container: [`start_k3s`] sets that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K3s {
    tag: String,
    extra_args: Vec<String>,
    /// Bind mounts: (host path, container path, read-only).
    binds: Vec<(String, &'static str, bool)>,
}

impl Default for K3s {
    fn default() -> Self {
        Self {
            tag: K3S_DEFAULT_TAG.to_owned(),
            extra_args: Vec::new(),
            binds: Vec::new(),
        }
    }
}

impl K3s {
    pub fn new() -> Self {
        Self::default()
    }

    /// Use another `rancher/k3s` tag, e.g. `v1.34.7-k3s1`.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = tag.into();
        self
    }

    /// Append a `k3s server` argument, e.g. `--disable=traefik`.
    pub fn with_server_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Mount `dir` at k3s's agent images directory: the tarballs there are imported when k3s starts
    /// ([`super::images`]).
    pub fn with_agent_images(mut self, dir: &Path) -> Self {
        self.binds.push((
            dir.to_string_lossy().into_owned(),
            super::images::AGENT_IMAGES_DIR,
            false,
        ));
        self
    }

    /// Mount `file` read-only as k3s's `registries.yaml` ([`super::images::registries_yaml`]).
    pub fn with_registries_yaml(mut self, file: &Path) -> Self {
        self.binds.push((
            file.to_string_lossy().into_owned(),
            super::images::REGISTRIES_YAML,
            true,
        ));
        self
    }

    /// The full command line after the entrypoint.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["server", "--snapshotter=native", "--disable=metrics-server"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        args.push(format!("--node-name={K3S_NODE_NAME}"));
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// The container request [`start_k3s`] uses: privileged, host user namespace, raised startup timeout.
    pub fn request(self) -> ContainerRequest<K3s> {
        let binds = self.binds.clone();
        let mut req = self
            .with_privileged(true)
            .with_userns_mode("host")
            .with_startup_timeout(K3S_STARTUP_TIMEOUT);
        for (host, target, read_only) in binds {
            let mount = testcontainers::core::Mount::bind_mount(host, target);
            req = req.with_mount(if read_only {
                mount.with_access_mode(testcontainers::core::AccessMode::ReadOnly)
            } else {
                mount
            });
        }
        req
    }
}

impl Image for K3s {
    fn name(&self) -> &str {
        K3S_IMAGE
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stderr(K3S_READY_LOG)]
    }

    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        self.args()
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[KUBE_API_PORT, TRAEFIK_HTTP_PORT]
    }
}

/// A running k3s server container.
#[derive(Debug)]
pub struct K3sCluster {
    container: Container<K3s>,
}

/// Start k3s (labelled for `run`) and wait for its ready log line. Does not wait for the node: see
/// [`K3sCluster::wait_node_ready`].
pub async fn start_k3s(k3s: K3s, run: &RunId) -> Result<K3sCluster, ClusterError> {
    let container = start_container(k3s.request(), run).await?;
    Ok(K3sCluster { container })
}

impl K3sCluster {
    pub fn container(&self) -> &Container<K3s> {
        &self.container
    }

    pub fn node_name(&self) -> &'static str {
        K3S_NODE_NAME
    }

    /// Host port of the Kubernetes API.
    pub async fn api_port(&self) -> Result<u16, ClusterError> {
        self.container.host_port(KUBE_API_PORT).await
    }

    /// Host port of Traefik's HTTP entrypoint.
    pub async fn http_port(&self) -> Result<u16, ClusterError> {
        self.container.host_port(TRAEFIK_HTTP_PORT).await
    }

    /// The admin kubeconfig, copied out of the container (retrying until k3s has written it, up to 30 s) with its
    /// server rewritten to the published API port. Contains credentials: never log it.
    pub async fn kubeconfig_yaml(&self) -> Result<String, ClusterError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let raw = loop {
            match self.container.copy_file_out(K3S_KUBECONFIG_PATH).await {
                Ok(bytes) if !bytes.is_empty() => break bytes,
                Ok(_) | Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok(_) => {
                    return Err(ClusterError::Kubeconfig(format!(
                        "{K3S_KUBECONFIG_PATH} in {} stayed empty for 30 s",
                        self.container.name()
                    )));
                }
                Err(e) => return Err(e),
            }
        };
        let text = String::from_utf8(raw)
            .map_err(|_| ClusterError::Kubeconfig(format!("{K3S_KUBECONFIG_PATH} is not UTF-8")))?;
        let host = match self.container.host().await?.as_str() {
            "localhost" => "127.0.0.1".to_owned(),
            other => other.to_owned(),
        };
        rewrite_kubeconfig_server(&text, &host, self.api_port().await?)
    }

    /// Write the kubeconfig to `path` with mode 0600.
    pub async fn write_kubeconfig(&self, path: &Path) -> Result<(), ClusterError> {
        let yaml = self.kubeconfig_yaml().await?;
        Ok(write_private_file(path, yaml.as_bytes())?)
    }

    /// A kube client for the cluster (installs the rustls crypto provider if none is).
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        crate::tls::install_crypto_provider();
        let yaml = self.kubeconfig_yaml().await?;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml)
            .map_err(|e| ClusterError::Kube(format!("parsing the k3s kubeconfig: {e}")))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| ClusterError::Kube(format!("loading the k3s kubeconfig: {e}")))?;
        kube::Client::try_from(config)
            .map_err(|e| ClusterError::Kube(format!("building a client: {e}")))
    }

    /// Wait until the k3s node reports Ready=True.
    pub async fn wait_node_ready(&self, timeout: Duration) -> Result<Node, ClusterError> {
        wait_node_ready(self.client().await?, K3S_NODE_NAME, timeout).await
    }
}

/// Point every cluster in a kubeconfig at `https://<host>:<port>` (k3s writes `https://127.0.0.1:6443`, the port
/// inside the container). Pure; errors never quote the input, which holds credentials.
pub fn rewrite_kubeconfig_server(
    yaml: &str,
    host: &str,
    port: u16,
) -> Result<String, ClusterError> {
    use serde_norway::Value;
    let mut doc: Value = serde_norway::from_str(yaml).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        ClusterError::Kubeconfig(format!("not valid YAML{at}"))
    })?;
    let server = if host.contains(':') && !host.starts_with('[') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    };
    let clusters = doc
        .get_mut("clusters")
        .and_then(Value::as_sequence_mut)
        .ok_or_else(|| ClusterError::Kubeconfig("no `clusters` list".into()))?;
    let mut rewritten = 0;
    for entry in clusters.iter_mut() {
        if let Some(cluster) = entry.get_mut("cluster").and_then(Value::as_mapping_mut) {
            cluster.insert(Value::from("server"), Value::from(server.clone()));
            rewritten += 1;
        }
    }
    if rewritten == 0 {
        return Err(ClusterError::Kubeconfig(
            "`clusters` has no `cluster` entry".into(),
        ));
    }
    serde_norway::to_string(&doc).map_err(|e| ClusterError::Kubeconfig(format!("serializing: {e}")))
}

/// `v1.<minor>.<patch>-k3s<n>` (a `rancher/k3s` image tag: k3s-io/k3s publishes release `v1.35.5+k3s1` as Docker
/// tag `v1.35.5-k3s1`, Docker tags allow no `+`) → (minor, patch, n); `None` for anything else.
pub fn parse_k3s_tag(tag: &str) -> Option<(u32, u32, u32)> {
    let rest = tag.strip_prefix("v1.")?;
    let (version, k3s) = rest.split_once("-k3s")?;
    let (minor, patch) = version.split_once('.')?;
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    Some((num(minor)?, num(patch)?, num(k3s)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape k3s writes (credentials replaced by placeholders).
    const K3S_YAML: &str = "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
";

    #[test]
    fn server_is_rewritten_and_the_rest_kept() {
        let out = rewrite_kubeconfig_server(K3S_YAML, "127.0.0.1", 32771).expect("rewrite");
        let kc = kube::config::Kubeconfig::from_yaml(&out).expect("still a kubeconfig");
        assert_eq!(kc.clusters.len(), 1);
        let cluster = kc.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:32771"));
        assert_eq!(
            cluster.certificate_authority_data.as_deref(),
            Some("Q0EtREFUQQ==")
        );
        assert_eq!(kc.current_context.as_deref(), Some("default"));
        assert_eq!(kc.auth_infos[0].name, "default");
        assert!(!out.contains(":6443"));
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let out = rewrite_kubeconfig_server(K3S_YAML, "::1", 1234).expect("rewrite");
        assert!(out.contains("server: https://[::1]:1234"), "{out}");
    }

    #[test]
    fn errors_do_not_quote_the_input() {
        let err = rewrite_kubeconfig_server("users: [client-key-data: SECRET", "127.0.0.1", 1)
            .expect_err("broken YAML")
            .to_string();
        assert!(!err.contains("SECRET"), "{err}");
        assert!(err.contains("not valid YAML"), "{err}");
        let err =
            rewrite_kubeconfig_server("kind: Config\n", "127.0.0.1", 1).expect_err("no clusters");
        assert!(err.to_string().contains("no `clusters` list"));
        let err = rewrite_kubeconfig_server("clusters: [{name: x}]\n", "127.0.0.1", 1)
            .expect_err("no cluster");
        assert!(err.to_string().contains("no `cluster` entry"));
    }

    #[test]
    fn private_file_is_0600_even_when_it_existed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/kubeconfig");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "old").expect("seed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        write_private_file(&path, b"new").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let fresh = dir.path().join("a/b/c");
        write_private_file(&fresh, b"x").expect("creates parents");
    }

    /// Every `rancher/k3s:v…` the README and the workflows name, and the one Kubernetes minor the code is built
    /// against (k8s-openapi's single version feature in Cargo.toml), agree with the default tag.
    #[test]
    fn default_tag_is_what_the_readme_the_workflows_and_k8s_openapi_say() {
        let root = crate::test_support::project_root();
        let want = format!("{K3S_IMAGE}:{K3S_DEFAULT_TAG}");
        let refs = |text: &str| -> Vec<String> {
            text.match_indices("rancher/k3s:v")
                .map(|(i, _)| {
                    text[i..]
                        .chars()
                        .take_while(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '/' | ':' | '.' | '-')
                        })
                        .collect::<String>()
                        .trim_end_matches('.')
                        .to_string()
                })
                .collect()
        };
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let in_readme = refs(&readme);
        assert!(!in_readme.is_empty(), "the README names no rancher/k3s tag");
        let mut all: Vec<(String, String)> = in_readme
            .into_iter()
            .map(|r| ("README.md".to_string(), r))
            .collect();
        for entry in std::fs::read_dir(root.join(".github/workflows")).expect("workflows") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("workflow");
            all.extend(
                refs(&text)
                    .into_iter()
                    .map(|r| (path.display().to_string(), r)),
            );
        }
        // the nightly starts the tag it names (e2e.yml passes it to --k3s-image): the loop below is never empty
        assert!(
            all.iter().any(|(file, _)| file.ends_with("e2e.yml")),
            "e2e.yml names no rancher/k3s tag: {all:?}"
        );
        for (file, r) in &all {
            assert_eq!(r, &want, "{file} names {r}, the code's default is {want}");
        }
        // v1.<minor>.<patch>-k3s<n>, and k8s-openapi is built for the same minor
        let (minor, _, _) =
            parse_k3s_tag(K3S_DEFAULT_TAG).expect("a v1.<minor>.<patch>-k3s<n> tag");
        let cargo = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        let line = cargo
            .lines()
            .find(|l| l.starts_with("k8s-openapi"))
            .expect("a k8s-openapi dependency");
        assert!(
            line.contains(&format!("\"v1_{minor}\"")),
            "k8s-openapi is not built for Kubernetes 1.{minor} (the k3s default): {line}"
        );
    }

    #[test]
    fn k3s_release_tags_parse_and_others_do_not() {
        assert_eq!(parse_k3s_tag("v1.35.5-k3s1"), Some((35, 5, 1)));
        assert_eq!(parse_k3s_tag("v1.34.12-k3s2"), Some((34, 12, 2)));
        for bad in [
            "v1.35.5+k3s1", // the GitHub release name; Docker tags cannot hold '+'
            "v1.35.5",
            "1.35.5-k3s1",
            "v2.35.5-k3s1",
            "v1.35-k3s1",
            "v1.35.5-k3s",
            "v1.35.5-rc1-k3s1",
            "latest",
            "",
        ] {
            assert_eq!(parse_k3s_tag(bad), None, "{bad}");
        }
    }

    #[test]
    fn image_definition() {
        let k3s = K3s::new();
        assert_eq!(k3s.name(), "rancher/k3s");
        // the default is a k3s release tag (checked against README, workflows and k8s-openapi below)
        assert!(
            parse_k3s_tag(Image::tag(&k3s)).is_some(),
            "{}",
            Image::tag(&k3s)
        );
        assert_eq!(
            k3s.args(),
            [
                "server",
                "--snapshotter=native",
                "--disable=metrics-server",
                "--node-name=headlamp-e2e-server"
            ]
        );
        assert_eq!(
            k3s.expose_ports(),
            &[ContainerPort::Tcp(6443), ContainerPort::Tcp(80)]
        );
        let k3s = K3s::new()
            .with_tag("v1.34.7-k3s1")
            .with_server_arg("--disable=traefik");
        assert_eq!(Image::tag(&k3s), "v1.34.7-k3s1");
        assert_eq!(
            k3s.args().last().map(String::as_str),
            Some("--disable=traefik")
        );
        let dir = std::path::Path::new("/work/cache/agent-images");
        let req = K3s::new()
            .with_agent_images(dir)
            .with_registries_yaml(std::path::Path::new("/tmp/p/registries.yaml"))
            .request();
        let mounts: Vec<(Option<&str>, Option<&str>, bool)> = req
            .mounts()
            .map(|m| {
                (
                    m.source(),
                    m.target(),
                    m.access_mode() == testcontainers::core::AccessMode::ReadOnly,
                )
            })
            .collect();
        assert_eq!(
            mounts,
            [
                (
                    Some("/work/cache/agent-images"),
                    Some("/var/lib/rancher/k3s/agent/images"),
                    false
                ),
                (
                    Some("/tmp/p/registries.yaml"),
                    Some("/etc/rancher/k3s/registries.yaml"),
                    true
                ),
            ]
        );
        let req = K3s::new().request();
        assert_eq!(req.mounts().count(), 0);
        assert!(req.privileged());
        assert_eq!(req.startup_timeout(), Some(K3S_STARTUP_TIMEOUT));
        assert_eq!(req.descriptor(), format!("rancher/k3s:{K3S_DEFAULT_TAG}"));
    }

    #[tokio::test]
    #[ignore = "needs Docker and a registry: cargo xtask e2e"]
    async fn k3s_starts_and_its_node_becomes_ready() {
        let run = RunId::generate();
        let cluster = start_k3s(K3s::new(), &run).await.expect("k3s starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kubeconfig");
        cluster.write_kubeconfig(&path).await.expect("kubeconfig");
        let node = cluster
            .wait_node_ready(Duration::from_secs(120))
            .await
            .expect("node Ready");
        assert!(super::super::node::node_is_ready(&node));
    }
}
