//! `cargo xtask unstick`: the recipe for a HelmRelease stuck in a Helm action (see `headlamp_e2e::unstick`). It
//! changes the cluster, so it asks first; without a terminal it refuses unless `--yes`. Exit 0 Ready, 1 a step
//! failed, 2 could not run (refused, declined, no cluster, or the `--timeout` ran out: no answer in time).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use headlamp_e2e::unstick::{self, STEPS, Step, UnstickOptions};
use headlamp_e2e::view;

#[derive(clap::Args)]
pub struct Args {
    /// The HelmRelease
    helmrelease: String,
    /// Its namespace
    #[arg(short = 'n', long, default_value = "headlamp")]
    namespace: String,
    /// Do not ask (needed when stdin is not a terminal)
    #[arg(long)]
    yes: bool,
    /// kubeconfig file [default: $KUBECONFIG, ~/.kube/config, else in-cluster]
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context [default: its current context]
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Deadline for the whole procedure, the wait for Ready included (Go duration)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::go_duration)]
    timeout: Duration,
}

fn plan(args: &Args, context: &str) -> String {
    let (ns, name) = (&args.namespace, &args.helmrelease);
    format!(
        "unstick HelmRelease {ns}/{name} on context {context}:\n  \
         1. read the HelmRelease\n  \
         2. suspend it (spec.suspend: true)\n  \
         3. uninstall its Helm release: DELETE the release's objects and its sh.helm.release.v1.* storage Secrets\n  \
         4. restart flux-system/helm-controller (kubectl.kubernetes.io/restartedAt) and wait for the rollout\n  \
         5. resume it (spec.suspend: false)\n  \
         6. force a reconcile (reconcile.fluxcd.io/requestedAt = forceAt)\n  \
         7. wait for Ready (deadline {})\n\
         The app is down until Flux installs it again.",
        view::human_duration(args.timeout)
    )
}

pub async fn run(args: Args) -> u8 {
    if !args.yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "error: unstick changes the cluster (suspends HelmRelease {}/{}, deletes its Helm release, restarts helm-controller) and stdin is not a terminal to confirm it: run it on a terminal, or pass --yes",
            args.namespace, args.helmrelease
        );
        return 2;
    }
    // connecting has the same deadline; the procedure's starts after the confirmation
    let phase = crate::Phase::default();
    phase.set("connecting to the cluster (kubeconfig, API server)");
    let connect = crate::within(
        args.timeout,
        &phase,
        view::connect(args.kubeconfig.as_deref(), args.context.as_deref()),
    );
    let (client, context) = match connect.await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return crate::cannot_run("unstick", &e),
        Err(e) => return crate::cannot_run("unstick", &e),
    };
    println!("{}", plan(&args, &context));
    if !args.yes {
        print!("Proceed? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("unstick: nothing done");
            return 2;
        }
    }
    let opts = UnstickOptions {
        timeout: args.timeout,
        ..UnstickOptions::new(&args.helmrelease, &args.namespace)
    };
    let total = STEPS.len();
    let mut n = 0;
    let mut print_step = |s: &Step| {
        n += 1;
        println!(
            "[{n}/{total}] {:<24} {} ({:.1}s)\n      {}",
            s.name,
            if s.ok() { "ok" } else { "FAILED" },
            s.elapsed.as_secs_f64(),
            headlamp_e2e::report::redact::for_terminal(s.detail())
        );
    };
    let report = unstick::unstick(&client, &opts, &mut print_step).await;
    if report.succeeded() {
        println!("unstick {}/{}: Ready", args.namespace, args.helmrelease);
        0
    } else {
        let done = report.steps.len();
        eprintln!(
            "unstick {}/{}: stopped at step {done}/{total} ({}); the steps after it did not run",
            args.namespace,
            args.helmrelease,
            report.steps.last().map(|s| s.name).unwrap_or("?")
        );
        if report.timed_out { 2 } else { 1 }
    }
}
