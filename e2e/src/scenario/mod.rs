//! Scenarios as data: one YAML file per scenario in `scenarios/`. A scenario is a list of steps of a handful of kinds
//! (commit, merge, reconcile, wait, doctor, unstick, check); the [`runner`] interprets them against an environment.
//! Files are validated strictly: unknown keys are errors, names are stable ids, durations parse.

pub mod edit;
pub mod runner;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    /// Stable id, equal to the file name without `.yaml`.
    pub name: String,
    /// One line for `--list`.
    pub description: String,
    /// Which of the user's five mistakes it reproduces, if any.
    #[serde(default)]
    pub mistake: Option<u8>,
    pub steps: Vec<Step>,
}

/// One step. Exactly one key per step in YAML, e.g. `- commit: {...}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Step {
    /// Commit edits of fixture files to the served repo (on `branch`, default main; created from main if new).
    Commit(Commit),
    /// Merge a branch into another in the served repo.
    Merge(Merge),
    /// Ask Flux to reconcile an object now (annotations, like `flux reconcile`).
    Reconcile(Reconcile),
    /// Wait for a condition, with a deadline.
    Wait(Wait),
    /// Run doctor against the cluster; the listed findings must be among its findings.
    Doctor(DoctorStep),
    /// Run the unstick recipe on a HelmRelease.
    Unstick(UnstickStep),
    /// A named assertion of the baseline (posture, RBAC matrix, UI, token rotation, …).
    Check(Check),
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Commit(_) => "commit",
            Step::Merge(_) => "merge",
            Step::Reconcile(_) => "reconcile",
            Step::Wait(_) => "wait",
            Step::Doctor(_) => "doctor",
            Step::Unstick(_) => "unstick",
            Step::Check(_) => "check",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Commit {
    pub message: String,
    #[serde(default = "main_branch")]
    pub branch: String,
    pub edits: Vec<edit::Edit>,
}

fn main_branch() -> String {
    "main".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Merge {
    pub from: String,
    #[serde(default = "main_branch")]
    pub into: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum FluxKind {
    GitRepository,
    Kustomization,
    HelmRelease,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Reconcile {
    pub kind: FluxKind,
    pub name: String,
    #[serde(default = "flux_system")]
    pub namespace: String,
    #[serde(default)]
    pub force: bool,
}

fn flux_system() -> String {
    "flux-system".to_string()
}

fn headlamp_ns() -> String {
    "headlamp".to_string()
}

/// What a wait step waits for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "for"
)]
pub enum Condition {
    /// HelmRelease Ready=True at the current generation.
    HelmReleaseReady {
        #[serde(default = "headlamp_name")]
        name: String,
        #[serde(default = "headlamp_ns")]
        namespace: String,
    },
    /// HelmRelease Ready=Unknown with a message containing `message` (e.g. "Running 'install' action"). With
    /// `heldFor: <d>`, only once that condition has held for at least `d`: its lastTransitionTime is `d` old, read
    /// against the same clock doctor's `stuckAfter` uses (see [`crate::observe::waits::judge_held`]).
    HelmReleaseProgressing {
        #[serde(default = "headlamp_name")]
        name: String,
        #[serde(default = "headlamp_ns")]
        namespace: String,
        message: String,
        #[serde(
            default,
            deserialize_with = "de_opt_duration",
            serialize_with = "ser_opt_duration",
            skip_serializing_if = "Option::is_none"
        )]
        held_for: Option<Duration>,
    },
    /// A newer spec queued behind a running action: metadata.generation is above the generation the runner recorded
    /// just before the last commit, while Ready is still Unknown with the running action's message
    /// (see [`crate::observe::waits::judge_queued`]; `status.observedGeneration` cannot tell: helm-controller writes it
    /// only when a reconcile ends, so a first install has none).
    HelmReleaseQueued {
        #[serde(default = "headlamp_name")]
        name: String,
        #[serde(default = "headlamp_ns")]
        namespace: String,
    },
    /// The HelmRelease and its Deployment are gone (pruned).
    HelmReleaseAbsent {
        #[serde(default = "headlamp_name")]
        name: String,
        #[serde(default = "headlamp_ns")]
        namespace: String,
    },
    /// Deployment Available with all replicas updated and ready.
    DeploymentAvailable {
        #[serde(default = "headlamp_name")]
        name: String,
        #[serde(default = "headlamp_ns")]
        namespace: String,
    },
    /// A pod of the app crashloops, and its (previous) log contains `log`.
    PodCrashLoop {
        #[serde(default = "headlamp_ns")]
        namespace: String,
        #[serde(default = "headlamp_selector")]
        selector: String,
        log: String,
    },
    /// The GitRepository's artifact revision is the head of `branch` in the served repo.
    SourceAtHead {
        #[serde(default = "flux_system_name")]
        name: String,
        #[serde(default = "main_branch")]
        branch: String,
    },
    /// The live Deployment has (or lacks) a volume mounted at `mountPath`.
    DeploymentMount {
        #[serde(default = "headlamp_name")]
        name: String,
        #[serde(default = "headlamp_ns")]
        namespace: String,
        mount_path: String,
        present: bool,
    },
    /// The pods of the Deployment's current ReplicaSet show the outcome lint's model ([`crate::startup`]) predicts
    /// from the HelmRelease as committed, rendered with the chart under test: the expected outcome follows the
    /// chart, and a mismatch is reported as "lint's model disagrees with the cluster". `expect`, `lines` and
    /// `exitCode` state that outcome on the pinned chart (checked offline against the model by
    /// tests/scenario_outcomes.rs); on another chart the run follows the model and says so.
    PodOutcome {
        #[serde(default = "headlamp_name")]
        name: String,
        #[serde(default = "headlamp_ns")]
        namespace: String,
        expect: crate::startup::OutcomeKind,
        /// Substrings of the predicted lines (`message: error`), in log order; the fatal line last.
        #[serde(default)]
        lines: Vec<String>,
        #[serde(default)]
        exit_code: Option<i32>,
    },
}

fn headlamp_name() -> String {
    "headlamp".to_string()
}
fn headlamp_selector() -> String {
    "app.kubernetes.io/name=headlamp".to_string()
}
fn flux_system_name() -> String {
    "flux-system".to_string()
}

/// `- wait: {for: <condition>, <condition fields>, within: 5m}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct Wait {
    pub condition: Condition,
    /// Deadline, e.g. `5m`, `90s`.
    pub within: Duration,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for Wait {
    type Error = String;
    fn try_from(
        mut m: serde_json::Map<String, serde_json::Value>,
    ) -> std::result::Result<Self, String> {
        let within = match m.remove("within") {
            Some(serde_json::Value::String(s)) => parse_duration(&s)
                .ok_or_else(|| format!("`{s}` is not a duration like 90s, 5m, 1h30m"))?,
            Some(other) => {
                return Err(format!(
                    "within: `{other}` is not a duration like 90s, 5m, 1h30m"
                ));
            }
            None => return Err("wait: missing `within` (a deadline, e.g. 5m)".into()),
        };
        let condition = serde_json::from_value(serde_json::Value::Object(m))
            .map_err(|e| format!("wait: {e}"))?;
        Ok(Wait { condition, within })
    }
}

impl Serialize for Wait {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.condition).map_err(serde::ser::Error::custom)?;
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("within".into(), format_duration(self.within).into());
        }
        v.serialize(s)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DoctorStep {
    /// Finding ids doctor must report (more are allowed only if listed in `allow`).
    pub expect: Vec<String>,
    #[serde(default)]
    pub allow: Vec<String>,
    /// The severity a reported finding must have (`rootfs-unwritable-path: warning`: the server runs, not a crash).
    #[serde(default)]
    pub severities: std::collections::BTreeMap<String, crate::finding::Severity>,
    /// How long a HelmRelease must be progressing before doctor calls it stuck (doctor's default: 5m).
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub stuck_after: Option<Duration>,
}

fn de_opt_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

fn ser_opt_duration<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UnstickStep {
    #[serde(default = "headlamp_name")]
    pub helmrelease: String,
    #[serde(default = "headlamp_ns")]
    pub namespace: String,
    /// The release must be Ready within this; it should be far shorter than the HelmRelease's timeout.
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub within: Duration,
}

/// Baseline assertions, each reported by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// No container of the Headlamp pod restarted.
    NoRestarts,
    /// runAsNonRoot, readOnlyRootFilesystem, drop ALL, seccomp RuntimeDefault, no privilege escalation (live Pod).
    Posture,
    /// A privileged pod in the namespace is rejected by Pod Security admission.
    PsaRejectsPrivileged,
    /// The access matrix with the login token and the pod's ServiceAccount, direct and through Headlamp.
    RbacMatrix,
    /// `GET /` through Traefik with the Host header returns Headlamp's page.
    Ui,
    /// Rotating the login token: old 401, new works, Headlamp not restarted.
    TokenRotation,
}

impl Check {
    pub fn id(&self) -> &'static str {
        match self {
            Check::NoRestarts => "no-restarts",
            Check::Posture => "posture",
            Check::PsaRejectsPrivileged => "psa-rejects-privileged",
            Check::RbacMatrix => "rbac-matrix",
            Check::Ui => "ui",
            Check::TokenRotation => "token-rotation",
        }
    }
}

/// Parse `90s`, `5m`, `1h30m`, `250ms` (Go-style durations, as Flux prints them).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (num, tail) = rest.split_at(digits);
        let value: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let secs = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(secs);
        rest = next;
    }
    Some(total)
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) if d.subsec_millis() > 0 && s == 0 => format!("{}ms", d.as_millis()),
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).ok_or_else(|| {
        serde::de::Error::custom(format!("`{s}` is not a duration like 90s, 5m, 1h30m"))
    })
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

/// Parse and validate one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let invalid = |m: String| Error::Other(format!("{}: {m}", path.display()));
    // YAML → JSON value first: steps are single-key maps (`- commit: {…}`), which serde reads as enum variants.
    let doc = crate::yaml::parse_yaml_documents(&text, path)?
        .into_iter()
        .next()
        .ok_or_else(|| invalid("empty file".into()))?;
    let scenario: Scenario = serde_path_to_error::deserialize(doc).map_err(|e| {
        let at = e.path().to_string();
        invalid(format!("{at}: {}", e.into_inner()))
    })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if scenario.name != stem {
        return Err(invalid(format!(
            "name `{}` must equal the file name `{stem}`",
            scenario.name
        )));
    }
    if !scenario
        .name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid(format!(
            "name `{}` must be lower-case kebab-case",
            scenario.name
        )));
    }
    if scenario.description.trim().is_empty() || scenario.description.contains('\n') {
        return Err(invalid("description must be one non-empty line".into()));
    }
    if scenario.steps.is_empty() {
        return Err(invalid("a scenario needs steps".into()));
    }
    if let Some(m) = scenario.mistake
        && !(1..=5).contains(&m)
    {
        return Err(invalid(format!("mistake {m} is not one of the five (1-5)")));
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Step::Commit(c) = step
            && c.edits.is_empty()
        {
            return Err(invalid(format!("step {} (commit): no edits", i + 1)));
        }
    }
    Ok(scenario)
}

/// Every `*.yaml` in `dir`, sorted by name; all files are validated and all errors reported together.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .collect();
    files.sort();
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for f in files {
        match load_file(&f) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Other(format!(
            "invalid scenario files:\n  {}",
            errors.join("\n  ")
        )));
    }
    Ok(out)
}

/// `--shard I/N` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected I/N, e.g. 1/2"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("`{s}`: I must be between 1 and N"));
        }
        Ok(Shard { index, count })
    }
}

/// Choose scenarios: by name (all must exist; order of the files kept), then this shard's share (round robin
/// over the sorted list, so every scenario lands in exactly one shard).
pub fn select(all: &[Scenario], names: &[String], shard: Option<Shard>) -> Result<Vec<Scenario>> {
    let known: BTreeSet<&str> = all.iter().map(|s| s.name.as_str()).collect();
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !known.contains(n.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Other(format!(
            "unknown scenario {}; `cargo xtask e2e --list` shows: {}",
            unknown
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", "),
            known.iter().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let chosen = all
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|sh| i % sh.count == sh.index - 1))
        .map(|(_, s)| s.clone())
        .collect();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m0s"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(format!("{name}.yaml"));
        std::fs::write(&p, text).unwrap();
        p
    }

    const OK: &str = "name: demo\ndescription: a demo\nsteps:\n  - wait: {for: helmReleaseReady, within: 5m}\n  - check: posture\n  - commit:\n      message: pin\n      edits:\n        - file: apps/base/headlamp/helmrelease.yaml\n          set: {path: spec.values.image.tag, value: v0.38.0}\n";

    #[test]
    fn loads_a_valid_file() {
        let d = tempfile::tempdir().unwrap();
        let s = load_file(&write(d.path(), "demo", OK)).unwrap();
        assert_eq!(s.steps.len(), 3);
        assert_eq!(s.steps[1], Step::Check(Check::Posture));
        match &s.steps[0] {
            Step::Wait(w) => {
                assert_eq!(w.within, Duration::from_secs(300));
                assert_eq!(
                    w.condition,
                    Condition::HelmReleaseReady {
                        name: "headlamp".into(),
                        namespace: "headlamp".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let d = tempfile::tempdir().unwrap();
        for (bad, needle) in [
            (
                OK.replace("description:", "descripton:"),
                "unknown field `descripton`",
            ),
            (OK.replace("check: posture", "check: postur"), "postur"),
            (OK.replace("within: 5m}", "within: 5m, extra: 1}"), "extra"),
            (OK.replace("within: 5m", "within: soon"), "not a duration"),
            (
                OK.replace("name: demo", "name: other"),
                "must equal the file name",
            ),
        ] {
            let e = load_file(&write(d.path(), "demo", &bad))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn load_dir_reports_every_bad_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", "name: a\n");
        write(d.path(), "b", "name: b\ndescription: x\nsteps: []\n");
        let e = load_dir(d.path()).unwrap_err().to_string();
        assert!(e.contains("a.yaml") && e.contains("b.yaml"), "{e}");
    }

    #[test]
    fn shards_partition_the_selection() {
        let d = tempfile::tempdir().unwrap();
        let all: Vec<Scenario> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| {
                load_file(&write(
                    d.path(),
                    n,
                    &OK.replace("name: demo", &format!("name: {n}")),
                ))
                .unwrap()
            })
            .collect();
        let mut seen = Vec::new();
        for i in 1..=2 {
            let shard: Shard = format!("{i}/2").parse().unwrap();
            seen.extend(
                select(&all, &[], Some(shard))
                    .unwrap()
                    .into_iter()
                    .map(|s| s.name),
            );
        }
        seen.sort();
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);
        assert!("0/2".parse::<Shard>().is_err() && "3/2".parse::<Shard>().is_err());
        let e = select(&all, &["zzz".into()], None).unwrap_err().to_string();
        assert!(e.contains("unknown scenario `zzz`"), "{e}");
        assert_eq!(select(&all, &["c".into()], None).unwrap().len(), 1);
    }
}
