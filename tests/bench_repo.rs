//! The benchmark repository `cargo xtask gen-repo` writes ([`headlamp_e2e::benchrepo`]), small: its files and objects
//! counted on disk, and read by lint as a whole cluster-template repository (no chart at hand: each HelmRelease is a
//! `chart-unavailable` finding, nothing else is an error). Skips without kubectl (fails with
//! HEADLAMP_E2E_REQUIRE_TOOLS=1): every app's Flux Kustomization has `patches` (cluster-apps adds them), so kustomize
//! builds each.

use std::path::{Path, PathBuf};

use headlamp_e2e::benchrepo;
use headlamp_e2e::chart::ChartStore;
use headlamp_e2e::finding::Severity;
use headlamp_e2e::gitops;
use headlamp_e2e::lint;
use headlamp_e2e::testing::{kubectl, skip};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn five_apps_make_the_files_and_objects_of_five_apps() {
    let d = tempfile::tempdir().unwrap();
    benchrepo::generate(5).write(d.path()).unwrap();
    let on_disk = files(d.path());
    // README, .sops.yaml, cluster ks.yaml, 12 under flux/meta, 9 under components; per app ks.yaml,
    // app/kustomization.yaml, app/helmrelease.yaml (+ ocirepository for app-000 and app-004, + resources/config.yaml
    // for none below app-005); 5 namespace kustomizations (one app each)
    assert_eq!(on_disk.len(), 3 + 12 + 9 + 5 * 3 + 2 + 5, "{on_disk:#?}");
    let texts: Vec<(PathBuf, String)> = on_disk
        .iter()
        .map(|p| (p.clone(), std::fs::read_to_string(p).unwrap()))
        .collect();
    let c = benchrepo::Counts::of(texts.iter().map(|(p, t)| (p.as_path(), t.as_str())));
    assert_eq!(
        (c.files, c.flux_kustomizations, c.helmreleases),
        (on_disk.len(), 7, 5)
    );
}

#[tokio::test]
async fn lint_reads_the_generated_repository_as_flux_deploys_it() {
    if kubectl().is_none() {
        skip::<()>("kubectl not found (set KUBECTL_BIN)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    benchrepo::generate(5).write(d.path()).unwrap();

    let tree = gitops::load(d.path()).unwrap();
    // cluster-meta, cluster-apps and the five apps', each once
    let ks = tree
        .find("kustomize.toolkit.fluxcd.io", "Kustomization")
        .count();
    assert_eq!(ks, 7);
    let mut hrs: Vec<String> = tree
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .map(|o| o.id())
        .collect();
    hrs.sort();
    assert_eq!(
        hrs,
        [
            "HelmRelease/actions-runner-system/app-001",
            "HelmRelease/cert-manager/app-002",
            "HelmRelease/default/app-000",
            "HelmRelease/external-secrets/app-003",
            "HelmRelease/kube-system/app-004",
        ]
    );
    // cluster-apps' patch reached every child: each HelmRelease carries its upgrade defaults, and ${APP} is the app
    for hr in tree.find("helm.toolkit.fluxcd.io", "HelmRelease") {
        assert_eq!(
            hr.value["spec"]["upgrade"]["strategy"]["name"],
            "RemediateOnFailure",
            "{}",
            hr.id()
        );
        let name = hr.name();
        assert_eq!(
            hr.value["spec"]["values"]["controllers"][name]["containers"]["app"]["env"]["APP_NAME"],
            name
        );
    }
    // volsync (app-001, app-004) and gatus (app-002) components built
    let mut pvcs: Vec<String> = tree
        .objects
        .iter()
        .filter(|o| o.kind() == "PersistentVolumeClaim")
        .map(|o| o.id())
        .collect();
    pvcs.sort();
    assert_eq!(
        pvcs,
        [
            "PersistentVolumeClaim/actions-runner-system/app-001",
            "PersistentVolumeClaim/kube-system/app-004"
        ]
    );
    assert!(
        tree.objects
            .iter()
            .any(|o| o.id() == "ConfigMap/cert-manager/app-002-gatus-ep"),
        "{:#?}",
        tree.objects.iter().map(|o| o.id()).collect::<Vec<_>>()
    );

    // no chart at hand, no network: every release is chart-unavailable, and nothing else is an error
    let store = ChartStore {
        offline: true,
        ..ChartStore::default()
    };
    let report = lint::lint(d.path(), &store, None).await.expect("lint runs");
    let errors: Vec<(&str, &str)> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.rule.as_str(), f.object.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "chart-unavailable",
                "HelmRelease/actions-runner-system/app-001"
            ),
            ("chart-unavailable", "HelmRelease/cert-manager/app-002"),
            ("chart-unavailable", "HelmRelease/default/app-000"),
            ("chart-unavailable", "HelmRelease/external-secrets/app-003"),
            ("chart-unavailable", "HelmRelease/kube-system/app-004"),
        ],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.summary.counts["helmreleases"], 5);
}
