//! The pods check: what crashing containers and their logs say.
//!
//! Containers in trouble (waiting in CrashLoopBackOff/Error, restarted, or terminated — exit code 0 with reason
//! Completed included: that is how Headlamp exits on a read-only /tmp) are read, previous log first, then the current
//! one; running Headlamp containers have their current log read too. The lines are read with the model of
//! [`crate::startup`] (sources cited there):
//! - `flag provided but not defined: -X` → `image-flag-unsupported`: names the flag, the image's Headlamp version and
//!   the first release that defines the flag (from [`crate::lint::flags::table`]);
//! - `Failed to create static dir` (`mkdir /tmp/.headlamp…: read-only file system`), or before v0.30.0 `writing file`
//!   under the static dir → `rootfs-unwritable-path` (error): that line is the cause; the `creating plugins
//!   directory` / `creating user-plugins directory` lines before it are named as not the cause;
//! - a running container whose log has only those `.config` lines → `rootfs-unwritable-path` (warning): the server
//!   runs without its plugin directories; not a crash;
//! - any other CrashLoopBackOff or high restart count → `pod-crashloop`, with the log's last lines.
//!
//! Findings name the pod's workload (Pod → ReplicaSet → Deployment), so that a log finding and the render's finding
//! about the same Deployment are one.

use serde_json::Value;

use super::check::{Check, Evidence, PodsCheck, error, object_id};
use crate::error::Result;
use crate::finding::{Finding, Severity};
use crate::lint::{flags, image, rootfs};
use crate::startup::{self, LineKind};
use crate::view::{self, ClusterView, POD, REPLICASET};

pub const CRASHLOOP_RULE: &str = "pod-crashloop";
/// Restarts from which a container counts as crashlooping even when it is running right now.
pub const HIGH_RESTARTS: i64 = 5;
/// Log lines quoted in a `pod-crashloop` finding.
pub const LAST_LINES: usize = 10;

/// The flag in `flag provided but not defined: -X` (read with [`startup::read_log`]).
pub fn undefined_flag(log: &str) -> Option<String> {
    startup::read_log(log)
        .into_iter()
        .find_map(|s| match s.what {
            LineKind::FlagUndefined { flag } => Some(flag),
            _ => None,
        })
}

/// The last `n` non-empty lines of a log, each cut at 300 characters. The log is redacted whole first (a PEM block
/// or a YAML block value spans lines), then cut.
pub fn last_lines(log: &str, n: usize) -> Vec<String> {
    let log = view::redact(log);
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| {
            if l.chars().count() > 300 {
                format!("{}…", l.chars().take(300).collect::<String>())
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// A container of a pod, with its status and place in the spec.
struct Container<'a> {
    spec: &'a Value,
    status: &'a Value,
    /// `containers[0]` / `initContainers[0]`.
    field: String,
}

fn containers(pod: &Value) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for (spec_key, status_key) in [
        ("initContainers", "initContainerStatuses"),
        ("containers", "containerStatuses"),
    ] {
        for (i, spec) in pod["spec"][spec_key]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(status) = pod["status"][status_key]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == spec["name"])
            else {
                continue;
            };
            out.push(Container {
                spec,
                status,
                field: format!("{spec_key}[{i}]"),
            });
        }
    }
    out
}

fn in_trouble(status: &Value) -> bool {
    let waiting = status["state"]["waiting"]["reason"].as_str();
    let restarts = status["restartCount"].as_i64().unwrap_or(0);
    // any termination counts, exit code 0 included: Headlamp exits 0 (reason Completed) on a read-only /tmp, and a
    // server of a Deployment (restartPolicy Always) is never meant to terminate
    let exited = |s: &Value| s["exitCode"].is_i64();
    matches!(
        waiting,
        Some("CrashLoopBackOff" | "Error" | "RunContainerError")
    ) || restarts > 0
        || exited(&status["state"]["terminated"])
        || exited(&status["lastState"]["terminated"])
}

fn is_headlamp(container: &Value) -> bool {
    image::is_headlamp_image(&image::parse_image(
        container["image"].as_str().unwrap_or(""),
    ))
}

/// "CrashLoopBackOff, 4 restarts, last exit: Error (code 2)".
fn describe_state(status: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(w) = status["state"]["waiting"]["reason"].as_str() {
        parts.push(w.to_string());
    } else if status["state"]["running"].is_object() {
        parts.push("running".to_string());
    } else if let Some(r) = status["state"]["terminated"]["reason"].as_str() {
        parts.push(format!("terminated: {r}"));
    }
    let restarts = status["restartCount"].as_i64().unwrap_or(0);
    parts.push(format!(
        "{restarts} restart{}",
        if restarts == 1 { "" } else { "s" }
    ));
    let last = &status["lastState"]["terminated"];
    if let Some(code) = last["exitCode"].as_i64() {
        parts.push(format!(
            "last exit: {} (code {code})",
            last["reason"].as_str().unwrap_or("terminated")
        ));
    }
    parts.join(", ")
}

/// The workload a pod belongs to (`Deployment/ns/name`), else the pod itself.
async fn owner(view: &dyn ClusterView, ns: &str, pod: &Value) -> Result<(String, bool)> {
    let controller = pod["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["controller"] == true);
    let Some(o) = controller else {
        return Ok((object_id(pod), false));
    };
    let (kind, name) = (
        o["kind"].as_str().unwrap_or(""),
        o["name"].as_str().unwrap_or(""),
    );
    if kind == "ReplicaSet"
        && let Some(rs) = view.get(&REPLICASET, Some(ns), name).await?
        && let Some(dep) = rs["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["controller"] == true && o["kind"] == "Deployment")
    {
        return Ok((
            format!("Deployment/{ns}/{}", dep["name"].as_str().unwrap_or("")),
            true,
        ));
    }
    Ok((format!("{kind}/{ns}/{name}"), true))
}

/// The HelmRelease that made a pod (`app.kubernetes.io/instance` = its release name), else the only one.
fn release_of<'a>(releases: &'a [Value], pod: &Value) -> Option<&'a Value> {
    let instance = pod["metadata"]["labels"]["app.kubernetes.io/instance"].as_str();
    releases
        .iter()
        .find(|hr| Some(super::release::release_name(hr).as_str()) == instance)
        .or(if releases.len() == 1 {
            releases.first()
        } else {
            None
        })
}

pub async fn check(
    view: &dyn ClusterView,
    ns: &str,
    releases: &[Value],
    pods: &[Value],
) -> Result<PodsCheck> {
    let check = Check::new(
        "pods",
        "pods and logs",
        vec![image::FLAG_RULE, rootfs::RULE, CRASHLOOP_RULE],
    );
    let mut out = PodsCheck {
        check,
        evidence: Vec::new(),
    };
    for pod in pods {
        let pod_name = view::name_of(pod);
        for c in containers(pod) {
            let trouble = in_trouble(c.status);
            // a running Headlamp server may still log the `.config` lines (a warning, not a crash)
            let running_headlamp =
                !trouble && is_headlamp(c.spec) && c.status["state"]["running"].is_object();
            if !trouble && !running_headlamp {
                continue;
            }
            let cname = c.spec["name"].as_str().unwrap_or("");
            let mut log = None;
            let order: &[bool] = if trouble { &[true, false] } else { &[false] };
            for previous in order {
                if let Some(text) = view.logs(ns, pod_name, cname, *previous).await? {
                    log = Some((text, *previous));
                    break;
                }
            }
            let (object, owned) = owner(view, ns, pod).await?;
            let spec_path = if owned {
                format!("spec.template.spec.{}", c.field)
            } else {
                format!("spec.{}", c.field)
            };
            let state = describe_state(c.status);
            let hr = release_of(releases, pod);
            let (log_text, previous) = match &log {
                Some((t, p)) => (t.as_str(), *p),
                None => ("", false),
            };
            let which = if previous { "previous" } else { "current" };
            let file = if log.is_some() {
                view.log_location(ns, pod_name, cname, previous)
            } else {
                view.location(&POD, Some(ns), pod_name)
            };
            let image_text = c.spec["image"].as_str().unwrap_or("");
            let seen = startup::read_log(log_text);

            if running_headlamp {
                if seen
                    .iter()
                    .any(|s| matches!(s.what, LineKind::ConfigDir { .. }))
                {
                    out.evidence.push(config_warning(
                        &seen,
                        pod,
                        &c,
                        pod_name,
                        &state,
                        Finding::new(rootfs::RULE, Severity::Warning)
                            .file(file)
                            .object(object)
                            .path(format!("{spec_path}.volumeMounts")),
                    ));
                }
                continue;
            }

            if let Some(flag) = undefined_flag(log_text) {
                out.evidence.push(flag_finding(
                    &flag,
                    pod_name,
                    cname,
                    image_text,
                    &state,
                    which,
                    hr,
                    error(image::FLAG_RULE)
                        .file(file)
                        .object(object)
                        .path(format!("{spec_path}.args")),
                ));
                continue;
            }
            if let Some(fatal) = seen.iter().find(|s| s.what.is_fatal()) {
                out.evidence.push(rootfs_finding(
                    fatal,
                    &seen,
                    pod,
                    &c,
                    pod_name,
                    &state,
                    which,
                    hr,
                    error(rootfs::RULE)
                        .file(file)
                        .object(object)
                        .path(format!("{spec_path}.volumeMounts")),
                ));
                continue;
            }
            let crashloop = c.status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
                || c.status["restartCount"].as_i64().unwrap_or(0) >= HIGH_RESTARTS;
            if crashloop {
                let lines = last_lines(log_text, LAST_LINES);
                let mut quoted = if lines.is_empty() {
                    " Its log is empty.".to_string()
                } else {
                    format!(" Last lines of its {which} log:\n  {}", lines.join("\n  "))
                };
                if seen
                    .iter()
                    .any(|s| matches!(s.what, LineKind::ConfigDir { .. }))
                {
                    quoted.push_str(&format!(
                        "\n  (The `{}` lines in it are not the cause: Headlamp logs them on a read-only $HOME/.config and goes on.)",
                        startup::MSG_PLUGINS
                    ));
                }
                let last = &c.status["lastState"]["terminated"];
                let fix = if last["reason"] == "OOMKilled" {
                    let limit = c.spec["resources"]["limits"]["memory"]
                        .as_str()
                        .map(|m| format!(" (now {m})"))
                        .unwrap_or_default();
                    format!(
                        "the container ran out of memory: raise resources.limits.memory in the HelmRelease values{limit}"
                    )
                } else {
                    format!(
                        "the cause is in its log: `kubectl logs -n {ns} {pod_name} -c {cname} --previous`; `kubectl describe pod -n {ns} {pod_name}` shows its events"
                    )
                };
                let f = error(CRASHLOOP_RULE)
                    .file(file)
                    .object(object)
                    .path(spec_path)
                    .message(format!(
                        "pod {pod_name}, container \"{cname}\" ({image_text}) is crashlooping: {state}.{quoted}"
                    ))
                    .fix(fix);
                out.evidence.push(Evidence {
                    evidence: format!("pod {pod_name} ({state})"),
                    finding: f,
                });
            }
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn flag_finding(
    flag: &str,
    pod: &str,
    container: &str,
    image_text: &str,
    state: &str,
    which: &str,
    hr: Option<&Value>,
    f: Finding,
) -> Evidence {
    let table = flags::table();
    let img = image::parse_image(image_text);
    let version = img.tag.as_deref().and_then(flags::parse_version);
    let tag = img.tag.clone().unwrap_or_else(|| "(no tag)".into());
    let since = table.since(flag);
    let defined = match (since, &version) {
        (Some(since), Some(_)) => format!(
            "Headlamp {tag} does not define -{flag}; the first release that does is {since}."
        ),
        (Some(since), None) => format!(
            "The image's version is unknown (tag `{tag}`); -{flag} first appears in Headlamp {since}."
        ),
        (None, _) => format!("No Headlamp release in the flag table defines -{flag}."),
    };
    let evidence =
        format!("pod {pod} ({state}), {which} log: `flag provided but not defined: -{flag}`");
    let values_tag = hr
        .and_then(|h| h["spec"]["values"]["image"]["tag"].as_str())
        .filter(|t| !t.is_empty());
    let hr_id = hr
        .map(object_id)
        .unwrap_or_else(|| "the HelmRelease".into());
    let fix = match (values_tag, since) {
        (Some(t), Some(since)) => format!(
            "remove `image.tag: {t}` from the values of {hr_id} so the chart runs its own image (chart and image ship as a tested pair); or run an image ≥ {since}"
        ),
        (Some(t), None) => format!("remove `image.tag: {t}` from the values of {hr_id}"),
        (None, Some(since)) => format!(
            "run an image ≥ {since} (the chart's appVersion), or remove what adds -{flag} (config.extraArgs)"
        ),
        (None, None) => format!("remove what adds -{flag} to the container's args"),
    };
    Evidence {
        finding: f
            .message(format!(
                "pod {pod}, container \"{container}\" ({image_text}) exits at start: {state}; its {which} log says `flag provided but not defined: -{flag}`. {defined} The chart's templates pass the flags of the chart's own appVersion."
            ))
            .fix(fix),
        evidence,
    }
}

/// The container's writable mounts, for messages.
fn writable_mounts(c: &Container<'_>) -> String {
    let writable: Vec<String> = c.spec["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["readOnly"] != true)
        .filter_map(|m| m["mountPath"].as_str().map(str::to_string))
        .collect();
    if writable.is_empty() {
        "it has no writable mounts".to_string()
    } else {
        format!("its writable mounts: {}", writable.join(", "))
    }
}

/// `creating plugins directory` and `creating user-plugins directory` (`mkdir …: read-only file system`), as seen.
fn config_lines_seen(seen: &[startup::Seen]) -> Option<String> {
    let mut messages: Vec<String> = Vec::new();
    let mut path = String::new();
    for s in seen {
        if let LineKind::ConfigDir { message, path: p } = &s.what {
            if !messages.contains(message) {
                messages.push(message.clone());
            }
            path = p.clone();
        }
    }
    if messages.is_empty() {
        return None;
    }
    Some(format!(
        "`{}` (`mkdir {path}: read-only file system`)",
        messages.join("` and `")
    ))
}

#[allow(clippy::too_many_arguments)]
fn rootfs_finding(
    fatal: &startup::Seen,
    seen: &[startup::Seen],
    pod: &Value,
    c: &Container<'_>,
    pod_name: &str,
    state: &str,
    which: &str,
    hr: Option<&Value>,
    f: Finding,
) -> Evidence {
    let model = startup::predict(c.spec, &pod["spec"]);
    let (quoted_line, dir, pre_030) = match &fatal.what {
        LineKind::TmpStaticDir { path } => (
            format!(
                "`{}`: `mkdir {path}: read-only file system`",
                startup::MSG_STATIC_DIR
            ),
            model.tmp_dir.clone(),
            false,
        ),
        LineKind::StaticDirWrite { path } => (
            format!(
                "`{}`: `open {path}: read-only file system`",
                startup::MSG_WRITING_FILE
            ),
            path.rsplit_once('/')
                .map(|(d, _)| d.to_string())
                .unwrap_or_default(),
            true,
        ),
        _ => (format!("`{}`", fatal.text.trim()), String::new(), false),
    };
    let ro = c.spec["securityContext"]["readOnlyRootFilesystem"] == true;
    let values = hr.map(|h| &h["spec"]["values"]);
    let extra: Vec<&str> = ["extraVolumes", "extraVolumeMounts"]
        .into_iter()
        .filter(|k| values.is_some_and(|v| !v[*k].is_null()))
        .collect();
    let extra_note = if extra.is_empty() {
        String::new()
    } else {
        format!(
            " The HelmRelease sets `{}`, which this chart does not read (its keys are `volumes`/`volumeMounts`): the live pod has no such volumes.",
            extra.join("`/`")
        )
    };
    let config = config_lines_seen(seen);
    let herring = match &config {
        Some(lines) => format!(
            " The {lines} lines before it are not the cause: the server logs them on a read-only $HOME/.config and goes on (without its plugin directories); it exits on {}.",
            if pre_030 {
                "the static dir write"
            } else {
                "/tmp"
            }
        ),
        None => String::new(),
    };
    let home = model
        .config_dir
        .strip_suffix("/.config")
        .unwrap_or(&model.config_dir)
        .to_string();
    let fix = if pre_030 {
        "run Headlamp v0.30.0 or later (a chart whose appVersion is ≥ 0.30.0, without an image.tag override), which copies its static files to /tmp; then mount /tmp (and $HOME) on emptyDirs. Or set securityContext.readOnlyRootFilesystem: false".to_string()
    } else {
        let mut dirs = vec![dir.clone()];
        if !model.config_lines.is_empty() || config.is_some() {
            dirs.push(home);
        }
        rootfs::fix_snippet(&dirs)
    };
    let evidence = format!(
        "pod {pod_name} ({state}), {which} log: {quoted_line}{}",
        if config.is_some() {
            " (the `.config` lines before it are not the cause)"
        } else {
            ""
        }
    );
    Evidence {
        finding: f
            .message(format!(
                "pod {pod_name}, container \"{}\" exits at start: {state}; its {which} log says {quoted_line}{}. {}{dir} is not on a writable volume ({}).{herring}{extra_note}",
                c.spec["name"].as_str().unwrap_or(""),
                if pre_030 {
                    " and the server exits with code 1"
                } else {
                    ", and the server exits on it with exit code 0 (reason Completed), which the kubelet restarts into CrashLoopBackOff"
                },
                if ro { "The root filesystem is read-only (securityContext.readOnlyRootFilesystem: true) and " } else { "" },
                writable_mounts(c),
            ))
            .fix(fix),
        evidence,
    }
}

/// A running server whose log has the `.config` lines: a warning, not a crash.
fn config_warning(
    seen: &[startup::Seen],
    pod: &Value,
    c: &Container<'_>,
    pod_name: &str,
    state: &str,
    f: Finding,
) -> Evidence {
    let model = startup::predict(c.spec, &pod["spec"]);
    let lines = config_lines_seen(seen).unwrap_or_default();
    let home = model
        .config_dir
        .strip_suffix("/.config")
        .unwrap_or(&model.config_dir)
        .to_string();
    Evidence {
        finding: f
            .message(format!(
                "pod {pod_name}, container \"{}\" runs ({state}), but its current log says {lines}: {} is not on a writable volume ({}). This is not a crash: the server logs these lines on every start and serves, but {}.",
                c.spec["name"].as_str().unwrap_or(""),
                model.config_dir,
                writable_mounts(c),
                rootfs::what_breaks(c.spec, &model),
            ))
            .fix(rootfs::fix_snippet(&[home])),
        evidence: format!("pod {pod_name} ({state}) logs {lines} on start"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_patterns() {
        assert_eq!(
            undefined_flag("x\nflag provided but not defined: -in-cluster-context-name\nUsage:"),
            Some("in-cluster-context-name".into())
        );
        assert_eq!(
            undefined_flag("flag provided but not defined: --session-ttl"),
            Some("session-ttl".into())
        );
        assert_eq!(undefined_flag("all good"), None);
        // exit code 0 (reason Completed) after a restart is trouble, as CrashLoopBackOff is
        let completed = serde_json::json!({
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
        });
        assert!(in_trouble(&completed));
        let looping = serde_json::json!({
            "restartCount": 3,
            "lastState": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        });
        assert!(in_trouble(&looping));
        assert!(describe_state(&looping).contains("last exit: Completed (code 0)"));
        let running = serde_json::json!({"restartCount": 0, "state": {"running": {}}});
        assert!(!in_trouble(&running));
    }

    #[test]
    fn last_lines_are_redacted_and_short() {
        let log = format!(
            "a\n\nb\nAuthorization: Bearer abc.def\n{}\n",
            "x".repeat(400)
        );
        let l = last_lines(&log, 3);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0], "b");
        assert_eq!(l[1], "Authorization: Bearer <redacted>");
        assert!(l[2].ends_with('…') && l[2].chars().count() == 301);
    }
}
