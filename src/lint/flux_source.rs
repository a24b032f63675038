//! `flux-source-branch`: the git checkout holding the GitOps dir is on a branch other than the one its Flux
//! GitRepository tracks, and HEAD is not contained in that branch: "Flux renders main; your change is on feat/x".
//! Skipped silently outside git and on a detached HEAD (CI checkouts of a PR merge commit).

use std::path::Path;

use super::LintInput;
use crate::finding::{Finding, Severity};
use crate::gitops::Object;

pub const RULE: &str = "flux-source-branch";

/// Run git in `dir`; stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    git_result(
        crate::process::Cmd::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .run_blocking(),
    )
}

fn git_result(r: Result<crate::process::Output, crate::process::ProcessError>) -> Option<String> {
    match r {
        Ok(out) => out.success().then(|| out.stdout_text()),
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

/// What the git checkout holding the GitOps dir says, read once per lint: its current branch (None outside git or on
/// a detached HEAD) and HEAD's short hash. `lint` starts reading it once the renders ahead are started (two `git`
/// processes, run beside helm), so the rule costs no wall time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkout {
    pub branch: Option<String>,
    pub short_head: String,
}

impl Checkout {
    /// Both `git` calls at once.
    pub async fn read(dir: &Path) -> Checkout {
        let cmd = |args: &[&str]| {
            crate::process::Cmd::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .run()
        };
        let (branch, head) = futures::join!(
            cmd(&["symbolic-ref", "--short", "-q", "HEAD"]),
            cmd(&["rev-parse", "--short", "HEAD"])
        );
        Checkout {
            branch: git_result(branch).filter(|b| !b.is_empty()),
            short_head: git_result(head).unwrap_or_default(),
        }
    }

    /// The same, one call after the other (for inputs `lint` did not prepare).
    pub fn read_blocking(dir: &Path) -> Checkout {
        Checkout {
            branch: current_branch(dir),
            short_head: git(dir, &["rev-parse", "--short", "HEAD"]).unwrap_or_default(),
        }
    }
}

/// The current branch of the checkout holding `dir`; None outside git or on a detached HEAD.
pub fn current_branch(dir: &Path) -> Option<String> {
    git(dir, &["symbolic-ref", "--short", "-q", "HEAD"]).filter(|b| !b.is_empty())
}

/// Is HEAD contained in `branch` (local, or its `origin/` remote-tracking branch)?
pub fn head_contained_in(dir: &Path, branch: &str) -> bool {
    [branch.to_string(), format!("origin/{branch}")]
        .iter()
        .any(|b| git(dir, &["merge-base", "--is-ancestor", "HEAD", b]).is_some())
}

/// GitRepositories with a branch ref: (object, branch).
pub fn tracked_branches(objects: &[Object]) -> Vec<(&Object, String)> {
    objects
        .iter()
        .filter(|o| o.is("source.toolkit.fluxcd.io", "GitRepository"))
        .filter_map(|o| {
            o.value["spec"]["ref"]["branch"]
                .as_str()
                .map(|b| (o, b.to_string()))
        })
        .collect()
}

/// The decision, given the facts: current branch, tracked branches, and containment.
pub fn verdict(
    current: &str,
    tracked: &[(&Object, String)],
    contained: impl Fn(&str) -> bool,
    short_head: &str,
) -> Option<Finding> {
    if tracked.is_empty() || tracked.iter().any(|(_, b)| b == current) {
        return None;
    }
    let (o, branch) = tracked.iter().find(|(_, b)| !contained(b))?;
    if tracked.iter().any(|(_, b)| contained(b)) {
        return None;
    }
    Some(
        Finding::new(RULE, Severity::Warning)
            .file(o.location())
            .object(o.id())
            .path("spec.ref.branch")
            .message(format!(
                "Flux renders {branch}; your change is on {current}. GitRepository {} tracks branch `{branch}`, and this checkout's HEAD ({short_head}) is not contained in `{branch}`: pushing it changes nothing in the cluster.",
                o.id()
            ))
            .fix(format!(
                "merge {current} into {branch} (open a PR and merge it); or, for a test cluster only, point spec.ref.branch at {current}"
            )),
    )
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    let tracked = tracked_branches(&input.objects);
    if tracked.is_empty() {
        return Vec::new();
    }
    let read;
    let checkout = match &input.checkout {
        Some(c) => c,
        None => {
            read = Checkout::read_blocking(&input.root);
            &read
        }
    };
    let Some(current) = &checkout.branch else {
        return Vec::new();
    };
    verdict(
        current,
        &tracked,
        |b| head_contained_in(&input.root, b),
        &checkout.short_head,
    )
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    const GITREPO: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec:\n  url: ssh://git@example/homelab\n  ref: {branch: main}\n";

    fn sh(dir: &Path, args: &[&str]) {
        crate::testing::git(dir, args);
    }

    fn repo() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        sh(d.path(), &["init", "-q", "-b", "main"]);
        std::fs::write(d.path().join("a.yaml"), GITREPO).unwrap();
        sh(d.path(), &["add", "."]);
        sh(d.path(), &["commit", "-qm", "init"]);
        d
    }

    fn lint_in(dir: &Path) -> Vec<Finding> {
        let mut i = input(vec![obj(GITREPO)], vec![]);
        i.root = dir.to_path_buf();
        check(&i)
    }

    #[test]
    fn on_the_tracked_branch_is_clean() {
        let d = repo();
        assert!(lint_in(d.path()).is_empty());
    }

    #[test]
    fn feature_branch_with_unmerged_commit_warns() {
        let d = repo();
        sh(d.path(), &["checkout", "-qb", "feat/headlamp"]);
        // a branch without new commits is contained in main: no warning yet
        assert!(lint_in(d.path()).is_empty());
        std::fs::write(d.path().join("b.yaml"), "x: 1\n").unwrap();
        sh(d.path(), &["add", "."]);
        sh(d.path(), &["commit", "-qm", "fix"]);
        let f = lint_in(d.path());
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .starts_with("Flux renders main; your change is on feat/headlamp"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].severity, Severity::Warning);
        // merged into main: clean again
        sh(d.path(), &["checkout", "-q", "main"]);
        sh(d.path(), &["merge", "-q", "--ff-only", "feat/headlamp"]);
        sh(d.path(), &["checkout", "-q", "feat/headlamp"]);
        assert!(lint_in(d.path()).is_empty());
    }

    #[test]
    fn outside_git_and_detached_head_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        assert!(lint_in(d.path()).is_empty());
        let r = repo();
        sh(r.path(), &["checkout", "-q", "--detach"]);
        assert!(lint_in(r.path()).is_empty());
    }
}
