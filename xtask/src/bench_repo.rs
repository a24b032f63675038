//! `cargo xtask bench-lint --repo DIR`: a whole repository, measured as issue 22 states its targets. The lint
//! process is this binary's `lint --gitops DIR`, cold (every cache entry but downloaded charts removed first) and warm
//! (the run right after), a few rounds after one warm-up, medians shown. The unit, measured in the same run and
//! interleaved with lint: one `kubectl kustomize` of one small app directory of the same repository, the command
//! lint runs for a build ([`flux_build::kustomize_cmd`]). Peak memory of the lint process tree (the /proc sampler of
//! [`crate::bench_lint`]), and how many helm and kustomize processes lint started: `HELM_BIN` and `KUBECTL_BIN` are
//! logging wrapper scripts in a temp dir that run the real ones.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use headlamp_e2e::benchrepo::Counts;
use headlamp_e2e::chart::{ChartStore, Helm};
use headlamp_e2e::gitops::flux_build;
use headlamp_e2e::lint::{self, Release};
use headlamp_e2e::process::Cmd;

use crate::bench_lint::{load_avg, ms, peak_tree_rss, stats};

/// The issue's targets for the 1,191-file repository: cold and warm lint in units, peak tree memory.
const COLD_UNITS: f64 = 30.0;
const WARM_UNITS: f64 = 10.0;
const PEAK_MIB: f64 = 500.0;

struct Setup {
    exe: PathBuf,
    repo: PathBuf,
    cache: PathBuf,
    /// The wrapper scripts and their logs (one line per process started).
    helm: PathBuf,
    kubectl: PathBuf,
    helm_log: PathBuf,
    kubectl_log: PathBuf,
    no_cache: bool,
}

/// Processes one lint run started.
#[derive(Default, Clone, Copy)]
struct Started {
    helm_template: usize,
    helm_other: usize,
    kustomize: usize,
    kubectl_other: usize,
}

impl Setup {
    /// Empty the cache (all but the downloaded charts: a cold run is one that renders and builds everything, not
    /// one that downloads again) and the process logs.
    fn reset(&self, cold: bool) -> anyhow::Result<()> {
        if cold && self.cache.is_dir() {
            for e in std::fs::read_dir(&self.cache)
                .with_context(|| format!("reading {}", self.cache.display()))?
            {
                let e = e?;
                if e.file_name() == "charts" {
                    continue;
                }
                let p = e.path();
                if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                }
                .with_context(|| format!("emptying {}", p.display()))?;
            }
        }
        for log in [&self.helm_log, &self.kubectl_log] {
            std::fs::write(log, "").with_context(|| format!("resetting {}", log.display()))?;
        }
        Ok(())
    }

    /// One lint process, the cache emptied first when `cold`; exit 0 or 1 (findings) is a run, 2 is an error.
    fn lint(&self, cold: bool) -> anyhow::Result<Duration> {
        self.reset(cold)?;
        let mut cmd = Cmd::new(&self.exe)
            .arg("lint")
            .arg("--gitops")
            .arg(&self.repo)
            .env("HELM_BIN", &self.helm)
            .env("KUBECTL_BIN", &self.kubectl)
            .env("HEADLAMP_E2E_CACHE", &self.cache)
            .env("NO_COLOR", "1")
            .timeout(Duration::from_secs(1800));
        if self.no_cache {
            cmd = cmd.arg("--no-cache");
        }
        crate::bench_lint::timed_lint(cmd)
    }

    /// What the last lint run started, from the wrappers' logs.
    fn started(&self) -> Started {
        let lines = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let mut s = Started::default();
        for l in lines(&self.helm_log).lines() {
            if l.split_whitespace().next() == Some("template") {
                s.helm_template += 1;
            } else {
                s.helm_other += 1;
            }
        }
        for l in lines(&self.kubectl_log).lines() {
            if l.split_whitespace().next() == Some("kustomize") {
                s.kustomize += 1;
            } else {
                s.kubectl_other += 1;
            }
        }
        s
    }
}

/// `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A wrapper that appends its arguments to `log` and runs `real` with them.
fn wrapper(path: &Path, log: &Path, real: &Path) -> anyhow::Result<PathBuf> {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
            quote(log),
            quote(real)
        ),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))?;
    Ok(path.to_path_buf())
}

/// One job of the plain tool loop a repository with renders is compared with (issue 22: "a plain parallel `helm
/// template` loop of its releases plus one kustomize build per Flux Kustomization that needs one").
enum Job {
    Helm {
        chart: PathBuf,
        release: String,
        namespace: String,
        values: Vec<u8>,
    },
    Kustomize(PathBuf),
}

/// The loop's jobs: `helm template` of every release whose chart is at hand (`$HEADLAMP_E2E_CHARTS`, the project's
/// charts, or what lint downloaded into `cache`), with the values lint renders it with; one `kubectl kustomize` of
/// the path of each Flux Kustomization that has kustomize features and a kustomization file (the directory as
/// committed: the loop a user would write).
fn loop_jobs(repo: &Path, cache: &Path) -> anyhow::Result<Vec<Job>> {
    let tree = headlamp_e2e::gitops::load(repo)?;
    let store = ChartStore {
        cache_dir: Some(cache.join("charts")),
        ..ChartStore::from_env()
    };
    let mut jobs = Vec::new();
    for o in tree.find("helm.toolkit.fluxcd.io", "HelmRelease") {
        let Ok(r) = Release::from_object(o, Some(&tree)) else {
            continue;
        };
        let Some(chart) = store.local(&lint::chart_ref(&r)) else {
            continue;
        };
        jobs.push(Job::Helm {
            chart,
            values: serde_json::to_vec(&r.values)?,
            release: r.release_name,
            namespace: r.namespace,
        });
    }
    for ks in tree.find("kustomize.toolkit.fluxcd.io", "Kustomization") {
        let spec = &ks.value["spec"];
        if flux_build::features(spec).is_empty() {
            continue;
        }
        if let Some(dir) = spec["path"]
            .as_str()
            .map(|p| repo.join(p))
            // a path without a kustomization file cannot be built by a plain `kubectl kustomize` (Flux generates one)
            .filter(|d| {
                ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                    .iter()
                    .any(|n| d.join(n).is_file())
            })
        {
            jobs.push(Job::Kustomize(dir));
        }
    }
    Ok(jobs)
}

/// The jobs, `parallel` at a time (a worker pool), as a user runs them: plain `helm template` and `kubectl kustomize`.
fn tool_loop(helm: &Path, jobs: &[Job], parallel: usize) -> anyhow::Result<Duration> {
    let one = |job: &Job| -> anyhow::Result<()> {
        let cmd = match job {
            Job::Helm {
                chart,
                release,
                namespace,
                values,
            } => Cmd::new(helm)
                .arg("template")
                .arg(release)
                .arg(chart)
                .args(["--namespace", namespace, "--values", "-"])
                .stdin(values.clone()),
            Job::Kustomize(dir) => flux_build::kustomize_cmd(dir),
        };
        let cmd = cmd.timeout(Duration::from_secs(600));
        let shown = cmd.display();
        let out = cmd.run_blocking()?;
        anyhow::ensure!(out.success(), "`{shown}` failed: {}", out.complaint());
        Ok(())
    };
    crate::bench_lint::pool(jobs, parallel, one)
}

/// Every file below `dir` (not `.git`), relative to it, sorted.
fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() && e.file_name() != ".git" {
                stack.push(p);
            } else if ft.is_file() {
                out.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The unit's directory: a directory named `app` holding a `kustomization.yaml` that is not a Component (what
/// cluster-template calls an app directory), the one with the fewest files (then the first by path); any such
/// kustomization directory when no `app` has one.
fn unit_dir(repo: &Path, all: &[PathBuf]) -> Option<PathBuf> {
    let mut best: Option<(bool, usize, PathBuf)> = None;
    for f in all {
        if f.file_name().is_none_or(|n| n != "kustomization.yaml") {
            continue;
        }
        let Some(dir) = f.parent() else { continue };
        let text = std::fs::read_to_string(repo.join(f)).unwrap_or_default();
        if text.lines().any(|l| l.trim() == "kind: Component") {
            continue;
        }
        let not_app = dir.file_name().is_none_or(|n| n != "app");
        let count = all.iter().filter(|g| g.starts_with(dir)).count();
        let key = (not_app, count, dir.to_path_buf());
        if best.as_ref().is_none_or(|b| key < *b) {
            best = Some(key);
        }
    }
    best.map(|(_, _, d)| repo.join(d))
}

/// One `kubectl kustomize` of `dir`, as lint runs it: [`flux_build::kustomize_cmd`] reads `KUBECTL_BIN` of this
/// process, the real kubectl (only lint's own environment names the wrapper).
fn unit(dir: &Path) -> anyhow::Result<Duration> {
    let cmd = flux_build::kustomize_cmd(dir).timeout(Duration::from_secs(120));
    let shown = cmd.display();
    let t = Instant::now();
    let out = cmd.run_blocking()?;
    let took = t.elapsed();
    anyhow::ensure!(
        out.success(),
        "the unit `{shown}` failed: {}",
        out.complaint()
    );
    Ok(took)
}

fn line(what: &str, v: &[Duration], unit_ms: f64) -> f64 {
    let s = stats(&ms(v));
    println!(
        "  {what:<28} min {:>8.1}  median {:>8.1}  max {:>8.1} ms   median {:>7.1} units",
        s.min,
        s.median,
        s.max,
        s.median / unit_ms.max(1e-9)
    );
    s.median / unit_ms.max(1e-9)
}

pub fn bench(repo: &Path, rounds: u32, no_cache: bool) -> anyhow::Result<u8> {
    let repo = repo
        .canonicalize()
        .with_context(|| format!("{} (--repo)", repo.display()))?;
    let all = files(&repo)?;
    let texts: Vec<(PathBuf, String)> = all
        .iter()
        .map(|f| {
            (
                f.clone(),
                std::fs::read_to_string(repo.join(f)).unwrap_or_default(),
            )
        })
        .collect();
    let counts = Counts::of(texts.iter().map(|(p, t)| (p.as_path(), t.as_str())));
    drop(texts);
    let unit_dir = unit_dir(&repo, &all).ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no kustomization directory to measure the unit on",
            repo.display()
        )
    })?;

    let real_helm = Helm::locate()?.bin;
    let real_kubectl = std::env::var_os("KUBECTL_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| on_path("kubectl"))
        .ok_or_else(|| {
            anyhow::anyhow!("kubectl not found (set KUBECTL_BIN): the unit is a kubectl kustomize")
        })?;
    let tmp = tempfile::Builder::new()
        .prefix("bench-lint-repo-")
        .tempdir()
        .context("creating a temp dir")?;
    let helm_log = tmp.path().join("helm.log");
    let kubectl_log = tmp.path().join("kubectl.log");
    let s = Setup {
        exe: std::env::current_exe().context("locating this binary")?,
        repo: repo.clone(),
        cache: tmp.path().join("cache"),
        helm: wrapper(&tmp.path().join("helm"), &helm_log, &real_helm)?,
        kubectl: wrapper(&tmp.path().join("kubectl"), &kubectl_log, &real_kubectl)?,
        helm_log,
        kubectl_log,
        no_cache,
    };
    let nproc = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "bench-lint --repo {}: {} files, {} Flux Kustomizations, {} HelmReleases; lint = `{} lint`; {nproc} CPUs; load average {}",
        repo.display(),
        counts.files,
        counts.flux_kustomizations,
        counts.helmreleases,
        s.exe.display(),
        load_avg()
    );
    println!(
        "  unit = `{} kustomize --load-restrictor LoadRestrictionsNone {}` (as lint runs kustomize)",
        real_kubectl.display(),
        unit_dir.strip_prefix(&repo).unwrap_or(&unit_dir).display()
    );
    if no_cache {
        println!("  (--no-cache: lint bypasses its caches, so \"warm\" is a second cold run)");
    }

    // warm-up: page cache, the binaries, chart downloads (kept: cold runs do not download again)
    unit(&unit_dir)?;
    s.lint(true)?;

    // the plain tool loop, when the repository has releases whose charts are at hand (after the warm-up's downloads)
    let jobs = loop_jobs(&repo, &s.cache)?;
    let helms = jobs
        .iter()
        .filter(|j| matches!(j, Job::Helm { .. }))
        .count();
    let mut loops = Vec::new();
    if helms > 0 {
        tool_loop(&real_helm, &jobs, nproc)?;
    }

    let (mut cold, mut warm, mut units) = (Vec::new(), Vec::new(), Vec::new());
    let (mut started_cold, mut started_warm) = (Started::default(), Started::default());
    for _ in 0..rounds {
        cold.push(s.lint(true)?);
        started_cold = s.started();
        warm.push(s.lint(false)?);
        started_warm = s.started();
        for _ in 0..3 {
            units.push(unit(&unit_dir)?);
        }
        if helms > 0 {
            loops.push(tool_loop(&real_helm, &jobs, nproc)?);
        }
    }
    let u = stats(&ms(&units));
    println!("{rounds} rounds (cold, warm, 3 units each):");
    println!(
        "  {:<28} min {:>8.1}  median {:>8.1}  max {:>8.1} ms",
        "unit (kubectl kustomize)", u.min, u.median, u.max
    );
    let cold_units = line("lint, cold", &cold, u.median);
    let warm_units = line("lint, warm", &warm, u.median);
    let loop_ratio = (helms > 0).then(|| {
        let kustomizes = jobs.len() - helms;
        line(
            &format!("plain loop ({helms}+{kustomizes}, {nproc}×)"),
            &loops,
            u.median,
        );
        let ratio = stats(&ms(&cold)).median / stats(&ms(&loops)).median.max(1e-9);
        println!(
            "  plain loop = `helm template` of each of the {helms} releases and `kubectl kustomize` of each of the {kustomizes} Flux Kustomization paths with kustomize features, {nproc} at a time; lint cold / loop: {ratio:.2}×"
        );
        ratio
    });
    let peak_cold = peak_tree_rss(|| s.lint(true))?;
    let peak_warm = peak_tree_rss(|| s.lint(false))?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "  peak memory of the process tree (lint + helm + kubectl; VmRSS summed over /proc every 5 ms): cold {:.0} MiB, warm {:.0} MiB",
        mib(peak_cold),
        mib(peak_warm)
    );
    for (what, p) in [("cold", started_cold), ("warm", started_warm)] {
        println!(
            "  processes lint started, {what}: kustomize {}, helm template {}, other helm {}, other kubectl {}",
            p.kustomize, p.helm_template, p.helm_other, p.kubectl_other
        );
    }
    let peak = mib(peak_cold.max(peak_warm));
    let mut targets = vec![(
        format!("peak tree memory ≤ {PEAK_MIB} MiB: {peak:.0} MiB"),
        peak <= PEAK_MIB,
    )];
    match loop_ratio {
        // a repository with renders: the issue's target is the plain loop
        Some(ratio) => targets.push((
            format!("cold ≤ 1.0× the plain loop: {ratio:.2}×"),
            ratio <= 1.0,
        )),
        // the 1,191-file shape (no chart at hand): the unit targets
        None => {
            targets.insert(
                0,
                (
                    format!("cold ≤ {COLD_UNITS} units: median {cold_units:.1}"),
                    cold_units <= COLD_UNITS,
                ),
            );
            targets.insert(
                1,
                (
                    format!("warm ≤ {WARM_UNITS} units: median {warm_units:.1}"),
                    warm_units <= WARM_UNITS,
                ),
            );
        }
    }
    println!(
        "targets of issue 22 (units: the 1,191-file shape without charts; the plain loop: a repository with renders; load average now {}):",
        load_avg()
    );
    for (what, met) in &targets {
        println!("  [{}] {what}", if *met { "met   " } else { "MISSED" });
    }
    Ok(u8::from(targets.iter().any(|(_, met)| !met)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_is_the_smallest_app_directory_not_a_component() {
        let d = tempfile::tempdir().unwrap();
        headlamp_e2e::benchrepo::generate(12)
            .write(d.path())
            .unwrap();
        let all = files(d.path()).unwrap();
        let got = unit_dir(d.path(), &all).unwrap();
        let got = got.strip_prefix(d.path()).unwrap();
        // app-001: its kustomization and HelmRelease (the shared app-template source), nothing else; app-003 has
        // as few files but comes later by path; app-000 has its own OCIRepository too
        assert_eq!(
            got,
            Path::new("kubernetes/apps/actions-runner-system/app-001/app")
        );
    }

    #[test]
    fn the_wrapper_logs_each_run_and_runs_the_real_program() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let w = wrapper(&d.path().join("echo"), &log, Path::new("/bin/echo")).unwrap();
        let out = std::process::Command::new(&w)
            .args(["kustomize", "x y"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "kustomize x y\n");
        std::process::Command::new(&w)
            .arg("template")
            .output()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "kustomize x y\ntemplate\n"
        );
    }
}
