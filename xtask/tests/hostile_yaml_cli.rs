//! Files in encodings a pull request may carry, through `xtask lint --gitops DIR --format json` (issue 23, item 8): a
//! file that is not UTF-8 is a `yaml-invalid` finding on that file, UTF-16 with a byte order mark is read as go-yaml
//! reads it, and a byte order mark starting a later document is skipped as go-yaml skips it; the rest of the tree is
//! linted and lint ends as a linter ends (exit 1 with findings, JSON on stdout), never exit 2.

use std::process::{Command, Stdio};

fn write(dir: &std::path::Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn cm(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: a}}\ndata: {{k: v}}\n"
    )
}

#[test]
fn one_bad_encoding_is_a_finding_and_the_others_are_linted() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    write(&tree, "apps/plain.yaml", cm("plain").as_bytes());
    write(
        &tree,
        "apps/latin1.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9, namespace: a}\n",
    );
    let utf16le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(cm("utf16le").encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    write(&tree, "apps/utf16le.yaml", &utf16le);
    let utf16be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(cm("utf16be").encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    write(&tree, "apps/utf16be.yaml", &utf16be);
    // two files concatenated, each with its BOM
    write(
        &tree,
        "apps/concat.yaml",
        format!("\u{FEFF}{}---\n\u{FEFF}{}", cm("first"), cm("second")).as_bytes(),
    );
    // a kustomization file that is not UTF-8: that kustomization is a finding, the rest is linted
    write(
        &tree,
        "other/kustomization.yaml",
        b"resources: [caf\xe9.yaml]\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["lint", "--gitops"])
        .arg(&tree)
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .env("HEADLAMP_E2E_CACHE", d.path().join("cache"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let findings: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!(findings[0].0, "yaml-invalid");
    assert_eq!(findings[0].1, "apps/latin1.yaml");
    assert!(
        findings[0].2.contains("invalid trailing UTF-8 octet"),
        "{findings:?}"
    );
    assert_eq!(findings[1].0, "yaml-invalid");
    assert_eq!(findings[1].1, "other/kustomization.yaml");
    assert!(findings[1].2.contains("not UTF-8"), "{findings:?}");
    // plain, both UTF-16 files and both documents of concat.yaml
    assert_eq!(report["summary"]["objects"], 5, "{stdout}");
}
