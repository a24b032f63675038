//! `cargo xtask snapshot`: write a cluster's state (the app's namespace and flux-system) to a directory that
//! `doctor --snapshot` reads. Read-only (get, list, pod logs); Secret values and tokens are never written.

use std::path::PathBuf;

use headlamp_e2e::view::{self, ClusterView, LiveView, SnapshotScope};

#[derive(clap::Args)]
pub struct Args {
    /// kubeconfig file [default: $KUBECONFIG, ~/.kube/config, else in-cluster]
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context [default: its current context]
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The app's namespace
    #[arg(short = 'n', long, default_value = "headlamp")]
    namespace: String,
    /// Directory to write (must not exist, or be empty)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Deadline for the whole run: connecting and every read (Go duration). Exit 2 naming what timed out
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::go_duration)]
    timeout: std::time::Duration,
}

pub async fn run(args: Args) -> u8 {
    let phase = crate::Phase::default();
    match crate::within(args.timeout, &phase, capture(&args, &phase)).await {
        Ok(code) => code,
        Err(message) => crate::cannot_run("snapshot", &message),
    }
}

async fn capture(args: &Args, phase: &crate::Phase) -> u8 {
    phase.set("connecting to the cluster (kubeconfig, API server)");
    let (client, context) =
        match view::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
            Ok(c) => c,
            Err(e) => return crate::cannot_run("snapshot", &e),
        };
    let live = LiveView::new(client, context);
    phase.set(format!(
        "reading {} (waiting for an answer from the API server)",
        live.target()
    ));
    let scope = SnapshotScope::for_app(&args.namespace);
    let started = std::time::Instant::now();
    let summary = match view::write_snapshot(&live, &scope, &args.out).await {
        Ok(s) => s,
        Err(e) => return crate::cannot_run("snapshot", &e),
    };
    for w in &summary.warnings {
        eprintln!(
            "warning: not captured: {}",
            headlamp_e2e::report::redact::for_terminal(w)
        );
    }
    let namespaces: Vec<&str> = scope.namespaces.iter().map(|(n, _)| n.as_str()).collect();
    println!(
        "snapshot of {} (namespaces {}) written to {}: {} objects, {} logs, {} warning{} in {:.1}s",
        live.target(),
        namespaces.join(", "),
        args.out.display(),
        summary.objects,
        summary.logs,
        summary.warnings.len(),
        if summary.warnings.len() == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    );
    if summary.objects == 0 {
        eprintln!(
            "error: nothing could be read (see the warnings); check --context and your permissions"
        );
        return 2;
    }
    println!(
        "diagnose it with: cargo xtask doctor --snapshot {} -n {}",
        args.out.display(),
        args.namespace
    );
    0
}
