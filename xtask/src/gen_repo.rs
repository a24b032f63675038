//! `cargo xtask gen-repo --apps N --out DIR`: write the benchmark repository ([`headlamp_e2e::benchrepo`]: the
//! onedr0p/cluster-template layout with N apps, each a Flux Kustomization and a HelmRelease). The same N writes the
//! same bytes. Exit 0 written, 2 could not write.

use std::path::PathBuf;

use headlamp_e2e::benchrepo;
use headlamp_e2e::gitops;

#[derive(Clone, Copy, clap::ValueEnum)]
enum ChartArg {
    AppTemplate,
    Headlamp,
}

#[derive(clap::Args)]
pub struct Args {
    /// Apps (each a Flux Kustomization `ks.yaml` and an `app/` with its HelmRelease)
    #[arg(long, default_value_t = benchrepo::DEFAULT_APPS, value_parser = clap::value_parser!(u32).range(1..=5000))]
    apps: u32,
    /// The chart of every HelmRelease: app-template (the real repository's; not at hand offline, so nothing is
    /// rendered) or headlamp (0.41.0, shipped with this project: lint renders every release)
    #[arg(long, value_enum, default_value_t = ChartArg::AppTemplate)]
    chart: ChartArg,
    /// Directory to write (new or empty; outside any git checkout: Flux paths are read from the repository root)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub async fn run(args: Args) -> u8 {
    // a directory inside a checkout would be linted from that checkout's root: `./kubernetes/apps` would not be found
    let parent_root = args
        .out
        .ancestors()
        .skip(1)
        .find(|a| a.exists())
        .map(gitops::repository_root);
    if let Some(root) = parent_root.filter(|r| r.join(".git").exists()) {
        return crate::cannot_run(
            "gen-repo",
            &format!(
                "{} is inside the git checkout {}: lint reads a Flux Kustomization's spec.path from the repository root, \
                 so the generated ./kubernetes paths would not be found; pass a directory outside it (e.g. under /tmp)",
                args.out.display(),
                root.display()
            ),
        );
    }
    let chart = match args.chart {
        ChartArg::AppTemplate => benchrepo::Chart::AppTemplate,
        ChartArg::Headlamp => benchrepo::Chart::Headlamp,
    };
    let repo = benchrepo::generate_with(args.apps, chart);
    if let Err(e) = repo.write(&args.out) {
        return crate::cannot_run("gen-repo", &e);
    }
    let c = repo.counts();
    println!(
        "gen-repo: {} apps in {}: {} files, {} Flux Kustomizations, {} HelmReleases",
        repo.apps.len(),
        args.out.display(),
        c.files,
        c.flux_kustomizations,
        c.helmreleases
    );
    0
}
