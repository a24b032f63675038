//! `rootfs-unwritable-path`: `readOnlyRootFilesystem: true` while a path the Headlamp server writes is not on a
//! writable volume. The server creates `$HOME/.config/Headlamp/…` (HOME=/home/headlamp in the image) and uses /tmp;
//! without writable mounts it exits with `mkdir /home/headlamp/.config: read-only file system`.

use serde_json::Value;

use super::image::headlamp_containers;
use super::{LintInput, pointer_to_path};
use crate::finding::{Finding, Severity};
use crate::gitops::{Object, Origin};

pub const RULE: &str = "rootfs-unwritable-path";

/// HOME of the Headlamp image.
pub const DEFAULT_HOME: &str = "/home/headlamp";

/// Volume types a container can write to.
const WRITABLE_VOLUME_TYPES: [&str; 6] = [
    "emptyDir",
    "persistentVolumeClaim",
    "ephemeral",
    "hostPath",
    "nfs",
    "iscsi",
];

/// Is `path` on a writable mount of this container (in this pod spec)?
pub fn is_writable(path: &str, container: &Value, pod_spec: &Value) -> bool {
    let mounts = container["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let volumes = pod_spec["volumes"].as_array().cloned().unwrap_or_default();
    mounts.iter().any(|m| {
        let Some(mount_path) = m["mountPath"].as_str() else {
            return false;
        };
        if m["readOnly"] == Value::Bool(true) {
            return false;
        }
        let mount_path = mount_path.trim_end_matches('/');
        let covers = path == mount_path
            || mount_path.is_empty()
            || path.starts_with(&format!("{mount_path}/"));
        let writable_volume = volumes.iter().any(|v| {
            v["name"] == m["name"] && WRITABLE_VOLUME_TYPES.iter().any(|t| !v[*t].is_null())
        });
        covers && writable_volume
    })
}

/// The paths a Headlamp container writes: `$HOME/.config` and `/tmp`.
pub fn written_paths(container: &Value) -> Vec<String> {
    let home = container["env"]
        .as_array()
        .and_then(|env| env.iter().find(|e| e["name"] == "HOME"))
        .and_then(|e| e["value"].as_str())
        .unwrap_or(DEFAULT_HOME)
        .trim_end_matches('/')
        .to_string();
    vec![format!("{home}/.config"), "/tmp".to_string()]
}

/// The values snippet that mounts writable emptyDirs at `dirs`.
pub fn fix_snippet(dirs: &[String]) -> String {
    let name = |d: &str| match d {
        "/tmp" => "tmp".to_string(),
        d if d.starts_with("/home/") => "home".to_string(),
        d => d.trim_matches('/').replace(['/', '.'], "-"),
    };
    let mut volumes = String::from("volumes:\n");
    let mut mounts = String::from("volumeMounts:\n");
    for d in dirs {
        let n = name(d);
        volumes.push_str(&format!("  - name: {n}\n    emptyDir: {{}}\n"));
        mounts.push_str(&format!("  - name: {n}\n    mountPath: {d}\n"));
    }
    format!("add to the HelmRelease values (this chart's keys are `volumes`/`volumeMounts`, not `extraVolumes`):\n{volumes}{mounts}")
        .trim_end()
        .to_string()
}

fn check_object(o: &Object) -> Vec<Finding> {
    let Some((_, pod_spec)) = super::pod_spec(o) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in headlamp_containers(o) {
        let Some(container) = o.value.pointer(&c.pointer) else {
            continue;
        };
        if container["securityContext"]["readOnlyRootFilesystem"] != Value::Bool(true) {
            continue;
        }
        let missing: Vec<String> = written_paths(container)
            .into_iter()
            .filter(|p| !is_writable(p, container, pod_spec))
            .collect();
        if missing.is_empty() {
            continue;
        }
        // Mount the directory that holds each path: $HOME (for $HOME/.config) and /tmp.
        let dirs: Vec<String> = missing
            .iter()
            .map(|p| p.strip_suffix("/.config").unwrap_or(p).to_string())
            .collect();
        let first = &missing[0];
        let rendered = matches!(o.origin, Origin::Rendered { .. });
        out.push(
            Finding::new(RULE, Severity::Error)
                .file(o.location())
                .object(o.id())
                .path(if rendered {
                    "volumeMounts".to_string()
                } else {
                    format!("{}.volumeMounts", pointer_to_path(&c.pointer))
                })
                .message(format!(
                    "container \"{}\" sets readOnlyRootFilesystem: true, but {} {} not on a writable volume. The Headlamp server writes $HOME/.config (user plugins, since v0.38.0) and /tmp; it exits at start with `mkdir {}: read-only file system`.",
                    c.name,
                    missing.join(" and "),
                    if missing.len() == 1 { "is" } else { "are" },
                    if first.ends_with("/.config") { first.as_str() } else { "/tmp/…" },
                ))
                .fix(if rendered {
                    fix_snippet(&dirs)
                } else {
                    format!("mount writable emptyDir volumes at {}", dirs.join(" and "))
                }),
        );
    }
    out
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    input.all_objects().flat_map(check_object).collect()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn deployment(extra_container: &str, volumes: &str) -> Object {
        rendered(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: headlamp, namespace: headlamp}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: headlamp\n        image: ghcr.io/headlamp-k8s/headlamp:v0.41.0\n        securityContext: {{readOnlyRootFilesystem: true}}\n{extra_container}{volumes}"
        ))
    }

    const MOUNTS: &str = "        volumeMounts:\n        - {name: home, mountPath: /home/headlamp}\n        - {name: tmp, mountPath: /tmp}\n";
    const VOLUMES: &str =
        "      volumes:\n      - {name: home, emptyDir: {}}\n      - {name: tmp, emptyDir: {}}\n";

    fn run(o: Object) -> Vec<Finding> {
        let mut r = helmrelease("{}");
        r.rendered = vec![o];
        check(&input(vec![], vec![r]))
    }

    #[test]
    fn home_and_tmp_on_empty_dirs_is_clean() {
        assert!(run(deployment(MOUNTS, VOLUMES)).is_empty());
    }

    #[test]
    fn only_tmp_writable_is_the_user_mistake() {
        let mounts = "        volumeMounts:\n        - {name: tmp, mountPath: /tmp}\n";
        let volumes = "      volumes:\n      - {name: tmp, emptyDir: {}}\n";
        let f = run(deployment(mounts, volumes));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .contains("mkdir /home/headlamp/.config: read-only file system"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix.contains("mountPath: /home/headlamp") && !f[0].fix.contains("mountPath: /tmp"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn no_volumes_at_all_reports_both_paths() {
        let f = run(deployment("", ""));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .contains("/home/headlamp/.config and /tmp are not")
        );
        assert!(
            f[0].fix
                .contains("volumes:\n  - name: home\n    emptyDir: {}\n  - name: tmp")
        );
    }

    #[test]
    fn read_only_mounts_and_config_maps_do_not_count() {
        let mounts = "        volumeMounts:\n        - {name: home, mountPath: /home/headlamp, readOnly: true}\n        - {name: tmp, mountPath: /tmp}\n";
        let volumes = "      volumes:\n      - {name: home, emptyDir: {}}\n      - {name: tmp, configMap: {name: x}}\n";
        let f = run(deployment(mounts, volumes));
        assert!(
            f[0].message.contains("/home/headlamp/.config and /tmp"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn writable_root_filesystem_is_not_checked_and_home_env_is_honoured() {
        let mut o = deployment("", "");
        o.value["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] =
            false.into();
        assert!(run(o).is_empty());
        let env = "        env:\n        - {name: HOME, value: /data}\n        volumeMounts:\n        - {name: d, mountPath: /data}\n        - {name: tmp, mountPath: /tmp}\n";
        let volumes =
            "      volumes:\n      - {name: d, emptyDir: {}}\n      - {name: tmp, emptyDir: {}}\n";
        assert!(run(deployment(env, volumes)).is_empty());
    }
}
