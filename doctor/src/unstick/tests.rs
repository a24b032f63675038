//! unstick against a mocked API: the exact sequence of requests (method, path, body essentials), and that a failing
//! step stops everything after it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};

use super::*;

/// A request as the mock saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

impl Seen {
    fn label_selector(&self) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == "labelSelector").then(|| v.replace("%3D", "=").replace("%2C", ","))
        })
    }
}

type Responder = Box<dyn FnMut(&Seen, &[Seen]) -> (u16, Value) + Send>;

/// Start a mock API server answering with `respond`; every request is recorded.
fn mock(mut respond: Responder) -> (Client, Arc<Mutex<Vec<Seen>>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let s = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or("").to_string(),
                content_type: parts
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            let previous = log.lock().map(|l| l.clone()).unwrap_or_default();
            let (code, v) = respond(&s, &previous);
            if let Ok(mut l) = log.lock() {
                l.push(s);
            }
            let resp = Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&v).unwrap_or_default()))
                .unwrap_or_else(|_| Response::new(Body::empty()));
            send.send_response(resp);
        }
    });
    (Client::new(service, "default"), seen)
}

const HR_PATH: &str = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/headlamp/helmreleases/headlamp";
const CONTROLLER_PATH: &str = "/apis/apps/v1/namespaces/flux-system/deployments/helm-controller";

fn stuck_hr() -> Value {
    let path = crate::test_support::project_root()
        .join("fixtures/snapshots/stuck-helmrelease/headlamp/helmrelease/headlamp.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    crate::yaml::parse_yaml_documents(&text, &path)
        .unwrap()
        .remove(0)
}

fn ready_hr(handled: &str) -> Value {
    let mut hr = stuck_hr();
    hr["status"]["observedGeneration"] = json!(3);
    hr["status"]["lastHandledReconcileAt"] = json!(handled);
    hr["status"]["conditions"] = json!([{
        "type": "Ready", "status": "True", "reason": "InstallSucceeded", "observedGeneration": 3,
        "lastTransitionTime": "2025-11-27T20:01:10Z",
        "message": "Helm install succeeded for release headlamp/headlamp.v1 with chart headlamp@0.41.0"
    }]);
    hr
}

const MANIFEST: &str = "---\n# Source: headlamp/templates/serviceaccount.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: headlamp\n  namespace: headlamp\n---\n# Source: headlamp/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: oidc\n  namespace: headlamp\ntype: Opaque\n---\n# Source: headlamp/templates/clusterrolebinding.yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: headlamp-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\nsubjects:\n- kind: ServiceAccount\n  name: headlamp\n  namespace: headlamp\n---\n# Source: headlamp/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  ports:\n  - port: 80\n---\n# Source: headlamp/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  replicas: 1\n";

/// A Helm storage Secret as the API returns it: data.release = base64(base64(gzip(release JSON))).
fn storage_secret(version: u32, manifest: &str) -> Value {
    use std::io::Write;
    let release = json!({"name": "headlamp", "namespace": "headlamp", "version": version,
        "info": {"status": "pending-install"}, "manifest": manifest});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&release).unwrap())
        .unwrap();
    let helm_encoded = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let api_encoded = base64::engine::general_purpose::STANDARD.encode(helm_encoded);
    json!({"metadata": {"name": format!("sh.helm.release.v1.headlamp.v{version}"), "namespace": "headlamp",
        "labels": {"owner": "helm", "name": "headlamp", "version": version.to_string()}},
        "type": "helm.sh/release.v1", "data": {"release": api_encoded}})
}

fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 200})
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": code,
        "reason": reason, "message": message})
}

fn rolled_out_controller() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "helm-controller", "namespace": "flux-system", "generation": 2},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "helm-controller"}}, "template": {}},
        "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1}})
}

/// The reconcile timestamp the client sent (requestedAt of the last annotation patch).
fn requested_at(previous: &[Seen]) -> Option<String> {
    previous.iter().rev().find_map(|s| {
        s.body["metadata"]["annotations"][REQUESTED_AT]
            .as_str()
            .map(str::to_string)
    })
}

/// A cluster where everything works; `ready_after` GETs of the HelmRelease after the reconcile request are not Ready.
fn happy_cluster(ready_after: usize) -> Responder {
    let mut waits = 0;
    Box::new(
        move |s: &Seen, previous: &[Seen]| match (s.method.as_str(), s.path.as_str()) {
            ("GET", HR_PATH) => match requested_at(previous) {
                None => (200, stuck_hr()),
                Some(at) => {
                    waits += 1;
                    if waits > ready_after {
                        (200, ready_hr(&at))
                    } else {
                        (200, stuck_hr())
                    }
                }
            },
            ("PATCH", HR_PATH) => (200, stuck_hr()),
            ("GET", "/api/v1/namespaces/headlamp/secrets") => (
                200,
                json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {"resourceVersion": "1"},
                "items": [storage_secret(2, MANIFEST), storage_secret(1, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: only-in-v1\n")]}),
            ),
            // deleted by hand before: a 404 is not a failure
            ("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/headlamp-admin") => {
                (
                    404,
                    status(
                        404,
                        "NotFound",
                        "clusterrolebindings.rbac.authorization.k8s.io \"headlamp-admin\" not found",
                    ),
                )
            }
            ("DELETE", _) => (200, success()),
            ("PATCH", CONTROLLER_PATH) | ("GET", CONTROLLER_PATH) => (200, rolled_out_controller()),
            _ => (
                404,
                status(404, "NotFound", "unexpected request in this test"),
            ),
        },
    )
}

fn opts() -> UnstickOptions {
    UnstickOptions {
        poll: Duration::from_millis(5),
        timeout: Duration::from_secs(5),
        ..UnstickOptions::new("headlamp", "headlamp")
    }
}

#[tokio::test]
async fn runs_the_recipe_in_the_exact_order() {
    let (client, seen) = mock(happy_cluster(1));
    let mut printed = Vec::new();
    let report = unstick(&client, &opts(), &mut |s: &Step| printed.push(s.name)).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(printed, STEPS);

    let seen = seen.lock().unwrap().clone();
    let calls: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    let expected: Vec<(&str, &str)> = vec![
        ("GET", HR_PATH),
        ("PATCH", HR_PATH),
        ("GET", "/api/v1/namespaces/headlamp/secrets"),
        // the newest release's objects, in reverse manifest order
        (
            "DELETE",
            "/apis/apps/v1/namespaces/headlamp/deployments/headlamp",
        ),
        ("DELETE", "/api/v1/namespaces/headlamp/services/headlamp"),
        (
            "DELETE",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/headlamp-admin",
        ),
        ("DELETE", "/api/v1/namespaces/headlamp/secrets/oidc"),
        (
            "DELETE",
            "/api/v1/namespaces/headlamp/serviceaccounts/headlamp",
        ),
        // then every storage Secret
        (
            "DELETE",
            "/api/v1/namespaces/headlamp/secrets/sh.helm.release.v1.headlamp.v1",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/headlamp/secrets/sh.helm.release.v1.headlamp.v2",
        ),
        ("PATCH", CONTROLLER_PATH),
        ("GET", CONTROLLER_PATH),
        ("PATCH", HR_PATH),
        ("PATCH", HR_PATH),
        ("GET", HR_PATH),
        ("GET", HR_PATH),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(calls, expected);

    // body essentials
    assert_eq!(seen[1].body, json!({"spec": {"suspend": true}}));
    assert_eq!(seen[1].content_type, "application/merge-patch+json");
    assert_eq!(
        seen[2].label_selector().as_deref(),
        Some("owner=helm,name=headlamp")
    );
    assert_eq!(seen[3].body["propagationPolicy"], "Background");
    let restarted = seen[10].body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
        .as_str()
        .expect("restartedAt");
    assert!(restarted.parse::<Timestamp>().is_ok(), "{restarted}");
    assert_eq!(seen[10].content_type, "application/merge-patch+json");
    assert_eq!(seen[12].body, json!({"spec": {"suspend": false}}));
    let ann = &seen[13].body["metadata"]["annotations"];
    let at = ann[REQUESTED_AT].as_str().expect("requestedAt");
    assert_eq!(ann[FORCE_AT].as_str(), Some(at), "forceAt == requestedAt");
    assert!(at.parse::<Timestamp>().is_ok(), "{at}");

    let details: Vec<&str> = report.steps.iter().map(Step::detail).collect();
    assert!(
        details[0].contains("Ready=Unknown (Progressing): Running 'install' action"),
        "{}",
        details[0]
    );
    assert!(
        details[2].contains("deleted 4 objects")
            && details[2].contains("2 storage Secrets")
            && details[2].ends_with("; already gone: ClusterRoleBinding/headlamp-admin"),
        "{}",
        details[2]
    );
    assert!(
        !details[2].contains("only-in-v1"),
        "the newest release's manifest is used"
    );
    assert!(details[6].starts_with("Ready after"), "{}", details[6]);
}

#[tokio::test]
async fn a_forbidden_suspend_stops_everything_after_it() {
    let (client, seen) = mock(Box::new(|s: &Seen, _: &[Seen]| {
        match (s.method.as_str(), s.path.as_str()) {
            ("GET", HR_PATH) => (200, stuck_hr()),
            ("PATCH", HR_PATH) => (
                403,
                status(
                    403,
                    "Forbidden",
                    "helmreleases.helm.toolkit.fluxcd.io \"headlamp\" is forbidden: User \"viewer\" cannot patch resource \"helmreleases\" in API group \"helm.toolkit.fluxcd.io\" in the namespace \"headlamp\"",
                ),
            ),
            _ => (200, success()),
        }
    }));
    let mut names = Vec::new();
    let report = unstick(&client, &opts(), &mut |s: &Step| names.push(s.name)).await;
    assert!(!report.succeeded());
    assert_eq!(names, ["read", "suspend"]);
    let last = report.steps.last().unwrap();
    assert!(!last.ok());
    assert!(
        last.detail().starts_with("403 Forbidden: "),
        "{}",
        last.detail()
    );
    assert!(last.detail().contains("cannot patch"), "{}", last.detail());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let calls: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        calls,
        [format!("GET {HR_PATH}"), format!("PATCH {HR_PATH}")]
    );
}

#[tokio::test]
async fn a_missing_helmrelease_fails_the_first_step() {
    let (client, seen) = mock(Box::new(|_: &Seen, _: &[Seen]| {
        (
            404,
            status(
                404,
                "NotFound",
                "helmreleases.helm.toolkit.fluxcd.io \"headlamp\" not found",
            ),
        )
    }));
    let report = unstick(&client, &opts(), &mut |_: &Step| {}).await;
    assert_eq!(report.steps.len(), 1);
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Failed("HelmRelease headlamp/headlamp not found".into())
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_ready_deadline_names_the_last_state() {
    let (client, _) = mock(happy_cluster(usize::MAX));
    let o = UnstickOptions {
        timeout: Duration::from_millis(300),
        ..opts()
    };
    let report = unstick(&client, &o, &mut |_: &Step| {}).await;
    let last = report.steps.last().unwrap();
    assert_eq!(last.name, "wait Ready");
    assert!(!last.ok());
    assert!(
        last.detail().contains("not Ready within")
            && last
                .detail()
                .contains("last state: Ready=Unknown (Progressing): Running 'install' action with timeout of 10m0s"),
        "{}",
        last.detail()
    );
}

#[tokio::test]
async fn stalled_after_the_request_fails_at_once() {
    let mut inner = happy_cluster(usize::MAX);
    let (client, _) = mock(Box::new(move |s: &Seen, previous: &[Seen]| {
        if s.method == "GET"
            && s.path == HR_PATH
            && let Some(at) = requested_at(previous)
        {
            let mut hr = stuck_hr();
            hr["status"]["lastHandledReconcileAt"] = json!(at);
            hr["status"]["conditions"] = json!([
                {"type": "Ready", "status": "False", "reason": "InstallFailed", "message": "install retries exhausted",
                 "lastTransitionTime": "2025-11-27T20:01:00Z"},
                {"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "Failed to install after 3 attempt(s)",
                 "lastTransitionTime": "2025-11-27T20:01:00Z"}]);
            return (200, hr);
        }
        inner(s, previous)
    }));
    let report = unstick(&client, &opts(), &mut |_: &Step| {}).await;
    let last = report.steps.last().unwrap();
    assert_eq!(last.name, "wait Ready");
    assert!(
        last.detail()
            .contains("Stalled (RetriesExceeded): Failed to install after 3 attempt(s)"),
        "{}",
        last.detail()
    );
}

#[tokio::test]
async fn step_details_carry_no_planted_secret() {
    let mut inner = happy_cluster(usize::MAX);
    let (client, _) = mock(Box::new(move |s: &Seen, previous: &[Seen]| {
        if s.method == "GET" && s.path == HR_PATH {
            let mut hr = stuck_hr();
            hr["status"]["conditions"][0]["message"] = json!(
                "Running 'install' action: Authorization: Bearer MARKER-A\n-----BEGIN PRIVATE KEY-----\nMARKERPEMBODY0123\n-----END PRIVATE KEY-----"
            );
            return (200, hr);
        }
        inner(s, previous)
    }));
    let o = UnstickOptions {
        timeout: Duration::from_millis(300),
        ..opts()
    };
    let mut printed = String::new();
    let report = unstick(&client, &o, &mut |s: &Step| printed.push_str(s.detail())).await;
    assert!(report.steps.len() > 1, "{report:?}");
    assert!(printed.contains("Bearer <redacted>"), "{printed}");
    assert!(!printed.contains("MARKER"), "{printed}");
}

#[tokio::test]
async fn an_api_that_never_answers_ends_at_the_deadline() {
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    // the handle is kept and never answers
    let client = Client::new(service, "default");
    let o = UnstickOptions {
        timeout: Duration::from_millis(200),
        ..opts()
    };
    let report = unstick(&client, &o, &mut |_: &Step| {}).await;
    assert!(report.timed_out, "{report:?}");
    assert_eq!(report.steps.len(), 1);
    assert!(
        report.steps[0]
            .detail()
            .starts_with("timed out: step `read` did not finish within the --timeout"),
        "{}",
        report.steps[0].detail()
    );
}

#[test]
fn manifest_objects_keep_policy_and_release_decoding() {
    let m = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  annotations:\n    helm.sh/resource-policy: keep\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n";
    let objs = manifest_objects(m).unwrap();
    assert_eq!(objs.len(), 2);
    assert!(objs[0].keep && !objs[1].keep);
    assert_eq!(objs[1].id(), "Service/s");

    let s = storage_secret(3, m);
    let api_b64 = s["data"]["release"].as_str().unwrap();
    let helm_b64 = base64::engine::general_purpose::STANDARD
        .decode(api_b64)
        .unwrap();
    let rel = decode_release(&helm_b64).unwrap();
    assert_eq!(rel["manifest"], m);
    assert!(decode_release(b"not base64!").is_err());
}
