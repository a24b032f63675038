//! Following the Flux Kustomizations of the walked tree: each one's `spec.path`, read, built, patched and substituted
//! as Flux applies it, in the order Flux would.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    Entry, FLUX_BUILD_RULE, Loader, MAX_FLUX_ROUNDS, NOT_DEPLOYED_RULE, NOT_FOLLOWED_RULE,
    OTHER_SOURCE_RULE, is_k8s_object,
};
use crate::error::Result;
use crate::finding::{Finding, Severity};
use crate::flux::flux_kustomization::{
    FluxPath, apply_flux_kustomization, cluster_name, flux_path,
};
use crate::flux::{flux_build, substitute};
use crate::kustomize::flux_patch;
use crate::kustomize::flux_patch::patches_in_process;
use crate::kustomize::paths::KUSTOMIZATION_NAMES;
use crate::objects::object::{Object, Origin};

impl Loader {
    /// Ask the builder ahead for the builds of the walked tree's entry points (the Flux Kustomizations no other one's
    /// path holds: the walk reads the others as committed, and Flux applies them as their parent's path builds them,
    /// patches and all), in the order [`Self::flux_kustomizations`] takes them: kustomize runs while the rest is read.
    /// The children are asked for when their parent's path has been read ([`Self::prefetch_builds`]). Returns the
    /// walked Flux Kustomizations and their holders ([`Self::holders`]), for [`Self::flux_kustomizations`].
    pub(super) fn prefetch_flux_builds(&mut self) -> Walked {
        let repo_root = self.bound.clone();
        let walked: Vec<Object> = self
            .tree
            .find("kustomize.toolkit.fluxcd.io", "Kustomization")
            .cloned()
            .collect();
        let holders = self.holders(&walked, &repo_root);
        let entry_points: Vec<Object> = walked
            .iter()
            .enumerate()
            .filter(|(i, _)| !holders.contains_key(i))
            .map(|(_, ks)| ks.clone())
            .rev()
            .collect();
        self.prefetch_builds(&entry_points);
        Walked { walked, holders }
    }

    /// Ask the builder ahead for the builds of `kustomizations` (in this order) that need kustomize: those with
    /// kustomize features whose patches are not applied here ([`flux_patch`]; one that turns out not to be is built on
    /// demand). The path is resolved as [`Self::flux_kustomizations`] resolves it, without its warnings (it gives
    /// them); a build asked for and not taken is skipped.
    fn prefetch_builds(&mut self, kustomizations: &[Object]) {
        let repo_root = self.bound.clone();
        let wanted: Vec<(PathBuf, &Value)> = kustomizations
            .iter()
            .filter(|ks| needs_build(&ks.value["spec"]))
            .filter(|ks| !patches_in_process() || flux_patch::plan(&ks.value["spec"]).is_err())
            .filter_map(|ks| {
                let spec = &ks.value["spec"];
                let FluxPath::Found(dir) = flux_path(spec, &self.root, &repo_root) else {
                    return None;
                };
                let real = dir.canonicalize().ok().filter(|r| r.is_dir())?;
                let rel = real.strip_prefix(&self.real_root).ok()?.to_path_buf();
                Some((rel, spec))
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        let real_root = self.real_root.clone();
        let builder = self
            .builder
            .get_or_insert_with(|| flux_build::Builder::new(&real_root));
        for (rel, spec) in &wanted {
            builder.prefetch(rel, spec);
        }
    }

    /// Follow every Flux Kustomization's `spec.path` (relative to the repository root) within the GitOps directory,
    /// and read what is there as kustomize-controller applies it ([`apply_flux_kustomization`]). Objects first read by
    /// the directory walk from those files are replaced by the transformed ones.
    pub(super) fn flux_kustomizations(
        &mut self,
        walked_ks: Walked,
        followed: &mut dyn FnMut(&[Object]),
    ) -> Result<()> {
        let repo_root = self.bound.clone();
        let walked: BTreeSet<PathBuf> = self.tree.files.iter().cloned().collect();
        let mut replaced: BTreeSet<PathBuf> = BTreeSet::new();
        let mut done = BTreeSet::new();
        // how often each Flux Kustomization was followed (with a spec not seen before): bounded, see below
        let mut rounds: HashMap<String, usize> = HashMap::new();
        // (Kustomization, its index among the walked ones): the walk reads a child Kustomization (`apps/*/ks.yaml`)
        // as committed, but Flux applies it as its parent's path builds it, and a parent may patch its children (the
        // cluster-template `cluster-apps` Kustomization adds `postBuild.substituteFrom: cluster-secrets` to each).
        // A walked Kustomization that another one's path holds waits (once) until its holders are followed, and
        // one that a parent's path has already given (same id) is not followed again as committed: only as Flux
        // applies it. Otherwise the walk's order is kept.
        // found by [`Self::prefetch_flux_builds`] on the same tree (the walk's), not looked for again
        let Walked {
            walked: walked_ks,
            holders,
        } = walked_ks;
        // the cluster of each walked Kustomization: that of the entry point (a walked Kustomization no other one's
        // path holds) its holders lead to, named by where the entry point's file is ([`cluster_name`])
        let cluster_of: Vec<Option<String>> = (0..walked_ks.len())
            .map(|i| {
                let mut at = i;
                let mut seen = BTreeSet::new();
                while let Some(h) = holders.get(&at).and_then(|h| h.first()) {
                    if !seen.insert(at) {
                        break;
                    }
                    at = *h;
                }
                cluster_name(&walked_ks[at].file)
            })
            .collect();
        // the source of the Kustomization that applies each walked one (its first holder), if any
        let parent_source: Vec<Option<(String, String)>> = (0..walked_ks.len())
            .map(|i| {
                holders
                    .get(&i)
                    .and_then(|h| h.first())
                    .map(|h| source_of(&walked_ks[*h]))
            })
            .collect();
        let mut queue: Vec<(Object, Option<usize>, Option<String>)> = walked_ks
            .into_iter()
            .enumerate()
            .map(|(i, o)| (o, Some(i), cluster_of[i].clone()))
            .collect();
        // the source of the Kustomization whose path gave each reached one, by id
        let mut given_by: HashMap<String, (String, String)> = HashMap::new();
        // the clusters that deploy each file, for findings to name them (kept when there are two or more)
        let mut clusters: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        let mut followed_walked: BTreeSet<usize> = BTreeSet::new();
        let mut deferred: BTreeSet<usize> = BTreeSet::new();
        // ids of the Kustomizations some followed path gave (as Flux applies them)
        let mut reached: BTreeSet<String> = BTreeSet::new();
        // files a followed Kustomization deploys (its own file when the walk found it: an entry point), for
        // [`Self::drop_undeployed`]; `None` while no Kustomization path was read
        let mut deployed: Option<BTreeSet<PathBuf>> = None;
        // the tree's files, as a set (a repository of 1,200 files has as many; each Kustomization adds a few)
        let mut files: std::collections::HashSet<PathBuf> =
            self.tree.files.iter().cloned().collect();
        // the substitution sources of the tree (ConfigMaps, Secrets, …; [`is_substitution_source`]), in the tree's
        // order, kept beside it as the loop below changes it: filtering 1,200 objects for each of 350 Kustomizations
        // was a tenth of a warm run. Rebuilt when the tree changed other than by this loop (`seen_len`).
        let mut tree_sources: Vec<Object> = Vec::new();
        let mut seen_len: Option<usize> = None;
        // the values postBuild substitution replaced, freed after the loop on a thread of their own
        let mut substituted_away: Vec<Value> = Vec::new();
        while let Some((ks, walked_at, cluster)) = queue.pop() {
            let from_walk = walked_at.is_some();
            if let Some(i) = walked_at {
                if reached.contains(&ks.id()) {
                    tracing::debug!(kustomization = %ks.id(), "followed as its parent's path gives it, not as committed");
                    continue;
                }
                let waiting = holders
                    .get(&i)
                    .is_some_and(|h| h.iter().any(|j| !followed_walked.contains(j)));
                if waiting && deferred.insert(i) {
                    queue.insert(0, (ks, walked_at, cluster));
                    continue;
                }
                followed_walked.insert(i);
            }
            let spec = &ks.value["spec"];
            // a Git source other than the one its parent applies it from is another repository (a fleet repo's
            // `GitRepository apc-fleet` with `path: ./kubernetes`): its path names a directory there, not here
            let parent = match walked_at {
                Some(i) => parent_source[i].clone(),
                None => given_by.get(&ks.id()).cloned(),
            };
            let own = source_of(&ks);
            if own.0 == "GitRepository"
                && let Some(parent) = parent
                && parent != own
            {
                let note = other_repository_note(&ks, &parent);
                if !self.tree.findings.contains(&note) {
                    self.tree.findings.push(note);
                }
                continue;
            }
            let dir = match flux_path(spec, &self.root, &repo_root) {
                FluxPath::NotFollowed => {
                    if let Some(note) = other_source_note(&ks)
                        && !self.tree.findings.contains(&note)
                    {
                        self.tree.findings.push(note);
                    }
                    continue;
                }
                FluxPath::Found(dir) => dir,
                FluxPath::Missing(path) => {
                    self.warn(format!(
                    "{}: Flux Kustomization {} has spec.path {path:?}, which is neither under the repository root {} nor under the GitOps directory; not followed (Flux would fail it: no such path)",
                    ks.file_display(),
                    ks.id(),
                    repo_root.display()
                ));
                    continue;
                }
            };
            let Entry::Dir(real) = self.classify(&dir) else {
                continue;
            };
            if !real.starts_with(&self.real_root) {
                // one note per Kustomization, the same text for all (grouped); lint refuses a directory where
                // these are all there is ([`Tree::not_followed`])
                let path = spec["path"].as_str().unwrap_or_default();
                self.tree
                    .not_followed
                    .push(format!("{} (spec.path {path})", ks.id()));
                self.tree.findings.push(
                    Finding::new(NOT_FOLLOWED_RULE, Severity::Info)
                        .file(ks.file_display())
                        .object(ks.id())
                        .path("spec.path")
                        .message(format!(
                            "its spec.path is outside the directory lint was given ({}): what it deploys was not linted",
                            self.root.display()
                        ))
                        .fix(format!(
                            "lint the repository root (--gitops {}) to follow it",
                            repo_root.display()
                        )),
                );
                continue;
            }
            // the same path with the same transformation once (a loop of Kustomizations ends)
            if !done.insert((
                real.clone(),
                spec["targetNamespace"].to_string(),
                spec["namePrefix"].to_string(),
                spec["nameSuffix"].to_string(),
                flux_build::features(spec)
                    .iter()
                    .map(|f| spec[*f].to_string())
                    .collect::<Vec<_>>(),
                spec["postBuild"].to_string(),
            )) {
                continue;
            }
            // a Kustomization whose path holds itself with a spec that changes each time it is read (postBuild
            // substituting `N: "${N}1"` into its own spec) is a new key every round: it is followed at most
            // MAX_FLUX_ROUNDS times, then a finding says so (Flux would change it at every reconciliation)
            let n = rounds.entry(ks.id()).or_insert(0);
            *n += 1;
            if *n > MAX_FLUX_ROUNDS {
                if *n == MAX_FLUX_ROUNDS + 1 {
                    self.tree.findings.push(
                        Finding::new(FLUX_BUILD_RULE, Severity::Error)
                            .file(ks.file_display())
                            .object(ks.id())
                            .path("spec")
                            .message(format!(
                                "its spec changes each time its own path is read (a postBuild substitution of the Kustomization itself?): lint followed it {MAX_FLUX_ROUNDS} times and stopped; Flux would change it again at every reconciliation"
                            ))
                            .fix("do not substitute variables into the Kustomization's own spec from its own path (keep the Kustomization outside the path it applies, or escape the variable with $${...})"),
                    );
                }
                continue;
            }
            // `dir` as the tree names it: under the GitOps root (classify checked it resolves inside)
            let shown = real
                .strip_prefix(&self.real_root)
                .map(|r| self.root.join(r))
                .unwrap_or(dir);
            let mut sub = self.sub_loader();
            let rel_dir = real
                .strip_prefix(&self.real_root)
                .map(Path::to_path_buf)
                .unwrap_or_default();
            // a path read as it is (no transformation): a file the walk read and whose objects still stand for it
            // is not read again, its walked objects are kept (the objects of a Flux install are not copied twice)
            let as_it_is = !needs_build(spec)
                && ["targetNamespace", "namePrefix", "nameSuffix"]
                    .iter()
                    .all(|k| spec[*k].as_str().is_none_or(str::is_empty));
            if as_it_is {
                sub.keep = walked.difference(&replaced).cloned().collect();
            }
            let deployed = deployed.get_or_insert_with(BTreeSet::new);
            if from_walk {
                deployed.insert(ks.file.clone());
            }
            if !self.flux_build(&ks, &rel_dir, &shown, &mut sub)? {
                sub.read_dir_tree(&shown)?;
                apply_flux_kustomization(&mut sub.tree.objects, spec);
            }
            let source = |o: &&Object| is_substitution_source(o);
            // the sources in the path itself are copied (they are substituted too); the tree's are referenced
            let known_here: Vec<Object> = if spec["postBuild"].is_object() {
                sub.tree.objects.iter().filter(source).cloned().collect()
            } else {
                Vec::new()
            };
            if seen_len != Some(self.tree.objects.len()) {
                tree_sources = self.tree.objects.iter().filter(source).cloned().collect();
            }
            deployed.extend(sub.tree.files.iter().cloned());
            deployed.extend(sub.tree.objects.iter().map(|o| o.file.clone()));
            if let Some(c) = &cluster {
                let files = sub
                    .tree
                    .files
                    .iter()
                    .chain(sub.tree.objects.iter().map(|o| &o.file))
                    .chain(from_walk.then_some(&ks.file));
                for f in files {
                    clusters
                        .entry(f.display().to_string())
                        .or_default()
                        .insert(c.clone());
                }
            }
            let known: Vec<&Object> = if spec["postBuild"].is_object() {
                tree_sources.iter().chain(known_here.iter()).collect()
            } else {
                Vec::new()
            };
            let found = substitute::post_build_replacing(
                &ks,
                &mut sub.tree.objects,
                &sub.texts,
                &known,
                &mut substituted_away,
            );
            self.tree.findings.extend(found);
            followed(&sub.tree.objects);
            let fresh: Vec<&PathBuf> = sub
                .tree
                .files
                .iter()
                .filter(|f| walked.contains(*f) && !replaced.contains(*f) && !sub.kept.contains(*f))
                .collect();
            let fresh: BTreeSet<PathBuf> = fresh.into_iter().cloned().collect();
            if !fresh.is_empty() {
                let stays = |o: &Object| !(o.origin == Origin::Plain && fresh.contains(&o.file));
                self.tree.objects.retain(stays);
                tree_sources.retain(stays);
            }
            replaced.extend(fresh);
            replaced.extend(sub.kept.iter().cloned());
            for f in &sub.tree.files {
                if files.insert(f.clone()) {
                    self.tree.files.push(f.clone());
                }
            }
            let children: Vec<Object> = sub
                .tree
                .find("kustomize.toolkit.fluxcd.io", "Kustomization")
                .cloned()
                .collect();
            for child in &children {
                reached.insert(child.id());
                given_by.insert(child.id(), own.clone());
                queue.push((child.clone(), None, cluster.clone()));
            }
            // their builds, as Flux applies them, start now (in the order the queue takes them)
            let ahead: Vec<Object> = children.into_iter().rev().collect();
            self.prefetch_builds(&ahead);
            self.tree.warnings.extend(sub.tree.warnings);
            self.tree.findings.extend(sub.tree.findings);
            self.tree.unreadable.extend(sub.tree.unreadable);
            tree_sources.extend(sub.tree.objects.iter().filter(source).cloned());
            self.tree.objects.extend(sub.tree.objects);
            seen_len = Some(self.tree.objects.len());
        }
        if !substituted_away.is_empty() {
            let _ = std::thread::Builder::new()
                .name("gitops-free".into())
                .spawn(move || drop(substituted_away));
        }
        if let Some(deployed) = deployed {
            self.drop_undeployed(&deployed);
        }
        let named: BTreeSet<&String> = clusters.values().flatten().collect();
        if named.len() > 1 {
            self.tree.clusters = clusters;
        }
        Ok(())
    }

    /// Issue 19 cause 6: when the tree has Flux entry points (Kustomizations whose paths were followed), lint what
    /// they deploy. The objects of files that no followed Kustomization reads (an `apps/base/adminer` no overlay or
    /// cluster lists) are not linted as if deployed: they leave the tree, and one `info` finding names the files.
    fn drop_undeployed(&mut self, deployed: &BTreeSet<PathBuf>) {
        let mut orphans: BTreeSet<PathBuf> = BTreeSet::new();
        self.tree.objects.retain(|o| {
            let keep = o.origin != Origin::Plain || deployed.contains(&o.file);
            if !keep {
                orphans.insert(o.file.clone());
            }
            keep
        });
        if orphans.is_empty() {
            return;
        }
        const SHOWN: usize = 5;
        let mut named: Vec<String> = orphans
            .iter()
            .take(SHOWN)
            .map(|f| f.display().to_string())
            .collect();
        if orphans.len() > SHOWN {
            named.push(format!("and {} more", orphans.len() - SHOWN));
        }
        tracing::debug!(
            files = orphans.len(),
            "files no Flux Kustomization deploys: not linted"
        );
        self.tree.findings.push(
            Finding::new(NOT_DEPLOYED_RULE, Severity::Info)
                .message(format!(
                    "{} file{} that no Flux Kustomization deploys (not reached from the cluster entry points) {} not linted: {}",
                    orphans.len(),
                    if orphans.len() == 1 { "" } else { "s" },
                    if orphans.len() == 1 { "was" } else { "were" },
                    named.join(", ")
                ))
                .fix("nothing to change if they are unused; to lint one, list it in a kustomization a Flux Kustomization applies, or pass its directory to --gitops"),
        );
    }

    /// For each Kustomization of `all` (by index) whose file lies under the `spec.path` of others of `all`, the
    /// indexes of those others (a child and the parents whose paths apply it). A Kustomization under its own path
    /// only (`flux-system`) has none.
    fn holders(&self, all: &[Object], repo_root: &Path) -> HashMap<usize, Vec<usize>> {
        let paths: Vec<Option<PathBuf>> = all
            .iter()
            .map(
                |ks| match flux_path(&ks.value["spec"], &self.root, repo_root) {
                    FluxPath::Found(dir) => dir.canonicalize().ok(),
                    _ => None,
                },
            )
            .collect();
        // the Kustomizations by the directory their path names: a file is held by those of its ancestors
        let mut by_dir: HashMap<&Path, Vec<usize>> = HashMap::new();
        for (j, p) in paths.iter().enumerate() {
            if let Some(p) = p {
                by_dir.entry(p.as_path()).or_default().push(j);
            }
        }
        let mut out = HashMap::new();
        for (i, ks) in all.iter().enumerate() {
            let Ok(file) = self.real_root.join(&ks.file).canonicalize() else {
                continue;
            };
            let mut by: Vec<usize> = file
                .ancestors()
                .filter_map(|a| by_dir.get(a))
                .flatten()
                .copied()
                .filter(|j| *j != i)
                // a Kustomization of another repository holds nothing of this one
                .filter(|j| source_of(&all[*j]) == source_of(ks))
                .collect();
            by.sort_unstable();
            if !by.is_empty() {
                out.insert(i, by);
            }
        }
        out
    }

    /// A new loader for one Flux Kustomization's path, sharing this load's parse cache and included bases.
    fn sub_loader(&self) -> Loader {
        Loader {
            parsed: self.parsed.clone(),
            docs: self.docs.clone(),
            included: self.included.clone(),
            big: self.big.clone(),
            ..Loader::within(&self.root, self.real_root.clone(), self.bound.clone())
        }
    }

    /// Read the path `shown` of Flux Kustomization `ks` here and apply its patches as kustomize would
    /// ([`flux_patch`]), with its target namespace and name prefix/suffix after them (kustomize's order). `None`
    /// when that is not certain (logged at debug level): kustomize builds the path instead.
    fn patched_here(&self, ks: &Object, shown: &Path) -> Result<Option<Loader>> {
        let spec = &ks.value["spec"];
        if !patches_in_process() {
            return Ok(None);
        }
        let plan = match flux_patch::plan(spec) {
            Ok(plan) => plan,
            Err(flux_patch::Declined(why)) => {
                // redacted only when the line is written (the arguments of `debug!` are evaluated only then)
                tracing::debug!(kustomization = %ks.id(), "patches built with kustomize: {}", crate::redact::redact(&why));
                return Ok(None);
            }
        };
        let mut sub = self.sub_loader();
        sub.kustomize_allowed = false;
        sub.read_dir_tree(shown)?;
        let why = if sub.declined_kustomize {
            Some("a kustomization on the path needs kustomize".to_string())
        } else if !sub.tree.unreadable.is_empty()
            || !sub.tree.warnings.is_empty()
            || !sub.tree.findings.is_empty()
        {
            Some("the path does not read cleanly".to_string())
        } else {
            // the text each object was read from (its file): a strategic-merge patch needs it (schema comments, tags)
            let root = self.root.clone();
            plan.apply_with(&mut sub.tree.objects, |o| {
                crate::files::read_text(&root.join(&o.file)).ok()
            })
            .err()
            .map(|flux_patch::Declined(why)| why)
        };
        if let Some(why) = why {
            tracing::debug!(kustomization = %ks.id(), "patches built with kustomize: {}", crate::redact::redact(&why));
            return Ok(None);
        }
        apply_flux_kustomization(&mut sub.tree.objects, spec);
        tracing::debug!(kustomization = %ks.id(), "patches applied without kustomize");
        Ok(Some(sub))
    }

    /// Build the path of Flux Kustomization `ks` with kustomize when its spec has kustomize features
    /// ([`flux_build`]), into `sub`; patches that [`flux_patch`] applies as kustomize would are applied here instead
    /// (`shown`: the path as the tree names it). False when it has none, or when the build could not run (a finding
    /// says so, and the caller reads the path without them).
    fn flux_build(
        &mut self,
        ks: &Object,
        rel_dir: &Path,
        shown: &Path,
        sub: &mut Loader,
    ) -> Result<bool> {
        let spec = &ks.value["spec"];
        if !needs_build(spec) {
            return Ok(false);
        }
        if let Some(patched) = self.patched_here(ks, shown)? {
            *sub = patched;
            return Ok(true);
        }
        let mut features = flux_build::features(spec);
        if spec["postBuild"].is_object() {
            features.push("postBuild");
        }
        let features = features.join(", ");
        let finding = |sev: Severity, message: String, fix: &str| {
            Finding::new(FLUX_BUILD_RULE, sev)
                .file(ks.file_display())
                .object(ks.id())
                .path("spec")
                .message(message)
                .fix(fix.to_string())
        };
        let real_root = self.real_root.clone();
        let built = self
            .builder
            .get_or_insert_with(|| flux_build::Builder::new(&real_root))
            .build(rel_dir, spec);
        match built {
            Ok(out) => {
                self.reference_findings(out.skipped);
                // the files named so far, as a set: a path that builds a whole cluster's apps (`kubernetes/apps`:
                // 350 ks.yaml and their namespaces) names hundreds
                let mut named: std::collections::HashSet<PathBuf> =
                    sub.tree.files.iter().cloned().collect();
                for b in out.objects {
                    if !is_k8s_object(&b.value) {
                        continue;
                    }
                    let file = b.file.unwrap_or_else(|| rel_dir.to_path_buf());
                    if named.insert(file.clone()) {
                        sub.tree.files.push(file.clone());
                    }
                    sub.texts.push(b.text);
                    sub.tree.objects.push(Object::plain(b.value, file));
                }
                // the walk may have read the path's own kustomization (rendered, named by that file), and the
                // kustomizations the build went through (a namespace directory's `kustomization.yaml` under the
                // one kustomize-controller generates for `kubernetes/apps`): replaced, and deployed, though kustomize
                // names each object's own file as its origin
                for k in out.kustomizations {
                    if named.insert(k.clone()) {
                        sub.tree.files.push(k);
                    }
                }
                if let Some(k) = KUSTOMIZATION_NAMES
                    .iter()
                    .map(|n| rel_dir.join(n))
                    .find(|k| self.real_root.join(k).is_file())
                    .filter(|k| !named.contains(k))
                {
                    sub.tree.files.push(k);
                }
                Ok(true)
            }
            Err(flux_build::BuildError::Refused(problems)) => {
                // the references are named by their findings; the path is not read without them either
                self.reference_findings(problems);
                Ok(true)
            }
            Err(flux_build::BuildError::NoKubectl(e)) => {
                self.tree.findings.push(finding(
                    Severity::Warning,
                    format!(
                        "its {features} were NOT applied: kustomize-controller builds them with kustomize, and kubectl (the real kustomize) could not run ({e}); the objects of spec.path are linted without them"
                    ),
                    "install kubectl (or set KUBECTL_BIN) so that lint builds the path as Flux does",
                ));
                Ok(false)
            }
            Err(flux_build::BuildError::Failed(e)) => {
                self.tree.findings.push(finding(
                    Severity::Error,
                    format!(
                        "kustomize-controller cannot build spec.path {} with its {features}: {}; the objects of spec.path are linted without them",
                        rel_dir.display(),
                        crate::redact::escape_controls(&e)
                    ),
                    "fix the patch target / component path (run `kubectl kustomize --load-restrictor LoadRestrictionsNone` on the path with the Kustomization's patches and components written into its kustomization.yaml)",
                ));
                Ok(false)
            }
        }
    }
}

/// The Flux Kustomizations the directory walk read, and for each (by index) the others whose paths hold it
/// ([`Loader::holders`]).
pub(super) struct Walked {
    walked: Vec<Object>,
    holders: HashMap<usize, Vec<usize>>,
}

/// A Flux Kustomization's source as `(kind, name)` (kind defaults to GitRepository): two Kustomizations with the
/// same one read the same repository. The namespace is left out: a child that omits it names its parent's source
/// in practice, and telling them apart would stop following it.
fn source_of(ks: &Object) -> (String, String) {
    let r = &ks.value["spec"]["sourceRef"];
    (
        r["kind"].as_str().unwrap_or("GitRepository").to_string(),
        r["name"].as_str().unwrap_or_default().to_string(),
    )
}

/// The note on a Flux Kustomization whose GitRepository is not the one of the Kustomization that applies it: its
/// `spec.path` is a directory of that other repository, which lint does not have (following it here read this
/// checkout's directory of that name as if deployed again: a second copy of every HelmRelease under it).
fn other_repository_note(ks: &Object, parent: &(String, String)) -> Finding {
    let (kind, name) = source_of(ks);
    Finding::new(OTHER_SOURCE_RULE, Severity::Info)
        .file(ks.file_display())
        .object(ks.id())
        .path("spec.sourceRef")
        .message(format!(
            "its source {kind}/{name} is not the {}/{} that applies it, so its spec.path is a directory of another repository, which lint does not have; what this Kustomization deploys was not checked",
            parent.0, parent.1
        ))
        .fix("nothing to change; lint that repository to check its content")
}

/// The note on a Flux Kustomization whose `spec.sourceRef.kind` is not a GitRepository, so lint does not follow its
/// path: the kinds kustomize-controller v1.9.4 accepts are `OCIRepository`, `GitRepository`, `Bucket` and
/// `ExternalArtifact` (fluxcd/kustomize-controller v1.9.4 api/v1/reference_types.go,
/// `CrossNamespaceSourceReference.Kind`; ExternalArtifact is Flux 2.7+, behind the controller's `ExternalArtifact`
/// feature gate, internal/controller/kustomization_controller.go). Their content is not this checkout: an
/// ExternalArtifact is produced in the cluster by another controller, an OCIRepository or a Bucket is pulled from a
/// registry or a bucket. One text per kind (grouped), naming what was not checked and why; `None` for a Git source.
fn other_source_note(ks: &Object) -> Option<Finding> {
    let spec = &ks.value["spec"];
    let kind = spec["sourceRef"]["kind"]
        .as_str()
        .unwrap_or("GitRepository");
    let why = match kind {
        "GitRepository" => return None,
        "ExternalArtifact" => {
            "its source is an ExternalArtifact (Flux 2.7+), an artifact another controller produces in the cluster: lint cannot fetch it"
        }
        "OCIRepository" => {
            "its source is an OCIRepository, an artifact pulled from a container registry: lint reads only this repository, not the artifact"
        }
        "Bucket" => {
            "its source is a Bucket, objects pulled from object storage: lint reads only this repository, not the bucket"
        }
        _ => {
            "its source kind is not one lint reads (kustomize-controller accepts GitRepository, OCIRepository, Bucket and ExternalArtifact)"
        }
    };
    Some(
        Finding::new(OTHER_SOURCE_RULE, Severity::Info)
            .file(ks.file_display())
            .object(ks.id())
            .path("spec.sourceRef")
            .message(format!(
                "{why}; what this Kustomization deploys was not checked"
            ))
            .fix("nothing to change; lint the repository the artifact is built from to check its content"),
    )
}

/// An object postBuild may take variables from (`substituteFrom`: a ConfigMap or a Secret; the tree's
/// ExternalSecrets and SealedSecrets stand for the Secrets they make).
fn is_substitution_source(o: &Object) -> bool {
    o.is("", "ConfigMap")
        || o.is("", "Secret")
        || o.is("external-secrets.io", "ExternalSecret")
        || o.is("bitnami.com", "SealedSecret")
}

/// Whether a Flux Kustomization's path is built with kustomize ([`flux_build`]): it has kustomize features, or
/// postBuild (Flux substitutes in the YAML text kustomize wrote, where the source's quoting survives).
fn needs_build(spec: &Value) -> bool {
    !flux_build::features(spec).is_empty() || spec["postBuild"].is_object()
}
