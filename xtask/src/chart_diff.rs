//! `cargo xtask chart-diff`: rendered manifests at a base ref vs the working tree, object by object.

use std::path::PathBuf;

use clap::ValueEnum;
use headlamp_e2e::chart::{ChartStore, Helm};
use headlamp_e2e::chart_diff;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Git ref to compare against [default: origin/main, else main]
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// GitOps directory [default: fixtures/gitops]
    #[arg(long, value_name = "DIR")]
    gitops: Option<PathBuf>,
    /// text (coloured on a terminal), markdown (for PR summaries), or json
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
}

pub async fn run(args: Args) -> u8 {
    let dir = crate::gitops_dir(args.gitops);
    let result = async {
        let helm = Helm::locate()?;
        let base = match args.base {
            Some(b) => b,
            None => chart_diff::default_base(&dir).await,
        };
        chart_diff::chart_diff(&dir, &base, &ChartStore::from_env(), &helm).await
    }
    .await;
    let diff = match result {
        Ok(d) => d,
        Err(e) => {
            return crate::cannot_run("chart-diff", &e);
        }
    };
    match args.format {
        DiffFormat::Text => print!("{}", chart_diff::to_text(&diff, crate::use_color())),
        DiffFormat::Markdown => print!("{}", chart_diff::to_markdown(&diff)),
        DiffFormat::Json => match serde_json::to_string(&diff) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!(
                    "error: {}",
                    headlamp_e2e::report::redact::for_terminal(&e.to_string())
                );
                return 2;
            }
        },
    }
    0
}
