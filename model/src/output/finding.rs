//! Findings: the one result type of `lint` and `doctor`, and their text and JSON renderings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// A note that needs no change (a SOPS-encrypted substitution source, files nothing deploys): never fails a
    /// run, printed once per cause with the count of its places (`--format json` keeps each place).
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One problem, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `values-unknown-key`.
    pub rule: String,
    pub severity: Severity,
    /// The file the finding is about (relative to the GitOps dir), or a live object's location for doctor.
    pub file: String,
    /// `Kind/namespace/name` (or `Kind/name` for cluster-scoped objects).
    pub object: String,
    /// Dotted values path (`extraVolumes`, `config.foo`) or field path (`spec.template.spec.containers[0].image`).
    pub path: String,
    pub message: String,
    pub fix: String,
    /// Every file this same problem was found in, when more than one (the object from a base and its overlay,
    /// from `ks.yaml` and its parent, deployed to two clusters): one finding, its places listed
    /// ([`merge_places`]). Empty for a problem found in one place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<String>,
    /// The clusters its places belong to, when the tree has more than one (`clusters/<name>/…`,
    /// `kubernetes/<name>/…` entry points: [`crate::gitops::Tree::clusters`]). Empty for a one-cluster tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// 1-based line in [`Finding::file`] of what the finding is about (the key, the field, the object's first line;
    /// see [`crate::lint::positions`]), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column (in characters) on [`Finding::line`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Finding {
    /// The same finding with its message, fix, object and path through the one text redaction.
    pub fn redacted(mut self) -> Self {
        use super::redact::redact;
        for t in [
            &mut self.message,
            &mut self.fix,
            &mut self.object,
            &mut self.path,
        ] {
            let r = redact(t);
            if r != *t {
                *t = r;
            }
        }
        self
    }

    pub fn new(rule: &str, severity: Severity) -> Self {
        Finding {
            rule: rule.to_string(),
            severity,
            file: String::new(),
            object: String::new(),
            path: String::new(),
            message: String::new(),
            fix: String::new(),
            places: Vec::new(),
            clusters: Vec::new(),
            line: None,
            column: None,
        }
    }
    /// The line and column (1-based) in the finding's file.
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
    pub fn file(mut self, file: impl Into<String>) -> Self {
        self.file = file.into();
        self
    }
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = object.into();
        self
    }
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }
}

/// Counts shown at the end of a report and in JSON `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    /// Notes that need no change ([`Severity::Info`]).
    #[serde(default)]
    pub info: usize,
    /// Extra numbers a command wants to report (files read, releases rendered, …).
    #[serde(flatten)]
    pub counts: BTreeMap<String, u64>,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Self {
        Summary {
            errors: findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count(),
            warnings: findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count(),
            info: findings
                .iter()
                .filter(|f| f.severity == Severity::Info)
                .count(),
            counts: BTreeMap::new(),
        }
    }
}

/// Sort findings for stable output: by file, then object, then rule, then path.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.file, &a.object, a.severity, &a.rule, &a.path)
            .cmp(&(&b.file, &b.object, b.severity, &b.rule, &b.path))
    });
}

/// One finding per problem: findings that differ only in their file (the same object and path, the same message and
/// fix, found through a base and its overlay, a `ks.yaml` and its parent, or two clusters) become the first of them,
/// with [`Finding::places`] listing every file in order. Exact duplicates are dropped. Order is kept otherwise.
pub fn merge_places(findings: Vec<Finding>) -> Vec<Finding> {
    type Key = (String, Severity, String, String, String, String);
    let key = |f: &Finding| -> Key {
        (
            f.rule.clone(),
            f.severity,
            f.object.clone(),
            f.path.clone(),
            f.message.clone(),
            f.fix.clone(),
        )
    };
    let mut first: BTreeMap<Key, usize> = BTreeMap::new();
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        match first.get(&key(&f)) {
            Some(&i) => {
                let kept = &mut out[i];
                if kept.places.is_empty() {
                    kept.places.push(kept.file.clone());
                }
                for p in std::iter::once(f.file).chain(f.places) {
                    if !kept.places.contains(&p) {
                        kept.places.push(p);
                    }
                }
                for c in f.clusters {
                    if !kept.clusters.contains(&c) {
                        kept.clusters.push(c);
                    }
                }
                kept.clusters.sort();
                if kept.places.len() == 1 {
                    kept.places.clear();
                }
            }
            None => {
                first.insert(key(&f), out.len());
                out.push(f);
            }
        }
    }
    out
}

/// Name the clusters of each finding: `clusters` maps a file (relative to the GitOps root) to the clusters that
/// deploy it. A finding belongs to the clusters of its file and of each of its places.
pub fn name_clusters(
    findings: &mut [Finding],
    clusters: &BTreeMap<String, std::collections::BTreeSet<String>>,
) {
    if clusters.is_empty() {
        return;
    }
    for f in findings.iter_mut() {
        let mut of: std::collections::BTreeSet<String> = f.clusters.iter().cloned().collect();
        for file in std::iter::once(&f.file).chain(f.places.iter()) {
            if let Some(cs) = clusters.get(file) {
                of.extend(cs.iter().cloned());
            }
        }
        f.clusters = of.into_iter().collect();
    }
}

/// The JSON document printed by `--format json`: exactly one object.
/// Findings and summary as one JSON document; every text goes through the one redaction ([`crate::redact`]).
pub fn to_json(findings: &[Finding], summary: &Summary) -> serde_json::Value {
    let findings: Vec<Finding> = findings.iter().cloned().map(Finding::redacted).collect();
    serde_json::json!({ "findings": findings, "summary": summary })
}

/// Text report grouped by file. `color` adds ANSI styles (only when stdout is a terminal). Every text from input is
/// redacted and has its control characters escaped ([`crate::redact::for_terminal`]); the one-line fields
/// (file, object, path) cannot break their line ([`crate::redact::one_line`]), and no line of a message or
/// fix is a CI workflow command ([`crate::redact::no_workflow_commands`]).
pub fn to_text(findings: &[Finding], color: bool) -> String {
    use super::redact::{no_workflow_commands, one_line};
    let for_terminal = |t: &str| no_workflow_commands(&super::redact::for_terminal(t));
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, s: &str| -> String {
        if color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    };
    let bold = Style::new().bold();
    let red = AnsiColor::Red.on_default().bold();
    let yellow = AnsiColor::Yellow.on_default().bold();
    let dim = Style::new().dimmed();

    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    // notes that need no change: once per cause (rule, message, fix), with the count of their places
    let mut notes: Vec<(&Finding, Vec<&Finding>)> = Vec::new();
    for f in findings {
        if f.severity == Severity::Info {
            match notes
                .iter_mut()
                .find(|(n, _)| (&n.rule, &n.message, &n.fix) == (&f.rule, &f.message, &f.fix))
            {
                Some((_, places)) => places.push(f),
                None => notes.push((f, vec![f])),
            }
            continue;
        }
        by_file.entry(f.file.as_str()).or_default().push(f);
    }
    let mut out = String::new();
    for (file, items) in by_file {
        let file = one_line(file);
        let _ = writeln!(
            out,
            "{}",
            paint(bold, if file.is_empty() { "(no file)" } else { &file })
        );
        for f in items {
            let sev = match f.severity {
                Severity::Error => paint(red, "error"),
                Severity::Warning => paint(yellow, "warning"),
                Severity::Info => "info".to_string(),
            };
            let at = if f.path.is_empty() {
                f.object.clone()
            } else {
                format!("{} {}", f.object, f.path)
            };
            let at = one_line(&at);
            let _ = writeln!(out, "  {sev}[{}] {}", one_line(&f.rule), paint(dim, &at));
            for line in for_terminal(&f.message).lines() {
                let _ = writeln!(out, "    {line}");
            }
            if f.places.len() > 1 {
                let places: Vec<String> = f.places.iter().map(|p| one_line(p)).collect();
                let _ = writeln!(
                    out,
                    "    {} {}",
                    paint(bold, "found in:"),
                    places.join(", ")
                );
            }
            if !f.clusters.is_empty() {
                let clusters: Vec<String> = f.clusters.iter().map(|c| one_line(c)).collect();
                let _ = writeln!(
                    out,
                    "    {} {}",
                    paint(
                        bold,
                        if clusters.len() == 1 {
                            "cluster:"
                        } else {
                            "clusters:"
                        }
                    ),
                    clusters.join(", ")
                );
            }
            let fix = for_terminal(&f.fix);
            if !fix.is_empty() {
                let mut lines = fix.lines();
                if let Some(first) = lines.next() {
                    let _ = writeln!(out, "    {} {first}", paint(bold, "fix:"));
                }
                for line in lines {
                    let _ = writeln!(out, "         {line}");
                }
            }
        }
        out.push('\n');
    }
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint(
                bold,
                "notes (nothing to change; `--format json` lists every place)"
            )
        );
        for (f, places) in notes {
            const SHOWN: usize = 3;
            // a place is the note's object, else its file; a note about the whole tree (`gitops-not-deployed`, whose
            // message names the files) has neither, and is printed without a count of places
            let at: Vec<String> = places
                .iter()
                .map(|p| {
                    if p.object.is_empty() {
                        &p.file
                    } else {
                        &p.object
                    }
                })
                .filter(|at| !at.is_empty())
                .map(|at| one_line(at))
                .collect();
            let mut named: Vec<String> = at.iter().take(SHOWN).cloned().collect();
            if at.len() > SHOWN {
                named.push(format!("and {} more", at.len() - SHOWN));
            }
            let header = match at.len() {
                0 => String::new(),
                1 => format!(" {}", paint(dim, &format!("1 place: {}", named.join(", ")))),
                n => format!(
                    " {}",
                    paint(dim, &format!("{n} places: {}", named.join(", ")))
                ),
            };
            let _ = writeln!(out, "  info[{}]{header}", one_line(&f.rule));
            for line in for_terminal(&f.message).lines() {
                let _ = writeln!(out, "    {line}");
            }
            let fix = for_terminal(&f.fix);
            if let Some(first) = fix.lines().next() {
                let _ = writeln!(out, "    {} {first}", paint(bold, "note:"));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Finding> {
        vec![
            Finding::new("image-tag-override", Severity::Warning)
                .file("apps/base/headlamp/helmrelease.yaml")
                .object("HelmRelease/headlamp/headlamp")
                .path("image.tag")
                .message("image.tag is set")
                .fix("remove it"),
            Finding::new("values-unknown-key", Severity::Error)
                .file("apps/base/headlamp/helmrelease.yaml")
                .object("HelmRelease/headlamp/headlamp")
                .path("extraVolumes")
                .message("unused")
                .fix("volumes:\n  - name: home"),
        ]
    }

    #[test]
    fn summary_counts_by_severity() {
        let s = Summary::of(&sample());
        assert_eq!((s.errors, s.warnings), (1, 1));
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let f = sample();
        let v = to_json(&f, &Summary::of(&f));
        let first = &v["findings"][0];
        let mut keys: Vec<_> = first.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "file", "fix", "message", "object", "path", "rule", "severity"
            ]
        );
        assert_eq!(first["severity"], "warning");
        assert_eq!(v["summary"]["errors"], 1);
    }

    #[test]
    fn info_notes_print_once_per_cause_with_their_count_and_json_keeps_each() {
        let note = |ks: &str| {
            Finding::new("flux-substitution-source", Severity::Info)
                .file(format!("kubernetes/apps/{ks}/ks.yaml"))
                .object(format!("Kustomization/flux-system/{ks}"))
                .path("spec.postBuild.substituteFrom[0]")
                .message("substituteFrom Secret/flux-system/cluster-secrets is SOPS-encrypted")
                .fix("nothing to change")
        };
        let mut f: Vec<Finding> = ["a", "b", "c", "d", "e"].iter().map(|k| note(k)).collect();
        f.extend(sample());
        let s = Summary::of(&f);
        assert_eq!((s.errors, s.warnings, s.info), (1, 1, 5));
        let t = to_text(&f, false);
        assert_eq!(t.matches("is SOPS-encrypted").count(), 1, "{t}");
        assert!(
            t.contains("info[flux-substitution-source] 5 places: Kustomization/flux-system/a, Kustomization/flux-system/b, Kustomization/flux-system/c, and 2 more"),
            "{t}"
        );
        let v = to_json(&f, &s);
        let infos = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["severity"] == "info")
            .count();
        assert_eq!(infos, 5);
        assert_eq!(v["summary"]["info"], 5);
    }

    /// talos-cluster: the one `gitops-not-deployed` note (a SOPS file nothing deploys) has no file and no object, and
    /// was printed as `info[gitops-not-deployed] 1 place: ` with an empty place. Its message names the files.
    #[test]
    fn a_note_about_the_whole_tree_is_printed_without_an_empty_place() {
        let note = Finding::new("gitops-not-deployed", Severity::Info)
            .message("1 file that no Flux Kustomization deploys (not reached from the cluster entry points) was not linted: bootstrap/sops-age.sops.yaml")
            .fix("nothing to change if they are unused");
        let t = to_text(std::slice::from_ref(&note), false);
        assert!(t.contains("  info[gitops-not-deployed]\n"), "{t}");
        assert!(!t.contains("1 place"), "{t}");
        assert!(t.contains("bootstrap/sops-age.sops.yaml"), "{t}");
        // a note with a place keeps it; one with only a file names the file
        let placed = note.file("bootstrap/sops-age.sops.yaml");
        let t = to_text(&[placed], false);
        assert!(
            t.contains("  info[gitops-not-deployed] 1 place: bootstrap/sops-age.sops.yaml\n"),
            "{t}"
        );
    }

    #[test]
    fn the_same_problem_from_two_files_is_one_finding_listing_both() {
        let base = sample().remove(1);
        let overlay = base
            .clone()
            .file("apps/production/headlamp/kustomization.yaml");
        let other = base.clone().path("somethingElse");
        let merged = merge_places(vec![base.clone(), overlay.clone(), base.clone(), other]);
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert_eq!(merged[0].file, base.file);
        assert_eq!(merged[0].places, [base.file.clone(), overlay.file.clone()]);
        assert!(merged[1].places.is_empty());
        let t = to_text(&merged, false);
        assert!(
            t.contains("found in: apps/base/headlamp/helmrelease.yaml, apps/production/headlamp/kustomization.yaml"),
            "{t}"
        );
        // exact duplicates only: one finding, no places
        let once = merge_places(vec![base.clone(), base.clone()]);
        assert_eq!(once, vec![base]);
    }

    /// Issue 19 ("deployed to two clusters is one finding that lists its places and clusters"): the clusters of a
    /// finding are those of its file and places; merging keeps them all; text names them; a tree of one cluster
    /// (an empty map) names none.
    #[test]
    fn findings_name_the_clusters_of_their_places() {
        let base = sample().remove(1);
        let prod = base
            .clone()
            .file("apps/production/headlamp/kustomization.yaml");
        let staging = base
            .clone()
            .file("apps/staging/headlamp/kustomization.yaml");
        let mut map: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        map.entry(prod.file.clone())
            .or_default()
            .insert("production".into());
        map.entry(staging.file.clone())
            .or_default()
            .insert("staging".into());
        map.entry(base.file.clone())
            .or_default()
            .extend(["production".to_string(), "staging".to_string()]);
        let mut merged = merge_places(vec![prod.clone(), staging.clone()]);
        name_clusters(&mut merged, &map);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].clusters, ["production", "staging"]);
        let mut one = vec![prod.clone()];
        name_clusters(&mut one, &map);
        assert_eq!(one[0].clusters, ["production"]);
        let t = to_text(&merged, false);
        assert!(t.contains("clusters: production, staging"), "{t}");
        assert!(to_text(&one, false).contains("cluster: production"));
        let v = to_json(&merged, &Summary::of(&merged));
        assert_eq!(
            v["findings"][0]["clusters"],
            serde_json::json!(["production", "staging"])
        );
        let mut none = vec![prod];
        name_clusters(&mut none, &BTreeMap::new());
        assert!(none[0].clusters.is_empty());
        assert!(
            to_json(&none, &Summary::of(&none))["findings"][0]
                .get("clusters")
                .is_none()
        );
    }

    #[test]
    fn text_groups_by_file_and_has_no_ansi_without_color() {
        let mut f = sample();
        sort(&mut f);
        let t = to_text(&f, false);
        assert_eq!(t.matches("apps/base/headlamp/helmrelease.yaml").count(), 1);
        assert!(!t.contains('\u{1b}'));
        // errors sort before warnings within one object
        assert!(t.find("values-unknown-key").unwrap() < t.find("image-tag-override").unwrap());
        assert!(t.contains("fix: volumes:\n           - name: home"));
        assert!(to_text(&f, true).contains('\u{1b}'));
    }
}
