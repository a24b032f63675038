//! The upstream data the tests and the default runs read (data/upstream/, and the fixture's Flux components) is the
//! data its provenance names: every listed file is there with its recorded sha256, every file under data/upstream/
//! is listed, and each chart archive is the chart version its name says. A copy that drifts fails here.
//!
//! Refresh: replace a file from the upstream its entry names (`obtained` says how), then
//! `HEADLAMP_E2E_BLESS=1 cargo test --test upstream_data` rewrites the sha256 entries; review the diff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use headlamp_e2e::chart::{digest, read_chart};
use serde_json::Value;

const PROVENANCE: &str = "data/upstream/provenance.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn provenance() -> Value {
    let text = std::fs::read_to_string(root().join(PROVENANCE))
        .expect("data/upstream/provenance.json is readable");
    serde_json::from_str(&text).expect("data/upstream/provenance.json is JSON")
}

fn files_under(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).expect("data/upstream is readable") {
        let e = e.expect("a directory entry");
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            let rel = p.strip_prefix(root()).expect("under the project root");
            out.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn every_upstream_file_has_its_recorded_sha256() {
    let mut doc = provenance();
    let bless = std::env::var("HEADLAMP_E2E_BLESS").as_deref() == Ok("1");
    let mut drifted = Vec::new();
    let files = doc["files"].as_array_mut().expect("`files` is a list");
    assert!(!files.is_empty());
    for f in files.iter_mut() {
        let path = f["path"]
            .as_str()
            .expect("each entry has a path")
            .to_string();
        for key in ["repository", "ref", "path"] {
            assert!(
                f["upstream"][key].as_str().is_some_and(|s| !s.is_empty()),
                "{path}: upstream.{key} is missing"
            );
        }
        assert!(
            f["obtained"].as_str().is_some_and(|s| !s.is_empty()),
            "{path}: `obtained` is missing"
        );
        let bytes = std::fs::read(root().join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let actual = digest(&bytes);
        if f["sha256"] != actual.as_str() {
            drifted.push(format!("{path}: recorded {}, actual {actual}", f["sha256"]));
            f["sha256"] = actual.into();
        }
    }
    if bless && !drifted.is_empty() {
        let text = serde_json::to_string_pretty(&doc).expect("JSON") + "\n";
        std::fs::write(root().join(PROVENANCE), text).expect("writing the provenance");
        eprintln!("rewrote {PROVENANCE}:\n{}", drifted.join("\n"));
        return;
    }
    assert!(
        drifted.is_empty(),
        "upstream copies differ from their recorded sha256 (refresh them from the upstream, then \
         HEADLAMP_E2E_BLESS=1 cargo test --test upstream_data):\n{}",
        drifted.join("\n")
    );
}

#[test]
fn every_file_under_data_upstream_is_listed() {
    let doc = provenance();
    let listed: BTreeSet<String> = doc["files"]
        .as_array()
        .expect("`files` is a list")
        .iter()
        .filter_map(|f| f["path"].as_str().map(str::to_string))
        .collect();
    let mut present = BTreeSet::new();
    files_under(&root().join("data/upstream"), &mut present);
    present.remove(PROVENANCE);
    let unlisted: Vec<_> = present.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "files under data/upstream/ without provenance: {unlisted:?}"
    );
}

#[test]
fn each_chart_archive_is_the_version_its_name_says() {
    let dir = root().join("data/upstream/charts");
    let mut seen = Vec::new();
    for e in std::fs::read_dir(&dir).expect("data/upstream/charts") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name")
            .to_string();
        let version = name
            .strip_prefix("headlamp-")
            .and_then(|v| v.strip_suffix(".tgz"))
            .unwrap_or_else(|| panic!("{name}: not headlamp-<version>.tgz"));
        let chart = read_chart(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(chart.name, "headlamp", "{name}");
        assert_eq!(chart.version, version, "{name}");
        seen.push(version.to_string());
    }
    // the versions the tests and fixtures name: the pinned one, the broken tag's, the bump targets
    for v in ["0.38.0", "0.41.0", "0.42.0", "0.45.0"] {
        assert!(
            seen.iter().any(|s| s == v),
            "headlamp-{v}.tgz is missing from data/upstream/charts"
        );
    }
}
