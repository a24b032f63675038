//! `flux-source-revision`: the revision Flux runs is not what the local repository says it should be.
//!
//! The GitRepository that delivers each HelmRelease is found through the labels kustomize-controller puts on what it
//! applies (`kustomize.toolkit.fluxcd.io/name`/`namespace` → Kustomization → `spec.sourceRef`), with the
//! Kustomization's `spec.path` as the app's directory; without those labels, every GitRepository is checked. Its
//! `status.artifact.revision` (`main@sha1:<40 hex>`) is compared, with the git CLI, to the local clone given by
//! `--gitops`:
//! 1. the newest commit touching the app's directory, on any branch, is not in the tracked branch: "your fix is on
//!    feat/headlamp, not on main: merge it";
//! 2. the tracked branch's head (local, else `origin/<branch>`) is not the revision: not pushed / not fetched yet /
//!    diverged; or Flux runs a commit the clone does not have (fetch).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::check::{Check, object_id};
use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
use crate::view::{self, ClusterView, GITREPOSITORY, KUSTOMIZATION};

pub const RULE: &str = "flux-source-revision";

/// The git CLI in one directory.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

impl Git {
    /// `dir` must be inside a git work tree.
    pub fn open(dir: &Path) -> Result<Git> {
        if !dir.is_dir() {
            return Err(headlamp_e2e_gitops::Error::GitopsDirMissing(dir.to_path_buf()).into());
        }
        let g = Git {
            dir: dir.to_path_buf(),
        };
        match g.run(&["rev-parse", "--is-inside-work-tree"]) {
            Some(s) if s == "true" => Ok(g),
            _ => Err(Error::Other(format!(
                "--gitops {}: not inside a git repository (git must be installed; flux-source-revision compares Flux's revision with this clone)",
                dir.display()
            ))),
        }
    }

    /// stdout of a successful git command, trimmed.
    pub fn run(&self, args: &[&str]) -> Option<String> {
        match crate::process::Cmd::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .run_blocking()
        {
            Ok(out) => out.success().then(|| out.stdout_text()),
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        }
    }

    fn ok(&self, args: &[&str]) -> bool {
        self.run(args).is_some()
    }

    /// The commit a ref points to.
    pub fn rev(&self, r: &str) -> Option<String> {
        self.run(&["rev-parse", "--verify", "-q", &format!("{r}^{{commit}}")])
            .filter(|s| !s.is_empty())
    }

    /// Is `a` an ancestor of (or equal to) `b`?
    pub fn is_ancestor(&self, a: &str, b: &str) -> bool {
        self.ok(&["merge-base", "--is-ancestor", a, b])
    }

    fn subject(&self, c: &str) -> String {
        self.run(&["log", "-1", "--format=%s", c])
            .unwrap_or_default()
    }

    /// Branches (local first, then remote-tracking) that contain `c`.
    fn branches_containing(&self, c: &str) -> Vec<String> {
        let list = |prefix: &str| -> Vec<String> {
            self.run(&[
                "for-each-ref",
                "--contains",
                c,
                "--format=%(refname:short)",
                prefix,
            ])
            .map(|s| {
                s.lines()
                    .map(str::to_string)
                    .filter(|b| !b.is_empty() && !b.ends_with("/HEAD") && b != "origin")
                    .collect()
            })
            .unwrap_or_default()
        };
        let mut out = list("refs/heads");
        for r in list("refs/remotes") {
            let short = r.split_once('/').map(|(_, b)| b).unwrap_or(&r);
            if !out.iter().any(|b| b == short) {
                out.push(r);
            }
        }
        out
    }

    /// The newest commit on any ref touching `paths` (the whole tree when empty).
    fn newest_touching(&self, paths: &[String]) -> Option<String> {
        let mut args = vec!["log", "--all", "-1", "--format=%H"];
        if !paths.is_empty() {
            args.push("--");
            args.extend(paths.iter().map(String::as_str));
        }
        self.run(&args).filter(|s| !s.is_empty())
    }
}

/// `main@sha1:<hex>` (or legacy `main/<hex>`) → (branch, sha).
pub fn parse_revision(rev: &str) -> Option<(Option<&str>, &str)> {
    if let Some((branch, digest)) = rev.split_once('@') {
        let sha = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
        return is_hex(sha).then_some((Some(branch).filter(|b| !b.is_empty()), sha));
    }
    if let Some((branch, sha)) = rev.rsplit_once('/') {
        return is_hex(sha).then_some((Some(branch), sha));
    }
    if let Some(sha) = rev.strip_prefix("sha1:") {
        return is_hex(sha).then_some((None, sha));
    }
    is_hex(rev).then_some((None, rev))
}

fn is_hex(s: &str) -> bool {
    s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(8)]
}

/// A GitRepository to check, with the app directories (Kustomization paths) it delivers.
#[derive(Debug, Clone)]
struct Tracked {
    repo: Value,
    paths: Vec<String>,
}

async fn tracked_repositories(view: &dyn ClusterView, releases: &[Value]) -> Result<Vec<Tracked>> {
    fn add(out: &mut Vec<Tracked>, repo: Value, path: Option<String>) {
        let id = object_id(&repo);
        match out.iter_mut().find(|t| object_id(&t.repo) == id) {
            Some(t) => t.paths.extend(path),
            None => out.push(Tracked {
                repo,
                paths: path.into_iter().collect(),
            }),
        }
    }
    let mut out: Vec<Tracked> = Vec::new();
    for hr in releases {
        let labels = &hr["metadata"]["labels"];
        let (Some(ks_name), Some(ks_ns)) = (
            labels["kustomize.toolkit.fluxcd.io/name"].as_str(),
            labels["kustomize.toolkit.fluxcd.io/namespace"].as_str(),
        ) else {
            continue;
        };
        let Some(ks) = view.get(&KUSTOMIZATION, Some(ks_ns), ks_name).await? else {
            continue;
        };
        let src = &ks["spec"]["sourceRef"];
        if src["kind"] != "GitRepository" {
            continue;
        }
        let (Some(name), src_ns) = (
            src["name"].as_str(),
            src["namespace"].as_str().unwrap_or(ks_ns),
        ) else {
            continue;
        };
        if let Some(repo) = view.get(&GITREPOSITORY, Some(src_ns), name).await? {
            let path = ks["spec"]["path"]
                .as_str()
                .map(|p| p.trim_start_matches("./").trim_end_matches('/').to_string())
                .filter(|p| !p.is_empty() && p != ".");
            add(&mut out, repo, path);
        }
    }
    if out.is_empty() {
        for repo in view.list(&GITREPOSITORY, None).await? {
            add(&mut out, repo, None);
        }
    }
    Ok(out)
}

pub async fn check(
    view: &dyn ClusterView,
    releases: &[Value],
    gitops: Option<&Path>,
) -> Result<Check> {
    let check = Check::new("source", "source revision", vec![RULE]);
    let tracked = tracked_repositories(view, releases).await?;
    if tracked.is_empty() {
        return Ok(check.skipped("no GitRepository found: nothing to compare".into()));
    }
    let Some(dir) = gitops else {
        let at: Vec<String> = tracked
            .iter()
            .map(|t| {
                format!(
                    "{} is at {}",
                    object_id(&t.repo),
                    t.repo["status"]["artifact"]["revision"]
                        .as_str()
                        .unwrap_or("(no artifact)")
                )
            })
            .collect();
        return Ok(check.skipped(format!(
            "pass --gitops DIR (your clone of {}) to compare: {}",
            tracked[0].repo["spec"]["url"]
                .as_str()
                .unwrap_or("the repository"),
            at.join("; ")
        )));
    };
    let git = Git::open(dir)?;
    let mut check = check;
    for t in &tracked {
        match verdict(view, &git, t) {
            Ok(Some(f)) => check.findings.push(f),
            Ok(None) => {}
            Err(note) => check.notes.push(note),
        }
    }
    Ok(check)
}

/// A finding, nothing (Flux runs the head and has the newest app commit), or a note saying why it cannot tell.
fn verdict(
    view: &dyn ClusterView,
    git: &Git,
    t: &Tracked,
) -> std::result::Result<Option<Finding>, String> {
    let repo = &t.repo;
    let id = object_id(repo);
    let (ns, name) = (view::namespace_of(repo), view::name_of(repo));
    let spec_ref = &repo["spec"]["ref"];
    if ["tag", "semver", "commit", "name"]
        .iter()
        .any(|k| spec_ref[*k].is_string())
    {
        return Err(format!(
            "{id} tracks {}, not a branch: not compared",
            spec_ref
        ));
    }
    let Some(revision) = repo["status"]["artifact"]["revision"].as_str() else {
        let ready = view::condition(repo, "Ready")
            .and_then(|c| c["message"].as_str())
            .unwrap_or("no Ready condition");
        return Err(format!("{id} has no artifact yet ({ready})"));
    };
    let Some((rev_branch, sha)) = parse_revision(revision) else {
        return Err(format!("{id}: cannot read revision `{revision}`"));
    };
    let branch = rev_branch
        .or(spec_ref["branch"].as_str())
        .unwrap_or("master")
        .to_string();
    let at = format!("{branch}@{}", short(sha));
    let interval = repo["spec"]["interval"].as_str().unwrap_or("its interval");
    let ns_arg = ns.unwrap_or("flux-system");
    let reconcile = format!("flux reconcile source git {name} -n {ns_arg}");
    let finding = |severity: Severity, message: String, fix: String| {
        Finding::new(RULE, severity)
            .file(view.location(&GITREPOSITORY, ns, name))
            .object(id.clone())
            .path("status.artifact.revision")
            .message(message)
            .fix(fix)
    };

    let local = git.rev(&format!("refs/heads/{branch}"));
    let remote = git.rev(&format!("refs/remotes/origin/{branch}"));
    if local.is_none() && remote.is_none() {
        return Err(format!(
            "{id} tracks `{branch}`, which the clone at {} has neither as a branch nor as origin/{branch}",
            git.dir.display()
        ));
    }
    let in_branch = |c: &str| {
        [&local, &remote]
            .into_iter()
            .flatten()
            .any(|h| git.is_ancestor(c, h))
    };
    let known = git.rev(sha).is_some();

    // 1. the newest commit touching the app is not in the tracked branch
    if let Some(c) = git.newest_touching(&t.paths)
        && !c.starts_with(sha)
        && !in_branch(&c)
        && !(known && git.is_ancestor(&c, sha))
    {
        let branches = git.branches_containing(&c);
        let on = if branches.is_empty() {
            "on no branch (a detached commit)".to_string()
        } else {
            format!("on {}", branches.join(", "))
        };
        let what = if t.paths.is_empty() {
            String::new()
        } else {
            format!(" to {}", t.paths.join(", "))
        };
        let first = branches
            .first()
            .cloned()
            .unwrap_or_else(|| short(&c).to_string());
        return Ok(Some(finding(
            Severity::Error,
            format!(
                "Flux is at {at}; your fix {} (\"{}\"){what} is {on}, not on {branch}: merge it. {id} tracks branch `{branch}` of {}, so a commit on another branch never reaches the cluster.",
                short(&c),
                git.subject(&c),
                repo["spec"]["url"].as_str().unwrap_or("its repository"),
            ),
            format!(
                "merge {first} into {branch} (open and merge a pull request) and push; then `{reconcile}` or wait for its interval ({interval})"
            ),
        )));
    }

    // 2. Flux runs the head of the branch?
    if !known {
        return Ok(Some(finding(
            Severity::Warning,
            format!(
                "Flux is at {at}, a commit the clone at {} does not have: it is older than what you fetched, or newer (run `git fetch`), or --gitops is not a clone of {}.",
                git.dir.display(),
                repo["spec"]["url"].as_str().unwrap_or("its repository"),
            ),
            "run `git fetch` in the clone and doctor again".to_string(),
        )));
    }
    let head = local.clone().or(remote.clone()).unwrap_or_default();
    if head.starts_with(sha) {
        return Ok(None);
    }
    let head_name = if local.is_some() {
        branch.clone()
    } else {
        format!("origin/{branch}")
    };
    if git.is_ancestor(sha, &head) {
        let ahead = git
            .run(&["rev-list", "--count", &format!("{sha}..{head}")])
            .unwrap_or_else(|| "some".into());
        let (why, fix) = match &remote {
            Some(r) if r.starts_with(sha) && local.is_some() => (
                format!("origin/{branch} is still at {}: not pushed", short(sha)),
                format!(
                    "`git push origin {branch}`; then `{reconcile}` or wait for its interval ({interval})"
                ),
            ),
            Some(r) if git.is_ancestor(sha, r) && !r.starts_with(sha) => (
                format!(
                    "origin/{branch} is at {}: pushed, but Flux has not fetched it yet",
                    short(r)
                ),
                format!(
                    "`{reconcile}` or wait for its interval ({interval}); if it stays behind, read the GitRepository's Ready condition"
                ),
            ),
            _ => (
                "push it to the repository Flux reads".to_string(),
                format!(
                    "push {branch} to {}; then `{reconcile}`",
                    repo["spec"]["url"].as_str().unwrap_or("the repository")
                ),
            ),
        };
        return Ok(Some(finding(
            Severity::Error,
            format!(
                "Flux is at {at}; {head_name} is at {}, {ahead} commit{} ahead (\"{}\"): {why}.",
                short(&head),
                if ahead == "1" { "" } else { "s" },
                git.subject(&head),
            ),
            fix,
        )));
    }
    if git.is_ancestor(&head, sha) {
        return Ok(Some(finding(
            Severity::Warning,
            format!(
                "Flux is at {at}, ahead of your {head_name} ({}): the clone is behind what the cluster runs.",
                short(&head)
            ),
            format!("`git pull` on {branch} before changing it"),
        )));
    }
    Ok(Some(finding(
        Severity::Error,
        format!(
            "Flux is at {at}, and {head_name} is at {}: the two have diverged (was history rewritten?).",
            short(&head)
        ),
        format!(
            "bring {branch} and origin/{branch} together (rebase or merge, push), then `{reconcile}`"
        ),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions() {
        let sha = "8c1f0e3a9b27d4c6e5f1a0b9d8c7e6f5a4b3c2d1";
        assert_eq!(
            parse_revision(&format!("main@sha1:{sha}")),
            Some((Some("main"), sha))
        );
        assert_eq!(
            parse_revision(&format!("feat/x@sha1:{sha}")),
            Some((Some("feat/x"), sha))
        );
        assert_eq!(
            parse_revision(&format!("main/{sha}")),
            Some((Some("main"), sha))
        );
        assert_eq!(parse_revision(&format!("sha1:{sha}")), Some((None, sha)));
        assert_eq!(parse_revision("v1.0.0@sha256:zz"), None);
    }
}
