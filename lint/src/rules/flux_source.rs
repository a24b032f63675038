//! `flux-source-branch`: the git checkout holding the GitOps dir is on a branch other than the one its Flux
//! GitRepository tracks, and HEAD is not contained in that branch: "Flux renders main; your change is on feat/x".
//! Skipped silently outside git and on a detached HEAD (CI checkouts of a PR merge commit). When the tracked branch
//! is not in the checkout (neither it nor `origin/<branch>`), nothing is known: one `info` note, no warning.

use std::path::Path;

use crate::finding::{Finding, Severity};
use crate::gitops::Object;
use crate::rules::input::LintInput;

pub mod checkout;

pub use checkout::{Checkout, current_branch};

pub const RULE: &str = "flux-source-branch";

/// Whether HEAD is in a branch, as far as this checkout can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Containment {
    /// HEAD is an ancestor of (or equal to) the branch.
    Contained,
    /// The branch is in this checkout and HEAD is not in it.
    NotContained,
    /// Neither the branch nor `origin/<branch>` could be read here (a clone of another branch, a CI checkout with
    /// `fetch-depth: 1`), or git failed: nothing is known.
    Unknown,
}

/// One `git merge-base --is-ancestor` exit status, read by git's contract (git/git v2.47.3,
/// Documentation/git-merge-base.txt, `--is-ancestor`: "exit with status 0 if true, or with status 1 if not. Errors
/// are signaled by a non-zero status that is not 1." — a ref that does not exist is `fatal: Not a valid object
/// name`, exit 128, from `get_commit_reference` in builtin/merge-base.c).
pub fn is_ancestor_status(code: Option<i32>) -> Containment {
    match code {
        Some(0) => Containment::Contained,
        Some(1) => Containment::NotContained,
        _ => Containment::Unknown,
    }
}

/// Is HEAD contained in `branch` (local, or its `origin/` remote-tracking branch)? Contained when either contains
/// it; not contained when at least one of them exists and neither contains it; unknown when neither can be read.
pub fn head_contained_in(dir: &Path, branch: &str) -> Containment {
    let mut known_not = false;
    for b in [branch.to_string(), format!("origin/{branch}")] {
        let r = crate::process::Cmd::new("git")
            .arg("-C")
            .arg(dir)
            .args(["merge-base", "--is-ancestor", "HEAD", b.as_str()])
            .run_blocking();
        let state = match r {
            Ok(out) => is_ancestor_status(out.status.code()),
            Err(e) => {
                tracing::warn!("{e}");
                Containment::Unknown
            }
        };
        match state {
            Containment::Contained => return Containment::Contained,
            Containment::NotContained => known_not = true,
            Containment::Unknown => {}
        }
    }
    if known_not {
        Containment::NotContained
    } else {
        Containment::Unknown
    }
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

/// The decision, given the facts: current branch, tracked branches, and containment. A warning only when every
/// tracked branch is known not to contain HEAD; when one cannot be read and none contains HEAD, one note saying how
/// to make the check run.
pub fn verdict(
    current: &str,
    tracked: &[(&Object, String)],
    contained: impl Fn(&str) -> Containment,
    short_head: &str,
) -> Option<Finding> {
    if tracked.is_empty() || tracked.iter().any(|(_, b)| b == current) {
        return None;
    }
    let states: Vec<Containment> = tracked.iter().map(|(_, b)| contained(b)).collect();
    if states.contains(&Containment::Contained) {
        return None;
    }
    if let Some(i) = states.iter().position(|s| *s == Containment::Unknown) {
        let (o, branch) = &tracked[i];
        return Some(
            Finding::new(RULE, Severity::Info)
                .file(o.location())
                .object(o.id())
                .path("spec.ref.branch")
                .message(format!(
                    "{} tracks branch `{branch}`, which is not in this checkout (neither `{branch}` nor `origin/{branch}`; a clone of {current} only, or a CI checkout with fetch-depth 1): lint cannot tell whether HEAD ({short_head}) is in it, so it does not warn.",
                    o.id()
                ))
                .fix(format!(
                    "nothing to change; to have the check run, fetch the branch first: git fetch origin {branch}"
                )),
        );
    }
    let (o, branch) = tracked.first()?;
    Some(
        Finding::new(RULE, Severity::Warning)
            .file(o.location())
            .object(o.id())
            .path("spec.ref.branch")
            .message(format!(
                "Flux renders {branch}; your change is on {current}. {} tracks branch `{branch}`, and this checkout's HEAD ({short_head}) is not contained in `{branch}`: pushing it changes nothing in the cluster.",
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
    use super::*;
    use crate::rules::input::testutil::*;

    const GITREPO: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec:\n  url: ssh://git@example/homelab\n  ref: {branch: main}\n";

    fn sh(dir: &Path, args: &[&str]) {
        crate::test_support::git(dir, args);
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
    fn tracked_branch_not_in_the_checkout_is_a_note_not_a_warning() {
        // a clone of `master` only (or a CI checkout of a feature branch with fetch-depth 1): no `main`, no
        // `origin/main`; git exits 128 ("Not a valid object name"), which says nothing about containment
        let d = tempfile::tempdir().unwrap();
        sh(d.path(), &["init", "-q", "-b", "master"]);
        std::fs::write(d.path().join("a.yaml"), GITREPO).unwrap();
        sh(d.path(), &["add", "."]);
        sh(d.path(), &["commit", "-qm", "init"]);
        assert_eq!(head_contained_in(d.path(), "main"), Containment::Unknown);
        let f = lint_in(d.path());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(f[0].rule, RULE);
        assert!(f[0].message.contains("`main`"), "{}", f[0].message);
        assert!(f[0].fix.contains("git fetch origin main"), "{}", f[0].fix);
        // once the branch is there (here as origin/main, as `git fetch origin main` makes it), the check runs
        sh(
            d.path(),
            &["update-ref", "refs/remotes/origin/main", "HEAD"],
        );
        assert!(lint_in(d.path()).is_empty());
        std::fs::write(d.path().join("b.yaml"), "x: 1\n").unwrap();
        sh(d.path(), &["add", "."]);
        sh(d.path(), &["commit", "-qm", "fix"]);
        let f = lint_in(d.path());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn is_ancestor_exit_codes() {
        assert_eq!(is_ancestor_status(Some(0)), Containment::Contained);
        assert_eq!(is_ancestor_status(Some(1)), Containment::NotContained);
        assert_eq!(is_ancestor_status(Some(128)), Containment::Unknown);
        assert_eq!(is_ancestor_status(None), Containment::Unknown);
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
