//! The pipeline: [`lint`] reads the GitOps dir, [`prepare`] parses the HelmReleases, fetches their charts and renders
//! them (all the I/O: chart lookup, `helm template`) into a [`LintInput`], and [`run_rules`] applies every rule of
//! [`RULES`] to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;

use crate::chart::{self, Chart, ChartRef, ChartStore, Helm};
use crate::engine::ahead;
use crate::engine::positions;
use crate::error::{Error, Result};
use crate::finding::{self, Finding, Summary};
use crate::gitops::{self, Object, Origin, Tree};
use crate::rules::input::{LintInput, Release, chart_ref};
use crate::rules::registry::RULES;
use crate::rules::{
    flux_source, kustomize, manifest_fields, post_render, release_source, values, values_from,
};

/// Apply every rule. Reports all findings, not the first. No finding quotes a value a release reads from a Secret
/// ([`secret_values`], [`redact_secret_values`]).
pub fn run_rules(input: &LintInput) -> Vec<Finding> {
    run_rules_preparsed(input, None)
}

/// [`run_rules`], placing the findings from the files [`positions::preparse`] read.
pub fn run_rules_preparsed(
    input: &LintInput,
    preparsed: Option<positions::Preparsed>,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = RULES
        .iter()
        .flat_map(|r| {
            let started = Instant::now();
            let found = (r.check)(input);
            tracing::debug!(rule = r.id, elapsed = ?started.elapsed(), "lint: rule applied");
            found
        })
        .collect();
    redact_secret_values(&mut findings, &secret_values(input));
    finding::sort(&mut findings);
    // each problem once: the same finding read through two files is one finding naming both (and its clusters)
    let mut findings = finding::merge_places(findings);
    finding::name_clusters(&mut findings, &input.clusters);
    // each where the user edits it: its file's line and column (a value from valuesFrom, an object a kustomization
    // built: the file it is written in), then in file order again
    positions::locate_preparsed(input, &mut findings, preparsed);
    finding::sort(&mut findings);
    findings
}

/// The shortest Secret value replaced in findings: shorter strings (`on`, `v1`, `443`) are words of every message,
/// and no credential.
pub const MIN_SECRET_VALUE_CHARS: usize = 4;

/// Every value a HelmRelease's `spec.valuesFrom` can read from a Secret of the tree: each `data` (base64-decoded) and
/// `stringData` entry of a referenced Secret, whole and as the string leaves of it read as YAML values, longest
/// first. They reach the values helm renders, so a rule may quote one (an image tag, a flag, helm's own error);
/// [`redact_secret_values`] takes them out of every finding.
pub fn secret_values(input: &LintInput) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let s = s.trim();
        if s.chars().count() >= MIN_SECRET_VALUE_CHARS {
            out.push(s.to_string());
        }
    };
    fn leaves(v: &Value, add: &mut dyn FnMut(&str)) {
        match v {
            Value::String(s) => add(s),
            Value::Array(a) => a.iter().for_each(|x| leaves(x, add)),
            Value::Object(m) => m.values().for_each(|x| leaves(x, add)),
            _ => {}
        }
    }
    for r in &input.releases {
        let ns = r.object.namespace().unwrap_or("default");
        let Some(refs) = r.object.value["spec"]["valuesFrom"].as_array() else {
            continue;
        };
        for reference in refs.iter().filter(|x| x["kind"] == "Secret") {
            let name = reference["name"].as_str().unwrap_or("");
            let secrets = input.objects.iter().filter(|o| {
                o.is("", "Secret") && o.name() == name && o.namespace().unwrap_or("default") == ns
            });
            for secret in secrets {
                let mut texts: Vec<String> = Vec::new();
                if let Some(m) = secret.value["stringData"].as_object() {
                    texts.extend(m.values().filter_map(|v| v.as_str().map(str::to_string)));
                }
                if let Some(m) = secret.value["data"].as_object() {
                    texts.extend(m.values().filter_map(|v| {
                        let b = values_from::decode_base64(v.as_str()?).ok()?;
                        String::from_utf8(b).ok()
                    }));
                }
                for text in texts {
                    add(&text);
                    if let Ok(docs) = gitops::parse_yaml_documents(&text, Path::new("Secret data"))
                    {
                        docs.iter().for_each(|d| leaves(d, &mut add));
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// Replace each of `secrets` (longest first) in every finding's message, fix, path and object with
/// [`crate::redact::REDACTED`].
pub fn redact_secret_values(findings: &mut [Finding], secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    for f in findings.iter_mut() {
        for text in [&mut f.message, &mut f.fix, &mut f.path, &mut f.object] {
            for s in secrets {
                if text.contains(s.as_str()) {
                    *text = text.replace(s.as_str(), crate::redact::REDACTED);
                }
            }
        }
    }
}

/// What `lint` returns.
#[derive(Debug)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    pub summary: Summary,
    pub elapsed: Duration,
}

/// Read `root`, fetch and render every HelmRelease, run the rules.
pub async fn lint(root: &Path, store: &ChartStore, helm: Option<&Helm>) -> Result<LintReport> {
    let started = Instant::now();
    // helm located once: the renders started ahead and prepare's share its memo and its slots
    let located = match helm {
        Some(h) => Some(h.clone()),
        None => Helm::locate().ok(),
    };
    // a file that is not valid YAML is a `yaml-invalid` finding on it; the other files are still linted. The tree is
    // read on a blocking thread; the releases its walk already predicts are rendered while it follows the Flux
    // Kustomizations (`ahead`). The walk hands over the predictions first (the renders are the longest chain),
    // then a copy of its objects for the field checks.
    // The HelmReleases of each Flux Kustomization's path are handed over as the path is read: their charts are
    // fetched while the other paths are read.
    let (releases_tx, releases_rx) = tokio::sync::oneshot::channel();
    let (objects_tx, objects_rx) = tokio::sync::oneshot::channel();
    let (followed_tx, followed_rx) = tokio::sync::mpsc::unbounded_channel();
    let load = {
        let root = root.to_path_buf();
        tokio::task::spawn_blocking(move || {
            gitops::load_each_watching(
                &root,
                move |walked| {
                    let _ =
                        releases_tx.send((ahead::predictable(walked), walked.release_sources()));
                    let _ = objects_tx.send(walked.objects.clone());
                },
                &mut {
                    // one release per chart reference is enough to know the chart (350 apps on one chart: one)
                    let mut sent = std::collections::HashSet::new();
                    move |objects: &[gitops::Object]| {
                        for o in objects
                            .iter()
                            .filter(|o| o.is("helm.toolkit.fluxcd.io", "HelmRelease"))
                        {
                            if sent.insert(ahead::chart_key(o)) {
                                let _ = followed_tx.send(o.clone());
                            }
                        }
                    }
                },
            )
        })
    };
    let start_ahead = async {
        let (releases, sources) = releases_rx.await.unwrap_or_default();
        tracing::debug!(elapsed = ?started.elapsed(), releases = releases.len(), "lint: tree walked; rendering ahead");
        let mut ahead = ahead::start(
            releases,
            async { objects_rx.await.unwrap_or_default() },
            store,
            located.as_ref(),
        )
        .await;
        // the checkout's branch and HEAD: two git processes, started once the renders are (they run beside helm)
        let root = root.to_path_buf();
        let checkout = tokio::spawn(async move { flux_source::Checkout::read(&root).await });
        ahead::fetch_followed(&mut ahead, followed_rx, &sources, store, located.as_ref()).await;
        (ahead, checkout)
    };
    let (tree, (ahead, checkout)) = tokio::join!(load, start_ahead);
    let tree = tree.map_err(|e| Error::Other(format!("reading {}: {e}", root.display())))??;
    tracing::debug!(elapsed = ?started.elapsed(), objects = tree.objects.len(), "lint: tree read");
    if tree.objects.is_empty() && tree.unreadable.is_empty() {
        // an empty directory is not a clean one: a green 0 here would hide a wrong --gitops path
        return Err(Error::NothingToLint {
            dir: root.to_path_buf(),
            files: tree.files.len(),
            plural: if tree.files.len() == 1 { "" } else { "s" },
        });
    }
    // a directory of Flux Kustomizations whose paths all lead outside it (`kubernetes/flux/cluster`) has nothing
    // of its own to lint: a green 0 would say the repository is clean when nothing in it was checked
    let plumbing = |o: &gitops::Object| {
        matches!(
            o.group(),
            "kustomize.toolkit.fluxcd.io" | "source.toolkit.fluxcd.io"
        )
    };
    if !tree.not_followed.is_empty()
        && tree.unreadable.is_empty()
        && tree.objects.iter().all(plumbing)
    {
        const SHOWN: usize = 3;
        let mut named: Vec<String> = tree.not_followed.iter().take(SHOWN).cloned().collect();
        if tree.not_followed.len() > SHOWN {
            named.push(format!("and {} more", tree.not_followed.len() - SHOWN));
        }
        return Err(Error::NothingFollowed {
            dir: root.to_path_buf(),
            kustomizations: named.join(", "),
            root: gitops::repository_root(root),
        });
    }
    // the files most findings will be placed in (each HelmRelease's, each of the loader's findings') are parsed
    // while the releases are prepared and the rules run
    let likely: std::collections::BTreeSet<String> = tree
        .objects
        .iter()
        .filter(|o| o.is("helm.toolkit.fluxcd.io", "HelmRelease"))
        .map(Object::file_display)
        .chain(tree.findings.iter().map(|f| f.file.clone()))
        .filter(|f| !f.is_empty())
        .collect();
    let preparsed = positions::preparse(root.to_path_buf(), likely.into_iter().collect());
    let mut input = prepare_with(tree, store, located.as_ref(), ahead).await?;
    input.checkout = checkout.await.ok();
    tracing::debug!(elapsed = ?started.elapsed(), "lint: releases rendered");
    let findings = run_rules_preparsed(&input, preparsed);
    tracing::debug!(elapsed = ?started.elapsed(), "lint: rules applied");
    let mut summary = Summary::of(&findings);
    let rendered = input.releases.iter().filter(|r| r.chart.is_some()).count();
    summary
        .counts
        .insert("objects".into(), input.objects.len() as u64);
    summary
        .counts
        .insert("helmreleases".into(), input.releases.len() as u64);
    summary.counts.insert("rendered".into(), rendered as u64);
    let elapsed = started.elapsed();
    tracing::debug!(?elapsed, "lint: done");
    // the objects (every CRD of a Flux install, each rendered manifest) are freed on a thread of their own: the
    // report does not wait for it, and a process that exits first leaves it to the OS
    let _ = std::thread::Builder::new()
        .name("lint-free".into())
        .spawn(move || drop(input));
    Ok(LintReport {
        findings,
        summary,
        elapsed,
    })
}

/// Turn a loaded tree into rule input: parse HelmReleases, fetch charts and render them (concurrently).
/// `helm` may be `None` only when the tree has no HelmRelease to render.
pub async fn prepare(tree: Tree, store: &ChartStore, helm: Option<&Helm>) -> Result<LintInput> {
    prepare_with(tree, store, helm, ahead::Ahead::default()).await
}

/// [`prepare`], with the work [`ahead::start`] began while the tree was read: its charts are not read again, its
/// renders are waited for (not run again), and its field checks are kept for the objects that did not change.
pub async fn prepare_with(
    tree: Tree,
    store: &ChartStore,
    helm: Option<&Helm>,
    ahead: ahead::Ahead,
) -> Result<LintInput> {
    let ahead::Ahead {
        charts: mut loaded,
        renders: _renders_ahead,
        fields: fields_ahead,
    } = ahead;
    let mut releases = Vec::new();
    let mut problems = tree.findings.clone();
    problems.extend(tree.unreadable.iter().map(kustomize::unreadable_finding));
    let sources = tree.release_sources();
    for o in tree.find("helm.toolkit.fluxcd.io", "HelmRelease") {
        // one unreadable HelmRelease is a finding on it; the others are still linted
        match Release::from_object(o, Some(&sources)) {
            Ok(mut r) => {
                // a range is rendered at the newest matching chart at hand (chart-version-not-pinned still errs)
                if r.pinned_version().is_none() && r.digest.is_none() {
                    r.range_pick = r.chart_version.as_deref().and_then(|v| {
                        store.newest_at_hand(&r.chart_name, r.repo_url.as_deref(), v)
                    });
                }
                releases.push(r)
            }
            Err(e) => problems.push(release_source::invalid(o, &e)),
        }
    }
    let to_render = releases.iter().any(Release::renderable);
    let helm = match (helm, to_render) {
        (Some(h), _) => Some(h.clone()),
        (None, true) => Some(Helm::locate()?),
        (None, false) => None,
    };
    // Each release is fetched and rendered on its own: a failure of that release (chart not to be had, helm template
    // refusing its values) is a finding on it, never an abort. A failure of the tool itself (helm hanging past the
    // deadline, interrupted, not runnable) still stops the lint: no result would be trustworthy.
    // Each chart archive is fetched and read once per (chart, version), however many releases use it.
    // The archives not had ahead are fetched in parallel (bounded, one deadline for all: [`ChartStore::fetch_all`]).
    let mut charts: HashMap<ChartRef, Result<Chart>> = HashMap::new();
    if let Some(h) = &helm {
        let wanted: Vec<ChartRef> = releases
            .iter()
            .filter(|r| r.renderable())
            .map(chart_ref)
            .collect();
        let missing: Vec<ChartRef> = wanted
            .iter()
            .filter(|c| !loaded.contains_key(*c))
            .cloned()
            .collect();
        let mut fetched = store.fetch_all(missing, Some(h)).await;
        for cref in wanted {
            if charts.contains_key(&cref) {
                continue;
            }
            let read = match loaded.remove(&cref) {
                Some(result) => result,
                None => match fetched.remove(&cref) {
                    Some(path) => path.and_then(|p| chart::read_chart(&p)).map_err(Into::into),
                    None => load_chart(&cref, store, h).await,
                },
            };
            // the archive must be the chart asked for (a cached or local one too)
            let read = read.and_then(|c| {
                chart::check_identity(&c, &cref)
                    .map(|()| c)
                    .map_err(Into::into)
            });
            match read {
                Err(e) if is_tool_failure(&e) => return Err(e),
                read => {
                    charts.insert(cref, read);
                }
            }
        }
    }
    let charts = &charts;
    // The typed field checks of the plain manifests (the costliest rule: every CRD of a Flux install is deserialized)
    // do not depend on the renders: they run on a blocking thread while helm renders.
    let root = tree.root;
    let clusters = tree.clusters;
    let objects = std::sync::Arc::new(tree.objects);
    let plain_fields = {
        let objects = objects.clone();
        tokio::spawn(async move {
            // the objects checked ahead (those the walk read), once that is done; a failed one is checked here
            let known = match fields_ahead {
                Some(h) => h.await.unwrap_or_default(),
                None => Vec::new(),
            };
            tokio::task::spawn_blocking(move || {
                manifest_fields::check_plain_reusing(&objects, &known)
            })
            .await
        })
    };
    // all releases at once; the processes are bounded by `Helm`'s slots (available_parallelism)
    let results = join_all(releases.into_iter().map(|r| {
        let helm = helm.clone();
        async move {
            match (r.renderable(), helm, charts.get(&chart_ref(&r))) {
                (true, Some(h), Some(Ok(chart))) => {
                    match render_release_with(r.clone(), chart.clone(), &h).await {
                        Ok(rendered) => Ok(rendered),
                        Err(e) if is_tool_failure(&e) => Err(e),
                        Err(e) => {
                            let mut r = r;
                            let f = release_source::failure(&r, &e);
                            r.problems.push(f);
                            Ok(r)
                        }
                    }
                }
                (true, Some(_), Some(Err(e))) => {
                    let mut r = r;
                    let f = release_source::failure(&r, e);
                    r.problems.push(f);
                    Ok(r)
                }
                (false, _, _) if r.digest.is_some() && !r.chart_name.is_empty() => {
                    // pinned by digest only (a digest wins over semver and tag): the archive is named by version
                    let mut r = r;
                    let e = Error::Other(format!(
                        "the OCIRepository pins the chart by digest ({}) with no exact tag, and lint finds archives by version",
                        r.digest.as_deref().unwrap_or_default()
                    ));
                    let f = release_source::failure(&r, &e);
                    r.problems.push(f);
                    Ok(r)
                }
                _ => Ok(r),
            }
        }
    }))
    .await;
    let releases = results.into_iter().collect::<Result<Vec<_>>>()?;
    let plain_fields = plain_fields.await.ok().and_then(|r| r.ok());
    // the checking thread has ended, and with it its handle on the objects
    let objects = std::sync::Arc::try_unwrap(objects).unwrap_or_else(|shared| (*shared).clone());
    Ok(LintInput {
        root,
        objects,
        releases,
        problems,
        checkout: None,
        plain_fields,
        clusters,
    })
}

/// Fetch the archive (OCI through `helm pull`) and read what the rules need from it.
async fn load_chart(cref: &ChartRef, store: &ChartStore, helm: &Helm) -> Result<Chart> {
    let path = store.fetch_with(cref, Some(helm)).await?;
    let chart = chart::read_chart(&path)?;
    chart::check_identity(&chart, cref)?;
    Ok(chart)
}

/// A failure of the tool itself (helm past its deadline, interrupted, not runnable, failing for itself): it stops
/// the lint, where a failure of one release is a finding on it.
fn is_tool_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::Tools(
            headlamp_e2e_tools::Error::Process(_) | headlamp_e2e_tools::Error::HelmMissing { .. }
        ) | Error::HelmFailed { .. }
    )
}

/// Fetch the chart and render the release (no analysis). Returns the chart archive path and helm's output too.
pub async fn render(
    r: Release,
    store: &ChartStore,
    helm: &Helm,
) -> Result<(Release, PathBuf, String)> {
    let chart = load_chart(&chart_ref(&r), store, helm).await?;
    let path = chart.path.clone();
    let (r, text) = render_with(r, chart, helm).await?;
    Ok((r, path, text))
}

/// Render the release with its chart (through the render cache). Returns helm's output too.
pub async fn render_with(mut r: Release, chart: Chart, helm: &Helm) -> Result<(Release, String)> {
    let base_text = helm
        .render(&chart, &r.release_name, &r.namespace, &r.values)
        .await?;
    let release_id = format!(
        "{}/{}",
        r.object.namespace().unwrap_or("default"),
        r.object.name()
    );
    let objects = |text: &str| -> Result<Vec<Object>> {
        Ok(chart::split_rendered(text)?
            .into_iter()
            .filter(|(_, v)| v["kind"].is_string())
            .map(|(template, value)| Object {
                value,
                file: r.object.file.clone(),
                origin: Origin::Rendered {
                    release: release_id.clone(),
                    template,
                },
            })
            .collect())
    };
    let mut rendered = objects(&base_text)?;
    // postRenderers run on Helm's output, after the render cache: the cache only ever holds Helm's own output
    if post_render::has_post_renderers(&r.object.value) {
        let post = match post_render::apply(&r.object.value, &base_text).await {
            Ok(text) => objects(&text).map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        match post {
            Ok(mut after) => {
                post_render::carry_templates(&rendered, &mut after);
                rendered = after;
            }
            Err(why) => {
                let f = post_render::skipped(&r.object, &why);
                r.problems.push(f);
            }
        }
    }
    r.rendered = rendered;
    r.chart = Some(chart);
    Ok((r, base_text))
}

/// Fetch the chart, render the release, and settle which values keys the chart ignores.
pub async fn render_release(r: Release, store: &ChartStore, helm: &Helm) -> Result<Release> {
    let chart = load_chart(&chart_ref(&r), store, helm).await?;
    render_release_with(r, chart, helm).await
}

/// [`render_release`] with the chart already read.
pub async fn render_release_with(r: Release, chart: Chart, helm: &Helm) -> Result<Release> {
    let (mut r, base_text) = render_with(r, chart, helm).await?;
    let Some(chart) = r.chart.clone() else {
        return Ok(r);
    };

    // values-unknown-key, exactly: a candidate is reported only when removing it and changing it both leave the
    // output unchanged ([`values::probe_unused`]; a failed probe render means the key is read).
    // Checked against Helm's own output (before any postRenderers), the output the removal renders compare with.
    let helm_objects: Vec<Value> = chart::split_rendered(&base_text)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let rendered_values: Vec<&Value> = helm_objects.iter().collect();
    let candidates: Vec<values::Candidate> = values::unused_candidates(
        &r.values,
        &chart.defaults,
        chart.schema.as_ref(),
        &chart.subchart_keys,
    )
    .into_iter()
    .filter(|c| !values::passed_through(&c.path, &r.values, &chart.defaults, &rendered_values))
    .collect();
    let probed = values::probe_unused(
        helm,
        &chart,
        &r.release_name,
        &r.namespace,
        &r.values,
        &base_text,
        &candidates,
    )
    .await;
    r.unused_values = probed.unused;
    r.unchecked_values = probed.unchecked;
    Ok(r)
}
