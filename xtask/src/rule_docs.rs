//! `cargo xtask rule-docs [--check] [--dir DIR]`: write the book's rule reference (`docs/src/rules/<id>.md` and its
//! index) from the rules' own metadata ([`headlamp_e2e::lint::rule_docs`]). With `--check`, write nothing: exit 1
//! when a page is missing, stale or names no rule (each printed), 0 when they are current. Exit 2 could not run.

use std::path::PathBuf;

use headlamp_e2e::lint::rule_docs;

#[derive(clap::Args)]
pub struct Args {
    /// Write nothing; exit 1 naming each page that is missing, stale or names no rule
    #[arg(long)]
    check: bool,
    /// Directory of the rule pages [default: docs/src/rules of this project]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub async fn run(args: Args) -> u8 {
    let dir = args
        .dir
        .unwrap_or_else(|| crate::project_root().join(rule_docs::DIR));
    if args.check {
        return match rule_docs::check(&dir) {
            Ok(problems) if problems.is_empty() => {
                println!(
                    "rule-docs: {} pages in {} are current",
                    rule_docs::pages().len(),
                    dir.display()
                );
                0
            }
            Ok(problems) => {
                for p in &problems {
                    println!("{p}");
                }
                println!(
                    "rule-docs: {} page(s) to write: run `cargo xtask rule-docs`",
                    problems.len()
                );
                1
            }
            Err(e) => crate::cannot_run("rule-docs", &format!("{}: {e}", dir.display())),
        };
    }
    match rule_docs::write(&dir) {
        Ok(changed) => {
            for p in &changed {
                println!("wrote {}", p.display());
            }
            println!(
                "rule-docs: {} pages in {}, {} changed",
                rule_docs::pages().len(),
                dir.display(),
                changed.len()
            );
            0
        }
        Err(e) => crate::cannot_run("rule-docs", &format!("{}: {e}", dir.display())),
    }
}
