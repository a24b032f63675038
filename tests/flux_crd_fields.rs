//! `data/flux-crd-fields.json` is derived from the Flux release's `flux install --export` output, committed as the GitOps
//! fixture's gotk-components.yaml (provenance and sha256 in data/upstream/provenance.json). Derive it again and require
//! the committed data to be identical.

use std::path::{Path, PathBuf};

use headlamp_e2e::lint::manifest_fields::{
    FLUX_COMPONENTS_FILE, FLUX_FIELDS_FILE, FLUX_FIELDS_JSON, derive_flux_fields,
    regenerate_flux_fields, render_flux_fields,
};

const REGENERATE: &str =
    "cargo test --test flux_crd_fields -- --ignored regenerate_flux_crd_fields";

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Flux v2.9.4's components, in the project.
fn components() -> PathBuf {
    project().join(FLUX_COMPONENTS_FILE)
}

#[test]
fn committed_flux_fields_match_the_flux_release() {
    let src = components();
    let text = std::fs::read_to_string(&src).expect("read the Flux components");
    let derived =
        render_flux_fields(&derive_flux_fields(&text).expect("derive the Flux CRD fields"));
    if derived != FLUX_FIELDS_JSON {
        let diff = similar::TextDiff::from_lines(FLUX_FIELDS_JSON, derived.as_str())
            .unified_diff()
            .context_radius(2)
            .header(FLUX_FIELDS_FILE, "derived")
            .to_string();
        let shown: String = diff.lines().take(80).collect::<Vec<_>>().join("\n");
        panic!(
            "{FLUX_FIELDS_FILE} is out of date with {}.\nRegenerate it with:\n    {REGENERATE}\nand commit the result.\n\n{shown}",
            src.display()
        );
    }
}

#[test]
fn committed_flux_fields_are_small_and_cover_the_flux_kinds() {
    assert!(
        FLUX_FIELDS_JSON.len() < 200_000,
        "{} bytes",
        FLUX_FIELDS_JSON.len()
    );
    let v: serde_json::Value = serde_json::from_str(FLUX_FIELDS_JSON).expect("valid JSON");
    for (api_version, kind) in [
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
        ("source.toolkit.fluxcd.io/v1", "OCIRepository"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ] {
        assert!(
            v[api_version][kind]["properties"]["spec"]["properties"].is_object(),
            "{api_version} {kind}"
        );
    }
}

/// Rewrites the data file from the components file; run on purpose only (see `REGENERATE`).
#[test]
#[ignore = "writes data/flux-crd-fields.json; run it to regenerate"]
fn regenerate_flux_crd_fields() {
    let src = components();
    let out = project().join(FLUX_FIELDS_FILE);
    regenerate_flux_fields(&src, &out).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("wrote {} from {}", out.display(), src.display());
}
