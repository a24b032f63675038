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
}

pub async fn run(args: Args) -> u8 {
    let (client, context) =
        match view::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: snapshot could not run: {e}");
                return 2;
            }
        };
    let live = LiveView::new(client, context);
    let scope = SnapshotScope::for_app(&args.namespace);
    let started = std::time::Instant::now();
    let summary = match view::write_snapshot(&live, &scope, &args.out).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: snapshot could not run: {e}");
            return 2;
        }
    };
    for w in &summary.warnings {
        eprintln!("warning: not captured: {w}");
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
