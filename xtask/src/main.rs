//! `cargo xtask …`: the command line of headlamp-e2e. A thin layer over the `headlamp_e2e` library: parse
//! arguments, call the library, print, choose the exit code (0 good, 1 findings/failures, 2 could not run).

mod bench_hostile;
mod bench_lint;
mod bench_repo;
mod chart_diff;
mod doctor;
mod e2e;
mod gen_repo;
mod lint;
mod replay;
mod rule_docs;
mod snapshot;
mod unstick;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "End-to-end test harness for a GitOps-managed Headlamp on k3s",
    long_about = "End-to-end test harness for a GitOps-managed Headlamp on k3s.\n\nExit codes: 0 all good, 1 findings or failed assertions, 2 could not run (bad input, missing tool, no Docker).",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Static checks of the GitOps manifests, with the real chart rendered by `helm template` (no cluster)
    Lint(lint::Args),
    /// Time `lint` (whole processes, cold and warm render cache, N=1 and N=50) against `helm template`; the targets.
    /// With --repo DIR: a whole repository, in units of one `kubectl kustomize` of one of its app directories
    BenchLint(bench_lint::Args),
    /// Write the benchmark repository: the cluster-template layout with N apps (Flux Kustomization + HelmRelease each)
    GenRepo(gen_repo::Args),
    /// Lint hostile GitOps trees (issue 23's inputs), each held to a time and memory bound
    BenchHostile(bench_hostile::Args),
    /// The main job: ephemeral k3s, Flux and Headlamp through the GitOps path; the scenarios (needs Docker)
    E2e(e2e::Args),
    /// Diff the rendered manifests of each HelmRelease between a base git ref and the working tree
    ChartDiff(chart_diff::Args),
    /// Read-only diagnosis of a live cluster or a snapshot, in debugging order: source revision, stuck release, values, pods
    Doctor(doctor::Args),
    /// Replay a recorded trace.jsonl offline: each wait's verdict and when it would have been met (no cluster)
    Replay(replay::Args),
    /// Write the cluster's state (app namespace and flux-system, pod logs; no Secret values) to a directory
    Snapshot(snapshot::Args),
    /// Unstick a HelmRelease held by a Helm action: suspend, uninstall, restart helm-controller, resume, reconcile, wait Ready
    Unstick(unstick::Args),
    /// Prove the read-only posture on an existing cluster with the login token, writing nothing: access matrix
    /// (API server and Headlamp's proxy), pod posture, Pod Security labels, bindings
    Verify(verify::Args),
    /// Write the book's rule reference (docs/src/rules/) from each rule's own metadata; --check: exit 1 when a page
    /// is missing, stale or names no rule
    RuleDocs(rule_docs::Args),
}

/// Output format of commands a machine may read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// The project root (the workspace this xtask belongs to).
pub fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `--gitops DIR`, defaulting to the project's `fixtures/gitops`.
pub fn gitops_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| project_root().join("fixtures/gitops"))
}

/// A Go duration argument (`10m`, `5m0s`, `90s`).
pub fn go_duration(s: &str) -> Result<std::time::Duration, String> {
    headlamp_e2e::doctor::parse_go_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration (e.g. 10m, 5m0s, 90s)"))
}

/// What a command is doing now, for the message when its `--timeout` runs out.
#[derive(Clone, Default)]
pub struct Phase(std::sync::Arc<std::sync::Mutex<String>>);

impl Phase {
    pub fn set(&self, what: impl Into<String>) {
        if let Ok(mut p) = self.0.lock() {
            *p = what.into();
        }
    }
    pub fn get(&self) -> String {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// Run `fut` within `timeout` (a command's `--timeout`); when it runs out, the error names the flag and what the
/// command was doing ([`Phase`]). A watchdog on another worker kills the subprocesses still running at that moment,
/// so a blocking helm or git call inside `fut` ends too.
pub async fn within<T>(
    timeout: std::time::Duration,
    phase: &Phase,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let expired = Arc::new(AtomicBool::new(false));
    let flag = expired.clone();
    let watchdog = tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        flag.store(true, Ordering::SeqCst);
        headlamp_e2e::process::kill_all();
    });
    let r = tokio::time::timeout(timeout, fut).await;
    watchdog.abort();
    match r {
        Ok(v) if !expired.load(Ordering::SeqCst) => Ok(v),
        _ => {
            headlamp_e2e::process::kill_all();
            Err(format!(
                "timed out after {} (--timeout) while {}",
                headlamp_e2e::view::human_duration(timeout),
                phase.get()
            ))
        }
    }
}

/// `error: <command> could not run: <message>` on stderr (redacted, control characters escaped); exit code 2.
pub fn cannot_run(command: &str, message: &dyn std::fmt::Display) -> u8 {
    eprintln!(
        "error: {command} could not run: {}",
        headlamp_e2e::report::redact::for_terminal(&message.to_string())
    );
    2
}

/// Colour only on a terminal, and never with NO_COLOR set.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HEADLAMP_E2E_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        // kube-client logs each failed request at ERROR, and progress lines go to stderr already: the commands
        // report those themselves
        .unwrap_or_else(|_| {
            EnvFilter::new("warn,kube_client=off,headlamp_e2e::report::progress=off")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    headlamp_e2e::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // lint leaves nothing behind that needs waiting for; the others may (e2e's container cleanup)
    let lint = matches!(cli.command, Command::Lint(_));
    let code = runtime.block_on(async {
        // helm, kubectl and git run in their own process groups (so they can be killed with their children): on
        // Ctrl-C, kill them, then leave. (e2e leaves SIGINT to the testcontainers watchdog, which removes its
        // containers and exits; its git children are killed with their groups when their futures drop.)
        if !matches!(cli.command, Command::E2e(_)) {
            tokio::spawn(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    headlamp_e2e::process::kill_all();
                    // exit runs no destructor: the kustomize sandboxes still there are removed here
                    headlamp_e2e::gitops::sandbox::remove_all();
                    eprintln!("interrupted");
                    std::process::exit(130);
                }
            });
            // SIGTERM (a CI job cancelled, `timeout`) ends it the same way
            tokio::spawn(async {
                use tokio::signal::unix::{SignalKind, signal};
                if let Ok(mut term) = signal(SignalKind::terminate())
                    && term.recv().await.is_some()
                {
                    headlamp_e2e::process::kill_all();
                    headlamp_e2e::gitops::sandbox::remove_all();
                    eprintln!("terminated");
                    std::process::exit(143);
                }
            });
        }
        match cli.command {
            Command::Lint(args) => lint::run(args).await,
            Command::BenchLint(args) => bench_lint::run(args).await,
            Command::BenchHostile(args) => bench_hostile::run(args).await,
            Command::GenRepo(args) => gen_repo::run(args).await,
            Command::ChartDiff(args) => chart_diff::run(args).await,
            Command::Doctor(args) => doctor::run(args).await,
            Command::Replay(args) => replay::run(args).await,
            Command::Snapshot(args) => snapshot::run(args).await,
            Command::Unstick(args) => unstick::run(args).await,
            Command::E2e(args) => e2e::run(args).await,
            Command::Verify(args) => verify::run(args).await,
            Command::RuleDocs(args) => rule_docs::run(args).await,
        }
    });
    headlamp_e2e::process::kill_all();
    if lint {
        // nothing lint started is needed any more: its runtime is not waited for (a worker may still be freeing
        // objects), the process exits
        runtime.shutdown_background();
    }
    ExitCode::from(code)
}
