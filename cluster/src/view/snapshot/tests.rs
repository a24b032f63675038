//! The snapshot layout read and written: fixtures, malformed files, Secrets, and the writer round-tripping through a
//! live view of the fake API server.

use super::super::fake::FakeApi;
use super::super::live::LiveView;
use super::*;
use crate::test_support::project_root;

fn fixture(name: &str) -> PathBuf {
    project_root().join("fixtures/snapshots").join(name)
}

#[tokio::test]
async fn reads_the_layout() {
    let v = SnapshotView::open(&fixture("pinned-image-tag")).unwrap();
    assert_eq!(v.context(), "home");
    assert_eq!(
        v.captured_at(),
        "2025-11-27T20:00:00Z".parse::<Timestamp>().unwrap()
    );
    let hrs = v.list(&HELMRELEASE, Some("headlamp")).await.unwrap();
    assert_eq!(hrs.len(), 1);
    assert!(
        v.list(&HELMRELEASE, Some("other"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(v.list(&GITREPOSITORY, None).await.unwrap().len(), 1);
    let ns = v.list(&NAMESPACE, None).await.unwrap();
    assert!(ns.iter().any(|n| name_of(n) == "headlamp"));
    let pods = v.list(&POD, Some("headlamp")).await.unwrap();
    let pod = name_of(&pods[0]);
    let prev = v.logs("headlamp", pod, "headlamp", true).await.unwrap();
    assert!(prev.unwrap().contains("flag provided but not defined"));
    assert!(
        v.logs("headlamp", pod, "nope", true)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        v.location(&HELMRELEASE, Some("headlamp"), "headlamp"),
        fixture("pinned-image-tag")
            .join("headlamp/helmrelease/headlamp.yaml")
            .display()
            .to_string()
    );
    assert!(
        v.get(&HELMRELEASE, Some("headlamp"), "headlamp")
            .await
            .unwrap()
            .is_some()
    );
}

use crate::test_support::write_file as write;

#[test]
fn malformed_snapshots_are_named() {
    let d = tempfile::tempdir().unwrap();
    let e = SnapshotView::open(d.path()).unwrap_err().to_string();
    assert!(e.contains("snapshot.yaml") && e.contains("missing"), "{e}");
    write(d.path(), "snapshot.yaml", "context: x\n");
    let e = SnapshotView::open(d.path()).unwrap_err().to_string();
    assert!(e.contains("capturedAt"), "{e}");
    write(
        d.path(),
        "snapshot.yaml",
        "capturedAt: 2025-11-27T20:00:00Z\ncontext: x\n",
    );
    write(
        d.path(),
        "ns/pod/a.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: ns}\n",
    );
    let e = SnapshotView::open(d.path()).unwrap_err().to_string();
    assert!(e.contains("a.yaml") && e.contains("does not match"), "{e}");
    write(
        d.path(),
        "ns/pod/a.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: ns}\n",
    );
    let e = SnapshotView::open(d.path()).unwrap_err().to_string();
    assert!(e.contains("kind `Service` in a `pod` directory"), "{e}");
}

#[test]
fn secrets_keep_keys_not_values() {
    let s = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "t", "namespace": "headlamp",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"token\":\"c2VjcmV0\"}}"},
            "managedFields": [{"manager": "kubectl"}]},
        "type": "kubernetes.io/service-account-token",
        "data": {"token": "ZXlKaGJHY2lPaUpT", "ca.crt": "LS0tLS1CRUdJTg=="}
    });
    let v = sanitize(s);
    assert_eq!(v["data"]["token"], "<redacted>");
    assert_eq!(v["data"]["ca.crt"], "<redacted>");
    assert!(v["metadata"].get("annotations").is_none());
    assert!(v["metadata"].get("managedFields").is_none());
}

/// A Secret annotation other than last-applied (a tool's copy of a value) is not written; the names doctor and
/// verify read (the token's ServiceAccount) are.
#[test]
fn a_secrets_other_annotations_are_not_written() {
    let s = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "t", "namespace": "headlamp", "annotations": {
            "kubernetes.io/service-account.name": "headlamp-login",
            "backup.example.com/copy": "cGxhaW4tY29weS1vZi10aGUtdG9rZW4="}},
        "type": "kubernetes.io/service-account-token",
        "data": {"token": "ZXlKaGJHY2lPaUpT"}
    });
    let v = sanitize(s);
    let text = serde_norway::to_string(&v).unwrap();
    assert!(!text.contains("cGxhaW4tY29weS1vZi10aGUtdG9rZW4="), "{text}");
    assert_eq!(
        v["metadata"]["annotations"]["kubernetes.io/service-account.name"],
        "headlamp-login"
    );
}

#[tokio::test]
async fn writer_round_trips_through_a_live_view_and_redacts() {
    let fake = FakeApi::new(SnapshotView::open(&fixture("pinned-image-tag")).unwrap())
        .with_secret_data()
        .with_log_line("Authorization: Bearer sekret-token-value");
    let (client, server) = fake.start();
    let view = LiveView::new(client, "home");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("snap");
    let summary = write_snapshot(&view, &SnapshotScope::for_app("headlamp"), &out)
        .await
        .unwrap();
    assert!(summary.objects > 5, "{summary:?}");
    assert!(summary.logs >= 1, "{summary:?}");
    let requests = server.finish().await;
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:#?}");

    let back = SnapshotView::open(&out).unwrap();
    assert_eq!(back.context(), "home");
    let original = SnapshotView::open(&fixture("pinned-image-tag")).unwrap();
    for kind in [HELMRELEASE, POD, DEPLOYMENT, GITREPOSITORY] {
        assert_eq!(
            back.list(&kind, None).await.unwrap().len(),
            original.list(&kind, None).await.unwrap().len(),
            "{}",
            kind.kind
        );
    }
    // no Secret value, no token, anywhere in the snapshot
    let mut all = String::new();
    for entry in walk(&out) {
        all.push_str(&std::fs::read_to_string(&entry).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", entry.display());
        }
    }
    assert!(
        !all.contains(super::super::fake::SECRET_VALUE),
        "secret data leaked"
    );
    assert!(!all.contains("sekret-token-value"), "token leaked");
    assert!(all.contains("Bearer <redacted>"));
    assert!(all.contains("release: <redacted>"), "data keys are listed");
}

/// Edit one YAML object file of a snapshot directory in place.
fn edit(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_norway::to_string(&v).unwrap()).unwrap();
}

/// A cluster holding secrets in every place issue 10 lists: none of them reaches the snapshot.
#[tokio::test]
async fn planted_secrets_in_every_place_never_reach_the_snapshot() {
    let src = tempfile::tempdir().unwrap();
    crate::test_support::copy_tree(&fixture("pinned-image-tag"), src.path()).unwrap();
    let ns = src.path().join("headlamp");
    let la = serde_json::json!({"kind": "HelmRelease", "spec": {"values": {"config": {"oidc": {"clientSecret": "MARKER-LA"}}}}}).to_string();
    edit(&ns.join("helmrelease/headlamp.yaml"), |hr| {
        hr["metadata"]["annotations"] = serde_json::json!({crate::redact::LAST_APPLIED: la});
        hr["spec"]["values"]["config"]["oidc"] =
            serde_json::json!({"clientID": "headlamp", "clientSecret": "MARKER-CS"});
        hr["spec"]["values"]["db"] = serde_json::json!({"password": "MARKER-PW", "apiToken": "MARKER-AT", "privateKey": "MARKER-PK"});
        hr["status"]["conditions"][0]["message"] =
            "upgrade failed: Authorization: Bearer MARKER-COND".into();
    });
    let pod = sorted_entries(&ns.join("pod"))
        .unwrap()
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "yaml"))
        .unwrap();
    edit(&pod, |p| {
        let c = &mut p["spec"]["containers"][0];
        c["args"] = serde_json::json!([
            "-oidc-client-secret=MARKER-ARG1",
            "--token",
            "MARKER-ARG2",
            "-in-cluster"
        ]);
        c["env"] = serde_json::json!([{"name": "OIDC_CLIENT_SECRET", "value": "MARKER-ENV"}, {"name": "HOME", "value": "/home/headlamp"}]);
    });
    let event = sorted_entries(&ns.join("event")).unwrap().remove(0);
    edit(&event, |e| {
        e["message"] = "pulled from https://u:MARKER-URL@registry.example with K10abcdef0123456789::server:MARKER-K3S".into();
    });
    edit(&ns.join("secret/oidc.yaml"), |s| {
        s["data"] = "MARKER-MALFORMED-DATA".into();
        s["stringData"] = serde_json::json!({"clientSecret": "MARKER-SD"});
    });
    let fake = FakeApi::new(SnapshotView::open(src.path()).unwrap())
        .with_log_line("-----BEGIN PRIVATE KEY-----\nMARKERPEMBODY0123\n-----END PRIVATE KEY-----\ncookie: MARKER-COOKIE");
    let (client, server) = fake.start();
    let view = LiveView::new(client, "home");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("snap");
    write_snapshot(&view, &SnapshotScope::for_app("headlamp"), &out)
        .await
        .unwrap();
    server.finish().await;
    let mut all = String::new();
    for entry in walk(&out) {
        all.push_str(&std::fs::read_to_string(&entry).unwrap());
    }
    assert!(!all.contains("MARKER"), "{all}");
    assert!(all.contains("clientID: headlamp"), "{all}");
    assert!(all.contains("/home/headlamp"), "{all}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn refuses_a_non_empty_output_dir() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("x"), "x").unwrap();
    let v = SnapshotView::open(&fixture("healthy")).unwrap();
    let e = write_snapshot(&v, &SnapshotScope::for_app("headlamp"), d.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not empty"), "{e}");
}
