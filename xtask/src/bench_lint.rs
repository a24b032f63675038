//! `cargo xtask bench-lint`: what a user gets, measured as whole processes. The lint process is this binary's
//! `lint` (what `cargo xtask lint` runs, without cargo's own start), the reference is `helm template` of the same
//! chart and values (values on stdin, as lint passes them). Both at N=1 (the GitOps dir) and at N=50 (a repository
//! generated from it in a temp dir: its HelmRelease 50 times under other names), with a cold render cache (emptied
//! before each run) and a warm one (the run right after), interleaved round by round; ratios are per round, shown as
//! min/median/max. The references are also run with the Go runtime settings lint gives helm (`GOGC=off` up to a
//! memory limit, [`Cmd::short_lived_go`]), as information: that ratio is lint's own overhead. Then the peak memory
//! of the whole process tree at N=50 (lint and every helm it starts: `/proc` sampled, VmRSS summed over the tree).
//! Prints the four targets and whether each is met (on the median).
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use headlamp_e2e::chart::{ChartStore, Helm};
use headlamp_e2e::gitops;
use headlamp_e2e::lint::{self, Release};
use headlamp_e2e::process::Cmd;

#[derive(clap::Args)]
pub struct Args {
    /// GitOps directory [default: fixtures/gitops]
    #[arg(long, value_name = "DIR")]
    gitops: Option<PathBuf>,
    /// Interleaved rounds at N=1 (after one warm-up)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// Interleaved rounds at N=50
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs_large: u32,
    /// HelmReleases in the generated repository
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(2..=5000))]
    releases: u32,
    /// Run lint with --no-cache (then "warm" is just a second cold run)
    #[arg(long)]
    no_cache: bool,
    /// Measure a whole repository instead (e.g. one `cargo xtask gen-repo` wrote): lint's cold and warm wall time in
    /// units of one `kubectl kustomize` of one of its app directories, peak tree memory, helm and kustomize processes
    #[arg(long, value_name = "DIR", conflicts_with_all = ["gitops", "runs", "runs_large", "releases"])]
    repo: Option<PathBuf>,
    /// Rounds with --repo (cold, then warm, then the unit), after one warm-up run
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100), requires = "repo")]
    repo_runs: u32,
}

pub async fn run(args: Args) -> u8 {
    // everything here blocks (whole processes, /proc sampling): off the async workers
    let work = move || match args.repo.clone() {
        Some(repo) => crate::bench_repo::bench(&repo, args.repo_runs, args.no_cache),
        None => bench(args),
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => crate::cannot_run("bench-lint", &format!("{e:#}")),
        Err(e) => crate::cannot_run("bench-lint", &e),
    }
}

/// min, median, max.
#[derive(Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) min: f64,
    pub(crate) median: f64,
    pub(crate) max: f64,
}

pub(crate) fn stats(v: &[f64]) -> Stats {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    Stats {
        min: v[0],
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    }
}

pub(crate) fn ms(v: &[Duration]) -> Vec<f64> {
    v.iter().map(|d| d.as_secs_f64() * 1e3).collect()
}

fn ratios(a: &[Duration], b: &[Duration]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64().max(1e-9))
        .collect()
}

fn line_ms(what: &str, v: &[Duration]) {
    let s = stats(&ms(v));
    println!(
        "  {what:<34} min {:>7.1}  median {:>7.1}  max {:>7.1} ms",
        s.min, s.median, s.max
    );
}

fn line_ratio(what: &str, v: &[f64]) -> Stats {
    let s = stats(v);
    println!(
        "  {what:<34} min {:>7.2}  median {:>7.2}  max {:>7.2}",
        s.min, s.median, s.max
    );
    s
}

/// One `helm template` the way lint runs it.
struct Render {
    release: String,
    namespace: String,
    values: Vec<u8>,
}

struct Bench {
    exe: PathBuf,
    helm: PathBuf,
    chart: PathBuf,
    charts_dir: PathBuf,
    cache: PathBuf,
    no_cache: bool,
}

impl Bench {
    fn lint_cmd(&self, dir: &Path) -> Cmd {
        let mut c = Cmd::new(&self.exe)
            .arg("lint")
            .arg("--gitops")
            .arg(dir)
            .env("HELM_BIN", &self.helm)
            .env("HEADLAMP_E2E_CHARTS", &self.charts_dir)
            .env("HEADLAMP_E2E_CACHE", &self.cache)
            .env("NO_COLOR", "1")
            .timeout(Duration::from_secs(600));
        if self.no_cache {
            c = c.arg("--no-cache");
        }
        c
    }

    /// One lint process; exit 0 or 1 (findings) is a run, 2 is an error.
    fn lint(&self, dir: &Path, cold: bool) -> anyhow::Result<Duration> {
        if cold {
            let renders = self.cache.join("renders");
            if renders.exists() {
                std::fs::remove_dir_all(&renders)
                    .with_context(|| format!("emptying {}", renders.display()))?;
            }
        }
        timed_lint(self.lint_cmd(dir))
    }

    /// `helm template` as a user runs it, or (`as_lint`) with the Go runtime settings lint gives its helm processes
    /// ([`Cmd::short_lived_go`]): the second shows how much of the lead is lint's own and how much is helm's GC.
    fn helm_template(&self, r: &Render, as_lint: bool) -> anyhow::Result<()> {
        let mut cmd = Cmd::new(&self.helm)
            .arg("template")
            .arg(&r.release)
            .arg(&self.chart)
            .args(["--namespace", &r.namespace, "--values", "-"])
            .stdin(r.values.clone())
            .timeout(Duration::from_secs(600));
        if as_lint {
            cmd = cmd.short_lived_go();
        }
        let out = cmd.run_blocking()?;
        anyhow::ensure!(
            out.success(),
            "helm template {} failed: {}",
            r.release,
            out.complaint()
        );
        Ok(())
    }

    /// `helm template` of every release, `parallel` at a time (a worker pool).
    fn helm_loop(
        &self,
        renders: &[Render],
        parallel: usize,
        as_lint: bool,
    ) -> anyhow::Result<Duration> {
        pool(renders, parallel, |r| self.helm_template(r, as_lint))
    }
}

/// The wall time of one lint process (`cmd`); exit 0 or 1 (findings) is a run, 2 is an error.
pub(crate) fn timed_lint(cmd: Cmd) -> anyhow::Result<Duration> {
    let shown = cmd.display();
    let t = Instant::now();
    let out = cmd.run_blocking()?;
    let took = t.elapsed();
    anyhow::ensure!(
        matches!(out.status.code(), Some(0 | 1)),
        "`{shown}` could not run ({}): {}",
        out.status,
        out.complaint()
    );
    Ok(took)
}

/// Run `one` on every job, `parallel` (≥ 1) at a time (a worker pool); the wall time of all of them, or the first
/// error.
pub(crate) fn pool<J: Sync>(
    jobs: &[J],
    parallel: usize,
    one: impl Fn(&J) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Duration> {
    let next = AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..parallel.max(1))
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else {
                            return Ok(());
                        };
                        one(job)?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
        }
        anyhow::Ok(())
    })?;
    Ok(t.elapsed())
}

/// The releases lint renders in `dir`, exactly (release name, namespace, values).
fn renders_of(dir: &Path) -> anyhow::Result<Vec<Render>> {
    let tree = gitops::load(dir)?;
    tree.find("helm.toolkit.fluxcd.io", "HelmRelease")
        .map(|o| {
            let r = Release::from_object(o, Some(&tree))?;
            Ok(Render {
                values: serde_json::to_vec(&r.values)?,
                release: r.release_name,
                namespace: r.namespace,
            })
        })
        .collect()
}

/// A repository of `n` HelmReleases from `fixture`: its plain manifests under `apps/` (JSON, which is YAML), and its
/// first HelmRelease `n` times, named `<name>-NN` (so each is its own helm release).
fn generate(fixture: &Path, out: &Path, n: u32) -> anyhow::Result<()> {
    let tree = gitops::load(fixture)?;
    let hr = tree
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} has no HelmRelease", fixture.display()))?;
    std::fs::create_dir_all(out.join("releases"))?;
    let mut base = String::new();
    for o in &tree.objects {
        let from_apps = o.file_display().starts_with("apps/");
        if from_apps && o.kind() != "HelmRelease" {
            base.push_str("---\n");
            base.push_str(&serde_json::to_string(&o.value)?);
            base.push('\n');
        }
    }
    std::fs::write(out.join("base.yaml"), base)?;
    for i in 1..=n {
        let mut v = hr.value.clone();
        v["metadata"]["name"] = format!("{}-{i:02}", hr.name()).into();
        if let Some(spec) = v["spec"].as_object_mut() {
            spec.remove("releaseName");
        }
        std::fs::write(
            out.join(format!("releases/hr-{i:02}.yaml")),
            serde_json::to_string(&v)?,
        )?;
    }
    Ok(())
}

/// Processes whose parent chain reaches `root` (not `root` itself), from `/proc/<pid>/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent = std::collections::HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …; comm may hold spaces and parentheses: after the last ')'
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent.insert(pid, ppid);
            }
        }
    }
    parent
        .keys()
        .copied()
        .filter(|&p| {
            let mut cur = p;
            for _ in 0..64 {
                match parent.get(&cur) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => cur = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

/// VmRSS of `pid` in bytes (0 when it is gone).
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Run `f` while sampling every 5 ms the summed VmRSS of this process's descendants (the lint process and all helm
/// processes it runs; not this bench process); the peak.
pub(crate) fn peak_tree_rss(f: impl FnOnce() -> anyhow::Result<Duration>) -> anyhow::Result<u64> {
    let me = std::process::id();
    let done = AtomicBool::new(false);
    let peak = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let sum: u64 = descendants(me).into_iter().map(rss).sum();
                peak.fetch_max(sum as usize, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let r = f();
        done.store(true, Ordering::Relaxed);
        r
    })?;
    Ok(peak.load(Ordering::Relaxed) as u64)
}

pub(crate) fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn bench(args: Args) -> anyhow::Result<u8> {
    let dir = crate::gitops_dir(args.gitops);
    let store = ChartStore::from_env();
    let helm = Helm::locate()?;
    let tree = gitops::load(&dir)?;
    let hr = tree
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} has no HelmRelease to compare with", dir.display()))?;
    let release = Release::from_object(hr, Some(&tree))?;
    let cref = lint::chart_ref(&release);
    let rt = tokio::runtime::Handle::current();
    let chart = rt.block_on(store.fetch(&cref))?;
    let charts_dir = chart
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let tmp = tempfile::Builder::new()
        .prefix("bench-lint-")
        .tempdir()
        .context("creating a temp dir")?;
    let b = Bench {
        exe: std::env::current_exe().context("locating this binary")?,
        helm: helm.bin.clone(),
        chart,
        charts_dir,
        cache: tmp.path().join("cache"),
        no_cache: args.no_cache,
    };
    let large = tmp.path().join(format!("n{}", args.releases));
    generate(&dir, &large, args.releases)?;
    let one = renders_of(&dir)?;
    let many = renders_of(&large)?;
    let nproc = std::thread::available_parallelism().map_or(1, usize::from);
    let version = Cmd::new(&b.helm)
        .args(["version", "--short"])
        .run_blocking()
        .map(|o| o.stdout_text())
        .unwrap_or_default();

    println!(
        "bench-lint: lint = `{} lint` (one process each, what `cargo xtask lint` runs), helm = `{} template` ({version}); {nproc} CPUs; load average {}",
        b.exe.display(),
        b.helm.display(),
        load_avg()
    );
    if args.no_cache {
        println!(
            "  (--no-cache: lint bypasses the render cache, so \"warm\" is a second cold run)"
        );
    }

    // warm-up: page cache, the binaries
    b.helm_template(&one[0], false)?;
    b.lint(&dir, true)?;

    let (mut h1, mut g1, mut c1, mut w1) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        c1.push(b.lint(&dir, true)?);
        let t = Instant::now();
        b.helm_template(&one[0], false)?;
        h1.push(t.elapsed());
        w1.push(b.lint(&dir, false)?);
        let t = Instant::now();
        b.helm_template(&one[0], true)?;
        g1.push(t.elapsed());
    }
    println!(
        "N=1 ({}, {} {}), {} interleaved rounds:",
        dir.display(),
        cref.name,
        cref.version,
        args.runs
    );
    line_ms("helm template", &h1);
    line_ms("helm template, GC as lint runs it", &g1);
    line_ms("lint, cold cache", &c1);
    line_ms("lint, warm cache", &w1);
    let r1 = line_ratio("ratio lint cold / helm template", &ratios(&c1, &h1));
    line_ratio("ratio lint cold / helm, lint's GC", &ratios(&c1, &g1));
    line_ratio("ratio lint warm / lint cold", &ratios(&w1, &c1));

    let n = many.len();
    let (mut hn, mut gn, mut cn, mut wn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs_large {
        cn.push(b.lint(&large, true)?);
        hn.push(b.helm_loop(&many, nproc, false)?);
        wn.push(b.lint(&large, false)?);
        gn.push(b.helm_loop(&many, nproc, true)?);
    }
    println!(
        "N={n} (generated from the fixture in {}), {} interleaved rounds:",
        large.display(),
        args.runs_large
    );
    line_ms(&format!("helm template ×{n}, {nproc} at a time"), &hn);
    line_ms("the same, GC as lint runs it", &gn);
    line_ms("lint, cold cache", &cn);
    line_ms("lint, warm cache", &wn);
    let rn = line_ratio("ratio lint cold / helm loop", &ratios(&cn, &hn));
    line_ratio("ratio lint cold / loop, lint's GC", &ratios(&cn, &gn));
    let rw = line_ratio("ratio lint warm / lint cold", &ratios(&wn, &cn));

    let peak_cold = peak_tree_rss(|| b.lint(&large, true))?;
    let peak_warm = peak_tree_rss(|| b.lint(&large, false))?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "peak memory of the process tree at N={n} (lint + its helm processes; VmRSS summed over /proc every 5 ms): cold {:.0} MiB, warm {:.0} MiB",
        mib(peak_cold),
        mib(peak_warm)
    );

    let targets = [
        (
            format!(
                "N=1 cold ≤ 1.5× one helm template: median {:.2}×",
                r1.median
            ),
            r1.median <= 1.5,
        ),
        (
            format!(
                "N={n} cold ≤ 1.0× a helm template loop {nproc} at a time: median {:.2}×",
                rn.median
            ),
            rn.median <= 1.0,
        ),
        (
            format!("N={n} warm ≤ 0.3× cold: median {:.2}×", rw.median),
            rw.median <= 0.3,
        ),
        (
            format!(
                "peak tree memory at N={n} ≤ 300 MiB: {:.0} MiB",
                mib(peak_cold.max(peak_warm))
            ),
            peak_cold.max(peak_warm) <= 300 * 1024 * 1024,
        ),
    ];
    println!("targets (load average now {}):", load_avg());
    for (what, met) in &targets {
        println!("  [{}] {what}", if *met { "met   " } else { "MISSED" });
    }
    Ok(u8::from(targets.iter().any(|(_, met)| !met)))
}
