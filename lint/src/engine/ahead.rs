//! Renders started ahead: while the tree is still being read (the Flux Kustomizations' `spec.path`s, each of which
//! may be a `kubectl kustomize` build), the HelmReleases the directory walk already read are rendered, when nothing
//! that follows can change them.
//!
//! Correctness never depends on the prediction: a render is memoised by its full key in [`Helm::render`] (chart
//! digest, release name, namespace, values, helm), so the final release either asks for the same key (and waits for
//! the render started here) or for another one (and renders it; the one started here was wasted, or is cancelled
//! when lint no longer needs it). The prediction only decides what is worth starting: a HelmRelease that a Flux
//! Kustomization will rewrite (a namespace, a name prefix, substituted variables, a patch that may hit it) is not.
//!
//! The typed field checks of the walked objects (the costliest rule: every CRD of a Flux install is deserialized) are
//! started here too, on a blocking thread; an object the final tree has unchanged keeps its findings.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use tokio::task::JoinSet;

use crate::chart::{Chart, ChartRef, ChartStore, Helm};
use crate::error::Result;
use crate::gitops::{self, Object, Tree};
use crate::rules::input::{Release, chart_ref};
use crate::rules::manifest_fields;

/// The releases of the walked tree that no Flux Kustomization of it will change, as far as the walk can tell: not
/// under the `spec.path` of a Flux Kustomization that rewrites HelmReleases ([`rewrites_helm_releases`]), and
/// with no `${…}` for postBuild to substitute. Only renderable ones.
pub fn predictable(walked: &Tree) -> Vec<Release> {
    let repo_root = gitops::repository_root(&walked.root);
    let rewriting: Vec<PathBuf> = walked
        .find("kustomize.toolkit.fluxcd.io", "Kustomization")
        .filter(|ks| rewrites_helm_releases(&ks.value["spec"]))
        .filter_map(
            |ks| match gitops::flux_path(&ks.value["spec"], &walked.root, &repo_root) {
                gitops::FluxPath::Found(dir) => dir.canonicalize().ok(),
                _ => None,
            },
        )
        .collect();
    let sources = walked.release_sources();
    walked
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .filter(|o| !o.value.to_string().contains("${"))
        .filter(|o| {
            let file = walked.root.join(&o.file);
            let real = file.canonicalize().unwrap_or(file);
            !rewriting.iter().any(|d| real.starts_with(d))
        })
        .filter_map(|o| Release::from_object(o, Some(&sources)).ok())
        .filter(Release::renderable)
        .collect()
}

/// Whether a Flux Kustomization `spec` may change the HelmReleases of its path (kustomize-controller v1.9.4: every
/// field below is written into the kustomization it builds, fluxcd/pkg kustomize/kustomize_generator.go, or
/// substituted after, kustomize_varsub.go): a target namespace or a name prefix/suffix, postBuild, components, common
/// metadata, the deprecated patch fields, and a patch whose target is not one plain kind other than HelmRelease.
/// kustomize selectors are anchored regular expressions (`^(?:kind)$`, sigs.k8s.io/kustomize api/types/selector.go
/// `anchorRegex`), so `Deployment` selects only Deployments. `images` only rewrites container images, which a
/// HelmRelease has none of.
pub fn rewrites_helm_releases(spec: &Value) -> bool {
    let set = |k: &str| match &spec[k] {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    };
    let plain_kind = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric());
    let patch_may_hit = |p: &Value| match p["target"]["kind"].as_str() {
        Some(k) => !plain_kind(k) || k == "HelmRelease",
        None => true,
    };
    [
        "targetNamespace",
        "namePrefix",
        "nameSuffix",
        "postBuild",
        "components",
        "commonMetadata",
        "patchesStrategicMerge",
        "patchesJson6902",
    ]
    .iter()
    .any(|k| set(k))
        || spec["patches"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(patch_may_hit))
}

/// Work started ahead, for [`super::pipeline::prepare_with`].
#[derive(Debug, Default)]
pub struct Ahead {
    /// Charts already fetched and read, by reference, or why one could not be had: neither is tried again (a
    /// repository that does not answer is waited for once).
    pub charts: HashMap<ChartRef, Result<Chart>>,
    /// The renders started ahead; dropping the set cancels those still running (their helm processes are killed).
    pub renders: JoinSet<()>,
    /// `manifest-unknown-field`/`manifest-invalid` of the walked objects, each with its findings
    /// ([`manifest_fields::check_each`]), computed on a blocking thread.
    pub fields: Option<tokio::task::JoinHandle<manifest_fields::Checked>>,
}

/// Load each chart of the predicted `releases` once and start their renders on `helm`'s slots (no renders without a
/// `helm`), then the typed field checks of the walked `objects` on a blocking thread. A render starts as soon as its
/// chart archive's digest (its cache key) is known, before the chart's files are read. A chart that cannot be had is
/// kept with why, for [`super::pipeline::prepare`] to report; a render that fails here is not kept ([`Helm::render`]):
/// `prepare` runs it again and reports it (a helm error costs one more helm process).
pub async fn start(
    releases: Vec<Release>,
    objects: impl std::future::Future<Output = Vec<Object>>,
    store: &ChartStore,
    helm: Option<&Helm>,
) -> Ahead {
    let mut charts: HashMap<ChartRef, Result<Chart>> = HashMap::new();
    let mut renders = JoinSet::new();
    if let Some(helm) = helm {
        // the archives fetched in parallel, under one deadline (`ChartStore::fetch_all`)
        let mut fetched = store
            .fetch_all(releases.iter().map(chart_ref), Some(helm))
            .await;
        for r in releases {
            let cref = chart_ref(&r);
            match charts.entry(cref) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    // the first release of a chart starts its render as soon as the archive's digest is known
                    let path = match fetched.remove(slot.key()) {
                        Some(path) => path,
                        None => store.fetch_with(slot.key(), Some(helm)).await,
                    };
                    let read = match path {
                        Ok(path) => read_starting_renders(path, helm, &mut renders, &r),
                        Err(e) => Err(e.into()),
                    };
                    slot.insert(read);
                }
                std::collections::hash_map::Entry::Occupied(slot) => {
                    if let Ok(chart) = slot.get() {
                        spawn_render(&mut renders, helm, chart.clone(), r);
                    }
                }
            }
        }
    }
    // the field checks after the renders are started: helm is the longer chain
    let objects = objects.await;
    let fields = Some(tokio::task::spawn_blocking(move || {
        manifest_fields::check_each(objects)
    }));
    Ahead {
        charts,
        renders,
        fields,
    }
}

/// The charts of the HelmReleases `followed` hands over (each Flux Kustomization's path's, as Flux applies them,
/// while the tree is read), fetched and read as they come, each chart once, in parallel (the store's one deadline):
/// into `ahead.charts`, for [`super::pipeline::prepare_with`]. A release whose chart source is not among the walked tree's
/// `sources` is left to `prepare_with`. Returns when the tree is read (the channel closed) and the fetches ended.
pub async fn fetch_followed(
    ahead: &mut Ahead,
    mut followed: tokio::sync::mpsc::UnboundedReceiver<Object>,
    sources: &Tree,
    store: &ChartStore,
    helm: Option<&Helm>,
) {
    let Some(helm) = helm else {
        // nothing to fetch with (the loader's sends to a closed channel are ignored)
        return;
    };
    let mut asked: std::collections::HashSet<ChartRef> = ahead.charts.keys().cloned().collect();
    let mut fetching: JoinSet<(ChartRef, Option<Result<Chart>>)> = JoinSet::new();
    while let Some(hr) = followed.recv().await {
        let Ok(r) = Release::from_object(&hr, Some(sources)) else {
            continue;
        };
        if !r.renderable() {
            continue;
        }
        let cref = chart_ref(&r);
        if !asked.insert(cref.clone()) {
            continue;
        }
        let (store, helm) = (store.clone(), helm.clone());
        fetching.spawn(async move {
            let got = store
                .fetch_all(std::iter::once(cref.clone()), Some(&helm))
                .await
                .remove(&cref);
            let read = got.map(|got| {
                got.and_then(|p| crate::chart::read_chart(&p))
                    .map_err(Into::into)
            });
            (cref, read)
        });
    }
    if !fetching.is_empty() {
        tracing::debug!(
            charts = fetching.len(),
            "lint: charts of the followed paths' releases fetched ahead"
        );
    }
    while let Some(done) = fetching.join_next().await {
        if let Ok((cref, Some(read))) = done {
            ahead.charts.entry(cref).or_insert(read);
        }
    }
}

/// What decides a HelmRelease's chart, given the tree's sources ([`crate::rules::release_source::resolve()`]): its
/// namespace, `spec.chart` and `spec.chartRef`. Two releases with the same key name the same chart.
pub fn chart_key(hr: &Object) -> String {
    let spec = &hr.value["spec"];
    format!(
        "{}\n{}\n{}",
        hr.namespace().unwrap_or("default"),
        spec["chart"],
        spec["chartRef"]
    )
}

/// The chart at `path`, read; the render of `first` starts on it.
fn read_starting_renders(
    path: PathBuf,
    helm: &Helm,
    renders: &mut JoinSet<()>,
    first: &Release,
) -> Result<Chart> {
    let bytes = crate::chart::read_archive(&path)?;
    let digest = crate::chart::digest(&bytes);
    // the chart's files first: whether its schemas refer to documents by URL decides how helm is run
    let chart = crate::chart::read_chart_bytes(&path, &bytes, digest)?;
    spawn_render(renders, helm, chart.clone(), first.clone());
    Ok(chart)
}

fn spawn_render(renders: &mut JoinSet<()>, helm: &Helm, chart: Chart, r: Release) {
    let helm = helm.clone();
    renders.spawn(async move {
        // only the archive's path and digest are used (the render key)
        if let Err(e) = helm
            .render(&chart, &r.release_name, &r.namespace, &r.values)
            .await
        {
            let why = crate::redact::redact(&e.to_string());
            tracing::debug!(release = %r.id(), "lint: render ahead failed (rendered again later): {why}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn releases_with_one_chart_reference_share_a_chart_key() {
        let hr = |name: &str, ns: &str, chart_ref: Value| {
            Object::plain(
                json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"chartRef": chart_ref, "values": {"app": name}}}),
                "hr.yaml",
            )
        };
        let oci =
            json!({"kind": "OCIRepository", "name": "app-template", "namespace": "flux-system"});
        let a = chart_key(&hr("a", "apps", oci.clone()));
        assert_eq!(a, chart_key(&hr("b", "apps", oci.clone())));
        // the namespace is where a reference without one is looked up
        assert_ne!(a, chart_key(&hr("a", "other", oci)));
        assert_ne!(
            a,
            chart_key(&hr(
                "a",
                "apps",
                json!({"kind": "OCIRepository", "name": "other"})
            ))
        );
    }

    #[test]
    fn what_a_flux_kustomization_does_to_helm_releases() {
        // the fixture's e2e Kustomization: a JSON patch on the cloudflared Deployment only
        let patch_deployment = json!({"path": "./apps", "patches": [
            {"target": {"kind": "Deployment", "name": "cloudflared"}, "patch": "- op: replace\n  path: /spec/replicas\n  value: 0\n"}
        ]});
        assert!(!rewrites_helm_releases(&patch_deployment));
        assert!(!rewrites_helm_releases(
            &json!({"path": "./apps", "prune": true, "images": [{"name": "x", "newTag": "1"}]})
        ));
        for spec in [
            json!({"targetNamespace": "tools"}),
            json!({"namePrefix": "home-"}),
            json!({"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"}]}}),
            json!({"components": ["../../components/common"]}),
            json!({"commonMetadata": {"labels": {"a": "b"}}}),
            json!({"patches": [{"patch": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"}]}),
            json!({"patches": [{"target": {"kind": "HelmRelease"}, "patch": "[]"}]}),
            json!({"patches": [{"target": {"kind": "Helm.*"}, "patch": "[]"}]}),
            json!({"patches": [{"target": {"name": "headlamp"}, "patch": "[]"}]}),
            json!({"patchesStrategicMerge": ["x.yaml"]}),
        ] {
            assert!(rewrites_helm_releases(&spec), "{spec}");
        }
        // empty fields are no change
        assert!(!rewrites_helm_releases(
            &json!({"targetNamespace": "", "patches": [], "postBuild": {}})
        ));
    }

    /// The releases predicted for `dir`, named, from the tree as the walk hands it over.
    fn predicted(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        gitops::load_each_then(dir, |walked| {
            out = predictable(walked).iter().map(Release::id).collect();
        })
        .unwrap();
        out
    }

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    const HR: &str = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: hl, namespace: tools}\nspec:\n  chart: {spec: {chart: headlamp, version: 0.41.0, sourceRef: {kind: HelmRepository, name: hl}}}\n  values: {replicaCount: 1}\n";
    const KS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: hl, namespace: flux-system}\nspec:\n  path: ./apps/hl\n  sourceRef: {kind: GitRepository, name: flux-system}\n";

    #[test]
    fn the_walk_predicts_what_no_flux_kustomization_rewrites() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/gitops");
        assert_eq!(predicted(&fixture), ["HelmRelease/headlamp/headlamp"]);

        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            &[("apps/hl/hr.yaml", HR), ("clusters/home/hl.yaml", KS)],
        );
        assert_eq!(predicted(d.path()), ["HelmRelease/tools/hl"]);
        // a Kustomization with a target namespace on its path: not predicted (it is rendered after the tree)
        write(
            d.path(),
            &[(
                "clusters/home/hl.yaml",
                &format!("{KS}  targetNamespace: other\n"),
            )],
        );
        assert!(predicted(d.path()).is_empty());
        // a variable postBuild would substitute (from a Kustomization the walk may not even see): not predicted
        write(
            d.path(),
            &[
                ("clusters/home/hl.yaml", KS),
                (
                    "apps/hl/hr.yaml",
                    &HR.replace("replicaCount: 1", "host: hl.${DOMAIN}"),
                ),
            ],
        );
        assert!(predicted(d.path()).is_empty());
    }
}
