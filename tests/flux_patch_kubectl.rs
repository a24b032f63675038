//! How many `kubectl kustomize` processes reading a tree starts, counted with a logging `KUBECTL_BIN` (its own test
//! binary: the variable is set for the whole process). Skips with a reason without kubectl (fails instead with
//! HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::path::Path;

use headlamp_e2e::gitops;
use headlamp_e2e::testing::{copy_tree, kubectl, project_root, script, skip};

/// The replicas of each cloudflared Deployment the tree holds, in order.
fn cloudflared_replicas(tree: &gitops::Tree) -> Vec<u64> {
    tree.objects
        .iter()
        .filter(|o| o.id() == "Deployment/headlamp/cloudflared")
        .filter_map(|o| o.value["spec"]["replicas"].as_u64())
        .collect()
}

fn runs(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn flux_patches_applied_here_start_no_kubectl() {
    let Some(real) = kubectl() else {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs");
    let bin = script(
        &dir.path().join("kubectl"),
        &format!(
            "echo \"$*\" >> '{}'\nexec '{}' \"$@\"",
            log.display(),
            real.display()
        ),
    );
    // SAFETY: the only test of this binary, set before any thread reads the environment
    unsafe { std::env::set_var("KUBECTL_BIN", &bin) };

    // fixtures/gitops: clusters/e2e scales cloudflared to 0 with a JSON patch, applied here
    let tree = gitops::load(&project_root().join("fixtures/gitops")).unwrap();
    assert_eq!(
        runs(&log),
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // clusters/home applies the path as it is, clusters/e2e with the patch
    assert_eq!(cloudflared_replicas(&tree), [2, 0]);

    // the same patch as a strategic merge patch: built with kustomize, once
    let d = tempfile::tempdir().unwrap();
    copy_tree(&project_root().join("fixtures/gitops"), d.path()).unwrap();
    let ks = d.path().join("clusters/e2e/apps.yaml");
    let text = std::fs::read_to_string(&ks).unwrap();
    let smp = text.replace(
        "        - op: replace\n          path: /spec/replicas\n          value: 0",
        "        apiVersion: apps/v1\n        kind: Deployment\n        metadata: {name: cloudflared}\n        spec: {replicas: 0}",
    );
    assert_ne!(smp, text);
    std::fs::write(&ks, smp).unwrap();
    let tree = gitops::load(d.path()).unwrap();
    assert!(tree.findings.is_empty(), "{:#?}", tree.findings);
    assert_eq!(runs(&log), 1);
    assert_eq!(cloudflared_replicas(&tree), [2, 0]);
}
