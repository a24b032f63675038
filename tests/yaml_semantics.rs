//! YAML read by lint is YAML as Flux reads it: a file read by lint and the same file read through the real
//! `kubectl kustomize` (the kustomize that kustomize-controller builds with) give the same JSON values. Skips with a
//! reason without kubectl (fails instead with HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use headlamp_e2e::gitops::{self, Object};
use headlamp_e2e::lint::{LintInput, manifest_fields};
use headlamp_e2e::testing::{kubectl, project_root, skip};
use serde_json::{Value, json};

fn fixture(rel: &str) -> PathBuf {
    project_root().join("fixtures").join(rel)
}

fn by_id(objects: impl IntoIterator<Item = Value>) -> BTreeMap<String, Value> {
    objects
        .into_iter()
        .map(|v| (Object::plain(v.clone(), "x").id(), v))
        .collect()
}

/// What lint reads from `dir` itself.
fn read_by_lint(dir: &Path) -> BTreeMap<String, Value> {
    let tree = gitops::load(dir).expect("lint reads the directory");
    by_id(tree.objects.into_iter().map(|o| o.value))
}

/// What `kubectl kustomize dir` writes, read back.
fn read_by_kustomize(kubectl: &Path, dir: &Path) -> BTreeMap<String, Value> {
    let out = std::process::Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    by_id(gitops::parse_yaml_documents(&text, Path::new("kustomize output")).unwrap())
}

#[test]
fn tricky_scalars_read_as_kustomize_reads_them() {
    let lint = read_by_lint(&fixture("yaml-semantics"));
    let v = &lint["Tricky/tricky"]["values"];
    // what kustomize v5.7.1 gives (kubectl kustomize), written out so the test says what it checks
    let expected = json!({
        "octal": 256, "octal12": 256, "negativeOctal": -256, "hex": 31, "binary": 5,
        "underscores": 8080, "underscoreFloat": 1000.5, "notOctal": 9, "float": 1, "exponent": 1000,
        "big": 1e20, "plus": 12, "leadingUnderscore": "_12",
        "yes": "yes", "no": "no", "on": "on", "off": "off", "y": "y", "bool": true,
        "tilde": null, "nullWord": null, "empty": null,
        "quotedNumber": "0400", "singleQuoted": "8080", "quotedBool": "true",
        "date": "2024-01-02T00:00:00Z", "timestamp": "2024-01-02T03:04:05.5+02:00", "quotedDate": "2024-01-02",
        "strTag": "0400", "intTag": 256, "floatTag": 3, "block": "0400\n",
        "merged": {"a": 1, "b": 3}, "mergedAfter": {"a": 1, "b": 4}, "mergedList": {"a": 1, "b": 20, "c": 30},
    });
    assert_eq!(v, &expected);
}

#[test]
fn lint_and_kubectl_kustomize_read_the_same_values() {
    let Some(kubectl) = kubectl().or_else(|| skip("kubectl not found (set KUBECTL_BIN)")) else {
        return;
    };
    for dir in ["yaml-semantics", "layouts/yaml/apps/cloudflared"] {
        let dir = fixture(dir);
        let lint = read_by_lint(&dir);
        let kustomize = read_by_kustomize(&kubectl, &dir);
        assert!(!lint.is_empty());
        assert_eq!(
            lint.keys().collect::<Vec<_>>(),
            kustomize.keys().collect::<Vec<_>>()
        );
        for (id, value) in &lint {
            assert_eq!(value, &kustomize[id], "{id} in {}", dir.display());
        }
    }
}

#[test]
fn kubectl_kustomize_rejects_a_duplicate_key_as_lint_does() {
    let Some(kubectl) = kubectl().or_else(|| skip("kubectl not found (set KUBECTL_BIN)")) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let text =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\ndata:\n  a: x\n  b: y\n  a: z\n";
    std::fs::write(d.path().join("cm.yaml"), text).unwrap();
    std::fs::write(
        d.path().join("kustomization.yaml"),
        "resources:\n- cm.yaml\n",
    )
    .unwrap();
    let out = std::process::Command::new(&kubectl)
        .arg("kustomize")
        .arg(d.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let kustomize = String::from_utf8_lossy(&out.stderr);
    let lint = gitops::parse_yaml_documents(text, Path::new("cm.yaml"))
        .unwrap_err()
        .to_string();
    // go-yaml's words on both sides
    assert!(
        kustomize.contains("line 8: mapping key \"a\" already defined at line 6"),
        "{kustomize}"
    );
    assert_eq!(
        lint,
        "cm.yaml:8:3: YAML syntax error: mapping key \"a\" already defined at line 6"
    );
}

fn manifest_findings(yaml: &str) -> Vec<headlamp_e2e::finding::Finding> {
    let objects = gitops::parse_yaml_documents(yaml, Path::new("deployment.yaml"))
        .unwrap()
        .into_iter()
        .map(|v| Object::plain(v, "deployment.yaml"))
        .collect();
    let input = LintInput {
        objects,
        ..LintInput::default()
    };
    manifest_fields::check(&input)
}

#[test]
fn an_octal_default_mode_is_an_integer_and_yes_is_still_a_string() {
    let deployment =
        std::fs::read_to_string(fixture("layouts/yaml/apps/cloudflared/deployment.yaml")).unwrap();
    assert_eq!(manifest_findings(&deployment), Vec::new());
    let yes = deployment.replace(
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: yes",
    );
    let f = manifest_findings(&yes);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].rule, manifest_fields::INVALID_RULE);
    assert!(f[0].message.contains("string \"yes\""), "{}", f[0].message);
}

#[test]
fn one_bad_file_is_listed_and_the_others_are_read() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a-good.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("b-bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n",
    )
    .unwrap();
    std::fs::create_dir(d.path().join("overlay")).unwrap();
    std::fs::write(
        d.path().join("overlay/kustomization.yaml"),
        "resources:\n  - x.yaml\nresources: []\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("z-dup.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  name: dup2\n",
    )
    .unwrap();
    let tree = gitops::load_each(d.path()).unwrap();
    assert_eq!(
        tree.objects.iter().map(Object::id).collect::<Vec<_>>(),
        ["ConfigMap/good"]
    );
    let mut unreadable: Vec<String> = tree.unreadable.iter().map(|e| e.to_string()).collect();
    unreadable.sort();
    assert_eq!(unreadable.len(), 3, "{unreadable:#?}");
    assert!(
        unreadable[0].starts_with("b-bad.yaml:"),
        "{}",
        unreadable[0]
    );
    assert_eq!(
        unreadable[1],
        "overlay/kustomization.yaml:3:1: YAML syntax error: mapping key \"resources\" already defined at line 1"
    );
    assert_eq!(
        unreadable[2],
        "z-dup.yaml:5:3: YAML syntax error: mapping key \"name\" already defined at line 4"
    );
    // `load` keeps failing on the first one
    assert!(gitops::load(d.path()).is_err());
}
