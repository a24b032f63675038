//! Issue 23, the kustomize side: a hostile tree's kustomizations run no command, read nothing outside the
//! repository, fetch nothing unasked, and end. Each input carries a marker (a file it would create, a unique string
//! it would copy into the output, a local listener it would call): the marker must not show.
//!
//! No timing assertion: the self-substituting Kustomization runs under a watchdog, and the test fails for a hang.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headlamp_e2e::chart::ChartStore;
use headlamp_e2e::finding::Finding;
use headlamp_e2e::gitops::{self, sandbox};

/// `--allow-remote-bases` is process-wide: the tests that lint take this lock, and each sets it as it needs.
static FLAG: Mutex<()> = Mutex::new(());

/// Far above what any of these builds takes: reaching it means the lint hangs.
const WATCHDOG: Duration = Duration::from_secs(120);

use headlamp_e2e::testing::write_file as write;

/// A repository (its own `.git`, so nothing above it is its root) in a temporary directory.
fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    write(
        d.path(),
        "plain/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: plain}\n",
    );
    d
}

/// Whether kubectl (the real kustomize) runs here: the build tests are meaningful only then.
fn kubectl() -> bool {
    let bin = std::env::var_os("KUBECTL_BIN").unwrap_or_else(|| "kubectl".into());
    let ok = std::process::Command::new(bin)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: kubectl cannot run");
    }
    ok
}

struct Linted {
    findings: Vec<Finding>,
    /// The report as `lint --format json` prints it.
    json: String,
}

/// `lint` of `dir` with `--allow-remote-bases` set to `remote`, under the watchdog.
fn lint(dir: &Path, remote: bool) -> Linted {
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        sandbox::set_allow_remote_bases(remote);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = ChartStore::from_env();
        let report = rt.block_on(headlamp_e2e::lint::lint(&dir, &store, None));
        let _ = tx.send(report.map_err(|e| e.to_string()));
    });
    let report = rx
        .recv_timeout(WATCHDOG)
        .expect("lint did not end within the watchdog")
        .expect("lint could not run");
    sandbox::set_allow_remote_bases(false);
    let json = headlamp_e2e::finding::to_json(&report.findings, &report.summary).to_string();
    Linted {
        findings: report.findings,
        json,
    }
}

fn with_rule<'a>(l: &'a Linted, rule: &str) -> Vec<&'a Finding> {
    l.findings.iter().filter(|f| f.rule == rule).collect()
}

/// A local listener that counts the connections it gets (it answers none).
fn listener() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut s) = s {
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
            }
        }
    });
    (port, hits)
}

#[test]
fn upload_pack_in_a_remote_base_runs_nothing() {
    let _g = FLAG.lock().unwrap_or_else(|e| e.into_inner());
    let have_kubectl = kubectl();
    let d = repo();
    let marker = d.path().join("PWNED");
    let url = format!(
        "file:///nonexistent//x?ref=--upload-pack=touch%20{}",
        marker.display()
    );
    let https = format!(
        "https://127.0.0.1:1/org/repo//x?ref=--upload-pack=touch%20{}",
        marker.display()
    );
    write(
        d.path(),
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: n}\n",
    );
    write(
        d.path(),
        "app/kustomization.yaml",
        format!("resources: [cm.yaml, {url:?}]\nnamePrefix: p-\n"),
    );
    // the same through a Flux Kustomization's build (patches: built with kustomize)
    write(
        d.path(),
        "flux/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: f, namespace: flux-system}\nspec:\n  path: ./flux/app\n  sourceRef: {kind: GitRepository, name: flux-system}\n  patches:\n  - target: {kind: ConfigMap}\n    patch: |\n      - {op: add, path: /data, value: {a: b}}\n",
    );
    write(
        d.path(),
        "flux/app/kustomization.yaml",
        format!("resources: [cm.yaml, {https:?}]\n"),
    );
    write(
        d.path(),
        "flux/app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f, namespace: n}\n",
    );
    for remote in [false, true] {
        let l = lint(d.path(), remote);
        assert!(
            !marker.exists(),
            "the --upload-pack command ran (remote bases allowed: {remote})"
        );
        let named: Vec<&Finding> = with_rule(&l, "kustomization-build")
            .into_iter()
            // a refusal names it in its message; a base left out (an info note) names it as its object
            .filter(|f| {
                f.message.contains("file:///nonexistent//x")
                    || f.object.contains("file:///nonexistent//x")
            })
            .collect();
        assert_eq!(named.len(), 1, "{:#?}", l.findings);
        if remote {
            // allowed remote bases are https only: a file:// one is refused, and so is a ref that is an option
            assert!(
                named[0].message.contains("only https"),
                "{}",
                named[0].message
            );
            assert!(
                l.findings
                    .iter()
                    .any(|f| f.message.contains("127.0.0.1:1") && f.message.contains("not a plain")),
                "{:#?}",
                l.findings
            );
        } else {
            assert!(
                named[0].message.contains("did not fetch"),
                "{}",
                named[0].message
            );
        }
    }
    if have_kubectl {
        // the rest of the kustomization was built: its ConfigMap is there, with the prefix
        sandbox::set_allow_remote_bases(false);
        let tree = gitops::load_each(d.path()).unwrap();
        let ids: Vec<String> = tree.objects.iter().map(|o| o.id()).collect();
        assert!(ids.contains(&"ConfigMap/n/f".to_string()), "{ids:?}");
        // `app/` is deployed by no Flux Kustomization of the tree (issue 19: not linted as if deployed): linted
        // directly, its kustomization is built without the refused base
        let tree = gitops::load_each(&d.path().join("app")).unwrap();
        let ids: Vec<String> = tree.objects.iter().map(|o| o.id()).collect();
        assert!(ids.contains(&"ConfigMap/n/p-cm".to_string()), "{ids:?}");
    }
}

#[test]
fn reads_outside_the_repository_are_findings_and_the_content_never_shows() {
    let _g = FLAG.lock().unwrap_or_else(|e| e.into_inner());
    let have_kubectl = kubectl();
    let outside = tempfile::tempdir().unwrap();
    let secret = "MARKER-a9f3c2e1-outside-the-tree";
    write(outside.path(), "x.env", format!("LOOT={secret}\n"));
    write(
        outside.path(),
        "base/kustomization.yaml",
        "resources: [cm.yaml]\n",
    );
    write(
        outside.path(),
        "base/cm.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {secret}}}\n"),
    );
    let d = repo();
    let up = "../".repeat(30);
    let env = format!(
        "{up}{}",
        outside
            .path()
            .join("x.env")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    std::os::unix::fs::symlink(outside.path().join("base"), d.path().join("linked")).unwrap();
    // each reference in a kustomization of its own: each is a finding of its own
    write(
        d.path(),
        "etc/kustomization.yaml",
        "configMapGenerator:\n- name: loot\n  files: [loot=/etc/passwd]\n",
    );
    write(
        d.path(),
        "env/kustomization.yaml",
        format!(
            "configMapGenerator:\n- name: loot\n  envs: [{env:?}]\nreplacements:\n- source: {{kind: ConfigMap, name: loot, fieldPath: data.LOOT}}\n  targets:\n  - select: {{kind: ConfigMap, name: loot}}\n    fieldPaths: [metadata.name]\n"
        ),
    );
    write(
        d.path(),
        "proc/kustomization.yaml",
        "secretGenerator:\n- name: s\n  files: [/proc/self/environ]\n",
    );
    write(
        d.path(),
        "link/kustomization.yaml",
        "resources: [../linked]\nnamePrefix: x-\n",
    );
    let l = lint(d.path(), false);
    assert!(
        !l.json.contains(secret),
        "the outside content reached the output: {}",
        l.json
    );
    // nor was it read into the tree (a finding about any object would print its name)
    let tree = gitops::load_each(d.path()).unwrap();
    for o in &tree.objects {
        assert!(
            !o.value.to_string().contains(secret),
            "read from outside: {}",
            o.id()
        );
        assert!(
            !o.value.to_string().contains("root:x:0:0"),
            "/etc/passwd read: {}",
            o.id()
        );
    }
    let outside_root = with_rule(&l, "kustomize-resource-outside-root");
    for (file, reference) in [
        ("etc/kustomization.yaml", "/etc/passwd"),
        ("env/kustomization.yaml", env.as_str()),
        ("proc/kustomization.yaml", "/proc/self/environ"),
        ("link/kustomization.yaml", "../linked"),
    ] {
        assert!(
            outside_root
                .iter()
                .any(|f| f.file == file && f.message.contains(&format!("{reference:?}"))),
            "no finding on {file} naming {reference}: {:#?}",
            l.findings
        );
    }
    assert!(
        l.findings
            .iter()
            .any(|f| f.severity == headlamp_e2e::finding::Severity::Error)
    );
    // the rest of the tree is still linted
    assert!(have_kubectl || !l.findings.is_empty());
}

/// Issue 23 item 4: not fetched, and the URL named. Issue 19: an `info` note (Flux fetches it, so the repository has
/// nothing to change), naming the URL as its object.
#[test]
fn a_remote_base_is_not_fetched_by_default_and_the_note_names_it() {
    let _g = FLAG.lock().unwrap_or_else(|e| e.into_inner());
    let have_kubectl = kubectl();
    let (port, hits) = listener();
    let d = repo();
    let url = format!("https://127.0.0.1:{port}/org/repo//base?ref=v1");
    write(
        d.path(),
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: n}\n",
    );
    write(
        d.path(),
        "app/kustomization.yaml",
        format!("resources: [cm.yaml, {url:?}]\nnamePrefix: p-\n"),
    );
    let l = lint(d.path(), false);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the listener was called");
    let noted: Vec<&Finding> = l
        .findings
        .iter()
        .filter(|f| f.severity == headlamp_e2e::finding::Severity::Info && f.object == url)
        .collect();
    assert_eq!(noted.len(), 1, "{:#?}", l.findings);
    assert_eq!(noted[0].rule, "kustomization-build");
    assert_eq!(noted[0].file, "app/kustomization.yaml");
    assert_eq!(noted[0].path, "resources[1]");
    assert!(
        noted[0].fix.contains("--allow-remote-bases"),
        "{}",
        noted[0].fix
    );
    assert!(
        l.findings
            .iter()
            .all(|f| f.severity != headlamp_e2e::finding::Severity::Warning),
        "{:#?}",
        l.findings
    );
    if have_kubectl {
        let tree = gitops::load_each(d.path()).unwrap();
        assert!(tree.objects.iter().any(|o| o.id() == "ConfigMap/n/p-cm"));
    }
}

#[test]
fn allowed_remote_bases_are_https_with_plain_refs_only() {
    let _g = FLAG.lock().unwrap_or_else(|e| e.into_inner());
    kubectl();
    let (port, hits) = listener();
    let d = repo();
    let refused = [
        format!("http://127.0.0.1:{port}/x.yaml"),
        format!("file:///{}/x", d.path().display()),
        format!("https://127.0.0.1:{port}/org/repo?ref=-x"),
        format!("https://127.0.0.1:{port}/org/repo?version=%2D%2Dupload-pack%3Dtouch"),
    ];
    for (i, r) in refused.iter().enumerate() {
        write(
            d.path(),
            &format!("k{i}/kustomization.yaml"),
            format!("resources: [{r:?}]\nnamePrefix: p-\n"),
        );
    }
    let l = lint(d.path(), true);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the listener was called");
    for (i, r) in refused.iter().enumerate() {
        let shown = headlamp_e2e::report::redact(r);
        assert!(
            l.findings
                .iter()
                .any(|f| f.file == format!("k{i}/kustomization.yaml")
                    && f.severity == headlamp_e2e::finding::Severity::Error
                    && f.message.contains(&shown)),
            "{r} not refused: {:#?}",
            l.findings
        );
    }
}

#[test]
fn a_kustomization_substituting_its_own_path_ends() {
    let _g = FLAG.lock().unwrap_or_else(|e| e.into_inner());
    if !kubectl() {
        return;
    }
    let d = repo();
    write(
        d.path(),
        "clusters/home/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: loop, namespace: flux-system}\nspec:\n  path: ./clusters/home\n  sourceRef: {kind: GitRepository, name: flux-system}\n  postBuild:\n    substitute:\n      N: \"${N}1\"\n",
    );
    let l = lint(d.path(), false);
    assert!(
        l.findings
            .iter()
            .any(|f| f.rule == "flux-kustomization-build" && f.message.contains("stopped")),
        "{:#?}",
        l.findings
    );
}

/// Every regular file below `dir` (symlinks not followed): their count and total size.
fn regular_files(dir: &Path) -> (usize, u64, usize) {
    let (mut n, mut bytes, mut links) = (0, 0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            if m.file_type().is_symlink() {
                links += 1;
            } else if m.is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
                bytes += m.len();
            }
        }
    }
    (n, bytes, links)
}

#[test]
fn a_big_file_behind_many_links_is_mirrored_once() {
    let _g = FLAG.lock().unwrap_or_else(|e| e.into_inner());
    let d = repo();
    let root = d.path().canonicalize().unwrap();
    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big, namespace: n}}\ndata:\n  a: \"{}\"\n",
        "x".repeat(4 << 20)
    );
    write(&root, "data/big.yaml", &big);
    std::fs::create_dir_all(root.join("app")).unwrap();
    for i in 0..50 {
        std::os::unix::fs::symlink("../data/big.yaml", root.join(format!("app/l{i:02}.yaml")))
            .unwrap();
    }
    // a directory without a kustomization, as a Flux build generates one: every YAML file below it
    let mut kus = serde_json::Map::new();
    let resources: Vec<String> = (0..50).map(|i| format!("./l{i:02}.yaml")).collect();
    kus.insert("resources".into(), resources.into());
    let prepared = sandbox::prepare(&root, Path::new("app"), Some(("kustomization.yaml", kus)));
    assert!(prepared.problems.is_empty(), "{:?}", prepared.problems);
    let sb = prepared.sandbox.unwrap();
    let (files, bytes, links) = regular_files(&sb.root());
    // the big file once, and the kustomization written there; 50 links
    assert_eq!(files, 2);
    assert!(bytes < 2 * big.len() as u64, "{bytes} bytes written");
    assert_eq!(links, 50);
    let mirror = sb.root();
    drop(sb);
    assert!(!mirror.exists(), "the sandbox outlived its build");
}

#[test]
fn sandboxes_left_by_an_interrupt_are_removed() {
    let t = sandbox::TempDir::new("headlamp-e2e-test").unwrap();
    let p = t.path().to_path_buf();
    write(&p, "x/y", "z");
    sandbox::remove_all();
    assert!(!p.exists());
    drop(t);
}
