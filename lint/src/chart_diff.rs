//! `chart-diff`: what a chart bump really changes. Renders every HelmRelease of the GitOps dir at a base git ref and
//! in the working tree (each with its own chart version and values) and diffs the rendered manifests object by object,
//! plus the chart's default values. This is what a reviewer of a Renovate chart-bump PR reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use futures::future::try_join_all;
use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;

use crate::chart::{ChartStore, Helm};
use crate::engine::pipeline as lint;
use crate::error::{Error, Result};
use crate::gitops::{self, Object};
use crate::rules::input::Release;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

/// One rendered object that differs.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDiff {
    /// `Kind/namespace/name`.
    pub object: String,
    pub change: Change,
    /// Unified diff of the object's YAML (base → head).
    pub diff: String,
}

/// The chart a side renders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub chart: String,
    pub version: String,
    pub app_version: Option<String>,
}

/// One HelmRelease, base vs head.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseDiff {
    /// `HelmRelease/namespace/name`.
    pub release: String,
    pub base: Option<Side>,
    pub head: Option<Side>,
    /// Unified diff of the chart's `values.yaml` defaults (empty when equal).
    pub defaults_diff: String,
    pub objects: Vec<ObjectDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChartDiff {
    pub base_ref: String,
    pub releases: Vec<ReleaseDiff>,
}

impl ChartDiff {
    pub fn is_empty(&self) -> bool {
        self.releases
            .iter()
            .all(|r| r.objects.is_empty() && r.defaults_diff.is_empty() && r.base == r.head)
    }
}

async fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = crate::process::Cmd::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .run()
        .await?;
    if !out.success() {
        return Err(Error::Other(format!(
            "git {} failed: {}",
            args.join(" "),
            out.complaint()
        )));
    }
    Ok(out.stdout)
}

/// The default base ref: `origin/main` when it exists, else `main`.
pub async fn default_base(dir: &Path) -> String {
    for r in ["origin/main", "main"] {
        if git(
            dir,
            &["rev-parse", "--verify", "-q", &format!("{r}^{{commit}}")],
        )
        .await
        .is_ok()
        {
            return r.to_string();
        }
    }
    "main".to_string()
}

/// Materialise `dir` as it is at `git_ref` into `into`; returns the directory that corresponds to `dir`.
pub async fn checkout_at(dir: &Path, git_ref: &str, into: &Path) -> Result<PathBuf> {
    let top = String::from_utf8_lossy(&git(dir, &["rev-parse", "--show-toplevel"]).await?)
        .trim()
        .to_string();
    let prefix = String::from_utf8_lossy(&git(dir, &["rev-parse", "--show-prefix"]).await?)
        .trim()
        .to_string();
    git(
        Path::new(&top),
        &[
            "rev-parse",
            "--verify",
            "-q",
            &format!("{git_ref}^{{commit}}"),
        ],
    )
    .await
    .map_err(|_| Error::Other(format!("base ref `{git_ref}` does not exist in {top}")))?;
    let target = into.join(&prefix);
    std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?;
    // An empty prefix archives the whole tree; a prefix missing at the ref yields an empty base.
    let mut args = vec!["archive", "--format=tar", git_ref];
    if !prefix.is_empty() {
        args.extend(["--", prefix.as_str()]);
    }
    match git(Path::new(&top), &args).await {
        Ok(tar_bytes) => {
            tar::Archive::new(&tar_bytes[..])
                .unpack(into)
                .map_err(|e| Error::io(into, e))?;
        }
        Err(e) if e.to_string().contains("did not match any files") => {}
        Err(e) => return Err(e),
    }
    Ok(target)
}

/// An object as the diff shows it: through the one object redaction (a rendered Secret's data, a credential in the
/// values never reaches a PR's step summary); a change of a secret value alone is not shown.
fn yaml(v: &Value) -> String {
    let mut v = v.clone();
    crate::redact::redact_object(&mut v);
    serde_norway::to_string(&v).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
}

fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

fn side(r: &Release) -> Option<Side> {
    Some(Side {
        chart: r.chart_name.clone(),
        version: r.chart_version.clone()?,
        app_version: r.chart.as_ref().and_then(|c| c.app_version.clone()),
    })
}

/// Diff two renders of the same release.
pub fn diff_release(id: &str, base: Option<&Release>, head: Option<&Release>) -> ReleaseDiff {
    let key = |o: &Object| (o.group().to_string(), o.kind().to_string(), o.id());
    let index = |r: Option<&Release>| -> BTreeMap<(String, String, String), Value> {
        r.map(|r| {
            r.rendered
                .iter()
                .map(|o| (key(o), o.value.clone()))
                .collect()
        })
        .unwrap_or_default()
    };
    let (b, h) = (index(base), index(head));
    let label = |r: Option<&Release>, which: &str| match r.and_then(side) {
        Some(s) => format!("{which} ({} {})", s.chart, s.version),
        None => format!("{which} (absent)"),
    };
    let (bl, hl) = (label(base, "base"), label(head, "head"));
    let mut keys: Vec<&(String, String, String)> = b.keys().chain(h.keys()).collect();
    keys.sort();
    keys.dedup();
    let objects = keys
        .into_iter()
        .filter_map(|k| {
            let (old, new) = (b.get(k).map(yaml), h.get(k).map(yaml));
            let change = match (&old, &new) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (Some(o), Some(n)) if o != n => Change::Changed,
                _ => return None,
            };
            let diff = unified(
                old.as_deref().unwrap_or(""),
                new.as_deref().unwrap_or(""),
                &format!("{bl} {}", k.2),
                &format!("{hl} {}", k.2),
            );
            Some(ObjectDiff {
                object: k.2.clone(),
                change,
                diff,
            })
        })
        .collect();
    let defaults = |r: Option<&Release>| {
        r.and_then(|r| r.chart.as_ref())
            .map(|c| yaml(&c.defaults))
            .unwrap_or_default()
    };
    ReleaseDiff {
        release: id.to_string(),
        base: base.and_then(side),
        head: head.and_then(side),
        defaults_diff: unified(
            &defaults(base),
            &defaults(head),
            &format!("{bl} values.yaml"),
            &format!("{hl} values.yaml"),
        ),
        objects,
    }
}

async fn render_tree(
    dir: &Path,
    store: &ChartStore,
    helm: &Helm,
) -> Result<BTreeMap<String, Release>> {
    let tree = gitops::load(dir)?;
    let releases: Vec<Release> = tree
        .find("helm.toolkit.fluxcd.io", "HelmRelease")
        .map(|o| Release::from_object(o, Some(&tree)))
        .collect::<Result<_>>()?;
    let rendered = try_join_all(releases.into_iter().map(|r| async move {
        if r.pinned_version().is_none() {
            return Err(Error::MissingChartVersion {
                file: r.object.file.clone(),
                object: r.id(),
            });
        }
        lint::render(r, store, helm).await.map(|(r, _, _)| r)
    }))
    .await?;
    Ok(rendered.into_iter().map(|r| (r.id(), r)).collect())
}

/// Render `dir` at `base_ref` and in the working tree, and diff.
pub async fn chart_diff(
    dir: &Path,
    base_ref: &str,
    store: &ChartStore,
    helm: &Helm,
) -> Result<ChartDiff> {
    if !dir.is_dir() {
        return Err(headlamp_e2e_gitops::Error::GitopsDirMissing(dir.to_path_buf()).into());
    }
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let base_dir = checkout_at(dir, base_ref, tmp.path()).await?;
    let (base, head) = tokio::try_join!(
        render_tree(&base_dir, store, helm),
        render_tree(dir, store, helm)
    )?;
    let mut ids: Vec<&String> = base.keys().chain(head.keys()).collect();
    ids.sort();
    ids.dedup();
    Ok(ChartDiff {
        base_ref: base_ref.to_string(),
        releases: ids
            .into_iter()
            .map(|id| diff_release(id, base.get(id), head.get(id)))
            .collect(),
    })
}

fn side_text(s: &Option<Side>) -> String {
    match s {
        Some(s) => match &s.app_version {
            Some(a) => format!("{} {} (app {a})", s.chart, s.version),
            None => format!("{} {}", s.chart, s.version),
        },
        None => "(none)".to_string(),
    }
}

fn count(r: &ReleaseDiff, c: Change) -> usize {
    r.objects.iter().filter(|o| o.change == c).count()
}

fn headline(r: &ReleaseDiff) -> String {
    format!(
        "{}: {} → {}: {} changed, {} added, {} removed object(s){}",
        r.release,
        side_text(&r.base),
        side_text(&r.head),
        count(r, Change::Changed),
        count(r, Change::Added),
        count(r, Change::Removed),
        if r.defaults_diff.is_empty() {
            ""
        } else {
            "; chart defaults changed"
        }
    )
}

/// Terminal output; `color` paints +/- lines.
pub fn to_text(d: &ChartDiff, color: bool) -> String {
    use anstyle::AnsiColor;
    let (green, red, cyan) = (
        AnsiColor::Green.on_default(),
        AnsiColor::Red.on_default(),
        AnsiColor::Cyan.on_default(),
    );
    let paint = |line: &str| -> String {
        if !color {
            return line.to_string();
        }
        let style = if line.starts_with("+++") || line.starts_with("---") {
            anstyle::Style::new().bold()
        } else if line.starts_with('+') {
            green
        } else if line.starts_with('-') {
            red
        } else if line.starts_with("@@") {
            cyan
        } else {
            return line.to_string();
        };
        format!("{style}{line}{style:#}")
    };
    use crate::redact::{for_terminal, no_workflow_commands, one_line};
    let mut out = String::new();
    if d.is_empty() {
        let _ = writeln!(out, "no rendered changes against {}", one_line(&d.base_ref));
        return out;
    }
    for r in &d.releases {
        let _ = writeln!(out, "{}", one_line(&headline(r)));
        for diff in std::iter::once(&r.defaults_diff).chain(r.objects.iter().map(|o| &o.diff)) {
            // object ids and chart names are in the headers, values in the lines: all from input
            for line in diff.lines() {
                let line = no_workflow_commands(&for_terminal(line));
                let _ = writeln!(out, "{}", paint(&line));
            }
        }
        out.push('\n');
    }
    out
}

/// GitHub-flavoured markdown (for `$GITHUB_STEP_SUMMARY` and PR comments). Every text from input (ref, release and
/// object ids, chart versions) is shown as text, never as markup ([`markdown_inline`]); each diff sits in a fence
/// its content cannot close ([`markdown_fence`]).
pub fn to_markdown(d: &ChartDiff) -> String {
    use crate::redact::{for_terminal, markdown_fence, markdown_inline};
    let mut out = format!(
        "## Rendered manifests: <code>{}</code> → this change\n\n",
        markdown_inline(&d.base_ref)
    );
    if d.is_empty() {
        out.push_str("No rendered changes.\n");
        return out;
    }
    for r in &d.releases {
        let _ = writeln!(out, "### <code>{}</code>\n", markdown_inline(&r.release));
        let _ = writeln!(out, "| | base | head |\n|---|---|---|");
        let cell = |s: &Option<Side>, f: fn(&Side) -> String| {
            s.as_ref()
                .map(|s| markdown_inline(&f(s)))
                .unwrap_or_else(|| "—".into())
        };
        let _ = writeln!(
            out,
            "| chart | {} | {} |",
            cell(&r.base, |s| s.version.clone()),
            cell(&r.head, |s| s.version.clone())
        );
        let _ = writeln!(
            out,
            "| appVersion | {} | {} |\n",
            cell(&r.base, |s| s.app_version.clone().unwrap_or_default()),
            cell(&r.head, |s| s.app_version.clone().unwrap_or_default())
        );
        let _ = writeln!(
            out,
            "{} changed, {} added, {} removed object(s).\n",
            count(r, Change::Changed),
            count(r, Change::Added),
            count(r, Change::Removed)
        );
        let mut block = |title: String, diff: &str| {
            let _ = writeln!(
                out,
                "<details><summary>{title}</summary>\n\n{}\n</details>\n",
                markdown_fence("diff", &for_terminal(diff))
            );
        };
        if !r.defaults_diff.is_empty() {
            block(
                "chart defaults (<code>values.yaml</code>)".into(),
                &r.defaults_diff,
            );
        }
        for o in &r.objects {
            let verb = match o.change {
                Change::Added => "added",
                Change::Removed => "removed",
                Change::Changed => "changed",
            };
            block(
                format!("<code>{}</code> ({verb})", markdown_inline(&o.object)),
                &o.diff,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::input::testutil::{helmrelease, rendered};

    fn with(r: &mut Release, version: &str, objects: Vec<Object>) {
        r.chart_version = Some(version.into());
        r.rendered = objects;
    }

    const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: headlamp, namespace: headlamp}\nspec: {ports: [{port: 80}]}\n";

    #[test]
    fn object_by_object() {
        let (mut b, mut h) = (helmrelease("{}"), helmrelease("{}"));
        let dep = |tag: &str| {
            rendered(&format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: headlamp, namespace: headlamp}}\nspec:\n  template:\n    spec:\n      containers:\n      - {{name: headlamp, image: 'ghcr.io/headlamp-k8s/headlamp:{tag}'}}\n"
            ))
        };
        with(&mut b, "0.41.0", vec![dep("v0.41.0"), rendered(SVC)]);
        let cm = rendered(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new, namespace: headlamp}\n",
        );
        with(&mut h, "0.45.0", vec![dep("v0.45.0"), rendered(SVC), cm]);
        let d = diff_release("HelmRelease/headlamp/headlamp", Some(&b), Some(&h));
        let summary: Vec<(&str, Change)> = d
            .objects
            .iter()
            .map(|o| (o.object.as_str(), o.change))
            .collect();
        assert_eq!(
            summary,
            [
                ("ConfigMap/headlamp/new", Change::Added),
                ("Deployment/headlamp/headlamp", Change::Changed)
            ]
        );
        let dep_diff = &d.objects[1].diff;
        assert!(
            dep_diff.contains("-      - image: ghcr.io/headlamp-k8s/headlamp:v0.41.0"),
            "{dep_diff}"
        );
        assert!(
            dep_diff.contains("+      - image: ghcr.io/headlamp-k8s/headlamp:v0.45.0"),
            "{dep_diff}"
        );
        assert!(
            dep_diff.contains("base (headlamp 0.41.0)")
                && dep_diff.contains("head (headlamp 0.45.0)")
        );
        let cd = ChartDiff {
            base_ref: "main".into(),
            releases: vec![d],
        };
        let md = to_markdown(&cd);
        assert!(
            md.contains("| chart | 0.41.0 | 0.45.0 |") && md.contains("```diff"),
            "{md}"
        );
        assert!(!to_text(&cd, false).contains('\u{1b}'));
        assert!(to_text(&cd, true).contains('\u{1b}'));
    }

    /// Names and values from a hostile tree: a newline that starts a workflow command, markup that leaves its code span
    /// or table cell, a fence in a value, a terminal escape, a right-to-left override.
    #[test]
    fn hostile_names_and_values_stay_text() {
        let (mut b, mut h) = (helmrelease("{}"), helmrelease("{}"));
        let cm = |v: &str| {
            let mut o = rendered(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: headlamp}\n",
            );
            o.value["metadata"]["name"] = "x\n::error file=a::pwned</code><img src=q>|`".into();
            o.value["data"] = serde_json::json!({"k": v});
            o
        };
        with(&mut b, "0.41.0", vec![cm("old")]);
        with(
            &mut h,
            "0.45.0\u{202E}",
            vec![cm("new\n```\n</details>\n\u{1b}[31mred\n::warning::w")],
        );
        let cd = ChartDiff {
            base_ref: "main\n::error::ref".into(),
            releases: vec![diff_release(
                "HelmRelease/headlamp/headlamp",
                Some(&b),
                Some(&h),
            )],
        };
        let text = to_text(&cd, false);
        for line in text.lines() {
            assert!(
                !line.trim_start().starts_with("::"),
                "a workflow command line: {line:?}"
            );
        }
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202E}'),
            "{text}"
        );
        let md = to_markdown(&cd);
        // markup only where markdown reads it (the diff's lines are literal inside their fence)
        for line in md
            .lines()
            .filter(|l| l.starts_with('#') || l.starts_with("| ") || l.starts_with("<details>"))
        {
            assert!(
                !line.contains("<img") && !line.contains("</code><"),
                "{line}"
            );
        }
        assert!(!md.contains('\u{1b}') && !md.contains('\u{202E}'), "{md}");
        // the value's ``` does not close the diff's fence: the fence is longer
        assert!(md.contains("````diff"), "{md}");
        // every table row keeps its three columns
        for row in md.lines().filter(|l| l.starts_with("| ")) {
            assert_eq!(row.matches('|').count(), 4, "{row}");
        }
    }

    #[test]
    fn identical_renders_are_empty() {
        let mut b = helmrelease("{}");
        with(&mut b, "0.41.0", vec![rendered(SVC)]);
        let cd = ChartDiff {
            base_ref: "main".into(),
            releases: vec![diff_release("x", Some(&b), Some(&b.clone()))],
        };
        assert!(cd.is_empty());
        assert!(to_text(&cd, false).starts_with("no rendered changes"));
    }
}
