//! `rootfs-unwritable-path`: `readOnlyRootFilesystem: true` while a path the Headlamp server writes at start is not
//! on a writable volume. Built on [`crate::startup`] (the one model of what the server does at start; sources cited
//! there), per image version:
//! - `/tmp` unwritable (v0.30.0+): **error**. The server exits at start (exit code 0, reason Completed, then
//!   CrashLoopBackOff) with `Failed to create static dir`: `mkdir /tmp/.headlamp<digits>: read-only file system`.
//!   Before v0.30.0 the fatal write is `index.baseUrl.html` under the static dir (`writing file`, exit 1).
//! - `$HOME/.config` unwritable alone: **warning**. The server starts and serves; it logs `creating plugins
//!   directory` and (v0.38.0+) `creating user-plugins directory` on every start, and runs without those default
//!   directories (user-installed plugins are disabled). In a crashing pod's log these lines come first: they are a
//!   red herring, not the cause.

use serde_json::Value;

use super::image::headlamp_containers;
use crate::finding::{Finding, Severity};
use crate::gitops::{Object, Origin};
use crate::rules::input::{LintInput, pod_spec, pointer_to_path};
pub use crate::startup::is_writable;
use crate::startup::{self, Cause, LogLine, PodOutcome, Startup};

pub const RULE: &str = "rootfs-unwritable-path";

/// HOME of the Headlamp image (the model's).
pub const DEFAULT_HOME: &str = startup::DEFAULT_HOME;

/// The values snippet that mounts writable emptyDirs at `dirs`.
pub fn fix_snippet(dirs: &[String]) -> String {
    fix_snippet_noted(dirs, None)
}

/// [`fix_snippet`] with a note in its first line.
pub fn fix_snippet_noted(dirs: &[String], note: Option<&str>) -> String {
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
    let note = note.map(|n| format!("; {n}")).unwrap_or_default();
    format!("add to the HelmRelease values (this chart's keys are `volumes`/`volumeMounts`, not `extraVolumes`{note}):\n{volumes}{mounts}")
        .trim_end()
        .to_string()
}

/// `Headlamp v0.41.0`, or `this Headlamp image` when the tag is not a version.
fn server(s: &Startup) -> String {
    match &s.version {
        Some(v) => format!("Headlamp v{v}"),
        None => "this Headlamp image".to_string(),
    }
}

fn quoted(lines: &[LogLine]) -> String {
    let messages: Vec<String> = lines
        .iter()
        .filter_map(|l| l.message.as_ref().map(|m| format!("`{m}`")))
        .collect();
    let error = lines.first().map(|l| l.error.as_str()).unwrap_or("");
    format!("{} (`{error}`)", messages.join(" and "))
}

/// What a read-only config dir costs: the directories the server then runs without (the chart's flags may set one).
pub fn what_breaks(container: &Value, s: &Startup) -> String {
    let mut args: Vec<String> = Vec::new();
    for key in ["command", "args"] {
        args.extend(
            container[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string)),
        );
    }
    let has = |flag: &str| {
        args.iter()
            .any(|a| a.trim_start_matches('-').split('=').next() == Some(flag))
    };
    let mut parts = Vec::new();
    if s.config_lines
        .iter()
        .any(|l| l.message.as_deref() == Some(startup::MSG_USER_PLUGINS))
    {
        parts.push(if has("user-plugins-dir") {
            "the default user-plugins directory is not created (the container's -user-plugins-dir is used instead)"
                .to_string()
        } else {
            "the user-plugins directory is disabled: plugins installed from Headlamp's plugin catalog cannot be installed or loaded"
                .to_string()
        });
    }
    parts.push(if has("plugins-dir") {
        "the default plugins directory is not created (the chart's -plugins-dir is used instead, so shipped plugins still load)"
            .to_string()
    } else {
        "the plugins directory is disabled".to_string()
    });
    parts.join("; ")
}

/// The red-herring note for a crash whose log starts with the `.config` lines.
pub fn red_herring(s: &Startup) -> String {
    if s.config_lines.is_empty() {
        return String::new();
    }
    format!(
        " Its log shows {} first: those lines are not the cause (the server goes on without {}); the exit is the /tmp line.",
        quoted(&s.config_lines),
        s.config_dir
    )
}

/// The message of a fatal read-only-root write, without the container's name.
pub fn fatal_message(s: &Startup, fatal: &startup::Fatal) -> String {
    let code = fatal
        .exit_code
        .map(|c| {
            if c == 0 {
                " (exit code 0, reason Completed, then CrashLoopBackOff)".to_string()
            } else {
                format!(" (exit code {c}, then CrashLoopBackOff)")
            }
        })
        .unwrap_or_default();
    let line = format!(
        "`{}`: `{}`",
        fatal.line.message.as_deref().unwrap_or(""),
        fatal.line.error
    );
    match &fatal.cause {
        Cause::TmpUnwritable { tmp } => format!(
            "{tmp} is not on a writable volume: {} copies its static files to a temp dir under {tmp} at start and exits{code} with {line}.{}",
            server(s),
            red_herring(s)
        ),
        Cause::StaticDirUnwritable { dir } => format!(
            "{} (before v0.30.0) rewrites index.html in its static dir {dir} at start and exits{code} with {line}; a volume there would hide the files.{}",
            server(s),
            red_herring(s).replace("the /tmp line", "that write")
        ),
        Cause::FlagUndefined { flag } => {
            format!(
                "{} does not define -{flag}: it exits with {line}.",
                server(s)
            )
        }
    }
}

fn check_object(o: &Object) -> Vec<Finding> {
    let Some((_, pod_spec)) = pod_spec(o) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let rendered = matches!(o.origin, Origin::Rendered { .. });
    for c in headlamp_containers(o) {
        let Some(container) = o.value.pointer(&c.pointer) else {
            continue;
        };
        let s = startup::predict(container, pod_spec);
        if !s.read_only_root {
            continue;
        }
        let home = s
            .config_dir
            .strip_suffix("/.config")
            .unwrap_or(&s.config_dir);
        let config_missing = !s.config_lines.is_empty();
        let path = if rendered {
            "volumeMounts".to_string()
        } else {
            format!("{}.volumeMounts", pointer_to_path(&c.pointer))
        };
        let finding = |severity: Severity| {
            Finding::new(RULE, severity)
                .file(o.location())
                .object(o.id())
                .path(path.clone())
        };
        let fix_dirs = |dirs: Vec<String>, note: Option<&str>| {
            if rendered {
                fix_snippet_noted(&dirs, note)
            } else {
                format!("mount writable emptyDir volumes at {}", dirs.join(" and "))
            }
        };
        match s.rootfs_outcome() {
            PodOutcome::FatalCrash { .. } => {
                let Some(fatal) = s.rootfs_fatal.as_ref() else {
                    continue;
                };
                let fix = match &fatal.cause {
                    Cause::TmpUnwritable { tmp } => {
                        let mut dirs = vec![tmp.clone()];
                        if config_missing {
                            dirs.push(home.to_string());
                        }
                        let note = format!(
                            "{tmp} is what the server needs to start, {home} gives it its plugin directories"
                        );
                        fix_dirs(dirs, config_missing.then_some(note.as_str()))
                    }
                    _ => "run Headlamp v0.30.0 or later (a chart whose appVersion is ≥ 0.30.0, without an image.tag override), which copies its static files to /tmp; then mount /tmp (and $HOME) on emptyDirs. Or set securityContext.readOnlyRootFilesystem: false".to_string(),
                };
                out.push(
                    finding(Severity::Error)
                        .message(format!(
                            "container \"{}\" sets readOnlyRootFilesystem: true, but {}",
                            c.name,
                            fatal_message(&s, fatal)
                        ))
                        .fix(fix),
                );
            }
            PodOutcome::RunsWithWarnings { lines } => {
                out.push(
                    finding(Severity::Warning)
                        .message(format!(
                            "container \"{}\" sets readOnlyRootFilesystem: true, but {} is not on a writable volume. {} still starts and serves, but logs {} on every start, and {}.",
                            c.name,
                            s.config_dir,
                            server(&s),
                            quoted(&lines),
                            what_breaks(container, &s)
                        ))
                        .fix(fix_dirs(vec![home.to_string()], None)),
                );
            }
            PodOutcome::Clean => {}
        }
    }
    out
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    input.all_objects().flat_map(check_object).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::input::testutil::*;

    fn deployment_with(image: &str, extra_container: &str, volumes: &str) -> Object {
        rendered(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: headlamp, namespace: headlamp}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: headlamp\n        image: {image}\n        args: [\"-in-cluster\", \"-plugins-dir=/headlamp/plugins\"]\n        securityContext: {{readOnlyRootFilesystem: true}}\n{extra_container}{volumes}"
        ))
    }

    fn deployment(extra_container: &str, volumes: &str) -> Object {
        deployment_with(
            "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
            extra_container,
            volumes,
        )
    }

    const MOUNTS: &str = "        volumeMounts:\n        - {name: home, mountPath: /home/headlamp}\n        - {name: tmp, mountPath: /tmp}\n";
    const VOLUMES: &str =
        "      volumes:\n      - {name: home, emptyDir: {}}\n      - {name: tmp, emptyDir: {}}\n";
    const TMP_MOUNT: &str = "        volumeMounts:\n        - {name: tmp, mountPath: /tmp}\n";
    const TMP_VOLUME: &str = "      volumes:\n      - {name: tmp, emptyDir: {}}\n";

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
    fn only_tmp_writable_is_a_warning_the_server_still_starts() {
        let f = run(deployment(TMP_MOUNT, TMP_VOLUME));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        for needle in [
            "/home/headlamp/.config is not on a writable volume",
            "still starts and serves",
            "`creating plugins directory` and `creating user-plugins directory` (`mkdir /home/headlamp/.config: read-only file system`) on every start",
            "the user-plugins directory is disabled",
            "the chart's -plugins-dir is used instead",
        ] {
            assert!(f[0].message.contains(needle), "{needle}: {}", f[0].message);
        }
        assert!(
            f[0].fix.contains("mountPath: /home/headlamp") && !f[0].fix.contains("mountPath: /tmp"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn no_volumes_at_all_is_the_tmp_crash_and_names_the_red_herring() {
        let f = run(deployment("", ""));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Error);
        for needle in [
            "/tmp is not on a writable volume",
            "exits (exit code 0, reason Completed, then CrashLoopBackOff) with `Failed to create static dir`: `mkdir /tmp/.headlamp<digits>: read-only file system`",
            "`creating plugins directory` and `creating user-plugins directory`",
            "not the cause",
        ] {
            assert!(f[0].message.contains(needle), "{needle}: {}", f[0].message);
        }
        assert!(
            f[0].fix
                .contains("volumes:\n  - name: tmp\n    emptyDir: {}\n  - name: home"),
            "{}",
            f[0].fix
        );
        // HOME alone still crashes on /tmp, without the red herring
        let home_mount =
            "        volumeMounts:\n        - {name: home, mountPath: /home/headlamp}\n";
        let home_volume = "      volumes:\n      - {name: home, emptyDir: {}}\n";
        let f = run(deployment(home_mount, home_volume));
        assert_eq!(f[0].severity, Severity::Error);
        assert!(!f[0].message.contains("not the cause"), "{}", f[0].message);
        assert!(
            !f[0].fix.contains("mountPath: /home/headlamp"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn read_only_mounts_and_config_maps_do_not_count() {
        let mounts = "        volumeMounts:\n        - {name: home, mountPath: /home/headlamp, readOnly: true}\n        - {name: tmp, mountPath: /tmp}\n";
        let volumes = "      volumes:\n      - {name: home, emptyDir: {}}\n      - {name: tmp, configMap: {name: x}}\n";
        let f = run(deployment(mounts, volumes));
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message.contains("/tmp is not on a writable volume"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn versions_old_and_new() {
        // v0.36.0: one .config line only
        let f = run(deployment_with(
            "ghcr.io/headlamp-k8s/headlamp:v0.36.0",
            TMP_MOUNT,
            TMP_VOLUME,
        ));
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(!f[0].message.contains("user-plugins"), "{}", f[0].message);
        // before v0.30.0 the static dir is the fatal write: /tmp does not help
        let f = run(deployment_with(
            "ghcr.io/headlamp-k8s/headlamp:v0.28.0",
            MOUNTS,
            VOLUMES,
        ));
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message
                .contains("`open /headlamp/frontend/index.baseUrl.html: read-only file system`"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("exit code 1"), "{}", f[0].message);
        assert!(f[0].fix.contains("v0.30.0 or later"), "{}", f[0].fix);
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
