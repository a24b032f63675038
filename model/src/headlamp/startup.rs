//! What the Headlamp server does at start with a given pod spec and image: the one model behind lint's
//! `rootfs-unwritable-path`, doctor's reading of pod logs, and the outcome every e2e scenario expects.
//!
//! Read in the source of kubernetes-sigs/headlamp (tag v0.41.0 unless said otherwise):
//! - backend/pkg/config/config.go `flagset()` registers `-plugins-dir` with the default `defaultPluginDir()` and
//!   `-user-plugins-dir` with `defaultUserPluginDir()`: both run before the flags are parsed. Each does
//!   `os.MkdirAll(<os.UserConfigDir()>/Headlamp/plugins|user-plugins)`; on a read-only `$HOME` it logs at error level
//!   (`"message":"creating plugins directory"` / `"creating user-plugins directory"`, `"error":"mkdir
//!   /home/headlamp/.config: read-only file system"`) and returns "": the server goes on, user plugins disabled.
//!   `creating plugins directory` exists in every release v0.25+, `creating user-plugins directory` from v0.38.0.
//! - backend/cmd/headlamp.go `StartHeadlampServer`: with a static dir (the image's ENTRYPOINT passes
//!   `-html-static-dir /headlamp/frontend`, Dockerfile) it calls `copyStaticFiles`, which does
//!   `os.MkdirTemp(os.TempDir(), ".headlamp")`; on a read-only /tmp it logs `"message":"Failed to create static dir"`,
//!   `"error":"mkdir /tmp/.headlamp<digits>: read-only file system"` and returns; `main` (backend/cmd/server.go)
//!   then returns: exit code 0, which the kubelet reports as `reason: Completed`, and restarts it into
//!   CrashLoopBackOff. That exit exists from v0.30.0 (inline in StartHeadlampServer, moved into copyStaticFiles in
//!   v0.41.0). Before v0.30.0 the server rewrote the static dir in place (`baseURLReplace` → `mustWriteFile`, which
//!   logs `"message":"writing file"` and calls `os.Exit(1)`): on a read-only root that write is the fatal one.
//! - Upstream issue kubernetes-sigs/headlamp#4830 shows the sequence on a read-only root with nothing mounted: the
//!   two `.config` lines first, then `Failed to create static dir`. So the `.config` lines always precede the fatal
//!   line, and they are not its cause (a red herring). They also precede a flag error (`flag provided but not
//!   defined`), since the flag defaults run before the flags are parsed.
//! - Chart 0.42.0+ itself mounts an emptyDir `headlamp-tmp` at /tmp when readOnlyRootFilesystem is true and the
//!   values mount nothing there (charts/headlamp/templates/_helpers.tpl `headlamp.tmpVolumeContext`): the model reads
//!   the rendered pod spec, so that is predicted without knowing chart versions.

use std::sync::OnceLock;

use regex::Regex;
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flags::{self, Known};
use super::image_ref as image;

/// HOME of the Headlamp image (`adduser -S headlamp`).
pub const DEFAULT_HOME: &str = "/home/headlamp";
/// The static dir the image's ENTRYPOINT passes (`-html-static-dir /headlamp/frontend`).
pub const DEFAULT_STATIC_DIR: &str = "/headlamp/frontend";
/// From this release the server copies its static dir to a temp dir under /tmp at start.
pub const STATIC_COPY_SINCE: Version = Version::new(0, 30, 0);
/// From this release the server also creates the user-plugins directory at start.
pub const USER_PLUGINS_SINCE: Version = Version::new(0, 38, 0);

pub const MSG_PLUGINS: &str = "creating plugins directory";
pub const MSG_USER_PLUGINS: &str = "creating user-plugins directory";
pub const MSG_STATIC_DIR: &str = "Failed to create static dir";
pub const MSG_WRITING_FILE: &str = "writing file";
/// `os.MkdirTemp`'s random suffix in a predicted error text.
pub const DIGITS: &str = "<digits>";

/// One log line the server writes: a zerolog `message` with its `error`, or (for Go's flag package) a plain error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The zerolog `message` (`creating plugins directory`); `None` for a plain-text line.
    pub message: Option<String>,
    /// The `error` text; [`DIGITS`] stands for a run of digits.
    pub error: String,
}

impl LogLine {
    fn new(message: &str, error: String) -> Self {
        LogLine {
            message: Some(message.to_string()),
            error,
        }
    }

    fn error_regex(&self) -> Option<Regex> {
        let pattern = regex::escape(&self.error).replace(&regex::escape(DIGITS), "[0-9]+");
        Regex::new(&pattern).ok()
    }

    /// Does this log line (zerolog JSON, or plain text) say this?
    pub fn matches(&self, line: &str) -> bool {
        self.matcher()(line)
    }

    /// [`LogLine::matches`] with the pattern compiled once, for many lines.
    pub fn matcher(&self) -> impl Fn(&str) -> bool + '_ {
        let re = self.error_regex();
        move |line: &str| re.as_ref().is_some_and(|re| self.matches_with(re, line))
    }

    fn matches_with(&self, re: &Regex, line: &str) -> bool {
        match serde_json::from_str::<Value>(line.trim()) {
            Ok(Value::Object(m)) => {
                let message_ok = match &self.message {
                    Some(msg) => m.get("message").and_then(Value::as_str) == Some(msg.as_str()),
                    None => true,
                };
                let error_ok = m
                    .get("error")
                    .and_then(Value::as_str)
                    .is_some_and(|e| re.is_match(e))
                    || (self.message.is_none() && re.is_match(line));
                message_ok && error_ok
            }
            _ => re.is_match(line) && self.message.as_deref().is_none_or(|msg| line.contains(msg)),
        }
    }

    /// `creating plugins directory: mkdir /home/headlamp/.config: read-only file system`.
    pub fn display(&self) -> String {
        match &self.message {
            Some(m) => format!("{m}: {}", self.error),
            None => self.error.clone(),
        }
    }
}

/// The three outcomes a pod can have at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutcomeKind {
    FatalCrash,
    RunsWithWarnings,
    Clean,
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OutcomeKind::FatalCrash => "fatalCrash",
            OutcomeKind::RunsWithWarnings => "runsWithWarnings",
            OutcomeKind::Clean => "clean",
        })
    }
}

/// The predicted outcome of a pod, with the log lines that show it, in order. Serialized in a trace's `input`
/// records ([`crate::e2e::trace`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PodOutcome {
    /// The server exits at start (then CrashLoopBackOff): `line` is the fatal line, `before` the error lines it logs
    /// first (the `.config` red herring), `exit_code` what the kubelet reports (`None`: not modelled).
    FatalCrash {
        line: LogLine,
        exit_code: Option<i32>,
        before: Vec<LogLine>,
    },
    /// The server runs; it logs these error lines on every start.
    RunsWithWarnings {
        lines: Vec<LogLine>,
    },
    Clean,
}

impl PodOutcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            PodOutcome::FatalCrash { .. } => OutcomeKind::FatalCrash,
            PodOutcome::RunsWithWarnings { .. } => OutcomeKind::RunsWithWarnings,
            PodOutcome::Clean => OutcomeKind::Clean,
        }
    }

    /// Every line the outcome shows, in log order (the fatal line last).
    pub fn lines(&self) -> Vec<&LogLine> {
        match self {
            PodOutcome::FatalCrash { line, before, .. } => before.iter().chain([line]).collect(),
            PodOutcome::RunsWithWarnings { lines } => lines.iter().collect(),
            PodOutcome::Clean => Vec::new(),
        }
    }

    /// One line for messages: `fatalCrash (exit code 0) on "Failed to create static dir: …", after 2 .config lines`.
    pub fn describe(&self) -> String {
        match self {
            PodOutcome::FatalCrash {
                line,
                exit_code,
                before,
            } => {
                let code = exit_code
                    .map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default();
                let after = if before.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", after {}",
                        before
                            .iter()
                            .map(|l| format!("`{}`", l.display()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                format!("fatalCrash{code} on `{}`{after}", line.display())
            }
            PodOutcome::RunsWithWarnings { lines } => format!(
                "runsWithWarnings: {}",
                lines
                    .iter()
                    .map(|l| format!("`{}`", l.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            PodOutcome::Clean => "clean".to_string(),
        }
    }
}

/// Why a fatal line is fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// v0.30.0+: `os.MkdirTemp` under an unwritable temp dir (`/tmp`).
    TmpUnwritable { tmp: String },
    /// Before v0.30.0: the static dir (`/headlamp/frontend`) is rewritten in place on a read-only root.
    StaticDirUnwritable { dir: String },
    /// The image does not define a flag the container passes (mistake 1; reported by `image-flag-unsupported`).
    FlagUndefined { flag: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    pub line: LogLine,
    pub exit_code: Option<i32>,
    pub cause: Cause,
}

/// What the server does at start in one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// The image's Headlamp version; `None` when its tag is not a version (then the newest behaviour is assumed).
    pub version: Option<Version>,
    pub read_only_root: bool,
    /// `$XDG_CONFIG_HOME`, else `$HOME/.config` (Go's `os.UserConfigDir`).
    pub config_dir: String,
    /// `$TMPDIR`, else `/tmp` (Go's `os.TempDir`).
    pub tmp_dir: String,
    /// The `.config` error lines, in order (empty when the config dir is writable).
    pub config_lines: Vec<LogLine>,
    /// The flag error, when the image lacks a flag the container passes.
    pub flag_error: Option<Fatal>,
    /// The fatal write of a read-only root (`/tmp`, or the static dir before v0.30.0).
    pub rootfs_fatal: Option<Fatal>,
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)?
        .get("value")?
        .as_str()
        .filter(|v| !v.is_empty())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The `-html-static-dir` the server gets: the last one in command + args, else the image ENTRYPOINT's (unless
/// `command` replaces the ENTRYPOINT).
fn static_dir(container: &Value) -> Option<String> {
    let command = strings(&container["command"]);
    let args = strings(&container["args"]);
    let mut found = if command.is_empty() {
        Some(DEFAULT_STATIC_DIR.to_string())
    } else {
        None
    };
    let all: Vec<&String> = command.iter().skip(1).chain(args.iter()).collect();
    let mut i = 0;
    while i < all.len() {
        let a = all[i].trim_start_matches('-');
        if let Some(v) = a.strip_prefix("html-static-dir=") {
            found = Some(v.to_string());
        } else if a == "html-static-dir" && all[i].starts_with('-') {
            found = all.get(i + 1).map(|s| s.to_string());
            i += 1;
        }
        i += 1;
    }
    found.filter(|d| !d.is_empty())
}

/// Predict the start of a Headlamp container (`container` and the `pod_spec` it is in, as rendered or live).
pub fn predict(container: &Value, pod_spec: &Value) -> Startup {
    let image_text = container["image"].as_str().unwrap_or("");
    let img = image::parse_image(image_text);
    let version = img.tag.as_deref().and_then(flags::parse_version);
    let plain = version
        .as_ref()
        .map(|v| Version::new(v.major, v.minor, v.patch));
    // an unknown version (latest, a digest) behaves like the newest releases
    let at_least = |v: &Version| plain.as_ref().is_none_or(|p| p >= v);
    let read_only_root = container["securityContext"]["readOnlyRootFilesystem"] == true;
    let home = env_value(container, "HOME")
        .unwrap_or(DEFAULT_HOME)
        .trim_end_matches('/')
        .to_string();
    let config_dir = env_value(container, "XDG_CONFIG_HOME")
        .map(|d| d.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("{home}/.config"));
    let tmp_dir = env_value(container, "TMPDIR")
        .unwrap_or("/tmp")
        .trim_end_matches('/')
        .to_string();
    let writable = |p: &str| !read_only_root || is_writable(p, container, pod_spec);

    let mut config_lines = Vec::new();
    if !writable(&config_dir) {
        let error = format!("mkdir {config_dir}: read-only file system");
        config_lines.push(LogLine::new(MSG_PLUGINS, error.clone()));
        if at_least(&USER_PLUGINS_SINCE) {
            config_lines.push(LogLine::new(MSG_USER_PLUGINS, error));
        }
    }

    let flag_error = plain.as_ref().and_then(|v| {
        let Known::Flags(known) = flags::table().flags_of(v) else {
            return None;
        };
        let mut args: Vec<String> = strings(&container["command"]).into_iter().skip(1).collect();
        args.extend(strings(&container["args"]));
        let flag = flags::flags_in_args(&args)
            .into_iter()
            .find(|f| !known.contains(f))?;
        Some(Fatal {
            line: LogLine {
                message: None,
                error: format!("flag provided but not defined: -{flag}"),
            },
            exit_code: None,
            cause: Cause::FlagUndefined { flag },
        })
    });

    let rootfs_fatal = static_dir(container).and_then(|dir| {
        if at_least(&STATIC_COPY_SINCE) {
            (!writable(&tmp_dir)).then(|| Fatal {
                line: LogLine::new(
                    MSG_STATIC_DIR,
                    format!("mkdir {tmp_dir}/.headlamp{DIGITS}: read-only file system"),
                ),
                exit_code: Some(0),
                cause: Cause::TmpUnwritable {
                    tmp: tmp_dir.clone(),
                },
            })
        } else {
            let file = format!("{}/index.baseUrl.html", dir.trim_end_matches('/'));
            (!writable(&file)).then(|| Fatal {
                line: LogLine::new(
                    MSG_WRITING_FILE,
                    format!("open {file}: read-only file system"),
                ),
                exit_code: Some(1),
                cause: Cause::StaticDirUnwritable { dir: dir.clone() },
            })
        }
    });

    Startup {
        version,
        read_only_root,
        config_dir,
        tmp_dir,
        config_lines,
        flag_error,
        rootfs_fatal,
    }
}

impl Startup {
    fn outcome_with(&self, fatal: Option<&Fatal>) -> PodOutcome {
        match fatal {
            Some(f) => PodOutcome::FatalCrash {
                line: f.line.clone(),
                exit_code: f.exit_code,
                before: self.config_lines.clone(),
            },
            None if self.config_lines.is_empty() => PodOutcome::Clean,
            None => PodOutcome::RunsWithWarnings {
                lines: self.config_lines.clone(),
            },
        }
    }

    /// The whole prediction: a flag error comes first (flags are parsed before the server starts), then the
    /// read-only root.
    pub fn outcome(&self) -> PodOutcome {
        self.outcome_with(self.flag_error.as_ref().or(self.rootfs_fatal.as_ref()))
    }

    /// The prediction about the root filesystem alone (what `rootfs-unwritable-path` reports; a flag error is
    /// `image-flag-unsupported`'s, and the read-only root still fails once the flags are fixed).
    pub fn rootfs_outcome(&self) -> PodOutcome {
        self.outcome_with(self.rootfs_fatal.as_ref())
    }
}

/// A known line found in a log: what it is, the line itself, and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub index: usize,
    pub what: LineKind,
    pub text: String,
}

/// The kinds of lines the model knows, as read back from a real log (paths as the log has them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// `creating plugins directory` / `creating user-plugins directory` on a read-only config dir.
    ConfigDir { message: String, path: String },
    /// `Failed to create static dir`: `mkdir /tmp/.headlamp…: read-only file system` (fatal).
    TmpStaticDir { path: String },
    /// `writing file`: `open <static dir>/index….html: read-only file system` (fatal, before v0.30.0).
    StaticDirWrite { path: String },
    /// `flag provided but not defined: -X` (fatal).
    FlagUndefined { flag: String },
}

impl LineKind {
    pub fn is_fatal(&self) -> bool {
        !matches!(self, LineKind::ConfigDir { .. })
    }
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    // constant patterns: a failure to compile is a bug, caught by the tests
    cell.get_or_init(|| Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")))
}

fn classify(line: &str) -> Option<LineKind> {
    static RO: OnceLock<Regex> = OnceLock::new();
    static FLAG: OnceLock<Regex> = OnceLock::new();
    let ro = re(&RO, r"(?:mkdir|open) (/[^\s:]*): read-only file system");
    let flag = re(
        &FLAG,
        r"flag provided but not defined: -{1,2}([A-Za-z0-9][A-Za-z0-9._-]*)",
    );
    if let Some(c) = flag.captures(line) {
        return Some(LineKind::FlagUndefined {
            flag: c[1].to_string(),
        });
    }
    let path = ro.captures(line)?[1].to_string();
    let message = match serde_json::from_str::<Value>(line.trim()) {
        Ok(v) => v["message"].as_str().unwrap_or("").to_string(),
        Err(_) => String::new(),
    };
    let has = |m: &str| message == m || (message.is_empty() && line.contains(m));
    if has(MSG_USER_PLUGINS) {
        Some(LineKind::ConfigDir {
            message: MSG_USER_PLUGINS.into(),
            path,
        })
    } else if has(MSG_PLUGINS) {
        Some(LineKind::ConfigDir {
            message: MSG_PLUGINS.into(),
            path,
        })
    } else if has(MSG_STATIC_DIR) {
        Some(LineKind::TmpStaticDir { path })
    } else if has(MSG_WRITING_FILE) {
        Some(LineKind::StaticDirWrite { path })
    } else {
        None
    }
}

/// The lines of a log the model knows, in order.
pub fn read_log(log: &str) -> Vec<Seen> {
    log.lines()
        .enumerate()
        .filter_map(|(index, text)| {
            classify(text).map(|what| Seen {
                index,
                what,
                text: text.to_string(),
            })
        })
        .collect()
}

/// Are `expected` in `log`, in this order (each after the one before)? Err names the first one missing.
pub fn lines_in_order(log: &str, expected: &[&LogLine]) -> Result<(), String> {
    let lines: Vec<&str> = log.lines().collect();
    let mut from = 0;
    for (n, want) in expected.iter().enumerate() {
        let matches = want.matcher();
        match lines[from..].iter().position(|l| matches(l)) {
            Some(i) => from += i + 1,
            None => {
                let anywhere = lines.iter().any(|l| matches(l));
                return Err(format!(
                    "line {} of {} `{}` is {}",
                    n + 1,
                    expected.len(),
                    want.display(),
                    if anywhere {
                        "in the log, but not after the lines before it"
                    } else {
                        "not in the log"
                    }
                ));
            }
        }
    }
    Ok(())
}

/// What a live Headlamp container showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// It exited (and restarts): the exit code and reason of its last termination, and that run's log.
    Crashed {
        pod: String,
        exit_code: i32,
        reason: Option<String>,
        log: String,
    },
    /// Running and Ready without a restart: its current log.
    Running { pod: String, log: String },
    /// Nothing settled yet (scheduling, pulling, starting, rolling out): what was seen.
    Pending(String),
}

/// The verdict of comparing a prediction with what the cluster shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Agrees(String),
    /// "lint's model disagrees with the cluster: …".
    Disagrees(String),
    NotYet(String),
}

/// The prefix of every disagreement: the e2e run's check of the static tier.
pub const DISAGREES: &str = "lint's model disagrees with the cluster";

/// Compare the predicted outcome with what a live container showed.
pub fn compare(predicted: &PodOutcome, observed: &Observed) -> Verdict {
    let disagree = |what: String| {
        Verdict::Disagrees(format!(
            "{DISAGREES}: it predicts {}; {what}",
            predicted.describe()
        ))
    };
    let unknown_lines = |log: &str| -> Vec<String> {
        let expected = predicted.lines();
        read_log(log)
            .into_iter()
            .filter(|s| !expected.iter().any(|e| e.matches(&s.text)))
            .map(|s| format!("`{}`", s.text.trim()))
            .collect()
    };
    match (predicted, observed) {
        (_, Observed::Pending(state)) => Verdict::NotYet(state.clone()),
        (
            PodOutcome::FatalCrash {
                exit_code: want, ..
            },
            Observed::Crashed {
                pod,
                exit_code,
                reason,
                log,
            },
        ) => {
            let reason = reason.as_deref().unwrap_or("terminated");
            if let Err(e) = lines_in_order(log, &predicted.lines()) {
                return disagree(format!(
                    "pod {pod} exited ({reason}, exit code {exit_code}), but in its log {e}{}",
                    extra(&unknown_lines(log))
                ));
            }
            if let Some(want) = want
                && want != exit_code
            {
                return disagree(format!(
                    "pod {pod} exited with code {exit_code} ({reason}), not {want}"
                ));
            }
            Verdict::Agrees(format!(
                "pod {pod} exited ({reason}, exit code {exit_code}) after logging {}",
                predicted
                    .lines()
                    .iter()
                    .map(|l| format!("`{}`", l.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        (PodOutcome::FatalCrash { .. }, Observed::Running { pod, .. }) => {
            disagree(format!("pod {pod} is running and Ready without a restart"))
        }
        (
            _,
            Observed::Crashed {
                pod,
                exit_code,
                reason,
                log,
            },
        ) => disagree(format!(
            "pod {pod} exits at start ({}, exit code {exit_code}){}",
            reason.as_deref().unwrap_or("terminated"),
            extra(&unknown_lines(log))
        )),
        (_, Observed::Running { pod, log }) => {
            if let Err(e) = lines_in_order(log, &predicted.lines()) {
                return disagree(format!("pod {pod} runs, but in its log {e}"));
            }
            let unexpected = unknown_lines(log);
            if !unexpected.is_empty() {
                return disagree(format!(
                    "pod {pod} runs, but its log also has{}",
                    extra(&unexpected)
                ));
            }
            Verdict::Agrees(match predicted {
                PodOutcome::Clean => format!("pod {pod} runs with a clean log"),
                _ => format!(
                    "pod {pod} runs and logged {}",
                    predicted
                        .lines()
                        .iter()
                        .map(|l| format!("`{}`", l.display()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        }
    }
}

fn extra(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!(" (its log has {})", lines.join(", "))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(image: &str, mounts: &[&str]) -> (Value, Value) {
        let volume_mounts: Vec<Value> = mounts
            .iter()
            .map(|m| json!({"name": m.trim_matches('/').replace('/', "-"), "mountPath": m}))
            .collect();
        let volumes: Vec<Value> = mounts
            .iter()
            .map(|m| json!({"name": m.trim_matches('/').replace('/', "-"), "emptyDir": {}}))
            .collect();
        let c = json!({
            "name": "headlamp",
            "image": image,
            "args": ["-in-cluster", "-in-cluster-context-name=main", "-plugins-dir=/headlamp/plugins", "-session-ttl=86400"],
            "securityContext": {"readOnlyRootFilesystem": true},
            "volumeMounts": volume_mounts,
        });
        (c, json!({"volumes": volumes}))
    }

    const V41: &str = "ghcr.io/headlamp-k8s/headlamp:v0.41.0";

    /// The log of upstream issue kubernetes-sigs/headlamp#4830 (read-only root, nothing mounted).
    const ISSUE_4830: &str = r#"{"level":"error","source":"/headlamp/backend/pkg/config/config.go","line":505,"error":"mkdir /home/headlamp/.config: read-only file system","time":"2026-03-05T18:15:51Z","message":"creating plugins directory"}
{"level":"error","source":"/headlamp/backend/pkg/config/config.go","line":539,"error":"mkdir /home/headlamp/.config: read-only file system","time":"2026-03-05T18:15:51Z","message":"creating user-plugins directory"}
{"level":"info","level":"info","time":"2026-03-05T18:15:51Z","message":"Log level set from HEADLAMP_CONFIG_LOG_LEVEL"}
{"level":"error","source":"/headlamp/backend/cmd/headlamp.go","line":1153,"error":"mkdir /tmp/.headlamp1129714917: read-only file system","time":"2026-03-05T18:15:51Z","message":"Failed to create static dir"}
"#;

    #[test]
    fn nothing_writable_crashes_on_tmp_after_the_config_lines() {
        let (c, spec) = container(V41, &[]);
        let o = predict(&c, &spec).outcome();
        let PodOutcome::FatalCrash {
            line,
            exit_code,
            before,
        } = &o
        else {
            panic!("{o:?}")
        };
        assert_eq!(line.message.as_deref(), Some("Failed to create static dir"));
        assert_eq!(
            line.error,
            "mkdir /tmp/.headlamp<digits>: read-only file system"
        );
        assert_eq!(*exit_code, Some(0));
        assert_eq!(
            before
                .iter()
                .map(|l| l.message.as_deref().unwrap())
                .collect::<Vec<_>>(),
            [
                "creating plugins directory",
                "creating user-plugins directory"
            ]
        );
        assert!(
            before
                .iter()
                .all(|l| l.error == "mkdir /home/headlamp/.config: read-only file system")
        );
        // the prediction matches the upstream log, in order
        assert_eq!(lines_in_order(ISSUE_4830, &o.lines()), Ok(()));
    }

    #[test]
    fn tmp_only_runs_with_the_two_config_lines_home_and_tmp_is_clean() {
        let (c, spec) = container(V41, &["/tmp"]);
        let o = predict(&c, &spec).outcome();
        assert_eq!(o.kind(), OutcomeKind::RunsWithWarnings, "{o:?}");
        assert_eq!(o.lines().len(), 2);
        let (c, spec) = container(V41, &["/tmp", "/home/headlamp"]);
        assert_eq!(predict(&c, &spec).outcome(), PodOutcome::Clean);
        // HOME alone: /tmp is still fatal, and there are no .config lines
        let (c, spec) = container(V41, &["/home/headlamp"]);
        let o = predict(&c, &spec).outcome();
        assert!(
            matches!(&o, PodOutcome::FatalCrash { before, .. } if before.is_empty()),
            "{o:?}"
        );
        // a writable root: nothing to say
        let (mut c, spec) = container(V41, &[]);
        c["securityContext"]["readOnlyRootFilesystem"] = false.into();
        assert_eq!(predict(&c, &spec).outcome(), PodOutcome::Clean);
    }

    #[test]
    fn versions_change_the_lines_and_the_fatal_write() {
        // v0.36: no user-plugins line yet
        let (c, spec) = container("ghcr.io/headlamp-k8s/headlamp:v0.36.0", &["/tmp"]);
        let s = predict(&c, &spec);
        assert_eq!(s.config_lines.len(), 1);
        // before v0.30.0 the fatal write is the static dir, exit 1, and /tmp does not help
        let (c, spec) = container("ghcr.io/headlamp-k8s/headlamp:v0.28.0", &["/tmp"]);
        let s = predict(&c, &spec);
        let f = s.rootfs_fatal.as_ref().expect("fatal");
        assert_eq!(f.exit_code, Some(1));
        assert_eq!(
            f.line.error,
            "open /headlamp/frontend/index.baseUrl.html: read-only file system"
        );
        assert_eq!(f.line.message.as_deref(), Some("writing file"));
        // unknown versions behave like the newest
        let (c, spec) = container("ghcr.io/headlamp-k8s/headlamp:latest", &["/tmp"]);
        assert_eq!(predict(&c, &spec).config_lines.len(), 2);
    }

    #[test]
    fn flag_error_comes_first_and_rootfs_outcome_ignores_it() {
        let (c, spec) = container("ghcr.io/headlamp-k8s/headlamp:v0.38.0", &[]);
        let s = predict(&c, &spec);
        let o = s.outcome();
        let PodOutcome::FatalCrash { line, before, .. } = &o else {
            panic!("{o:?}")
        };
        assert_eq!(
            line.error,
            "flag provided but not defined: -in-cluster-context-name"
        );
        assert_eq!(before.len(), 2, "the .config lines precede the flag error");
        let r = s.rootfs_outcome();
        assert!(
            matches!(&r, PodOutcome::FatalCrash { line, .. } if line.message.as_deref() == Some(MSG_STATIC_DIR)),
            "{r:?}"
        );
    }

    #[test]
    fn env_and_command_are_honoured() {
        let (mut c, spec) = container(V41, &["/data"]);
        c["env"] =
            json!([{"name": "TMPDIR", "value": "/data"}, {"name": "HOME", "value": "/data"}]);
        assert_eq!(predict(&c, &spec).outcome(), PodOutcome::Clean);
        // a command without -html-static-dir replaces the ENTRYPOINT: no static dir, no /tmp write
        let (mut c, spec) = container(V41, &[]);
        c["command"] = json!(["/headlamp/headlamp-server"]);
        assert_eq!(
            predict(&c, &spec).outcome().kind(),
            OutcomeKind::RunsWithWarnings
        );
        c["args"] = json!(["-html-static-dir", "/headlamp/frontend", "-in-cluster"]);
        assert_eq!(predict(&c, &spec).outcome().kind(), OutcomeKind::FatalCrash);
    }

    #[test]
    fn lines_match_json_and_plain_text_and_order_matters() {
        let (c, spec) = container(V41, &[]);
        let o = predict(&c, &spec).outcome();
        let lines = o.lines();
        // the fatal line before the .config lines is out of order
        let reversed: String = ISSUE_4830.lines().rev().collect::<Vec<_>>().join("\n");
        let e = lines_in_order(&reversed, &lines).unwrap_err();
        assert!(e.contains("not after the lines before it"), "{e}");
        let e = lines_in_order("", &lines).unwrap_err();
        assert!(e.contains("not in the log"), "{e}");
        // "creating plugins directory" does not match the user-plugins line
        let user = ISSUE_4830.lines().nth(1).unwrap();
        assert!(!lines[0].matches(user) && lines[1].matches(user));
        assert!(lines[2].matches(
            "2026/03/05 Failed to create static dir: mkdir /tmp/.headlamp42: read-only file system"
        ));
        assert!(
            !lines[2].matches(
                "Failed to create static dir: mkdir /tmp/.headlampX: read-only file system"
            )
        );
    }

    #[test]
    fn read_log_knows_each_line() {
        let seen = read_log(ISSUE_4830);
        let kinds: Vec<bool> = seen.iter().map(|s| s.what.is_fatal()).collect();
        assert_eq!(kinds, [false, false, true]);
        assert_eq!(
            seen[2].what,
            LineKind::TmpStaticDir {
                path: "/tmp/.headlamp1129714917".into()
            }
        );
        assert_eq!(seen[2].index, 3);
        assert_eq!(
            read_log("flag provided but not defined: -session-ttl\nUsage of config:")[0].what,
            LineKind::FlagUndefined {
                flag: "session-ttl".into()
            }
        );
    }

    fn crashed(exit_code: i32, log: &str) -> Observed {
        Observed::Crashed {
            pod: "headlamp-1".into(),
            exit_code,
            reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.into()),
            log: log.into(),
        }
    }

    #[test]
    fn compare_agrees_only_with_the_predicted_outcome() {
        let (c, spec) = container(V41, &[]);
        let crash = predict(&c, &spec).outcome();
        assert!(matches!(
            compare(&crash, &crashed(0, ISSUE_4830)),
            Verdict::Agrees(_)
        ));
        // exit code 1: not what Headlamp does on /tmp
        let Verdict::Disagrees(m) = compare(&crash, &crashed(1, ISSUE_4830)) else {
            panic!()
        };
        assert!(m.starts_with(DISAGREES) && m.contains("code 1"), "{m}");
        // a crash on the .config line alone (the write-up's story) is not what the model says
        let config_only: String = ISSUE_4830.lines().take(2).collect::<Vec<_>>().join("\n");
        let Verdict::Disagrees(m) = compare(&crash, &crashed(0, &config_only)) else {
            panic!()
        };
        assert!(m.contains("Failed to create static dir"), "{m}");
        let running = Observed::Running {
            pod: "headlamp-1".into(),
            log: config_only.clone(),
        };
        assert!(matches!(compare(&crash, &running), Verdict::Disagrees(_)));
        // /tmp only: runs with the two lines; a clean log or a crash disagrees
        let (c, spec) = container(V41, &["/tmp"]);
        let warn = predict(&c, &spec).outcome();
        assert!(matches!(compare(&warn, &running), Verdict::Agrees(_)));
        let clean_run = Observed::Running {
            pod: "p".into(),
            log: "{\"level\":\"info\",\"message\":\"listening\"}".into(),
        };
        assert!(matches!(compare(&warn, &clean_run), Verdict::Disagrees(_)));
        assert!(matches!(
            compare(&PodOutcome::Clean, &clean_run),
            Verdict::Agrees(_)
        ));
        // clean predicted, .config lines seen: disagrees and quotes them
        let Verdict::Disagrees(m) = compare(&PodOutcome::Clean, &running) else {
            panic!()
        };
        assert!(m.contains("creating user-plugins directory"), "{m}");
        assert!(matches!(
            compare(&PodOutcome::Clean, &crashed(0, ISSUE_4830)),
            Verdict::Disagrees(_)
        ));
        assert!(matches!(
            compare(&crash, &Observed::Pending("ContainerCreating".into())),
            Verdict::NotYet(_)
        ));
    }

    // ---- the cases the surviving mutants of issue 24 showed missing ------------------------------------------

    /// A zerolog line whose `error` matches but whose `message` is another one is not the line: even when the
    /// expected message text appears elsewhere in the JSON (only the `message` field counts), and even when the
    /// message is the neighbouring one (user-plugins for plugins).
    #[test]
    fn a_zerolog_line_with_the_right_error_but_another_message_does_not_match() {
        let plugins = LogLine::new(
            MSG_PLUGINS,
            "mkdir /home/headlamp/.config: read-only file system".into(),
        );
        let other_message = r#"{"level":"error","step":"creating plugins directory","error":"mkdir /home/headlamp/.config: read-only file system","message":"retrying"}"#;
        assert!(!plugins.matches(other_message));
        let user = ISSUE_4830.lines().nth(1).unwrap();
        assert!(!plugins.matches(user));
        // the right message with another error is not the line either
        let other_error = r#"{"level":"error","error":"mkdir /data/.config: read-only file system","message":"creating plugins directory"}"#;
        assert!(!plugins.matches(other_error));
        assert!(plugins.matches(ISSUE_4830.lines().next().unwrap()));
        // a plain-text line needs both the error and the message
        assert!(!plugins.matches("mkdir /home/headlamp/.config: read-only file system"));
        assert!(!plugins.matches("creating plugins directory: mkdir /tmp: permission denied"));
        assert!(plugins.matches(
            "creating plugins directory: mkdir /home/headlamp/.config: read-only file system"
        ));
        // the error text elsewhere in the JSON does not stand for the `error` field
        let error_elsewhere = r#"{"level":"error","message":"creating plugins directory","error":"mkdir /data/.config: permission denied","previous":"mkdir /home/headlamp/.config: read-only file system"}"#;
        assert!(!plugins.matches(error_elsewhere));
        // a plain-text line (no message) matches a JSON line only through its text, never by default
        let flag = LogLine {
            message: None,
            error: "flag provided but not defined: -in-cluster-context-name".into(),
        };
        assert!(!flag.matches(r#"{"level":"info","message":"Listen address: :4466"}"#));
        assert!(flag.matches(
            r#"{"level":"error","message":"flag provided but not defined: -in-cluster-context-name"}"#
        ));
        // and the same line is not classified as a .config line by read_log
        assert!(
            read_log(other_message).is_empty(),
            "{:?}",
            read_log(other_message)
        );
    }

    /// `HOME` set through `env` moves `.config` (Go's os.UserConfigDir: `$XDG_CONFIG_HOME`, else `$HOME/.config`).
    #[test]
    fn home_from_env_moves_the_config_dir() {
        let (mut c, spec) = container(V41, &["/tmp"]);
        c["env"] = json!([{"name": "HOME", "value": "/data/"}]);
        let s = predict(&c, &spec);
        assert_eq!(s.config_dir, "/data/.config");
        assert_eq!(s.tmp_dir, "/tmp");
        assert_eq!(
            s.config_lines
                .iter()
                .map(LogLine::display)
                .collect::<Vec<_>>(),
            [
                "creating plugins directory: mkdir /data/.config: read-only file system",
                "creating user-plugins directory: mkdir /data/.config: read-only file system"
            ]
        );
        // XDG_CONFIG_HOME wins over HOME; another variable changes nothing
        c["env"] = json!([{"name": "HOME", "value": "/data"}, {"name": "XDG_CONFIG_HOME", "value": "/cfg"}, {"name": "LANG", "value": "C"}]);
        assert_eq!(predict(&c, &spec).config_dir, "/cfg");
        c["env"] = json!([{"name": "LANG", "value": "C"}]);
        let s = predict(&c, &spec);
        assert_eq!(
            (s.config_dir.as_str(), s.tmp_dir.as_str()),
            ("/home/headlamp/.config", "/tmp")
        );
    }

    /// `-html-static-dir DIR` as two arguments (before v0.30.0 the server rewrites DIR's index.baseUrl.html).
    #[test]
    fn the_static_dir_is_read_from_two_arguments_and_from_one() {
        let static_dir_of = |args: Value| {
            let (mut c, spec) = container("ghcr.io/headlamp-k8s/headlamp:v0.25.0", &[]);
            c["args"] = args;
            predict(&c, &spec)
                .rootfs_fatal
                .map(|f| (f.cause, f.line.display()))
        };
        assert_eq!(
            static_dir_of(json!(["-html-static-dir", "/srv/static", "-in-cluster"])),
            Some((
                Cause::StaticDirUnwritable {
                    dir: "/srv/static".into()
                },
                "writing file: open /srv/static/index.baseUrl.html: read-only file system".into()
            ))
        );
        assert_eq!(
            static_dir_of(json!(["--html-static-dir=/srv/b", "-in-cluster"])).map(|(c, _)| c),
            Some(Cause::StaticDirUnwritable {
                dir: "/srv/b".into()
            })
        );
        // the last one wins; the value after the flag is not read as a flag
        assert_eq!(
            static_dir_of(json!(["-html-static-dir", "/a", "-html-static-dir", "/b"]))
                .map(|(c, _)| c),
            Some(Cause::StaticDirUnwritable { dir: "/b".into() })
        );
        // Go's flag package takes the next argument as the value even when it starts with '-'
        assert_eq!(
            static_dir_of(json!([
                "-in-cluster",
                "-html-static-dir",
                "-html-static-dir=/x"
            ]))
            .map(|(c, _)| c),
            Some(Cause::StaticDirUnwritable {
                dir: "-html-static-dir=/x".into()
            })
        );
        // the flag without its value: no static dir from it (the ENTRYPOINT's is replaced by the last one seen)
        assert_eq!(static_dir_of(json!(["-html-static-dir"])), None);
        // no flag: the ENTRYPOINT's default
        assert_eq!(
            static_dir_of(json!(["-in-cluster"])).map(|(c, _)| c),
            Some(Cause::StaticDirUnwritable {
                dir: DEFAULT_STATIC_DIR.into()
            })
        );
    }

    /// Each expected line must come after the one before: a line seen once cannot stand for two.
    #[test]
    fn lines_in_order_consumes_each_line_it_matched() {
        let a = LogLine {
            message: None,
            error: "alpha".into(),
        };
        let b = LogLine {
            message: None,
            error: "beta".into(),
        };
        assert_eq!(
            lines_in_order("alpha\nx\nx\nbeta\nbeta", &[&a, &b, &b]),
            Ok(())
        );
        assert_eq!(
            lines_in_order("alpha\nx\nx\nbeta", &[&a, &b, &b]),
            Err("line 3 of 3 `beta` is in the log, but not after the lines before it".into())
        );
        assert_eq!(
            lines_in_order("alpha", &[&a, &a]),
            Err("line 2 of 2 `alpha` is in the log, but not after the lines before it".into())
        );
        assert_eq!(
            lines_in_order("beta\nalpha", &[&a, &b]),
            Err("line 2 of 2 `beta` is in the log, but not after the lines before it".into())
        );
        assert_eq!(
            lines_in_order("x", &[&a]),
            Err("line 1 of 1 `alpha` is not in the log".into())
        );
    }

    #[test]
    fn a_clean_prediction_agrees_with_a_clean_running_pod_in_its_own_words() {
        let running = Observed::Running {
            pod: "headlamp-1".into(),
            log: r#"{"level":"info","message":"Listen address: :4466"}"#.into(),
        };
        assert_eq!(
            compare(&PodOutcome::Clean, &running),
            Verdict::Agrees("pod headlamp-1 runs with a clean log".into())
        );
    }

    /// The names scenarios use (`expect: fatalCrash`) and messages print: the same as the serde names.
    #[test]
    fn outcome_kinds_display_as_their_scenario_names() {
        for (kind, name) in [
            (OutcomeKind::FatalCrash, "fatalCrash"),
            (OutcomeKind::RunsWithWarnings, "runsWithWarnings"),
            (OutcomeKind::Clean, "clean"),
        ] {
            assert_eq!(kind.to_string(), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(name));
        }
    }
}
