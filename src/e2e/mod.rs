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
pub mod target;

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
pub use target::{ClusterTarget, ExistingCluster};

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
    /// A k3s container (default) or an existing cluster.
    pub cluster: ClusterTarget,
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
    /// The k3s container; `None` on an existing cluster (the run's Flux and app stay on it).
    pub container: Option<String>,
}

/// The cluster a run holds until teardown.
enum Held {
    K3s(Arc<K3sCluster>),
    Existing(Box<HeldExisting>),
}

struct HeldExisting {
    client: kube::Client,
    kubeconfig: PathBuf,
    created: target::Created,
    /// The port-forward to Traefik the scenarios use; stopped when dropped.
    _traefik: crate::verify::portforward::Forward,
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

    let (mut env, _server, held) = match &opts.cluster {
        ClusterTarget::K3s => {
            let (env, server, k3s) = start_k3s(&opts, &run, &dir, &mut report, progress).await?;
            (env, server, Held::K3s(k3s))
        }
        ClusterTarget::Existing(existing) => {
            setup_existing(&opts, existing, &dir, &mut report, progress).await?
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
    // written before the teardown, which runs even when writing failed
    let written = crate::report::write_junit(&report, &junit).and_then(|()| {
        match crate::report::step_summary_path() {
            Some(summary) => crate::report::append_step_summary(&summary, &report),
            None => Ok(()),
        }
    });

    let keep = opts.keep || (opts.fail_fast && failed);
    let kept = match held {
        Held::K3s(k3s) if keep => {
            let container = k3s.container().name().to_string();
            // Leave the container running: its Drop would remove it.
            std::mem::forget(k3s);
            Some(Kept {
                kubeconfig: dir.join("kubeconfig"),
                container: Some(container),
            })
        }
        Held::K3s(k3s) => {
            drop(k3s);
            None
        }
        Held::Existing(held) if keep => Some(Kept {
            kubeconfig: held.kubeconfig.clone(),
            container: None,
        }),
        Held::Existing(held) => {
            for problem in
                target::teardown(&held.client, &held.created, Duration::from_secs(180)).await
            {
                tracing::warn!("teardown: {problem}");
                eprintln!("warning: teardown: {problem}");
            }
            None
        }
    };
    written?;
    Ok(Outcome {
        report,
        run_dir: dir,
        junit,
        kept,
    })
}

/// Start k3s and set it up; on a setup failure the k3s log goes to `<run>/setup/k3s.log` before the container is
/// removed.
async fn start_k3s(
    opts: &Options,
    run: &RunId,
    dir: &Path,
    report: &mut RunReport,
    progress: &Progress,
) -> Result<(live::LiveEnv, GitServer, Arc<K3sCluster>)> {
    let (image, tag) = split_image(opts.k3s_image.as_deref().unwrap_or(cluster::K3S_IMAGE));
    if image != cluster::K3S_IMAGE {
        tracing::warn!(%image, "only the k3s tag is configurable; using rancher/k3s");
    }
    let k3s: Arc<K3sCluster> = timed(report, progress, &format!("k3s {tag} start"), async {
        cluster::start_k3s(K3s::new().with_tag(&tag), run)
            .await
            .map(Arc::new)
            .map_err(|e| Error::Other(e.to_string()))
    })
    .await?;
    match setup(opts, &k3s, dir, report, progress).await {
        Ok((env, server)) => Ok((env, server, k3s)),
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
            Err(e)
        }
    }
}

/// Node Ready, kubeconfig, then the GitOps part: the environment the scenarios run in.
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
    let gateway = std::net::IpAddr::V4(cluster::bridge_gateway().await.map_err(to_err)?);
    let (_, repo, server, baseline) =
        setup_gitops(opts, &client, dir, gateway, report, progress).await?;
    let env = live::LiveEnv {
        client,
        repo,
        baseline,
        api_url,
        ca_pem,
        traefik_url,
        run_dir: dir.to_path_buf(),
        k3s: Some(k3s.clone()),
    };
    Ok((env, server))
}

/// Setup's GitOps part, the same on k3s and on an existing cluster: Flux installed, the fixtures served as a git
/// repository at `git_ip` (an address the cluster's pods reach), the flux-system GitRepository and Kustomization
/// applied and Ready. Returns the install, the served repo, its server and the baseline commit.
async fn setup_gitops(
    opts: &Options,
    client: &kube::Client,
    dir: &Path,
    git_ip: std::net::IpAddr,
    report: &mut RunReport,
    progress: &Progress,
) -> Result<(install::Installed, GitRepo, GitServer, String)> {
    let installed = timed(report, progress, "flux install", async {
        install::install(client, &InstallOptions::new(opts.flux_components.clone())).await
    })
    .await?;

    let (repo, server) = timed(report, progress, "git server", async {
        let root = dir.join("git");
        let repo = GitRepo::create_from_dir(&opts.gitops, &root.join("fixtures.git"))
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
        let server = GitServer::start(&root, git_ip)
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
            client,
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
    Ok((installed, repo, server, baseline))
}

/// An existing cluster: refuse unless it is empty of Flux and of the app namespace (or disposable), reach Traefik
/// through a port-forward, then setup's GitOps part. A setup failure removes what the run created so far.
async fn setup_existing(
    opts: &Options,
    existing: &ExistingCluster,
    dir: &Path,
    report: &mut RunReport,
    progress: &Progress,
) -> Result<(live::LiveEnv, GitServer, Held)> {
    let (config, context) =
        crate::view::live::config_for(Some(&existing.kubeconfig), existing.context.as_deref())
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
    let api_url = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let root_cert = config.root_cert.clone();
    let client = kube::Client::try_from(config)
        .map_err(|e| Error::Other(format!("cannot connect to the cluster: {e}")))?;
    // first: is the cluster ours to use?
    let occupancy = target::inspect(&client, crate::rbac::NAMESPACE).await?;
    if let Some(why) = target::refusal(&occupancy, crate::rbac::NAMESPACE, existing.disposable) {
        return Err(Error::Other(why));
    }
    let ca_pem = root_cert
        .as_deref()
        .map(crate::verify::der_to_pem)
        .ok_or_else(|| {
            Error::Other(format!(
                "kubeconfig {} (context {context}) names no certificate authority for {api_url}: the RBAC probes trust only the cluster's CA",
                existing.kubeconfig.display()
            ))
        })?
        .into_bytes();
    let traefik = crate::verify::portforward::forward(&client, "kube-system", "traefik", &["web", "http"])
        .await
        .map_err(|e| {
            Error::Other(format!(
                "{e}: the fixtures route Headlamp through a Traefik IngressRoute, reached here by a port-forward to Service kube-system/traefik (k3d ships it as k3s does; on kind, install Traefik v3 into kube-system first)"
            ))
        })?;
    let git_ip = match existing.git_address {
        Some(ip) => ip,
        None => std::net::IpAddr::V4(
            cluster::bridge_gateway()
                .await
                .map_err(|e| Error::Other(format!("{e} (or pass --git-address IP: an address of this machine the cluster's pods reach)")))?,
        ),
    };
    let flux_was_there = occupancy.flux_namespace || !occupancy.flux_crds.is_empty();
    let mut created = target::Created {
        flux: Vec::new(),
        sync: !occupancy.flux_namespace,
        app_namespace: (!occupancy.app_namespace).then(|| crate::rbac::NAMESPACE.to_string()),
    };
    match setup_gitops(opts, &client, dir, git_ip, report, progress).await {
        Ok((installed, repo, server, baseline)) => {
            if !flux_was_there {
                created.flux = installed
                    .applied
                    .iter()
                    .map(|a| target::CreatedObject {
                        resource: a.resource.clone(),
                        namespace: a.namespace.clone(),
                        name: a.name.clone(),
                    })
                    .collect();
            }
            let env = live::LiveEnv {
                client: client.clone(),
                repo,
                baseline,
                api_url,
                ca_pem,
                traefik_url: traefik.base_url(),
                run_dir: dir.to_path_buf(),
                k3s: None,
            };
            let held = Held::Existing(Box::new(HeldExisting {
                client,
                kubeconfig: existing.kubeconfig.clone(),
                created,
                _traefik: traefik,
            }));
            Ok((env, server, held))
        }
        Err(e) => {
            // the install's objects are not known when it failed half-way: remove the sync and say what may remain
            for problem in target::teardown(&client, &created, Duration::from_secs(60)).await {
                eprintln!("warning: teardown after the failed setup: {problem}");
            }
            if !flux_was_there {
                eprintln!(
                    "warning: Flux may be partly installed on the cluster now (setup failed during or after `flux install`); remove it with `flux uninstall` or delete namespace flux-system and the *.toolkit.fluxcd.io CRDs"
                );
            }
            Err(e)
        }
    }
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
