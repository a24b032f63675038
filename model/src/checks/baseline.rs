//! The decisions of the e2e baseline and scenario waits, as plain functions over API objects: posture of the live
//! pod, restarts, crashloops with their logs, Pod Security admission's answer, the UI page, Deployment mounts.
//! The live glue (`super::live`) only fetches objects and calls these.

/// Label selector of the Headlamp pods (the chart's).
pub const HEADLAMP_SELECTOR: &str = "app.kubernetes.io/name=headlamp";

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use serde_json::json;

/// One sub-assertion: its name and verdict.
pub type SubCheck = (String, Result<(), String>);

/// The Headlamp server container of a pod (named `headlamp`, else the first).
pub fn headlamp_container(pod: &Pod) -> Option<&Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .find(|c| c.name == "headlamp")
        .or_else(|| spec.containers.first())
}

fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("?")
}

/// runAsNonRoot, readOnlyRootFilesystem, capabilities drop ALL, seccomp RuntimeDefault, allowPrivilegeEscalation
/// false — read from the live Pod (container settings win over the pod's, as the kubelet applies them).
pub fn judge_posture(pod: &Pod) -> Vec<SubCheck> {
    let Some(c) = headlamp_container(pod) else {
        return vec![(
            "container".into(),
            Err(format!("pod {} has no container", pod_name(pod))),
        )];
    };
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let csc = c.security_context.as_ref();
    let check = |name: &str, ok: bool, what: String| -> SubCheck {
        (name.to_string(), if ok { Ok(()) } else { Err(what) })
    };
    let non_root = csc
        .and_then(|s| s.run_as_non_root)
        .or_else(|| psc.and_then(|s| s.run_as_non_root))
        == Some(true);
    let ro_root = csc.and_then(|s| s.read_only_root_filesystem) == Some(true);
    let drop_all = csc
        .and_then(|s| s.capabilities.as_ref())
        .and_then(|cap| cap.drop.as_ref())
        .is_some_and(|d| d.iter().any(|x| x == "ALL"));
    let seccomp = csc
        .and_then(|s| s.seccomp_profile.as_ref())
        .or_else(|| psc.and_then(|s| s.seccomp_profile.as_ref()))
        .map(|p| p.type_.as_str());
    let no_escalation = csc.and_then(|s| s.allow_privilege_escalation) == Some(false);
    let name = &c.name;
    vec![
        check(
            "runAsNonRoot",
            non_root,
            format!("container {name}: runAsNonRoot is not true (pod or container)"),
        ),
        check(
            "readOnlyRootFilesystem",
            ro_root,
            format!("container {name}: readOnlyRootFilesystem is not true"),
        ),
        check(
            "capabilities-drop-all",
            drop_all,
            format!("container {name}: capabilities.drop lacks ALL"),
        ),
        check(
            "seccomp-runtime-default",
            seccomp == Some("RuntimeDefault"),
            format!("container {name}: seccompProfile is {seccomp:?}, not RuntimeDefault"),
        ),
        check(
            "allowPrivilegeEscalation-false",
            no_escalation,
            format!("container {name}: allowPrivilegeEscalation is not false"),
        ),
    ]
}

/// No container of these pods restarted.
pub fn judge_no_restarts(pods: &[Pod]) -> Result<(), String> {
    if pods.is_empty() {
        return Err("no Headlamp pod found".into());
    }
    let restarted: Vec<String> = pods
        .iter()
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .filter(|cs| cs.restart_count > 0)
                .map(move |cs| {
                    format!(
                        "{}/{} restarted {} time(s)",
                        pod_name(p),
                        cs.name,
                        cs.restart_count
                    )
                })
        })
        .collect();
    if restarted.is_empty() {
        Ok(())
    } else {
        Err(restarted.join("; "))
    }
}

/// Containers of these pods that are crashlooping (waiting CrashLoopBackOff, or restarted and not ready):
/// (pod, container).
pub fn crashlooping(pods: &[Pod]) -> Vec<(String, String)> {
    pods.iter()
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .filter(|cs| {
                    let waiting = cs
                        .state
                        .as_ref()
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref());
                    waiting == Some("CrashLoopBackOff") || (cs.restart_count > 0 && !cs.ready)
                })
                .map(move |cs| (pod_name(p).to_string(), cs.name.clone()))
        })
        .collect()
}

/// A short state of the pods for "last seen" messages.
pub fn describe_pods(pods: &[Pod]) -> String {
    if pods.is_empty() {
        return "no pods".into();
    }
    pods.iter()
        .map(|p| {
            let statuses: Vec<String> = p
                .status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .map(|cs| {
                    let state = cs.state.as_ref();
                    let w = state
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.clone());
                    let t = state
                        .and_then(|s| s.terminated.as_ref())
                        .and_then(|t| t.reason.clone());
                    let phase = w.or(t).unwrap_or_else(|| {
                        if cs.ready {
                            "Ready".into()
                        } else {
                            "NotReady".into()
                        }
                    });
                    format!("{}={} restarts={}", cs.name, phase, cs.restart_count)
                })
                .collect();
            format!("{} [{}]", pod_name(p), statuses.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Does the Deployment's pod template mount a writable volume at `mount_path` in its Headlamp container?
pub fn deployment_mounts(d: &Deployment, mount_path: &str) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .is_some_and(|spec| spec_mounts(spec, mount_path))
}

/// Does the live pod mount a writable volume at `mount_path` in its Headlamp container?
pub fn pod_mounts(pod: &Pod, mount_path: &str) -> bool {
    pod.spec
        .as_ref()
        .is_some_and(|spec| spec_mounts(spec, mount_path))
}

fn spec_mounts(spec: &PodSpec, mount_path: &str) -> bool {
    spec.containers
        .iter()
        .filter(|c| c.name == "headlamp")
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .any(|m| {
            m.mount_path.trim_end_matches('/') == mount_path.trim_end_matches('/')
                && m.read_only != Some(true)
        })
}

/// A privileged pod that Pod Security "restricted" must reject (sent with dryRun=All: nothing is created).
pub fn privileged_probe_pod(namespace: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "headlamp-e2e-privileged-probe", "namespace": namespace},
        "spec": {
            "containers": [{
                "name": "probe",
                "image": "busybox:1.36",
                "securityContext": {"privileged": true}
            }]
        }
    })
}

/// The answer to creating the privileged probe: it must be a 403 from Pod Security admission.
pub fn judge_psa_rejection(status: Option<u16>, message: &str) -> Result<(), String> {
    match status {
        Some(403) if message.contains("violates PodSecurity") => Ok(()),
        Some(403) => Err(format!(
            "rejected, but not by Pod Security admission: {message}"
        )),
        Some(code) if (200..300).contains(&code) => Err(
            "a privileged pod was admitted: the namespace does not enforce Pod Security restricted"
                .into(),
        ),
        Some(code) => Err(format!("unexpected HTTP {code}: {message}")),
        None => Err(format!("no answer from the API server: {message}")),
    }
}

/// `GET /` through Traefik must be Headlamp's single-page app.
pub fn judge_ui(status: u16, body: &str) -> Result<(), String> {
    let is_headlamp = body.contains("<title>Headlamp</title>") || body.contains("Headlamp");
    match (status, is_headlamp) {
        (200, true) => Ok(()),
        (200, false) => Err(format!(
            "HTTP 200 but not Headlamp's page: {}",
            body.chars().take(120).collect::<String>()
        )),
        (code, _) => Err(format!(
            "HTTP {code} for GET / with Host {}",
            super::rbac::HEADLAMP_HOST
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        let v = crate::yaml::parse_yaml_documents(yaml, std::path::Path::new("t"))
            .unwrap()
            .remove(0);
        serde_json::from_value(v).unwrap()
    }

    const GOOD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: headlamp-7d9c, namespace: headlamp, uid: "1111"}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: headlamp
    image: ghcr.io/headlamp-k8s/headlamp:v0.41.0
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      runAsUser: 100
      capabilities: {drop: [ALL]}
status:
  phase: Running
  containerStatuses:
  - name: headlamp
    ready: true
    restartCount: 0
    image: ghcr.io/headlamp-k8s/headlamp:v0.41.0
    imageID: ""
    state: {running: {startedAt: "2026-11-27T20:00:00Z"}}
"#;

    #[test]
    fn posture_of_the_fixture_pod_passes() {
        let results = judge_posture(&pod(GOOD));
        assert_eq!(results.len(), 5);
        assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
    }

    #[test]
    fn posture_failures_name_what_is_missing() {
        let bad = GOOD
            .replace(
                "readOnlyRootFilesystem: true",
                "readOnlyRootFilesystem: false",
            )
            .replace(
                "seccompProfile: {type: RuntimeDefault}",
                "seccompProfile: {type: Unconfined}",
            )
            .replace("drop: [ALL]", "drop: [NET_RAW]");
        let failed: Vec<String> = judge_posture(&pod(&bad))
            .into_iter()
            .filter(|(_, r)| r.is_err())
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            failed,
            [
                "readOnlyRootFilesystem",
                "capabilities-drop-all",
                "seccomp-runtime-default"
            ]
        );
    }

    #[test]
    fn restarts_and_crashloops() {
        let good = pod(GOOD);
        assert!(judge_no_restarts(std::slice::from_ref(&good)).is_ok());
        assert!(crashlooping(std::slice::from_ref(&good)).is_empty());
        let looping = pod(&GOOD
            .replace("restartCount: 0", "restartCount: 4")
            .replace("ready: true", "ready: false")
            .replace(
                "state: {running: {startedAt: \"2026-11-27T20:00:00Z\"}}",
                "state: {waiting: {reason: CrashLoopBackOff, message: back-off 40s}}",
            ));
        let e = judge_no_restarts(std::slice::from_ref(&looping)).unwrap_err();
        assert!(
            e.contains("headlamp-7d9c/headlamp restarted 4 time(s)"),
            "{e}"
        );
        assert_eq!(
            crashlooping(std::slice::from_ref(&looping)),
            [("headlamp-7d9c".to_string(), "headlamp".to_string())]
        );
        assert!(describe_pods(&[looping]).contains("headlamp=CrashLoopBackOff restarts=4"));
        assert!(judge_no_restarts(&[]).is_err());
    }

    #[test]
    fn psa_and_ui_verdicts() {
        let msg = r#"pods "headlamp-e2e-privileged-probe" is forbidden: violates PodSecurity "restricted:latest": privileged (container "probe" must not set securityContext.privileged=true)"#;
        assert!(judge_psa_rejection(Some(403), msg).is_ok());
        assert!(
            judge_psa_rejection(Some(201), "")
                .unwrap_err()
                .contains("was admitted")
        );
        assert!(
            judge_psa_rejection(Some(403), "RBAC: forbidden")
                .unwrap_err()
                .contains("not by Pod Security")
        );
        assert!(judge_ui(200, "<!doctype html><title>Headlamp</title>").is_ok());
        assert!(
            judge_ui(404, "404 page not found")
                .unwrap_err()
                .contains("HTTP 404")
        );
        assert!(judge_ui(200, "Welcome to nginx").is_err());
    }

    #[test]
    fn mounts_of_the_live_deployment() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "headlamp"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "headlamp", "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}
            ]}}}
        }))
        .unwrap();
        assert!(deployment_mounts(&d, "/tmp"));
        assert!(!deployment_mounts(&d, "/home/headlamp"));
        let ro: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "headlamp"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "headlamp", "volumeMounts": [{"name": "tmp", "mountPath": "/tmp/", "readOnly": true}]}
            ]}}}
        }))
        .unwrap();
        assert!(
            !deployment_mounts(&ro, "/tmp"),
            "a read-only mount is not writable"
        );
        let live = pod(GOOD);
        assert!(!pod_mounts(&live, "/tmp"));
        let mut with_tmp = live.clone();
        if let Some(spec) = with_tmp.spec.as_mut() {
            spec.containers[0].volume_mounts = Some(vec![
                serde_json::from_value(serde_json::json!({"name": "tmp", "mountPath": "/tmp"}))
                    .unwrap(),
            ]);
        }
        assert!(pod_mounts(&with_tmp, "/tmp"));
    }
}
