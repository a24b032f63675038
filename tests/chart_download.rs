//! Chart lookup through a repository's index.yaml: digest verified, then cached. A local HTTP server (wiremock)
//! stands in for the Helm repository.

use headlamp_e2e::chart::{ChartRef, ChartStore, read_chart};
use headlamp_e2e::tools::Error;
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A minimal chart archive: Chart.yaml + values.yaml under `demo/`.
fn tiny_chart() -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, body) in [
        (
            "demo/Chart.yaml",
            "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: 4.5.6\n",
        ),
        ("demo/values.yaml", "image:\n  tag: \"\"\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn index(url: &str, digest: &str) -> String {
    format!(
        "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.2.3\n    urls: [\"{url}\"]\n    digest: {digest}\n  - name: demo\n    version: 1.0.0\n    urls: [\"demo-1.0.0.tgz\"]\n    digest: 00\n"
    )
}

fn demo(server: &MockServer, version: &str) -> ChartRef {
    ChartRef {
        name: "demo".into(),
        version: version.into(),
        repo_url: Some(format!("{}/repo/", server.uri())),
    }
}

async fn serve(server: &MockServer, index_text: String, chart: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path("/repo/index.yaml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(index_text))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repo/charts/demo-1.2.3.tgz"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(chart))
        .mount(server)
        .await;
}

#[tokio::test]
async fn downloads_verifies_and_caches() {
    let server = MockServer::start().await;
    let chart = tiny_chart();
    let digest = hex::encode(Sha256::digest(&chart));
    serve(
        &server,
        index("charts/demo-1.2.3.tgz", &digest),
        chart.clone(),
    )
    .await;
    let cache = tempfile::tempdir().unwrap();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(cache.path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let p = store.fetch(&demo(&server, "1.2.3")).await.unwrap();
    // cached under the repository's own directory (the cache is keyed by repository)
    let repo_dir = store.repo_cache_dir(&demo(&server, "1.2.3")).unwrap();
    assert!(repo_dir.starts_with(cache.path()));
    assert_eq!(p, repo_dir.join("demo-1.2.3.tgz"));
    assert_eq!(std::fs::read(&p).unwrap(), chart);
    let meta = read_chart(&p).unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.app_version.as_deref()),
        ("demo", Some("4.5.6"))
    );

    // second lookup of the same repository is served from the cache: the repository no longer answers
    let again = demo(&server, "1.2.3");
    server.reset().await;
    assert_eq!(store.fetch(&again).await.unwrap(), p);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn digest_mismatch_is_refused_and_not_cached() {
    let server = MockServer::start().await;
    serve(
        &server,
        index("charts/demo-1.2.3.tgz", &"ab".repeat(32)),
        tiny_chart(),
    )
    .await;
    let cache = tempfile::tempdir().unwrap();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(cache.path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let e = store.fetch(&demo(&server, "1.2.3")).await.unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(store.local(&demo(&server, "1.2.3")).is_none());
}

#[tokio::test]
async fn version_missing_from_index_names_what_was_tried() {
    let server = MockServer::start().await;
    serve(&server, index("charts/demo-1.2.3.tgz", "00"), tiny_chart()).await;
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(tempfile::tempdir().unwrap().path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let e = store
        .fetch(&demo(&server, "9.9.9"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("chart demo 9.9.9 not found") && e.contains("/repo/index.yaml"),
        "{e}"
    );
}

#[tokio::test]
async fn absolute_chart_urls_and_http_errors() {
    let server = MockServer::start().await;
    let chart = tiny_chart();
    let digest = hex::encode(Sha256::digest(&chart));
    let abs = format!("{}/repo/charts/demo-1.2.3.tgz", server.uri());
    serve(&server, index(&abs, &digest), chart).await;
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(tempfile::tempdir().unwrap().path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    assert!(store.fetch(&demo(&server, "1.2.3")).await.is_ok());
    // 1.0.0 is listed but its file is not served
    let e = store
        .fetch(&demo(&server, "1.0.0"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 404"), "{e}");
}

#[tokio::test]
async fn lint_asks_a_repository_that_fails_once_per_chart() {
    // the release is read ahead of the tree and again after it: the repository is still asked once
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repo/index.yaml"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("hr.yaml"),
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: demo, namespace: apps}}\nspec: {{url: '{}/repo/'}}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: demo, namespace: apps}}\nspec:\n  chart: {{spec: {{chart: demo, version: 1.2.3, sourceRef: {{kind: HelmRepository, name: demo}}}}}}\n",
            server.uri()
        ),
    )
    .unwrap();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(d.path().join("cache")),
        offline: false,
        ..Default::default()
    };
    // no helm runs: the chart cannot be had
    let helm = headlamp_e2e::chart::Helm::new("/nonexistent/helm").with_cache(None);
    let report = headlamp_e2e::lint::lint(d.path(), &store, Some(&helm))
        .await
        .expect("lint runs");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "chart-unavailable"),
        "{:#?}",
        report.findings
    );
    let asked = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/repo/index.yaml")
        .count();
    assert_eq!(asked, 1);
}

#[tokio::test]
async fn the_download_deadline_is_one_for_every_call_on_a_store_and_its_clones() {
    // lint fetches twice (ahead of the tree, then what is still missing): the second call gets what is left of the
    // first call's deadline, not a new one, so a slow repository costs the deadline once (issue 23)
    let slow = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repo/index.yaml"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)))
        .mount(&slow)
        .await;
    let quick = MockServer::start().await;
    let chart = tiny_chart();
    let digest = hex::encode(Sha256::digest(&chart));
    Mock::given(method("GET"))
        .and(path("/repo/index.yaml"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(index("charts/demo-1.2.3.tgz", &digest))
                .set_delay(std::time::Duration::from_millis(300)),
        )
        .mount(&quick)
        .await;
    Mock::given(method("GET"))
        .and(path("/repo/charts/demo-1.2.3.tgz"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(chart))
        .mount(&quick)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(cache.path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let deadline = std::time::Duration::from_secs(1);
    let first = store
        .fetch_all_within([demo(&slow, "1.2.3")], None, deadline)
        .await;
    let err = first.values().next().unwrap().as_ref().unwrap_err();
    assert!(
        err.to_string().contains("did not finish within 1 s"),
        "{err}"
    );
    // a fresh deadline would have had the quick repository's chart: the spent one does not
    let second = store
        .clone()
        .fetch_all_within([demo(&quick, "1.2.3")], None, deadline)
        .await;
    let err = second.values().next().unwrap().as_ref().unwrap_err();
    assert!(
        err.to_string().contains("did not finish within 1 s"),
        "{err}"
    );
    // and a new store has its own
    let fresh = ChartStore {
        charts_dir: None,
        cache_dir: Some(cache.path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let got = fresh
        .fetch_all_within([demo(&quick, "1.2.3")], None, deadline)
        .await;
    assert!(got.values().next().unwrap().is_ok(), "{got:?}");
}

#[tokio::test]
async fn the_charts_of_followed_paths_are_fetched_as_they_come_each_once() {
    // issue 22: the HelmReleases a Flux Kustomization's path gives are handed over while the tree is read; their
    // charts are fetched then (each once), not after the whole tree
    let server = MockServer::start().await;
    let chart = tiny_chart();
    let digest = hex::encode(Sha256::digest(&chart));
    serve(&server, index("charts/demo-1.2.3.tgz", &digest), chart).await;
    let obj = |yaml: String| {
        let v: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
        headlamp_e2e::gitops::Object::plain(v, "apps/hr.yaml")
    };
    let repo = obj(format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: demo, namespace: apps}}\nspec: {{url: '{}/repo/'}}\n",
        server.uri()
    ));
    let hr = |name: &str, source: &str| {
        obj(format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n  chart: {{spec: {{chart: demo, version: 1.2.3, sourceRef: {{kind: HelmRepository, name: {source}}}}}}}\n"
        ))
    };
    let sources = headlamp_e2e::gitops::Tree {
        objects: vec![repo],
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for o in [hr("a", "demo"), hr("b", "demo"), hr("c", "elsewhere")] {
        tx.send(o).unwrap();
    }
    drop(tx);
    let cache = tempfile::tempdir().unwrap();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(cache.path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    // an HTTP repository is fetched without helm; helm only has to be named
    let helm = headlamp_e2e::chart::Helm::new("/nonexistent/helm").with_cache(None);
    let mut ahead = headlamp_e2e::lint::ahead::Ahead::default();
    headlamp_e2e::lint::ahead::fetch_followed(&mut ahead, rx, &sources, &store, Some(&helm)).await;
    // the two releases of repository demo share one chart; the third's repository is not in the tree, so its chart
    // is looked up locally only (as lint would after the tree): not at hand
    assert_eq!(ahead.charts.len(), 2, "{:?}", ahead.charts.keys());
    let got = ahead
        .charts
        .get(&demo(&server, "1.2.3"))
        .expect("demo 1.2.3");
    assert_eq!(got.as_ref().expect("read").name, "demo");
    let local = ChartRef {
        repo_url: None,
        ..demo(&server, "1.2.3")
    };
    assert!(ahead.charts[&local].is_err());
    let asked = |p: &'static str| {
        let server = &server;
        async move {
            server
                .received_requests()
                .await
                .unwrap_or_default()
                .iter()
                .filter(|r| r.url.path() == p)
                .count()
        }
    };
    assert_eq!(asked("/repo/index.yaml").await, 1);
    assert_eq!(asked("/repo/charts/demo-1.2.3.tgz").await, 1);
}
