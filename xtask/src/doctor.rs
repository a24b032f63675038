//! `cargo xtask doctor`: read-only diagnosis of a live cluster (`--kubeconfig`/`--context`) or of a snapshot
//! (`--snapshot DIR`). Exit 0 healthy (no finding), 1 findings (errors or warnings), 2 could not run.

use std::path::PathBuf;
use std::time::Duration;

use headlamp_e2e::doctor::{self, DoctorOptions, Render};
use headlamp_e2e::view::{self, ClusterView, LiveView, SnapshotView};

use crate::Format;

#[derive(clap::Args)]
pub struct Args {
    /// Diagnose a snapshot directory (as `cargo xtask snapshot` or a failed e2e run writes it) instead of a cluster
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kubeconfig", "context"])]
    snapshot: Option<PathBuf>,
    /// kubeconfig file [default: $KUBECONFIG, ~/.kube/config, else in-cluster]
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context [default: its current context]
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The app's namespace (its HelmRelease and pods)
    #[arg(short = 'n', long, default_value = "headlamp")]
    namespace: String,
    /// Your local clone of the GitOps repository: compare Flux's revision with it (flux-source-revision)
    #[arg(long, value_name = "DIR")]
    gitops: Option<PathBuf>,
    /// How long Ready=Unknown "Running '<action>' action" may last before it counts as stuck (Go duration)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::go_duration)]
    stuck_after: Duration,
    /// Do not render the chart (skips the lint rules on the live HelmRelease)
    #[arg(long)]
    no_render: bool,
    /// Deadline for the whole run: connecting, every read, rendering (Go duration). Exit 2 naming what timed out
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::go_duration)]
    timeout: Duration,
    /// Output format; json prints exactly one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn cannot_run(format: Format, message: &str) -> u8 {
    let message = headlamp_e2e::report::redact::redact(message);
    if format == Format::Json {
        println!(
            "{}",
            serde_json::json!({ "error": message, "findings": [], "summary": null })
        );
    }
    crate::cannot_run("doctor", &message)
}

pub async fn run(args: Args) -> u8 {
    let phase = crate::Phase::default();
    match crate::within(args.timeout, &phase, diagnose(&args, &phase)).await {
        Ok(code) => code,
        Err(message) => cannot_run(args.format, &message),
    }
}

async fn diagnose(args: &Args, phase: &crate::Phase) -> u8 {
    let view: Box<dyn ClusterView> = match &args.snapshot {
        Some(dir) => {
            phase.set(format!("reading the snapshot {}", dir.display()));
            match SnapshotView::open(dir) {
                Ok(v) => Box::new(v),
                Err(e) => return cannot_run(args.format, &e.to_string()),
            }
        }
        None => {
            phase.set("connecting to the cluster (kubeconfig, API server)");
            match view::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
                Ok((client, context)) => Box::new(LiveView::new(client, context)),
                Err(e) => return cannot_run(args.format, &e.to_string()),
            }
        }
    };
    phase.set(format!(
        "reading {} (waiting for an answer from it, or for helm rendering the chart)",
        view.target()
    ));
    let opts = DoctorOptions {
        namespace: args.namespace.clone(),
        gitops: args.gitops.clone(),
        stuck_after: args.stuck_after,
        render: if args.no_render {
            Render::Off
        } else {
            Render::from_env()
        },
    };
    let report = match doctor::run(view.as_ref(), &opts).await {
        Ok(r) => r,
        Err(e) => return cannot_run(args.format, &e.to_string()),
    };
    match args.format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => print!("{}", report.to_text(crate::use_color())),
    }
    report.exit_code()
}
