//! `cargo xtask lint`

use std::path::PathBuf;

use headlamp_e2e::chart::{ChartStore, Helm};
use headlamp_e2e::finding;
use headlamp_e2e::lint;
use headlamp_e2e::report::findings;

/// Output format of `lint`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Grouped by file, for a terminal
    #[default]
    Text,
    /// Exactly one JSON object (findings with file, line, column, …; summary)
    Json,
    /// One GitHub workflow command per finding (`::error file=…,line=…,col=…,title=<rule>::…`): annotations on the
    /// pull request's diff; nothing else on stdout
    Github,
    /// One SARIF 2.1.0 log (for code scanning: github/codeql-action/upload-sarif)
    Sarif,
    /// A markdown table of the findings with links to their lines (for $GITHUB_STEP_SUMMARY)
    Markdown,
}

#[derive(clap::Args)]
pub struct Args {
    /// GitOps directory to lint [default: fixtures/gitops]
    #[arg(long, value_name = "DIR")]
    gitops: Option<PathBuf>,
    /// Output format: text, json (exactly one JSON object), github (workflow commands), sarif (SARIF 2.1.0),
    /// markdown (a table for the step summary). Files in github, sarif and markdown are relative to the repository
    /// root (the nearest directory above DIR with a .git)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Warnings fail the lint too (exit 1)
    #[arg(long)]
    strict: bool,
    /// Compute everything again, reading and writing none of the caches in $HEADLAMP_E2E_CACHE: renders (`renders`),
    /// kustomize builds (`kustomize`), the builds lint does itself (`kustomize-here`) and postBuild substitutions
    /// (`substitutions`)
    #[arg(long)]
    no_cache: bool,
    /// Let kustomize fetch the remote bases kustomizations name (https only, `?ref=` a plain name, 120 s for all
    /// of them). By default none is fetched: each is left out with an info note naming it, as kustomize-controller's
    /// `--no-remote-bases` does
    #[arg(long)]
    allow_remote_bases: bool,
    /// Build every Flux Kustomization that has kustomize features with kustomize, one at a time, uncached: the
    /// reference the fast path (patches applied in-process, builds in parallel, the build cache) is checked against
    #[arg(long, hide = true)]
    kustomize_everything: bool,
}

pub async fn run(args: Args) -> u8 {
    let dir = crate::gitops_dir(args.gitops);
    headlamp_e2e::gitops::sandbox::set_allow_remote_bases(args.allow_remote_bases);
    headlamp_e2e::gitops::build_cache::set_enabled(!args.no_cache && !args.kustomize_everything);
    headlamp_e2e::gitops::set_patches_in_process(!args.kustomize_everything);
    if args.kustomize_everything {
        headlamp_e2e::gitops::flux_build::set_parallel_builds(1);
    }
    let store = ChartStore::from_env();
    // helm is located (a PATH lookup, nothing run) only to set the cache; when it is missing, lint says so if a
    // HelmRelease needs rendering
    let helm = Helm::locate()
        .ok()
        .map(|h| if args.no_cache { h.with_cache(None) } else { h });
    let report = match lint::lint(&dir, &store, helm.as_ref()).await {
        Ok(r) => r,
        Err(e) => {
            if args.format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({ "error": headlamp_e2e::report::redact(&e.to_string()), "findings": [], "summary": null })
                );
            }
            return crate::cannot_run("lint", &e);
        }
    };
    let failed = report.summary.errors > 0 || (args.strict && report.summary.warnings > 0);
    // the GitOps dir relative to the repository root: what annotations and SARIF name files by
    let prefix = {
        let repo = headlamp_e2e::gitops::repository_root(&dir);
        dir.canonicalize()
            .ok()
            .and_then(|d| {
                d.strip_prefix(&repo)
                    .ok()
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .unwrap_or_default()
    };
    match args.format {
        Format::Github => print!("{}", findings::to_github(&report.findings, &prefix)),
        Format::Sarif => println!(
            "{}",
            findings::to_sarif(&report.findings, &prefix, env!("CARGO_PKG_VERSION"))
        ),
        Format::Markdown => print!(
            "{}",
            findings::to_markdown(&report.findings, &prefix, &findings::LinkBase::from_env())
        ),
        Format::Json => {
            let mut summary = report.summary.clone();
            summary
                .counts
                .insert("duration_ms".into(), report.elapsed.as_millis() as u64);
            println!("{}", finding::to_json(&report.findings, &summary));
        }
        Format::Text => {
            print!("{}", finding::to_text(&report.findings, crate::use_color()));
            let s = &report.summary;
            let count = |k: &str| s.counts.get(k).copied().unwrap_or(0);
            println!(
                "lint {}: {} error{}, {} warning{}{} ({} objects, {} of {} HelmRelease{} rendered) in {:.2}s{}",
                dir.display(),
                s.errors,
                if s.errors == 1 { "" } else { "s" },
                s.warnings,
                if s.warnings == 1 { "" } else { "s" },
                match s.info {
                    0 => String::new(),
                    1 => ", 1 note".to_string(),
                    n => format!(", {n} notes"),
                },
                count("objects"),
                count("rendered"),
                count("helmreleases"),
                if count("helmreleases") == 1 { "" } else { "s" },
                report.elapsed.as_secs_f64(),
                if args.strict && s.warnings > 0 && s.errors == 0 {
                    " (--strict: warnings fail)"
                } else {
                    ""
                },
            );
        }
    }
    u8::from(failed)
}
