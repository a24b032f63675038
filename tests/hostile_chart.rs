//! Issue 23, helm and chart handling: a hostile tree's release names, namespaces, repositories and charts. Markers in a
//! temp dir: no marker printed, no file created, no request logged by a local listener (127.0.0.1 only).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use headlamp_e2e::chart::{self, ChartRef, ChartStore, Helm};
use headlamp_e2e::finding::Finding;
use headlamp_e2e::lint;
use headlamp_e2e::testing::script;
use headlamp_e2e::tools::Error;
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A chart archive `<name>/…` with `Chart.yaml`, `values.yaml` and one template that puts `fullnameOverride` in a
/// ConfigMap (so a value read with `--set-file` would show in the render).
fn chart_tgz(name: &str, version: &str, values: &[u8]) -> Vec<u8> {
    let chart_yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  full: {{ .Values.fullnameOverride | default \"none\" | quote }}\n";
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (file, body) in [
        ("Chart.yaml", chart_yaml.as_bytes()),
        ("values.yaml", values),
        ("templates/cm.yaml", template.as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{file}"), body)
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// The real helm when `$HELM_BIN` names one.
fn real_helm() -> Option<PathBuf> {
    std::env::var_os("HELM_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

/// A helm that logs each run's arguments (one per line, then `====`) to `dir/argv`, with `$KUBECONFIG` set to
/// `kubeconfig`; it runs the real helm when there is one, else prints a ConfigMap named after the argument after
/// `--`. `stdin_to_stderr`: it fails instead, printing the values it got (as helm's schema errors quote them).
fn logging_helm(dir: &Path, kubeconfig: &Path, stdin_to_stderr: bool) -> PathBuf {
    let log = dir.join("argv");
    let body = if stdin_to_stderr {
        "echo \"Error: values don't meet the specifications: $(cat)\" >&2\nexit 1".to_string()
    } else if let Some(real) = real_helm() {
        format!("exec {} \"$@\"", real.display())
    } else {
        "cat > /dev/null\nrel=; seen=0; for a in \"$@\"; do if [ $seen = 1 ]; then rel=$a; break; fi; [ \"$a\" = -- ] && seen=1; done\nprintf -- '---\\n# Source: demo/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: %s\\n' \"$rel\"".to_string()
    };
    script(
        &dir.join("helm"),
        &format!(
            "export KUBECONFIG={}\nfor a in \"$@\"; do echo \"$a\" >> {log}; done\necho ==== >> {log}\n{body}",
            kubeconfig.display(),
            log = log.display()
        ),
    )
}

fn runs(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("argv"))
        .unwrap_or_default()
        .split("====\n")
        .filter(|r| !r.is_empty())
        .map(|r| r.lines().map(str::to_string).collect())
        .collect()
}

/// A kubeconfig for a "cluster" at a local listener that counts connections.
fn listening_kubeconfig(dir: &Path) -> (PathBuf, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    (path, seen)
}

const REPO: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: demo, namespace: apps}\nspec: {url: 'https://charts.example.invalid/'}\n";

fn release(name: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n  chart: {{spec: {{chart: demo, version: 1.2.3, sourceRef: {{kind: HelmRepository, name: demo}}}}}}\n{extra}"
    )
}

/// Lint `tree_yaml` (one file) with the chart `demo 1.2.3` local and `helm`.
async fn lint_tree(tree_yaml: &str, helm: &Path) -> (tempfile::TempDir, Vec<Finding>) {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    let charts = d.path().join("charts");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::create_dir_all(&charts).unwrap();
    std::fs::write(tree.join("releases.yaml"), tree_yaml).unwrap();
    std::fs::write(
        charts.join("demo-1.2.3.tgz"),
        chart_tgz("demo", "1.2.3", b"fullnameOverride: \"\"\n"),
    )
    .unwrap();
    let store = ChartStore {
        charts_dir: Some(charts),
        cache_dir: None,
        offline: true,
        ..Default::default()
    };
    let helm = Helm::new(helm).with_cache(None);
    let report = lint::lint(&tree, &store, Some(&helm))
        .await
        .expect("lint runs");
    (d, report.findings)
}

#[tokio::test]
async fn release_names_that_are_helm_options_are_invalid_and_never_reach_helm() {
    let d = tempfile::tempdir().unwrap();
    let marker_text = format!("MARKER-{}", std::process::id());
    let marker = d.path().join("marker");
    std::fs::write(&marker, &marker_text).unwrap();
    let out_dir = d.path().join("out");
    let (kubeconfig, requests) = listening_kubeconfig(d.path());
    let helm = logging_helm(d.path(), &kubeconfig, false);
    let hostile = [
        format!("--set-file=fullnameOverride={}", marker.display()),
        format!("--output-dir={}", out_dir.display()),
        "--dry-run=server".to_string(),
    ];
    let mut tree = format!("{REPO}{}", release("good", ""));
    for (i, name) in hostile.iter().enumerate() {
        tree.push_str(&release(
            &format!("bad{i}"),
            &format!("  releaseName: '{name}'\n"),
        ));
    }
    let (_t, findings) = lint_tree(&tree, &helm).await;
    let text = format!("{findings:?}");
    assert!(!text.contains(&marker_text), "the marker leaked: {text}");
    assert!(!out_dir.exists(), "helm wrote {}", out_dir.display());
    assert_eq!(
        requests.load(Ordering::SeqCst),
        0,
        "helm contacted the cluster"
    );
    for i in 0..hostile.len() {
        assert!(
            findings.iter().any(|f| f.rule == "helmrelease-invalid"
                && f.object == format!("HelmRelease/apps/bad{i}")
                && f.path == "spec.releaseName"
                && f.message.contains("not a valid Helm release name")),
            "bad{i}: {findings:#?}"
        );
    }
    // helm ran, for the valid release only: the hostile names never reached its command line
    let runs = runs(d.path());
    assert!(!runs.is_empty(), "helm never ran");
    assert!(
        runs.iter().flatten().all(|a| !hostile.contains(a)),
        "{runs:?}"
    );
}

#[tokio::test]
async fn helm_gets_its_options_then_double_dash_then_the_positionals() {
    let d = tempfile::tempdir().unwrap();
    let (kubeconfig, _) = listening_kubeconfig(d.path());
    let helm = logging_helm(d.path(), &kubeconfig, false);
    let (_t, _) = lint_tree(&format!("{REPO}{}", release("good", "")), &helm).await;
    let runs = runs(d.path());
    let first = runs.first().expect("helm ran");
    let n = first.len();
    assert!(n >= 3, "{first:?}");
    assert_eq!(first[0], "template");
    assert_eq!(first[n - 3], "--", "{first:?}");
    assert_eq!(first[n - 2], "good");
    assert!(first[n - 1].ends_with("demo-1.2.3.tgz"), "{first:?}");
    assert!(first.contains(&"--namespace=apps".to_string()), "{first:?}");
}

#[tokio::test]
async fn a_namespace_or_derived_name_helm_would_refuse_is_invalid_too() {
    let d = tempfile::tempdir().unwrap();
    let (kubeconfig, _) = listening_kubeconfig(d.path());
    let helm = logging_helm(d.path(), &kubeconfig, false);
    let long = "a".repeat(60);
    let tree = format!(
        "{REPO}{}{}",
        release("ns-bad", "  targetNamespace: '--kubeconfig=/etc/x'\n"),
        // a derived name over 53 characters is shortened as helm-controller does: valid, rendered
        release(&long, "")
    );
    let (_t, findings) = lint_tree(&tree, &helm).await;
    assert!(
        findings.iter().any(|f| f.rule == "helmrelease-invalid"
            && f.path == "spec.targetNamespace"
            && f.object == "HelmRelease/apps/ns-bad"),
        "{findings:#?}"
    );
    let runs = runs(d.path());
    assert!(
        runs.iter()
            .flatten()
            .all(|a| !a.contains("kubeconfig=/etc/x")),
        "{runs:?}"
    );
    let short = chart::shorten_release_name(&long);
    assert_eq!(short.len(), 53);
    assert!(
        runs.iter().any(|r| r.contains(&short)),
        "the long release was rendered as {short}: {runs:?}"
    );
}

#[test]
fn helms_release_name_rule() {
    for ok in ["headlamp", "a", "a.b-c", "0abc", &"a".repeat(53)] {
        assert_eq!(chart::release_name_problem(ok), None, "{ok}");
    }
    for bad in [
        "",
        "-x",
        "--set-file=a=b",
        "A",
        "a_b",
        "a-",
        "a..b",
        ".a",
        &"a".repeat(54),
    ] {
        assert!(chart::release_name_problem(bad).is_some(), "{bad}");
    }
    assert!(chart::namespace_problem("a.b").is_some());
    assert!(chart::namespace_problem(&"a".repeat(64)).is_some());
    assert_eq!(chart::namespace_problem(&"a".repeat(63)), None);
}

#[tokio::test]
async fn a_secrets_values_never_appear_in_findings() {
    let d = tempfile::tempdir().unwrap();
    let (kubeconfig, _) = listening_kubeconfig(d.path());
    // helm fails quoting the values it was given (a schema error does): the render-failed finding quotes helm
    let helm = logging_helm(d.path(), &kubeconfig, true);
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: apps}\nstringData:\n  values.yaml: |\n    oidc:\n      clientSecret: hunter2-s3cr3t-value\n    fullnameOverride: plain-secret-name\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b64, namespace: apps}\ndata:\n  tag: ZW5jb2RlZC1zZWNyZXQtdGFn\n";
    let tree = format!(
        "{REPO}---\n{secret}{}",
        release(
            "uses-secret",
            "  valuesFrom:\n  - {kind: Secret, name: creds}\n  - {kind: Secret, name: b64, valuesKey: tag, targetPath: image.tag}\n"
        )
    );
    let (_t, findings) = lint_tree(&tree, &helm).await;
    let render = findings
        .iter()
        .find(|f| f.rule == "render-failed")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    // helm did say the values: they were replaced
    assert!(render.message.contains("<redacted>"), "{render:?}");
    let text = format!("{findings:?}");
    for value in [
        "hunter2-s3cr3t-value",
        "plain-secret-name",
        "encoded-secret-tag",
    ] {
        assert!(!text.contains(value), "{value} leaked: {text}");
    }
}

/// Three repositories that each hold their `index.yaml` request until all three have been asked (or 30 s passed):
/// each records how many had been asked when it answered.
struct Gate {
    asked: Mutex<usize>,
    all: Condvar,
}

fn slow_repository(gate: Arc<Gate>, saw: Arc<Mutex<Vec<usize>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let gate = gate.clone();
            let saw = saw.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let mut asked = gate.asked.lock().unwrap();
                *asked += 1;
                gate.all.notify_all();
                let (asked, _) = gate
                    .all
                    .wait_timeout_while(asked, Duration::from_secs(30), |n| *n < 3)
                    .unwrap();
                saw.lock().unwrap().push(*asked);
                drop(asked);
                let _ = conn.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    url
}

#[tokio::test]
async fn chart_downloads_ask_every_repository_at_once() {
    let gate = Arc::new(Gate {
        asked: Mutex::new(0),
        all: Condvar::new(),
    });
    let saw = Arc::new(Mutex::new(Vec::new()));
    let refs: Vec<ChartRef> = (0..3)
        .map(|i| ChartRef {
            name: format!("c{i}"),
            version: "1.0.0".into(),
            repo_url: Some(slow_repository(gate.clone(), saw.clone())),
        })
        .collect();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(tempfile::tempdir().unwrap().path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let got = store.fetch_all(refs.clone(), None).await;
    assert_eq!(got.len(), 3);
    assert!(got.values().all(|r| r.is_err()));
    // every repository was asked, and each saw all three asked while it held its answer: they ran at once
    assert_eq!(*saw.lock().unwrap(), vec![3, 3, 3]);
}

#[tokio::test]
async fn an_index_over_the_limit_is_refused_naming_it() {
    let server = MockServer::start().await;
    let big = vec![b'#'; chart::MAX_INDEX_BYTES as usize + 1];
    Mock::given(method("GET"))
        .and(path("/index.yaml"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(big))
        .mount(&server)
        .await;
    let r = ChartRef {
        name: "demo".into(),
        version: "1.2.3".into(),
        repo_url: Some(server.uri()),
    };
    let e = chart::download_from_index(&server.uri(), &r)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("larger than lint's limit of 64 MiB"), "{e}");
}

#[tokio::test]
async fn an_archive_body_over_the_limit_is_refused_naming_it() {
    let server = MockServer::start().await;
    let body = vec![0u8; chart::MAX_ARCHIVE_BYTES as usize + 1];
    let digest = hex::encode(Sha256::digest(&body));
    Mock::given(method("GET"))
        .and(path("/index.yaml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            "apiVersion: v1\nentries:\n  demo:\n  - version: 1.2.3\n    urls: [demo.tgz]\n    digest: {digest}\n"
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/demo.tgz"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .mount(&server)
        .await;
    let r = ChartRef {
        name: "demo".into(),
        version: "1.2.3".into(),
        repo_url: Some(server.uri()),
    };
    let e = chart::download_from_index(&server.uri(), &r)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("larger than lint's limit of 100 MiB"), "{e}");
}

#[test]
fn archives_files_and_decompressed_charts_over_the_limits_are_refused() {
    let d = tempfile::tempdir().unwrap();
    // a local archive bigger than the archive limit (sparse: nothing is written)
    let sparse = d.path().join("big-1.0.0.tgz");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(chart::MAX_ARCHIVE_BYTES + 1)
        .unwrap();
    let e = chart::read_chart(&sparse).unwrap_err().to_string();
    assert!(e.contains("limit of 100 MiB for a chart archive"), "{e}");
    // a values.yaml over the per-file limit, in a small archive
    let values = vec![b'#'; chart::MAX_CHART_FILE_BYTES as usize + 1];
    let p = d.path().join("demo-1.2.3.tgz");
    std::fs::write(&p, chart_tgz("demo", "1.2.3", &values)).unwrap();
    let e = chart::read_chart(&p).unwrap_err().to_string();
    assert!(
        e.contains("values.yaml is larger than lint's limit of 5 MiB"),
        "{e}"
    );
    // a chart that decompresses past Helm's limit (a zero-filled file compresses to almost nothing)
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let chart_yaml = b"apiVersion: v2\nname: demo\nversion: 1.2.3\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(chart_yaml.len() as u64);
    h.set_cksum();
    tar.append_data(&mut h, "demo/Chart.yaml", &chart_yaml[..])
        .unwrap();
    let size = chart::MAX_CHART_DECOMPRESSED_BYTES + 1;
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_cksum();
    tar.append_data(&mut h, "demo/files/zeros", std::io::repeat(0).take(size))
        .unwrap();
    std::fs::write(&p, tar.into_inner().unwrap().finish().unwrap()).unwrap();
    let e = chart::read_chart(&p).unwrap_err().to_string();
    assert!(e.contains("decompresses to more than 100 MiB"), "{e}");
}

#[tokio::test]
async fn helm_output_over_the_limit_is_a_render_failure_naming_it() {
    let d = tempfile::tempdir().unwrap();
    // a helm that never stops printing objects
    let helm = script(
        &d.path().join("helm"),
        "cat > /dev/null\nwhile :; do printf -- '---\\napiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: x}\\n'; done",
    );
    let p = d.path().join("demo-1.2.3.tgz");
    std::fs::write(&p, chart_tgz("demo", "1.2.3", b"{}\n")).unwrap();
    let c = chart::read_chart(&p).unwrap();
    let e = Helm::new(&helm)
        .with_cache(None)
        .render(&c, "demo", "apps", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::HelmTemplate { .. }), "{e}");
    assert!(
        e.to_string().contains("larger than lint's limit of 32 MiB"),
        "{e}"
    );
}

async fn serve_chart(server: &MockServer, archive: Vec<u8>) {
    let digest = hex::encode(Sha256::digest(&archive));
    Mock::given(method("GET"))
        .and(path("/index.yaml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            "apiVersion: v1\nentries:\n  demo:\n  - version: 1.2.3\n    urls: [demo-1.2.3.tgz]\n    digest: {digest}\n"
        )))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/demo-1.2.3.tgz"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(archive))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_chart_cached_for_one_repository_is_not_used_for_another() {
    let x = MockServer::start().await;
    let y = MockServer::start().await;
    let planted = chart_tgz("demo", "1.2.3", b"planted: true\n");
    let real = chart_tgz("demo", "1.2.3", b"real: true\n");
    serve_chart(&x, planted.clone()).await;
    serve_chart(&y, real.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(cache.path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let r = |s: &MockServer| ChartRef {
        name: "demo".into(),
        version: "1.2.3".into(),
        repo_url: Some(format!("{}/", s.uri())),
    };
    // tree 1 names repository X: its chart lands in the cache
    let from_x = store.fetch(&r(&x)).await.unwrap();
    assert_eq!(std::fs::read(&from_x).unwrap(), planted);
    // and where the cache used to look for any repository's demo 1.2.3
    std::fs::write(cache.path().join("demo-1.2.3.tgz"), &planted).unwrap();
    // tree 2 names repository Y: Y is asked, and Y's chart is used
    let from_y = store.fetch(&r(&y)).await.unwrap();
    assert_ne!(from_x, from_y);
    assert_eq!(std::fs::read(&from_y).unwrap(), real);
    assert!(
        y.received_requests()
            .await
            .unwrap()
            .iter()
            .any(|q| q.url.path() == "/demo-1.2.3.tgz")
    );
}

#[tokio::test]
async fn an_archive_that_is_another_chart_than_the_index_says_is_refused() {
    let server = MockServer::start().await;
    serve_chart(&server, chart_tgz("evil", "6.6.6", b"{}\n")).await;
    let cache = tempfile::tempdir().unwrap();
    let store = ChartStore {
        charts_dir: None,
        cache_dir: Some(cache.path().to_path_buf()),
        offline: false,
        ..Default::default()
    };
    let r = ChartRef {
        name: "demo".into(),
        version: "1.2.3".into(),
        repo_url: Some(server.uri()),
    };
    let e = store.fetch(&r).await.unwrap_err().to_string();
    assert!(
        e.contains("chart \"evil\" version \"6.6.6\"")
            && e.contains("chart \"demo\" version \"1.2.3\""),
        "{e}"
    );
    assert!(store.local(&r).is_none(), "a refused chart was cached");
    // a local archive that is not what its name says is refused by lint as well
    let p = cache.path().join("demo-1.2.3.tgz");
    std::fs::write(&p, chart_tgz("evil", "6.6.6", b"{}\n")).unwrap();
    let c = chart::read_chart(&p).unwrap();
    assert!(chart::check_identity(&c, &r).is_err());
}
