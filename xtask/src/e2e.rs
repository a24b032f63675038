//! `cargo xtask e2e`: the main job. Ephemeral k3s + Flux + the fixtures served as a git repo; the scenarios.

use std::path::PathBuf;
use std::time::Duration;

use headlamp_e2e::cluster;
use headlamp_e2e::e2e::{self, ClusterTarget, ExistingCluster, Options};
use headlamp_e2e::report::Progress;
use headlamp_e2e::scenario::{self, Shard};

#[derive(clap::Args)]
pub struct Args {
    /// List the scenarios (stable ids) with a one-line description, and exit
    #[arg(long)]
    list: bool,
    /// Run only this scenario (repeatable); see --list
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Run the I-th of N shares of the selected scenarios (1-based), e.g. 1/2, for CI matrices
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Keep the cluster after the run and print how to use it
    #[arg(long)]
    keep: bool,
    /// Stop at the first failed scenario and keep the cluster as it failed
    #[arg(long)]
    fail_fast: bool,
    /// k3s image (rancher/k3s:<tag>)
    #[arg(long, value_name = "IMAGE", default_value_t = format!("{}:{}", cluster::K3S_IMAGE, cluster::K3S_DEFAULT_TAG))]
    k3s_image: String,
    /// Flux components file [default: the GitOps dir's clusters/home/flux-system/gotk-components.yaml, as a
    /// bootstrapped repo commits it]
    #[arg(long, value_name = "FILE", conflicts_with = "flux_download")]
    flux_components: Option<PathBuf>,
    /// Install Flux from the v2.9.4 release's install.yaml instead (downloaded once, sha256-checked, cached)
    #[arg(long)]
    flux_download: bool,
    /// Root of the run directories (reports, JUnit, artifacts; no credentials) [default: ./target/e2e]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// GitOps directory to serve to Flux [default: fixtures/gitops]
    #[arg(long, value_name = "DIR")]
    gitops: Option<PathBuf>,
    /// Scenario files [default: scenarios/]
    #[arg(long, value_name = "DIR")]
    scenarios_dir: Option<PathBuf>,
    /// Run on this existing cluster instead of a k3s container (refused unless it has no Flux and no headlamp
    /// namespace; needs Traefik in kube-system, as k3s and k3d ship it)
    #[arg(long, value_name = "FILE", conflicts_with = "k3s_image")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context [default: its current context]
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    context: Option<String>,
    /// Run on an existing cluster even though Flux or the app namespace are there: the run takes them over, the
    /// scenarios break and reset the app
    #[arg(long, requires = "kubeconfig")]
    i_know_this_cluster_is_disposable: bool,
    /// The address the fixtures' git server binds and Flux clones from (one of this machine's, reachable from the
    /// cluster's pods) [default: the Docker bridge gateway, right for kind and k3d]
    #[arg(long, value_name = "IP", requires = "kubeconfig")]
    git_address: Option<std::net::IpAddr>,
    /// Time budget of the whole run (e.g. 70m: CI's step timeout minus a margin). A scenario, with the reset before
    /// it, starts only if the time left covers all its deadlines; otherwise it is skipped with "not enough budget
    /// left" instead of being killed midway
    #[arg(long, value_name = "DURATION", value_parser = crate::go_duration)]
    budget: Option<Duration>,
    /// Image cache directory: its tarballs are imported by k3s at start (k3s's air-gap images dir), and after setup
    /// the images the run pulled are exported into it (and the rancher/k3s image saved), so a warm run pulls nothing
    #[arg(long, value_name = "DIR", conflicts_with = "kubeconfig")]
    image_cache: Option<PathBuf>,
    /// Pull docker.io images through this pull-through cache (writes k3s's registries.yaml; no credentials in URL)
    #[arg(long, value_name = "URL", conflicts_with = "kubeconfig")]
    registry_mirror: Option<String>,
}

/// Where a bootstrapped GitOps repo keeps the Flux install (`flux bootstrap`, `flux install --export`).
const GOTK_COMPONENTS: &str = "clusters/home/flux-system/gotk-components.yaml";

pub async fn run(args: Args) -> u8 {
    let dir = args
        .scenarios_dir
        .clone()
        .unwrap_or_else(|| crate::project_root().join("scenarios"));
    let all = match scenario::load_dir(&dir) {
        Ok(all) => all,
        Err(e) => {
            eprintln!(
                "error: {}",
                headlamp_e2e::report::redact::for_terminal(&e.to_string())
            );
            return 2;
        }
    };
    if args.list {
        let width = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &all {
            println!("{:width$}  {}", s.name, s.description);
        }
        return 0;
    }
    let selected = match scenario::select(&all, &args.scenarios, args.shard) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: {}",
                headlamp_e2e::report::redact::for_terminal(&e.to_string())
            );
            return 2;
        }
    };
    let gitops = crate::gitops_dir(args.gitops);
    if !gitops.is_dir() {
        eprintln!(
            "error: GitOps directory {} does not exist (pass --gitops DIR)",
            gitops.display()
        );
        return 2;
    }
    let flux_components = if args.flux_download {
        None
    } else {
        let f = args
            .flux_components
            .clone()
            .unwrap_or_else(|| gitops.join(GOTK_COMPONENTS));
        if !f.is_file() {
            eprintln!(
                "error: Flux components {}: no such file (pass --flux-components FILE, or --flux-download for the release's install.yaml)",
                f.display()
            );
            return 2;
        }
        Some(f)
    };
    let out_root = match args
        .out
        .clone()
        .map(Ok)
        .unwrap_or_else(e2e::default_out_root)
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: the current directory: {e} (pass --out DIR)");
            return 2;
        }
    };
    let target = match &args.kubeconfig {
        Some(kc) if !kc.is_file() => {
            eprintln!("error: --kubeconfig {}: no such file", kc.display());
            return 2;
        }
        Some(kc) => ClusterTarget::Existing(ExistingCluster {
            kubeconfig: kc.clone(),
            context: args.context.clone(),
            disposable: args.i_know_this_cluster_is_disposable,
            git_address: args.git_address,
        }),
        None => ClusterTarget::K3s,
    };
    if let Some(url) = &args.registry_mirror
        && let Err(e) = cluster::images::registries_yaml(url)
    {
        eprintln!("error: {e}");
        return 2;
    }
    // k3s runs in Docker; an existing cluster needs it only for the default git address (the bridge gateway)
    let needs_docker = target == ClusterTarget::K3s || args.git_address.is_none();
    if needs_docker && let Err(reason) = cluster::docker_reachable(Duration::from_secs(8)).await {
        eprintln!("error: {}", cluster::docker_unreachable_message(&reason));
        if target != ClusterTarget::K3s {
            eprintln!("  (with --kubeconfig, --git-address IP serves the fixtures without Docker)");
        }
        return 2;
    }
    // preflight of the machine a k3s container runs on: disk, cgroup v2, inotify (cluster/src/cluster/preflight.rs)
    if target == ClusterTarget::K3s {
        let verdict = cluster::preflight::judge(&cluster::preflight::gather(&out_root));
        for note in &verdict.notes {
            eprintln!("preflight: {note}");
        }
        if !verdict.problems.is_empty() {
            for p in &verdict.problems {
                eprintln!("error: preflight: {p}");
            }
            return 2;
        }
    }
    let names: Vec<&str> = selected.iter().map(|s| s.name.as_str()).collect();
    eprintln!(
        "e2e: {} scenario(s){}: {}",
        names.len(),
        args.shard
            .map(|s| format!(" (shard {}/{})", s.index, s.count))
            .unwrap_or_default(),
        names.join(", ")
    );
    let progress = Progress::with_stderr();
    let opts = Options {
        gitops,
        scenarios: selected,
        keep: args.keep,
        fail_fast: args.fail_fast,
        k3s_image: Some(args.k3s_image),
        flux_components,
        out_root,
        private_root: e2e::default_private_root(),
        cluster: target,
        budget: args.budget,
        image_cache: args.image_cache.clone(),
        registry_mirror: args.registry_mirror.clone(),
    };
    let outcome = match e2e::run(opts, &progress).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "error: e2e setup failed: {}",
                headlamp_e2e::report::redact::for_terminal(&e.to_string())
            );
            return 2;
        }
    };
    print!("{}", outcome.report.to_table(crate::use_color()));
    for s in &outcome.report.scenarios {
        let took = |name: &str| {
            s.phases
                .iter()
                .find(|p| p.name == name)
                .map(|p| headlamp_e2e::report::format_duration(p.duration))
        };
        if let Some(d) = took(e2e::SCENARIO_PHASE) {
            match took(e2e::journal::RESET_PHASE) {
                Some(r) => println!("scenario {:<18} {d} (reset after it: {r})", s.name),
                None => println!("scenario {:<18} {d}", s.name),
            }
        }
    }
    println!("JUnit: {}", outcome.junit.display());
    match outcome.kept.as_ref().map(|k| (k, &k.container)) {
        Some((k, Some(container))) => println!(
            "cluster kept: export KUBECONFIG={}\n  (remove it with: docker rm -f {container}; the git server stopped with this process, Flux keeps its last revision)",
            k.kubeconfig.display(),
        ),
        Some((k, None)) => println!(
            "left on the cluster ({}): Flux, the flux-system GitRepository and Kustomization, the app (the git server stopped with this process, Flux keeps its last revision); remove them with `flux uninstall` and `kubectl delete namespace headlamp`",
            k.kubeconfig.display(),
        ),
        None => {}
    }
    let c = outcome.report.counts();
    println!("e2e: {c}");
    if outcome.report.is_success() { 0 } else { 1 }
}
