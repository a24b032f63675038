//! Every rule's example (the Example of its page in the book) is reported by lint as that rule: the example is
//! written out as a tree and linted with the real helm and charts, and a finding of the rule must be among what lint
//! says. A document (`---`) whose first line is a comment naming a file (`# apps/app.yaml`, `# clusters/home/apps.yaml:
//! …`) is written to that file, a document without one to the file before it, the first to `x.yaml`; a first line
//! naming `--gitops DIR` lints that directory of the tree. Render tier: skips without helm (fails with
//! `HEADLAMP_E2E_REQUIRE_TOOLS=1`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use headlamp_e2e::lint::{self, documented_ids};
use headlamp_e2e::testing::{project_root, render_tools, write_file};

/// The file a document's first line names, if it names one.
fn named_file(first_line: &str) -> Option<&str> {
    let rest = first_line.strip_prefix("# ")?;
    let path = rest
        .split([' ', ':', ','])
        .next()
        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))?;
    path.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'))
        .then_some(path)
}

/// The files of an example: path → text.
fn files_of(example: &str) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut current = "x.yaml".to_string();
    for doc in example.split("\n---\n") {
        if let Some(name) = named_file(doc.lines().next().unwrap_or("")) {
            current = name.to_string();
        }
        files.entry(current.clone()).or_default().push(doc);
    }
    files
        .into_iter()
        .map(|(name, docs)| {
            let mut text = docs.join("\n---\n");
            if !text.ends_with('\n') {
                text.push('\n');
            }
            (name, text)
        })
        .collect()
}

#[test]
fn an_example_is_split_into_the_files_it_names() {
    let files = files_of("# a/one.yaml: the first\nx: 1\n---\ny: 2\n---\n# b/two.yml\nz: 3\n");
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["a/one.yaml", "b/two.yml"]
    );
    assert_eq!(
        files["a/one.yaml"],
        "# a/one.yaml: the first\nx: 1\n---\ny: 2\n"
    );
    assert_eq!(files_of("x: 1\n").keys().collect::<Vec<_>>(), ["x.yaml"]);
    assert_eq!(named_file("# fixtures/broken/extra-volumes: chart"), None);
}

#[tokio::test]
async fn every_rule_example_is_reported_as_its_rule() {
    let Some((helm, mut store)) = render_tools("headlamp", "0.41.0") else {
        return;
    };
    // the charts the examples name: the Headlamp chart, and the test charts of fixtures/charts packaged here
    let charts = tempfile::tempdir().unwrap();
    let bundled = store.charts_dir.clone().expect("a charts directory");
    std::fs::copy(
        bundled.join("headlamp-0.41.0.tgz"),
        charts.path().join("headlamp-0.41.0.tgz"),
    )
    .unwrap();
    for chart in ["random-lines", "remote-schema"] {
        let out = Command::new(&helm.bin)
            .arg("package")
            .arg(project_root().join("fixtures/charts").join(chart))
            .arg("-d")
            .arg(charts.path())
            .output()
            .expect("helm runs");
        assert!(out.status.success(), "helm package {chart}: {out:?}");
    }
    store.charts_dir = Some(charts.path().to_path_buf());
    let mut wrong = Vec::new();
    for (id, doc) in documented_ids() {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files_of(doc.example) {
            write_file(d.path(), &name, text);
        }
        // a repository of its own: Flux paths are read from its root, and no branch of this checkout is looked at
        let git = Command::new("git")
            .args(["init", "-q"])
            .arg(d.path())
            .status()
            .expect("git runs");
        assert!(git.success());
        let first = doc.example.lines().next().unwrap_or("");
        let dir = match first.split("--gitops ").nth(1) {
            Some(rest) => d.path().join(rest.split(['`', ' ']).next().unwrap_or("")),
            None => d.path().to_path_buf(),
        };
        match lint::lint(Path::new(&dir), &store, Some(&helm)).await {
            Ok(report) if report.findings.iter().any(|f| f.rule == id) => {}
            Ok(report) => wrong.push(format!(
                "{id}: lint reports {:?}",
                report
                    .findings
                    .iter()
                    .map(|f| f.rule.as_str())
                    .collect::<Vec<_>>()
            )),
            Err(e) => wrong.push(format!("{id}: lint could not run: {e}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "rule examples lint does not report as their rule:\n{}",
        wrong.join("\n")
    );
}
