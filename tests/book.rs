//! The book (`docs/`, mdBook) and the README: every page of `docs/src` is in `SUMMARY.md` and every link of
//! `SUMMARY.md` is a page; every relative link of a page (and of the README) names a file that exists; the README
//! stays short (what it is, the two commands, the tiers, links), the rest is in the book.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.md` file below `dir`, relative to it, `/`-separated.
fn pages(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                let rel = path.strip_prefix(base).expect("below the base");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The targets of the Markdown links `[text](target)` of `text`, outside fenced code blocks and code spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // code spans hold text, not links
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else {
                break;
            };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// The relative links of `file` whose target does not exist (anchors dropped; URLs and in-page anchors skipped).
fn broken_links(file: &Path) -> Vec<String> {
    let dir = file.parent().expect("a file has a directory");
    link_targets(&read(file))
        .into_iter()
        .filter(|t| {
            !t.is_empty() && !t.contains("://") && !t.starts_with('#') && !t.starts_with("mailto:")
        })
        .filter(|t| {
            let path = t.split('#').next().unwrap_or(t);
            !dir.join(path).exists()
        })
        .map(|t| format!("{}: {t}", file.display()))
        .collect()
}

#[test]
fn every_page_is_in_the_summary_and_every_summary_link_is_a_page() {
    let src = root().join("docs/src");
    let summary = read(&src.join("SUMMARY.md"));
    let linked: Vec<String> = link_targets(&summary)
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect();
    assert!(!linked.is_empty(), "SUMMARY.md links no page");
    let on_disk = pages(&src);
    let missing: Vec<&String> = linked.iter().filter(|l| !on_disk.contains(l)).collect();
    assert!(
        missing.is_empty(),
        "SUMMARY.md links pages that do not exist: {missing:?}"
    );
    let unlisted: Vec<&String> = on_disk
        .iter()
        .filter(|p| p.as_str() != "SUMMARY.md" && !linked.contains(p))
        .collect();
    assert!(unlisted.is_empty(), "pages not in SUMMARY.md: {unlisted:?}");
    let mut sorted = linked.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), linked.len(), "SUMMARY.md links a page twice");
}

#[test]
fn every_rule_page_is_in_the_summary() {
    let summary = read(&root().join("docs/src/SUMMARY.md"));
    for (id, _) in headlamp_e2e::lint::documented_ids() {
        assert!(
            summary.contains(&format!("(rules/{id}.md)")),
            "SUMMARY.md does not link rules/{id}.md"
        );
    }
}

#[test]
fn relative_links_of_the_book_and_the_readme_lead_somewhere() {
    let src = root().join("docs/src");
    let mut broken: Vec<String> = pages(&src)
        .iter()
        .flat_map(|p| broken_links(&src.join(p)))
        .collect();
    broken.extend(broken_links(&root().join("README.md")));
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_readme_is_at_most_250_lines() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines: keep it to what it is, the two commands, the tiers and links; the rest goes to docs/"
    );
}

#[test]
fn a_link_in_code_is_not_a_link() {
    let text = "see [a](a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d](d.md#x)\n";
    assert_eq!(link_targets(text), ["a.md", "d.md#x"]);
}
