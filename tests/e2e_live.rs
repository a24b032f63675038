//! The live scenarios: a real k3s, Flux and Headlamp. They need Docker AND a registry (images for k3s, Flux,
//! Headlamp), so they are ignored here; `cargo xtask e2e` runs the same thing with reports. To run them through the
//! test harness: `cargo test --test e2e_live -- --ignored`.

use headlamp_e2e::e2e::{self, Options};
use headlamp_e2e::report::Progress;
use headlamp_e2e::scenario;
use headlamp_e2e::testing::project_root;
use rstest::rstest;

#[rstest]
#[case::baseline("baseline")]
#[case::pinned_image_tag("pinned-image-tag")]
#[case::readonly_home("readonly-home")]
#[case::extra_volumes("extra-volumes")]
#[case::stuck_helmrelease("stuck-helmrelease")]
#[case::feature_branch("feature-branch")]
#[ignore = "needs Docker and a registry: cargo xtask e2e"]
#[tokio::test(flavor = "multi_thread")]
async fn scenario_passes_on_a_fresh_cluster(#[case] name: &str) {
    headlamp_e2e::install_crypto_provider();
    let all = scenario::load_dir(&project_root().join("scenarios")).unwrap();
    let selected = scenario::select(&all, &[name.to_string()], None).unwrap();
    let outcome = e2e::run(
        Options {
            gitops: project_root().join("fixtures/gitops"),
            scenarios: selected,
            keep: false,
            fail_fast: false,
            k3s_image: None,
            flux_components: Some(
                project_root()
                    .join("fixtures/gitops/clusters/home/flux-system/gotk-components.yaml"),
            ),
            out_root: project_root().join("target/e2e"),
            cluster: Default::default(),
            private_root: e2e::default_private_root(),
            budget: None,
            image_cache: None,
            registry_mirror: None,
        },
        &Progress::with_stderr(),
    )
    .await
    .expect("setup");
    eprintln!("{}", outcome.report.to_table(false));
    assert!(
        outcome.report.is_success(),
        "see {}",
        outcome.run_dir.display()
    );
}
