//! `cargo xtask bench-lint`: lint must cost at most a few `helm template` runs. Runs both side by side (interleaved,
//! after a warm-up) and prints the medians and their ratio.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use headlamp_e2e::chart::{ChartRef, ChartStore, Helm};
use headlamp_e2e::gitops;
use headlamp_e2e::lint::{self, Release};

#[derive(clap::Args)]
pub struct Args {
    /// GitOps directory [default: fixtures/gitops]
    #[arg(long, value_name = "DIR")]
    gitops: Option<PathBuf>,
    /// Measured runs of each (after one warm-up)
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// Exit 1 when lint's median exceeds this many times helm template's median
    #[arg(long, default_value_t = 5.0)]
    max_ratio: f64,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub async fn run(args: Args) -> u8 {
    match bench(args).await {
        Ok(code) => code,
        Err(e) => crate::cannot_run("bench-lint", &e),
    }
}

async fn bench(args: Args) -> anyhow::Result<u8> {
    let dir = crate::gitops_dir(args.gitops);
    let store = ChartStore::from_env();
    let helm = Helm::locate()?;
    let tree = gitops::load(&dir)?;
    let hr = tree
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} has no HelmRelease to compare with", dir.display()))?;
    let release = Release::from_object(hr, Some(&tree))?;
    let chart = store
        .fetch(&ChartRef {
            name: release.chart_name.clone(),
            version: release.pinned_version().unwrap_or_default().to_string(),
            repo_url: release.repo_url.clone(),
        })
        .await?;

    // warm-up (page cache, chart cache)
    lint::lint(&dir, &store, Some(&helm)).await?;
    helm.template(
        &chart,
        &release.release_name,
        &release.namespace,
        &release.values,
    )
    .await?;

    let (mut lint_times, mut helm_times) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let t = Instant::now();
        lint::lint(&dir, &store, Some(&helm)).await?;
        lint_times.push(t.elapsed());
        let t = Instant::now();
        helm.template(
            &chart,
            &release.release_name,
            &release.namespace,
            &release.values,
        )
        .await?;
        helm_times.push(t.elapsed());
    }
    let (l, h) = (median(lint_times), median(helm_times));
    let ratio = l.as_secs_f64() / h.as_secs_f64().max(1e-9);
    println!(
        "helm template ({} {}): median {:.1} ms over {} runs",
        release.chart_name,
        release.pinned_version().unwrap_or("?"),
        h.as_secs_f64() * 1e3,
        args.runs
    );
    println!(
        "lint {}: median {:.1} ms over {} runs",
        dir.display(),
        l.as_secs_f64() * 1e3,
        args.runs
    );
    println!(
        "ratio lint/helm-template: {ratio:.2} (budget {:.1})",
        args.max_ratio
    );
    Ok(u8::from(ratio > args.max_ratio))
}
