//! The rule reference in the book (`docs/src/rules/`) is what the rules' own metadata generates: a rule without its
//! page, a stale page, or a page that names no rule fails here. `cargo xtask rule-docs` rewrites them.

use std::path::PathBuf;

use headlamp_e2e::lint::rule_docs;

#[test]
fn every_rule_has_its_page_and_every_page_its_rule() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rule_docs::DIR);
    let problems = rule_docs::check(&dir).expect("read docs/src/rules");
    assert!(
        problems.is_empty(),
        "the rule pages are not what the rules generate (run `cargo xtask rule-docs`):\n{}",
        problems.join("\n")
    );
}
