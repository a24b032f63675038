//! One e2e run, setup → assess → teardown: [`run`] with its [`Options`], the run directory and the private one
//! ([`RunPaths`]), the k3s or existing cluster it holds, the signal watcher, and what a failed setup leaves
//! ([`collect_setup_artifacts`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use headlamp_e2e_cluster::apply::{self, ApplyOptions};
use headlamp_e2e_cluster::cluster::{self, K3s, K3sCluster, RunId};

use crate::error::{Error, Result};
use crate::flux::install::{self, InstallOptions};
use crate::flux::objects::{GitRepositorySpec, KustomizationSpec};
use crate::flux::{conditions, kinds::FluxKind, wait};
use crate::gitserver::{GitRepo, GitServer};
use crate::harness::journal::Journal;
use crate::harness::target::{ClusterTarget, ExistingCluster};
use crate::harness::{journal, live, target};
use crate::observe::{trace, waits};
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
    /// Flux components file (the GitOps repo's `clusters/home/flux-system/gotk-components.yaml` by default in
    /// `cargo xtask e2e`); `None`: the release's install.yaml (downloaded once, checksum pinned, cached).
    pub flux_components: Option<PathBuf>,
    /// Root of run directories (`./target/e2e` of the current directory, or `--out DIR`).
    pub out_root: PathBuf,
    /// A k3s container (default) or an existing cluster.
    pub cluster: ClusterTarget,
    /// Root of the private per-run directories holding the admin kubeconfig: never inside `out_root` (which CI
    /// uploads). Default [`default_private_root`].
    pub private_root: PathBuf,
    /// `--budget`: how long the run may take from its start; a scenario (with the reset before it) whose deadlines
    /// the time left cannot cover is skipped ("not enough budget left") instead of being killed midway.
    pub budget: Option<Duration>,
    /// `--image-cache DIR`: images imported into k3s at start and exported after setup ([`cluster::images`]).
    pub image_cache: Option<PathBuf>,
    /// `--registry-mirror URL`: k3s pulls docker.io through this pull-through cache.
    pub registry_mirror: Option<String>,
}

/// `$TMPDIR/headlamp-e2e`: where the admin kubeconfig of a run goes (0700 directory, 0600 file).
pub fn default_private_root() -> PathBuf {
    std::env::temp_dir().join("headlamp-e2e")
}

/// `<current directory>/target/e2e`: the default root of run directories.
pub fn default_out_root() -> std::io::Result<PathBuf> {
    Ok(std::env::current_dir()?.join("target").join("e2e"))
}

/// Where one run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// `<out_root>/<run>`: reports and artifacts (uploaded by CI).
    pub run_dir: PathBuf,
    /// `<private_root>/<run>`: credentials, never uploaded.
    pub private_dir: PathBuf,
    pub kubeconfig: PathBuf,
}

/// The paths of `run`. The kubeconfig is outside the run directory (an error when `private_root` is inside
/// `out_root`, which would put it in the uploaded artifacts).
pub fn run_paths(out_root: &Path, private_root: &Path, run: &RunId) -> Result<RunPaths> {
    let private_dir = private_root.join(run.as_str());
    if private_dir.starts_with(out_root) {
        return Err(Error::Other(format!(
            "the private directory {} is inside the artifact directory {}: the kubeconfig would be uploaded",
            private_dir.display(),
            out_root.display()
        )));
    }
    Ok(RunPaths {
        run_dir: run_dir(out_root, run),
        kubeconfig: private_dir.join("kubeconfig"),
        private_dir,
    })
}

/// A directory only its owner can enter.
fn create_private_dir(path: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub report: RunReport,
    pub run_dir: PathBuf,
    pub junit: PathBuf,
    /// Set when the cluster was left running (`--keep`, or `--fail-fast` on a failure).
    pub kept: Option<Kept>,
}

/// A cluster left running for a person to look at.
#[derive(Debug)]
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
    let deadline = opts.budget.map(|b| tokio::time::Instant::now() + b);
    let run = RunId::generate();
    let paths = run_paths(&opts.out_root, &opts.private_root, &run)?;
    let dir = paths.run_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    create_private_dir(&paths.private_dir)?;
    let mut report = RunReport::new(format!("e2e {}", run.as_str()));
    // Always a report: rewritten after every assertion, and on SIGTERM/SIGINT (journal.rs)
    let journal = Journal::new(
        &dir,
        &report.name,
        &opts.scenarios,
        crate::report::step_summary_path(),
    );
    journal.write();
    let _watcher = spawn_signal_watcher(&journal, &opts.cluster);

    let setup = match &opts.cluster {
        ClusterTarget::K3s => start_k3s(&opts, &run, &paths, &mut report, progress)
            .await
            .map(|(env, server, k3s)| (env, server, Held::K3s(k3s))),
        ClusterTarget::Existing(existing) => {
            setup_existing(&opts, existing, &dir, &mut report, progress).await
        }
    };
    let (mut env, _server, held) = match setup {
        Ok(s) => s,
        Err(e) => {
            if !report.failures().any(|_| true) {
                report.push(Assertion::failed(
                    "setup",
                    "setup",
                    crate::report::redact(&e.to_string()),
                    Duration::ZERO,
                ));
            }
            journal.setup_failed(&report);
            return Err(e);
        }
    };
    journal.setup_done(&report);

    // what the waits observe, for `cargo xtask replay` (trace.rs); a trace that cannot be written only warns
    let tracer = trace::Tracer::create(&dir.join(trace::FILE_NAME)).unwrap_or_else(|e| {
        tracing::warn!(
            "cannot write {}: {e}; the run is not traced",
            trace::FILE_NAME
        );
        trace::Tracer::disabled()
    });
    let mut observer = (journal.clone(), tracer.clone());
    let results = tracer
        .scope(runner::run_all_observed(
            &mut env,
            &opts.scenarios,
            RunOptions {
                fail_fast: opts.fail_fast,
                budget: deadline,
            },
            &mut observer,
        ))
        .await;
    drop(env);
    let failed = results.iter().any(|r| r.failed());
    if opts.scenarios.is_empty() {
        runner::Observer::assertions(
            &mut observer.0,
            "e2e",
            &[Assertion::skipped(
                "e2e",
                "scenarios",
                "no scenario selected",
            )],
        );
    }
    let junit = dir.join("junit.xml");
    // written before the teardown, which runs even when writing failed
    let (report, write_error) = journal.finish();
    let written = match write_error {
        Some(e) => Err(Error::Other(format!("writing the reports: {e}"))),
        None => Ok(()),
    };

    let keep = opts.keep || (opts.fail_fast && failed);
    let kept = match held {
        Held::K3s(k3s) if keep => {
            let container = k3s.container().name().to_string();
            // Leave the container running: its Drop would remove it.
            std::mem::forget(k3s);
            Some(Kept {
                kubeconfig: paths.kubeconfig.clone(),
                container: Some(container),
            })
        }
        Held::K3s(k3s) => {
            drop(k3s);
            let _ = std::fs::remove_dir_all(&paths.private_dir);
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

/// Watch for SIGTERM (CI's step timeout) and SIGINT (Ctrl-C): the journal writes the interrupted report, then the
/// process ends. On k3s, testcontainers' watchdog (feature `watchdog`) gets the same signal, removes the container
/// and ends the process; this waits for it up to [`SIGNAL_GRACE`] before exiting itself. On an existing cluster
/// there is no watchdog: the process exits at once and says what may be left on the cluster. Aborted when dropped.
fn spawn_signal_watcher(journal: &Journal, cluster: &ClusterTarget) -> Option<AbortOnDrop> {
    let watch = match journal::watch_signals(journal.clone()) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(
                "cannot watch SIGTERM/SIGINT: {e}; the report is still rewritten after every assertion"
            );
            return None;
        }
    };
    let k3s = *cluster == ClusterTarget::K3s;
    Some(AbortOnDrop(tokio::spawn(async move {
        let (_, code) = watch.await;
        if k3s {
            tokio::time::sleep(SIGNAL_GRACE).await;
        } else {
            eprintln!(
                "warning: the run's Flux, sync objects and app stay on the cluster; remove them with `flux uninstall` and `kubectl delete namespace headlamp`"
            );
        }
        crate::process::kill_all();
        std::process::exit(i32::from(code));
    })))
}

/// How long the signal watcher leaves testcontainers' watchdog to remove the k3s container (`docker stop` waits up
/// to 10 s for k3s to stop, then `docker rm`).
pub const SIGNAL_GRACE: Duration = Duration::from_secs(30);

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start k3s and set it up. A setup failure leaves its artifacts (see [`collect_setup_artifacts`]) before the
/// container is removed, and removes the private directory.
async fn start_k3s(
    opts: &Options,
    run: &RunId,
    paths: &RunPaths,
    report: &mut RunReport,
    progress: &Progress,
) -> Result<(live::LiveEnv, GitServer, Arc<K3sCluster>)> {
    let dir = paths.run_dir.as_path();
    let (image, tag) = split_image(opts.k3s_image.as_deref().unwrap_or(cluster::K3S_IMAGE));
    if image != cluster::K3S_IMAGE {
        tracing::warn!(%image, "only the k3s tag is configurable; using rancher/k3s");
    }
    let mut k3s_image = K3s::new().with_tag(&tag);
    let cache = opts
        .image_cache
        .as_ref()
        .map(cluster::images::ImageCache::new);
    if let Some(cache) = &cache {
        timed(report, progress, "image cache load", async {
            cache
                .prepare(&mut cluster::images::Cli)
                .await
                .map(|_| ())
                .map_err(Error::Other)
        })
        .await
        .map_err(|e| setup_error(e, dir))?;
        k3s_image = k3s_image.with_agent_images(&cache.agent_images());
    }
    if let Some(url) = &opts.registry_mirror {
        let file =
            cluster::images::write_registries_yaml(&paths.private_dir.join("registries.yaml"), url)
                .map_err(Error::Other)?;
        k3s_image = k3s_image.with_registries_yaml(&file);
    }
    let started = timed(report, progress, &format!("k3s {tag} start"), async {
        cluster::start_k3s(k3s_image, run)
            .await
            .map(Arc::new)
            .map_err(|e| Error::Other(e.to_string()))
    })
    .await;
    let k3s: Arc<K3sCluster> = match started {
        Ok(k) => k,
        Err(e) => {
            let _ = collect_setup_artifacts(None, None, dir, report, &e.to_string()).await;
            let _ = std::fs::remove_dir_all(&paths.private_dir);
            return Err(setup_error(e, dir));
        }
    };
    match setup(opts, &k3s, paths, report, progress).await {
        Ok((env, server)) => {
            // every image of the baseline is pulled now: keep them for the next run (a failure only warns)
            if let Some(cache) = &cache {
                let container = k3s.container().name().to_string();
                let image = format!("{}:{tag}", cluster::K3S_IMAGE);
                let saved = timed(report, progress, "image cache save", async {
                    cache
                        .save(
                            &mut cluster::images::Cli,
                            &container,
                            &image,
                            &cluster::images::host_platform(),
                        )
                        .await
                        .map_err(Error::Other)
                })
                .await;
                match saved {
                    Ok(refs) if refs.is_empty() => {
                        eprintln!("image cache: {} is up to date", cache.dir.display())
                    }
                    Ok(refs) => eprintln!(
                        "image cache: {} image(s) exported to {}",
                        refs.len(),
                        cache.dir.display()
                    ),
                    Err(e) => {
                        // not a failure of the run: record the phase as done and say why it did not save
                        if let Some(p) = report.phases.last_mut() {
                            p.ok = true;
                        }
                        eprintln!("warning: image cache not saved: {e}");
                    }
                }
            }
            Ok((env, server, k3s))
        }
        Err(e) => {
            // before cleanup: what the cluster looked like
            let client = k3s.client().await.ok();
            let logs = k3s.container().logs().await.ok().map(|(o, e)| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o),
                    String::from_utf8_lossy(&e)
                )
            });
            if let Err(a) = collect_setup_artifacts(
                client.as_ref(),
                logs.as_deref(),
                dir,
                report,
                &e.to_string(),
            )
            .await
            {
                tracing::warn!("setup artifacts: {a}");
            }
            let _ = std::fs::remove_dir_all(&paths.private_dir);
            Err(setup_error(e, dir))
        }
    }
}
fn setup_error(e: Error, dir: &Path) -> Error {
    let what = if dir.join("setup").is_dir() {
        "junit.xml, setup/: flux-system objects, controller logs, events, k3s.log"
    } else {
        "junit.xml"
    };
    Error::Other(format!("{e}\n  artifacts: {} ({what})", dir.display()))
}

/// What a failed setup leaves in `dir`: `setup/` in the snapshot layout (flux-system objects with their status,
/// the controllers' pods with their logs, events; the app and kube-system namespaces; Secret values redacted),
/// `setup/k3s.log` (redacted), and `junit.xml` with the failed setup phase as a failed testcase (the last phase
/// recorded as failed in `report`, else `setup`). Every file is written 0600. Returns `dir/setup`.
pub async fn collect_setup_artifacts(
    client: Option<&kube::Client>,
    k3s_log: Option<&str>,
    dir: &Path,
    report: &mut RunReport,
    error: &str,
) -> Result<PathBuf> {
    let setup_dir = dir.join("setup");
    let phase = report
        .phases
        .iter()
        .rev()
        .find(|p| !p.ok)
        .map(|p| (p.name.clone(), p.duration))
        .unwrap_or_else(|| ("setup".to_string(), Duration::ZERO));
    report.push(Assertion::failed(
        "setup",
        phase.0,
        crate::report::redact(error),
        phase.1,
    ));
    let mut problems = Vec::new();
    if let Some(client) = client {
        let view = crate::view::live::LiveView::new(client.clone(), "e2e");
        let mut scope = crate::view::snapshot::SnapshotScope::for_app(crate::rbac::NAMESPACE);
        // k3s's own add-ons (the traefik-crd HelmChart job, CoreDNS) live in kube-system
        scope.namespaces.push((
            "kube-system".to_string(),
            vec![crate::view::POD, crate::view::EVENT],
        ));
        if let Some((_, names)) = scope.cluster.first_mut() {
            names.push("kube-system".to_string());
        }
        match crate::view::snapshot::write_snapshot(
            &view as &dyn crate::view::ClusterView,
            &scope,
            &setup_dir,
        )
        .await
        {
            Ok(summary) => problems.extend(summary.warnings),
            Err(e) => problems.push(format!("snapshot: {e}")),
        }
    }
    if let Some(log) = k3s_log {
        let path = setup_dir.join("k3s.log");
        if let Err(e) = cluster::write_private_file(&path, crate::report::redact(log).as_bytes()) {
            problems.push(e.to_string());
        }
    }
    crate::report::write_junit(report, &dir.join("junit.xml"))?;
    for p in &problems {
        tracing::warn!("setup artifacts: {p}");
    }
    Ok(setup_dir)
}

/// Node Ready, kubeconfig, Flux, git server, GitOps sync: the environment the scenarios run in.
async fn setup(
    opts: &Options,
    k3s: &Arc<K3sCluster>,
    paths: &RunPaths,
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
    let dir = paths.run_dir.as_path();
    k3s.write_kubeconfig(&paths.kubeconfig)
        .await
        .map_err(to_err)?;
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
        recorded_generations: Err("no commit yet".to_string()),
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
        Ok(install::install(client, &InstallOptions::new(opts.flux_components.clone())).await?)
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

    // k3s applies Traefik's CRDs from its HelmChart `traefik-crd` (a Job in kube-system) some seconds after the API
    // server is up; the headlamp Kustomization applies an IngressRoute: without its CRD its dry run fails and it
    // retries only after its retryInterval.
    timed(report, progress, "traefik CRDs Established", async {
        waits::crds_established(client, waits::TRAEFIK_CRDS, Duration::from_secs(180))
            .await
            .map_err(Error::Other)
    })
    .await?;

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
    timed(report, progress, "first HelmRelease Ready", async {
        let api = FluxKind::HelmRelease.api(client.clone(), crate::rbac::NAMESPACE);
        wait::wait_for(
            &api,
            "headlamp",
            conditions::ready(),
            Duration::from_secs(15 * 60),
            "Ready",
        )
        .await
        .map(|_| ())
        .map_err(Error::from)
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
                recorded_generations: Err("no commit yet".to_string()),
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
            // before cleanup: what the cluster looked like (no k3s log on an existing cluster)
            if let Err(a) =
                collect_setup_artifacts(Some(&client), None, dir, report, &e.to_string()).await
            {
                tracing::warn!("setup artifacts: {a}");
            }
            // the install's objects are not known when it failed half-way: remove the sync and say what may remain
            for problem in target::teardown(&client, &created, Duration::from_secs(60)).await {
                eprintln!("warning: teardown after the failed setup: {problem}");
            }
            if !flux_was_there {
                eprintln!(
                    "warning: Flux may be partly installed on the cluster now (setup failed during or after `flux install`); remove it with `flux uninstall` or delete namespace flux-system and the *.toolkit.fluxcd.io CRDs"
                );
            }
            Err(setup_error(e, dir))
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
    fn the_kubeconfig_is_never_under_the_uploaded_run_directory() {
        let run = RunId::generate();
        let out = Path::new("/work/x/target/e2e");
        let p = run_paths(out, Path::new("/tmp/headlamp-e2e"), &run).unwrap();
        assert_eq!(p.run_dir, out.join(run.as_str()));
        assert!(!p.kubeconfig.starts_with(out), "{p:?}");
        assert_eq!(
            p.kubeconfig,
            Path::new("/tmp/headlamp-e2e")
                .join(run.as_str())
                .join("kubeconfig")
        );
        let e = run_paths(out, &out.join("private"), &run).unwrap_err();
        assert!(e.to_string().contains("would be uploaded"), "{e}");
        assert!(!default_private_root().starts_with(default_out_root().unwrap()));
        assert!(default_out_root().unwrap().ends_with("target/e2e"));
    }

    /// A pod of a Flux controller as the kubelet reports it, running.
    fn controller_pod(name: &str, app: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "flux-system", "uid": format!("uid-{name}"),
                         "labels": {"app": app, "pod-template-hash": "6b8d9d7c5f"}},
            "spec": {"containers": [{"name": "manager", "image": format!("ghcr.io/fluxcd/{app}:v1.9.4")}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "manager", "ready": true, "restartCount": 0, "started": true,
                "image": format!("ghcr.io/fluxcd/{app}:v1.9.4"), "imageID": "",
                "state": {"running": {"startedAt": "2026-12-01T10:00:12Z"}}}]}
        })
    }

    fn write_yaml(path: &Path, v: &serde_json::Value) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_norway::to_string(v).unwrap()).unwrap();
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_failed_setup_leaves_flux_objects_controller_logs_events_k3s_log_and_junit() {
        use crate::view::fake::FakeApi;
        use crate::view::snapshot::SnapshotView;
        // the cluster as the fake API server serves it: a snapshot plus the four controllers, their logs, an event
        let cluster = tempfile::tempdir().unwrap();
        crate::test_support::copy_tree(
            &crate::test_support::project_root().join("fixtures/snapshots/stuck-helmrelease"),
            cluster.path(),
        )
        .unwrap();
        let fs = cluster.path().join("flux-system");
        let controllers = [
            ("source-controller-7c9d8b6f4-2kq8x", "source-controller"),
            (
                "kustomize-controller-5d6f7c8b9-x7w2p",
                "kustomize-controller",
            ),
            ("helm-controller-6b8d9d7c5f-m4n5q", "helm-controller"),
            (
                "notification-controller-8f9a7b6c5-z3y4x",
                "notification-controller",
            ),
        ];
        for (pod, app) in controllers {
            write_yaml(
                &fs.join("pod").join(format!("{pod}.yaml")),
                &controller_pod(pod, app),
            );
            std::fs::create_dir_all(fs.join("pod").join(pod)).unwrap();
            std::fs::write(
                fs.join("pod").join(pod).join("manager.log"),
                format!("{{\"level\":\"info\",\"msg\":\"{app} started\"}}\n"),
            )
            .unwrap();
        }
        write_yaml(
            &fs.join("event/headlamp.187b9c4e2f3a1d10.yaml"),
            &serde_json::json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "headlamp.187b9c4e2f3a1d10", "namespace": "flux-system"},
                "involvedObject": {"kind": "Kustomization", "name": "headlamp", "namespace": "flux-system"},
                "reason": "ReconciliationFailed", "type": "Warning",
                "message": "IngressRoute/headlamp/headlamp dry-run failed: no matches for kind \"IngressRoute\" in version \"traefik.io/v1alpha1\"",
                "source": {"component": "kustomize-controller"}}),
        );
        let (client, _server) = FakeApi::new(SnapshotView::open(cluster.path()).unwrap()).start();

        let mut report = RunReport::new("e2e t");
        for (name, ok) in [
            ("k3s v1.35.5-k3s1 start", true),
            ("node Ready", true),
            ("flux install", true),
            ("traefik CRDs Established", true),
            ("gitops sync", true),
            ("first HelmRelease Ready", false),
        ] {
            report.record_phase(
                None,
                PhaseTiming {
                    name: name.into(),
                    duration: Duration::from_secs(3),
                    ok,
                },
            );
        }
        let out = tempfile::tempdir().unwrap();
        let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06YWRtaW4ifQ.c2lnbmF0dXJlLXRlc3Q";
        let k3s_log = format!(
            "I1201 10:00:01 server.go:1 Running kube-apiserver\nAuthorization: Bearer {jwt}\n"
        );
        let setup = collect_setup_artifacts(
            Some(&client),
            Some(&k3s_log),
            out.path(),
            &mut report,
            "HelmRelease headlamp/headlamp not Ready after 900s: last seen Ready=False InstallFailed",
        )
        .await
        .unwrap();
        assert_eq!(setup, out.path().join("setup"));
        // flux-system objects with their status
        let git = std::fs::read_to_string(setup.join("flux-system/gitrepository/flux-system.yaml"))
            .unwrap();
        assert!(git.contains("status:") && git.contains("artifact"), "{git}");
        assert!(
            setup
                .join("flux-system/kustomization/headlamp.yaml")
                .is_file()
        );
        assert!(setup.join("headlamp/helmrelease/headlamp.yaml").is_file());
        // the four controllers' logs
        for (pod, app) in controllers {
            let log = std::fs::read_to_string(
                setup.join("flux-system/pod").join(pod).join("manager.log"),
            )
            .unwrap_or_else(|e| panic!("{pod}: {e}"));
            assert!(log.contains(&format!("{app} started")), "{log}");
        }
        // events
        let events: Vec<_> = std::fs::read_dir(setup.join("flux-system/event"))
            .unwrap()
            .collect();
        assert_eq!(events.len(), 1);
        // k3s.log, redacted
        let k3s = std::fs::read_to_string(setup.join("k3s.log")).unwrap();
        assert!(
            k3s.contains("Running kube-apiserver") && !k3s.contains(jwt),
            "{k3s}"
        );
        // junit.xml with the failed phase as a failed testcase
        let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
        assert!(
            xml.contains("<testcase name=\"first HelmRelease Ready\""),
            "{xml}"
        );
        assert!(xml.contains("<failure"), "{xml}");
        assert!(xml.contains("InstallFailed"), "{xml}");
        #[cfg(unix)]
        for f in [
            out.path().join("junit.xml"),
            setup.join("k3s.log"),
            setup.join("flux-system/gitrepository/flux-system.yaml"),
        ] {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }

    #[tokio::test]
    async fn a_k3s_that_never_started_still_leaves_junit() {
        let mut report = RunReport::new("e2e t");
        report.record_phase(
            None,
            PhaseTiming {
                name: "k3s v1.35.5-k3s1 start".into(),
                duration: Duration::from_millis(100),
                ok: false,
            },
        );
        let out = tempfile::tempdir().unwrap();
        collect_setup_artifacts(
            None,
            None,
            out.path(),
            &mut report,
            "failed to pull the image 'rancher/k3s:v1.35.5-k3s1'",
        )
        .await
        .unwrap();
        let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
        assert!(
            xml.contains("<testcase name=\"k3s v1.35.5-k3s1 start\""),
            "{xml}"
        );
        assert!(xml.contains("failed to pull"), "{xml}");
        assert!(!report.is_success());
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
