//! `cargo xtask e2e`: setup → assess → teardown, as sigs.k8s.io/e2e-framework does it.
//!
//! Setup: a labelled k3s container, node Ready, kubeconfig (0600) under `target/e2e/<run>/`, Flux v2.9.4, the GitOps
//! dir turned into a git repository on branch `main` served over smart HTTP at the Docker bridge gateway, and a
//! GitRepository + Kustomization (`./clusters/e2e`) so Flux applies the app as at home.
//! Assess: the scenarios, in order, each from the baseline ([`crate::scenario::runner`] over [`live::LiveEnv`]).
//! Teardown: the container is removed (on success, failure, panic and Ctrl-C), unless `--keep`, or `--fail-fast`
//! stopped on a failure; then it is left running and the run says how to use it.

pub mod checks;
pub mod live;
pub mod outcome;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{self, ApplyOptions};
use crate::cluster::{self, K3s, K3sCluster, RunId};
use crate::error::{Error, Result};
use crate::flux::install::{self, InstallOptions};
use crate::flux::objects::{GitRepositorySpec, KustomizationSpec};
use crate::flux::{conditions, kinds::FluxKind, wait};
use crate::gitserver::{GitRepo, GitServer};
use crate::report::{Assertion, PhaseTiming, Progress, RunReport};
use crate::scenario::Scenario;
use crate::scenario::runner::{self, RunOptions};

/// What `cargo xtask e2e` asks for.
#[derive(Debug, Clone)]
pub struct Options {
    pub gitops: PathBuf,
    pub scenarios: Vec<Scenario>,
    pub keep: bool,
    pub fail_fast: bool,
    /// `rancher/k3s:<tag>` or a full image reference; default [`cluster::K3S_DEFAULT_TAG`].
    pub k3s_image: Option<String>,
    /// Flux components file; default: the release's install.yaml (downloaded once, checksum pinned, cached).
    pub flux_components: Option<PathBuf>,
    /// Root of run directories (`target/e2e`).
    pub out_root: PathBuf,
}

/// What a run produced.
pub struct Outcome {
    pub report: RunReport,
    pub run_dir: PathBuf,
    pub junit: PathBuf,
    /// Set when the cluster was left running (`--keep`, or `--fail-fast` on a failure).
    pub kept: Option<Kept>,
}

/// A cluster left running for a person to look at.
pub struct Kept {
    pub kubeconfig: PathBuf,
    pub container: String,
}

/// `rancher/k3s:v1.35.5-k3s1` → (image, tag).
pub fn split_image(image: &str) -> (String, String) {
    let parsed = crate::lint::image::parse_image(image);
    match parsed.tag {
        Some(tag) => (parsed.repository, tag),
        None => (parsed.repository, cluster::K3S_DEFAULT_TAG.to_string()),
    }
}

/// Where this run writes: `<out_root>/<run id>`.
pub fn run_dir(out_root: &Path, run: &RunId) -> PathBuf {
    out_root.join(run.as_str())
}

fn phase<T>(
    report: &mut RunReport,
    progress: &Progress,
    name: &str,
    started: std::time::Instant,
    r: &Result<T>,
) {
    let _ = progress;
    report.record_phase(
        None,
        PhaseTiming {
            name: name.to_string(),
            duration: started.elapsed(),
            ok: r.is_ok(),
        },
    );
}

async fn timed<T>(
    report: &mut RunReport,
    progress: &Progress,
    name: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let started = std::time::Instant::now();
    let guard = progress.phase(name);
    let r = fut.await;
    phase(report, progress, name, started, &r);
    guard.finish(r)
}

/// Setup, scenarios, reports. Errors are setup failures (exit 2 is the caller's choice); scenario failures are in
/// the report.
pub async fn run(opts: Options, progress: &Progress) -> Result<Outcome> {
    let run = RunId::generate();
    let dir = run_dir(&opts.out_root, &run);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut report = RunReport::new(format!("e2e {}", run.as_str()));

    let (image, tag) = split_image(opts.k3s_image.as_deref().unwrap_or(cluster::K3S_IMAGE));
    if image != cluster::K3S_IMAGE {
        tracing::warn!(%image, "only the k3s tag is configurable; using rancher/k3s");
    }
    let k3s: Arc<K3sCluster> = timed(&mut report, progress, &format!("k3s {tag} start"), async {
        cluster::start_k3s(K3s::new().with_tag(&tag), &run)
            .await
            .map(Arc::new)
            .map_err(|e| Error::Other(e.to_string()))
    })
    .await?;
    let setup = setup(&opts, &k3s, &dir, &mut report, progress).await;
    let (mut env, _server) = match setup {
        Ok(x) => x,
        Err(e) => {
            // before cleanup: what the cluster looked like
            let logs = k3s.container().logs().await.map(|(o, e)| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o),
                    String::from_utf8_lossy(&e)
                )
            });
            let path = dir.join("setup").join("k3s.log");
            if let Ok(text) = logs {
                let _ = std::fs::create_dir_all(dir.join("setup"));
                let _ = cluster::write_private_file(&path, crate::report::redact(&text).as_bytes());
            }
            return Err(e);
        }
    };

    let results = runner::run_all(
        &mut env,
        &opts.scenarios,
        RunOptions {
            fail_fast: opts.fail_fast,
        },
    )
    .await;
    drop(env);
    let failed = results.iter().any(|r| r.failed());
    for r in results {
        report.extend(r.assertions);
    }
    if report.scenarios.is_empty() {
        report.push(Assertion::skipped(
            "e2e",
            "scenarios",
            "no scenario selected",
        ));
    }
    let junit = dir.join("junit.xml");
    crate::report::write_junit(&report, &junit)?;
    if let Some(summary) = crate::report::step_summary_path() {
        crate::report::append_step_summary(&summary, &report)?;
    }

    let keep = opts.keep || (opts.fail_fast && failed);
    let kept = if keep {
        let container = k3s.container().name().to_string();
        // Leave the container running: its Drop would remove it.
        std::mem::forget(k3s);
        Some(Kept {
            kubeconfig: dir.join("kubeconfig"),
            container,
        })
    } else {
        drop(k3s);
        None
    };
    Ok(Outcome {
        report,
        run_dir: dir,
        junit,
        kept,
    })
}

/// Node Ready, kubeconfig, Flux, git server, GitOps sync: the environment the scenarios run in.
async fn setup(
    opts: &Options,
    k3s: &Arc<K3sCluster>,
    dir: &Path,
    report: &mut RunReport,
    progress: &Progress,
) -> Result<(live::LiveEnv, GitServer)> {
    let to_err = |e: cluster::ClusterError| Error::Other(e.to_string());
    timed(report, progress, "node Ready", async {
        k3s.wait_node_ready(Duration::from_secs(180))
            .await
            .map(|_| ())
            .map_err(to_err)
    })
    .await?;
    let kubeconfig = dir.join("kubeconfig");
    k3s.write_kubeconfig(&kubeconfig).await.map_err(to_err)?;
    let client = k3s.client().await.map_err(to_err)?;
    let kubeconfig_yaml = k3s.kubeconfig_yaml().await.map_err(to_err)?;
    let ca_pem = ca_from_kubeconfig(&kubeconfig_yaml)?;
    let api_url = format!(
        "https://127.0.0.1:{}",
        k3s.api_port().await.map_err(to_err)?
    );
    let traefik_url = format!(
        "http://127.0.0.1:{}",
        k3s.http_port().await.map_err(to_err)?
    );

    timed(report, progress, "flux install", async {
        install::install(&client, &InstallOptions::new(opts.flux_components.clone()))
            .await
            .map(|_| ())
    })
    .await?;

    let (repo, server) = timed(report, progress, "git server", async {
        let gateway = cluster::bridge_gateway().await.map_err(to_err)?;
        let root = dir.join("git");
        let repo = GitRepo::create_from_dir(&opts.gitops, &root.join("fixtures.git"))
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
        let server = GitServer::start(&root, std::net::IpAddr::V4(gateway))
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
        Ok((repo, server))
    })
    .await?;
    let baseline = repo
        .head_sha()
        .await
        .map_err(|e| Error::Other(e.to_string()))?;

    timed(report, progress, "gitops sync", async {
        let git = GitRepositorySpec::new(server.url("fixtures"));
        let ks = KustomizationSpec::for_source(&git);
        apply::apply_values(
            &client,
            vec![git.to_value(), ks.to_value()],
            &ApplyOptions::new(Duration::from_secs(60)),
        )
        .await?;
        for (kind, name) in [
            (FluxKind::GitRepository, "flux-system"),
            (FluxKind::Kustomization, "flux-system"),
        ] {
            let api = kind.api(client.clone(), "flux-system");
            wait::wait_for(
                &api,
                name,
                conditions::ready(),
                Duration::from_secs(180),
                "Ready",
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    tracing::info!(
        "cloudflared is scaled to 0 in the e2e cluster (clusters/e2e): it cannot reach Cloudflare from a test; lint covers its posture"
    );
    eprintln!(
        "note: cloudflared is scaled to 0 here (it cannot reach Cloudflare from a test); `cargo xtask lint` covers its posture"
    );

    let env = live::LiveEnv {
        client,
        repo,
        baseline,
        api_url,
        ca_pem,
        traefik_url,
        run_dir: dir.to_path_buf(),
        k3s: k3s.clone(),
    };
    Ok((env, server))
}

/// The cluster CA (PEM) from a kubeconfig's first cluster.
pub fn ca_from_kubeconfig(yaml: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let kc = kube::config::Kubeconfig::from_yaml(yaml)
        .map_err(|e| Error::Other(format!("kubeconfig: {e}")))?;
    let data = kc
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.certificate_authority_data.clone())
        .ok_or_else(|| Error::Other("kubeconfig has no certificate-authority-data".into()))?;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| Error::Other(format!("kubeconfig certificate-authority-data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_and_tag() {
        assert_eq!(
            split_image("rancher/k3s:v1.34.1-k3s1"),
            ("rancher/k3s".into(), "v1.34.1-k3s1".into())
        );
        assert_eq!(
            split_image("rancher/k3s"),
            ("rancher/k3s".into(), cluster::K3S_DEFAULT_TAG.into())
        );
    }

    #[test]
    fn ca_is_read_without_printing_the_kubeconfig() {
        use base64::Engine as _;
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: {}\ncontexts: []\nusers: []\n",
            base64::engine::general_purpose::STANDARD.encode(pem)
        );
        assert_eq!(ca_from_kubeconfig(&yaml).unwrap(), pem.as_bytes());
        let e = ca_from_kubeconfig("apiVersion: v1\nkind: Config\nclusters: []\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no certificate-authority-data"), "{e}");
    }
}
