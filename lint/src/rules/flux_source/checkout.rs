//! [`Checkout`]: what the git checkout holding the GitOps dir says (its branch and HEAD), read with `git`.

use std::path::Path;

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
