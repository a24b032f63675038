//! `lint`: the static tier. Read the GitOps dir, render each HelmRelease with its real chart, apply the rules.
//!
//! The pipeline ([`prepare`]) does all I/O (chart lookup, `helm template`) and produces a [`LintInput`]; every rule is a
//! plain `fn(&LintInput) -> Vec<Finding>` over it, so rules are unit-tested on hand-made inputs.

pub mod ahead;
pub mod benchrepo;
pub mod chart_diff;
pub mod error;
pub mod findings;
pub use headlamp_e2e_model::flags;
pub mod positions;
pub mod release_source;
pub mod rule_docs;
pub mod rules;
pub use rules::{
    chart_ref, chart_schema, chart_version, flux_source, image, kustomize, manifest_fields,
    object_conflict, post_render, psa, rbac, rootfs, values, values_from, yaml_invalid,
};
pub mod strvals;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;

pub use crate::error::{Error, Result};
use headlamp_e2e_gitops::{self as gitops, Object, Origin, Tree};
use headlamp_e2e_model::finding::{self, Finding, Severity, Summary};
use headlamp_e2e_model::{files, image_ref, redact, startup, yaml};
#[cfg(test)]
use headlamp_e2e_test_support as test_support;
use headlamp_e2e_tools::chart::{self, Chart, ChartRef, ChartStore, Helm};
use headlamp_e2e_tools::process;

/// A HelmRelease as the rules see it: its spec, and (when it could be rendered) its chart and rendered objects.
#[derive(Debug, Clone)]
pub struct Release {
    pub object: Object,
    /// `helm` release name (spec.releaseName, else `[targetNamespace-]name`, as Flux computes it).
    pub release_name: String,
    /// Namespace the chart is installed into (spec.targetNamespace, else the HelmRelease's namespace).
    pub namespace: String,
    pub chart_name: String,
    pub chart_version: Option<String>,
    /// The HelmRepository's URL, when the tree has it.
    pub repo_url: Option<String>,
    /// An OCIRepository `spec.ref.digest` pin.
    pub digest: Option<String>,
    /// Field path the chart version is read from (`spec.chart.spec.version`, `OCIRepository spec.ref.tag`, …).
    pub version_path: String,
    /// The OCIRepository or HelmChart the version is written in, when it is not the HelmRelease: (file, id).
    pub version_source: Option<(String, String)>,
    /// What the pipeline could not do for this release (source, fetch, render), as findings.
    pub problems: Vec<Finding>,
    pub values: Value,
    /// The chart, when it was rendered.
    pub chart: Option<Chart>,
    pub rendered: Vec<Object>,
    /// Values paths the chart provably ignores (see [`values::unused_candidates`]), with a suggested real key.
    pub unused_values: Vec<values::UnusedValue>,
    /// Values paths the chart does not define that could not be checked: its output is random per render in a way
    /// lint cannot mask ([`values::probe_unused`]); one `info` note names them.
    pub unchecked_values: Vec<Vec<String>>,
    /// For a version range: the newest matching chart at hand, which the release is rendered at (as Flux would
    /// install it; `chart-version-not-pinned` still reports the range). See [`ChartStore::newest_at_hand`].
    pub range_pick: Option<String>,
}

impl Release {
    /// Parse a HelmRelease object (helm.toolkit.fluxcd.io) into a release, without rendering.
    pub fn from_object(object: &Object, tree: Option<&Tree>) -> Result<Release> {
        let v = &object.value;
        let spec = &v["spec"];
        let name = object.name().to_string();
        let hr_ns = object.namespace().unwrap_or("default").to_string();
        let target = spec["targetNamespace"].as_str().filter(|s| !s.is_empty());
        // helm-controller `GetReleaseName()` then `release.ShortenName` (a derived name over 53 characters is cut
        // and hashed); an explicit spec.releaseName is limited to 53 by the CRD and used as it is
        let (release_name, name_from) = match (spec["releaseName"].as_str(), target) {
            (Some(r), _) if !r.is_empty() => (r.to_string(), "spec.releaseName"),
            (_, Some(t)) => (
                chart::shorten_release_name(&format!("{t}-{name}")),
                "metadata.name",
            ),
            _ => (chart::shorten_release_name(&name), "metadata.name"),
        };
        let resolved = release_source::resolve(spec, &hr_ns, tree);
        let invalid = |message: &str| Error::HelmReleaseInvalid {
            file: object.file.clone(),
            object: object.id(),
            message: message.to_string(),
        };
        let chart_name = match (&resolved.chart_name, &resolved.problem) {
            (Some(n), _) => n.clone(),
            // the source could not be followed: the finding says why; nothing is rendered
            (None, Some(_)) => String::new(),
            (None, None) => return Err(invalid("spec.chart.spec.chart is missing")),
        };
        let mut problems: Vec<Finding> = resolved
            .problem
            .iter()
            .map(|(severity, message, fix)| {
                Finding::new(release_source::SOURCE_RULE, *severity)
                    .file(object.file_display())
                    .object(object.id())
                    .path(if spec["chart"]["spec"].is_object() {
                        "spec.chart.spec.sourceRef"
                    } else {
                        "spec.chartRef"
                    })
                    .message(message.clone())
                    .fix(fix.clone())
            })
            .collect();
        // valuesFrom (ConfigMaps/Secrets of the tree) merged in order, then spec.values, as helm-controller does
        let (values, from_problems) = values_from::merged_values(object, tree);
        problems.extend(from_problems);
        let namespace = target.map(str::to_string).unwrap_or(hr_ns);
        // the release name and the namespace are helm's arguments: one that Helm or Kubernetes refuses is a finding
        // and the release is never rendered ([`Release::renderable`])
        let ns_from = if target.is_some() {
            "spec.targetNamespace"
        } else {
            "metadata.namespace"
        };
        for (path, value, problem) in [
            (
                name_from,
                &release_name,
                chart::release_name_problem(&release_name),
            ),
            (ns_from, &namespace, chart::namespace_problem(&namespace)),
        ] {
            if let Some(why) = problem {
                problems.push(
                    Finding::new(release_source::INVALID_RULE, finding::Severity::Error)
                        .file(object.file_display())
                        .object(object.id())
                        .path(path)
                        .message(format!(
                            "{path} gives {value:?}: {why}; helm-controller cannot install it, and lint did not render it"
                        ))
                        .fix(if path == "spec.releaseName" {
                            "set spec.releaseName to a valid release name (e.g. `headlamp`), or remove it to use the HelmRelease's name"
                        } else {
                            "use a name of lowercase letters, digits and `-` (at most 53 characters for a release, 63 for a namespace)"
                        }),
                );
            }
        }
        Ok(Release {
            object: object.clone(),
            release_name,
            namespace,
            chart_name,
            chart_version: resolved.chart_version,
            repo_url: resolved.repo_url,
            digest: resolved.digest,
            version_path: resolved.version_path,
            version_source: resolved.version_source,
            problems,
            values,
            chart: None,
            rendered: Vec::new(),
            unused_values: Vec::new(),
            unchecked_values: Vec::new(),
            range_pick: None,
        })
    }

    pub fn id(&self) -> String {
        self.object.id()
    }
    pub fn file(&self) -> String {
        self.object.file_display()
    }
    /// Rendered by lint: an exact version, and names that are plain (`chart-ref-unsafe` reports the others; their names
    /// never reach a path).
    pub fn renderable(&self) -> bool {
        !self.chart_name.is_empty()
            && self.render_version().is_some()
            && chart_ref::unsafe_fields(self).is_empty()
            && self.helm_arguments_valid()
    }

    /// The release name and namespace are ones Helm and Kubernetes accept ([`chart::release_name_problem`],
    /// [`chart::namespace_problem`]): they are helm's arguments, so nothing else ever reaches its command line.
    pub fn helm_arguments_valid(&self) -> bool {
        chart::release_name_problem(&self.release_name).is_none()
            && chart::namespace_problem(&self.namespace).is_none()
    }

    /// The chart version lint renders: the pin, else the newest chart at hand that the range matches.
    pub fn render_version(&self) -> Option<&str> {
        self.pinned_version().or(self.range_pick.as_deref())
    }

    /// The chart version when it is an exact version (a pin), not a range; a leading `v` is dropped (`v0.41.0` is
    /// chart 0.41.0, archive `headlamp-0.41.0.tgz`).
    pub fn pinned_version(&self) -> Option<&str> {
        self.chart_version
            .as_deref()
            .map(|v| v.strip_prefix('v').unwrap_or(v))
            .filter(|v| semver::Version::parse(v).is_ok())
    }
}

/// Everything the rules look at.
#[derive(Debug, Default)]
pub struct LintInput {
    pub root: PathBuf,
    /// Plain manifests of the GitOps dir (HelmReleases included).
    pub objects: Vec<Object>,
    pub releases: Vec<Release>,
    /// HelmReleases that could not be read as releases, as findings (the others are still linted), and what reading
    /// the tree as Flux reads it found ([`Tree::findings`], reported by the [`kustomize`] rules).
    pub problems: Vec<Finding>,
    /// The git checkout holding `root`, when `lint` read it ahead (else `flux-source-branch` reads it).
    pub checkout: Option<flux_source::Checkout>,
    /// `manifest-unknown-field`/`manifest-invalid` findings of the plain objects, when [`prepare`] computed them
    /// while the releases rendered (else the rule computes them).
    pub plain_fields: Option<Vec<Finding>>,
    /// The clusters that deploy each file, when the tree has two or more ([`Tree::clusters`]): findings name them.
    pub clusters: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl LintInput {
    /// Plain and rendered objects together.
    pub fn all_objects(&self) -> impl Iterator<Item = &Object> {
        self.objects
            .iter()
            .chain(self.releases.iter().flat_map(|r| r.rendered.iter()))
    }
}

/// A rule's own documentation, as data: its page in the book (`docs/src/rules/<id>.md`) is generated from it
/// ([`rule_docs`], `cargo xtask rule-docs`), and SARIF's rule descriptions read `what` and `why`.
#[derive(Debug, Clone, Copy)]
pub struct RuleDoc {
    /// The most severe level the rule reports (SARIF `defaultConfiguration.level`); a rule that also reports a
    /// milder level says so in `why`.
    pub severity: Severity,
    /// What it finds, in one line.
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// A short YAML snippet that triggers it (from the rule's tests and fixtures).
    pub example: &'static str,
    /// What to change.
    pub fix: &'static str,
    /// The version the rule first shipped in.
    pub since: &'static str,
}

/// A rule: stable id, the check, and its documentation.
pub struct Rule {
    pub id: &'static str,
    pub check: fn(&LintInput) -> Vec<Finding>,
    pub doc: RuleDoc,
}

/// All rules, in report order.
pub const RULES: &[Rule] = &[
    Rule {
        id: yaml_invalid::RULE,
        check: yaml_invalid::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A file is not YAML as kustomize reads it",
            why: "The file (or kustomization) cannot be read as go-yaml v3 reads it (a syntax error, a duplicate key, a key that is not a string, a value that does not fit its tag, aliases past go-yaml's bound). kustomize, and so Flux, fails the whole Kustomization on it; only this file is left out of the lint.",
            example: r#"# apps/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  a: "1"
  a: "2"   # mapping key "a" already defined at line 6
"#,
            fix: "Correct the YAML at the line and column the finding names (for a duplicate key, keep only one of the two); until then that file is left out and every other file is linted.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::KUSTOMIZATION_RULE,
        check: kustomize::check_kustomization,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A kustomization.yaml that kustomize cannot build",
            why: "Error: a resources entry that does not exist or kustomize's own error; Flux fails the Kustomization applying it. Info: a remote base lint did not fetch (no --allow-remote-bases); kustomize-controller fetches it, so nothing in the repository needs a change.",
            example: r#"# a/kustomization.yaml
resources:
  - nope.yaml   # does not exist: kustomize fails this kustomization
"#,
            fix: "Create the missing resource or remove it from `resources`, or fix what `kubectl kustomize` says; a remote base (an info note) needs no change: pass `--allow-remote-bases` to lint it.",
            since: "0.1.0",
        },
    },
    Rule {
        id: release_source::INVALID_RULE,
        check: release_source::check_invalid,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A HelmRelease that cannot be read as one",
            why: "It has no chart name; helm-controller cannot install it.",
            example: r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  releaseName: Headlamp_UI   # not a Helm release name: never rendered
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
"#,
            fix: "Use a name Helm and Kubernetes accept: lowercase letters, digits and `-` (at most 53 characters for a release, 63 for a namespace), or remove `spec.releaseName` to use the HelmRelease's name; a HelmRelease with no chart name needs `spec.chart.spec.chart` (or `spec.chartRef`).",
            since: "0.1.0",
        },
    },
    Rule {
        id: release_source::SOURCE_RULE,
        check: release_source::check_source,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "The HelmRelease's chart source is missing",
            why: "Error: no sourceRef/chartRef, or the chartRef's object is not in the tree. Warning: the HelmRepository named is not in the tree (the chart is looked up locally only).",
            example: r#"# fixtures/layouts/isolation/no-source: helm-controller cannot fetch the chart
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: whoami
  namespace: tools
spec:
  interval: 1h
  chart:
    spec:
      chart: whoami
      version: 1.0.0
"#,
            fix: "Add the `sourceRef` (or `spec.chartRef`) and commit the HelmRepository, OCIRepository or HelmChart it names to the tree.",
            since: "0.1.0",
        },
    },
    Rule {
        id: release_source::UNAVAILABLE_RULE,
        check: release_source::check_unavailable,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "The release's chart could not be had",
            why: "The chart is not in $HEADLAMP_E2E_CHARTS nor the cache, and its repository or registry could not be reached (the cause is named); this release is not rendered, the others are.",
            example: r#"# fixtures/layouts/template: an OCI registry that cannot be reached
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: app-template
spec:
  ref:
    tag: 4.1.2
  url: oci://127.0.0.1:9/bjw-s-labs/helm/app-template
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: echo
spec:
  chartRef:
    kind: OCIRepository
    name: app-template
"#,
            fix: "Put the chart archive (`<chart>-<version>.tgz`) in `$HEADLAMP_E2E_CHARTS` (e.g. `helm pull` it on a machine that reaches the repository), or check the source's URL and the version.",
            since: "0.1.0",
        },
    },
    Rule {
        id: release_source::RENDER_RULE,
        check: release_source::check_render,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "helm template refused the release's values",
            why: "helm-controller would fail the install the same way (a values schema error, a required value).",
            example: r#"# as in fixtures/layouts/isolation/broken-values: the chart's schema wants an integer
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  values:
    replicaCount: many   # at '/replicaCount': got string, want integer
"#,
            fix: "Change the values so that `helm template` accepts them: the finding quotes what helm said.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::BUILD_RULE,
        check: kustomize::check_build,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A Flux Kustomization's path does not build with its kustomize features",
            why: "Error: kustomize's own error for its patches/components/…. Warning: kubectl could not run, so they were not applied. The path is still linted without them.",
            example: r#"# clusters/home/headlamp.yaml
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: headlamp
  namespace: flux-system
spec:
  path: ./apps/headlamp
  sourceRef:
    kind: GitRepository
    name: flux-system
  components:
    - ../components/missing   # a component path that does not exist
---
# apps/headlamp/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: headlamp-settings
  namespace: headlamp
"#,
            fix: "Fix what kustomize says about the Kustomization's `patches`/`components`/…; for the warning, install kubectl (or set `KUBECTL_BIN`) so lint can apply them.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::OUTSIDE_ROOT_RULE,
        check: kustomize::check_outside_root,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A kustomization loads a file from outside its directory",
            why: "Error: outside the repository, Flux refuses it too. Warning: inside the repository Flux applies it, but plain kustomize build refuses it (LoadRestrictionsRootOnly). A directory (../base) is allowed by both.",
            example: r#"# apps/headlamp/kustomization.yaml
resources:
  - ../common/ns.yaml   # a file outside this kustomization's directory
"#,
            fix: "Move the file under the kustomization's directory, or give its directory a `kustomization.yaml` and list the directory (`../common`) instead.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::NOT_DEPLOYED_RULE,
        check: kustomize::check_not_deployed,
        doc: RuleDoc {
            severity: Severity::Info,
            what: "Files no Flux Kustomization deploys",
            why: "They are not linted; nothing to change if that is intended.",
            example: r#"# clusters/home/apps.yaml: deploys ./apps/base/headlamp only
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  path: ./apps/base/headlamp
  sourceRef:
    kind: GitRepository
    name: flux-system
---
# apps/base/headlamp/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: headlamp-settings
  namespace: headlamp
---
# apps/base/adminer/configmap.yaml: in the tree, deployed by no Flux Kustomization
apiVersion: v1
kind: ConfigMap
metadata:
  name: adminer-settings
  namespace: adminer
"#,
            fix: "Nothing, if they are unused; to lint one, list it in a kustomization a Flux Kustomization applies, or pass its directory to `--gitops`.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::NOT_FOLLOWED_RULE,
        check: kustomize::check_not_followed,
        doc: RuleDoc {
            severity: Severity::Info,
            what: "A Flux Kustomization whose path leads outside the directory linted",
            why: "What it deploys is not linted. Pass the repository root as --gitops to lint it; a directory holding nothing but such Kustomizations exits 2.",
            example: r#"# kubernetes/flux/cluster/cluster-apps.yaml, linted with `--gitops kubernetes/flux/cluster`
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-apps
  namespace: flux-system
spec:
  path: ./kubernetes/apps   # outside kubernetes/flux/cluster: not followed
  sourceRef:
    kind: GitRepository
    name: flux-system
---
# kubernetes/apps/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
---
# kubernetes/flux/cluster/settings.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
  namespace: flux-system
"#,
            fix: "Lint the repository root (`--gitops <root>`) to follow it.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::OTHER_SOURCE_RULE,
        check: kustomize::check_other_source,
        doc: RuleDoc {
            severity: Severity::Info,
            what: "A Flux Kustomization whose source lint cannot read",
            why: "An ExternalArtifact, OCIRepository or Bucket source, or a GitRepository other than this checkout's: its path is not checked. Nothing to change.",
            example: r#"apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  path: ./kustomize
  sourceRef:
    kind: OCIRepository   # not this checkout: its path is not checked
    name: podinfo
"#,
            fix: "Nothing; lint the repository the source is built from to check its content.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::FAILED_RULE,
        check: kustomize::check_failed,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "kustomize-controller fails the whole Kustomization's substitution",
            why: "A variable name that is not a valid name, or a `${` Flux's parser refuses.",
            example: r#"# clusters/home/apps.yaml: a substituteFrom source whose key is not a valid variable name
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: flux-system
data:
  my-key: v
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  path: ./apps
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: settings
---
# apps/app.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: n
data:
  a: "${A}"
"#,
            fix: "Use variable names of letters, digits and `_` (not starting with a digit), write `$${VAR}` for a literal `${VAR}`, and close every `${`.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::SOURCE_RULE,
        check: kustomize::check_source,
        doc: RuleDoc {
            severity: Severity::Warning,
            what: "A substituteFrom source that is missing or encrypted",
            why: "Warning: the ConfigMap/Secret is not in the tree and not optional. Info: it is SOPS-encrypted (its keys count, its values stay references).",
            example: r#"# clusters/home/apps.yaml
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  path: ./apps
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: Secret
        name: cluster-secrets   # not in the tree, not optional
---
# apps/app.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: n
data:
  a: "${DOMAIN}"
"#,
            fix: "Commit the ConfigMap/Secret (SOPS-encrypted is fine), mark the reference `optional: true`, or let an in-tree ExternalSecret or SealedSecret write it; the info notes need no change.",
            since: "0.1.0",
        },
    },
    Rule {
        id: kustomize::UNRESOLVED_RULE,
        check: kustomize::check_unresolved,
        doc: RuleDoc {
            severity: Severity::Warning,
            what: "A ${VAR} with no value from postBuild",
            why: "Flux substitutes an empty string (or fails with StrictPostBuildSubstitutions). Add the variable to postBuild.substitute or a substituteFrom source, or keep it from Flux ($${VAR}, or the substitute: disabled label/annotation).",
            example: r#"# clusters/home/apps.yaml
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  path: ./apps
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substitute:
      CLUSTER: home   # no DOMAIN here, nor in a substituteFrom source
---
# apps/app.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: n
data:
  a: "${DOMAIN}"   # Flux substitutes an empty string
"#,
            fix: "Add the variable to `postBuild.substitute` or to a `substituteFrom` source; if `${VAR}` is meant for another program, keep it from Flux: write `$${VAR}`, or label or annotate the object `kustomize.toolkit.fluxcd.io/substitute: disabled`.",
            since: "0.1.0",
        },
    },
    Rule {
        id: chart_ref::RULE,
        check: chart_ref::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A chart name, version or repository reference that is not a plain name",
            why: "`/`, `\\`, `..` or control characters in a chart reference: the release is not rendered and the name never reaches a path.",
            example: r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: ../../../x/evil
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
"#,
            fix: "Use the chart's own name and an exact version (e.g. `chart: headlamp`, `version: 0.41.0`), and the HelmRepository's name.",
            since: "0.1.0",
        },
    },
    Rule {
        id: chart_version::RULE,
        check: chart_version::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "The chart version is a range or missing",
            why: "Flux installs the newest matching chart, so what runs changes without a commit. Pin an exact version.",
            example: r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.x   # a range: Flux installs the newest match
      sourceRef:
        kind: HelmRepository
        name: headlamp
"#,
            fix: "Pin an exact chart version (or an OCI digest) in the field the finding names, and let Renovate propose bumps as reviewed PRs.",
            since: "0.1.0",
        },
    },
    Rule {
        id: chart_version::MUTABLE_RULE,
        check: chart_version::check_mutable,
        doc: RuleDoc {
            severity: Severity::Warning,
            what: "A chart version that names a moving build",
            why: "A version exact in form whose pre-release names a moving build (v0.0.0-latest) and no OCI digest: the same version can be another chart tomorrow. Pin a release version or a digest.",
            example: r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: v0.0.0-latest   # exact in form, names a moving build
      sourceRef:
        kind: HelmRepository
        name: headlamp
"#,
            fix: "Pin a released chart version, or an OCI digest.",
            since: "0.1.0",
        },
    },
    Rule {
        id: values_from::RULE,
        check: values_from::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A valuesFrom source helm-controller cannot use as written",
            why: "Error: the ConfigMap/Secret key is there but helm-controller cannot use it (not a YAML map, a targetPath value its --set parser rejects, an unsupported kind). Warning: the source is not in the tree, SOPS-encrypted, or lacks the valuesKey, so the linted values lack it.",
            example: r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  valuesFrom:
    - kind: ConfigMap
      name: headlamp-values   # not in the tree: the linted values lack it
"#,
            fix: "Commit the ConfigMap/Secret with the `valuesKey` (default `values.yaml`) as a YAML map, or make the reference `optional: true` when the release can do without it.",
            since: "0.1.0",
        },
    },
    Rule {
        id: values::RULE,
        check: values::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A HelmRelease value the chart never reads",
            why: "A values key that neither the chart's values.yaml nor its schema defines and whose change does not change the rendered output: the chart ignores it. The fix names the key the chart reads, when there is one within two edits or where the chart moved it.",
            example: r#"# fixtures/broken/extra-volumes: chart 0.41.0 calls them volumes/volumeMounts
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  values:
    extraVolumes:
      - name: tmp
        emptyDir: {}
    extraVolumeMounts:
      - name: tmp
        mountPath: /tmp
"#,
            fix: "Rename the key to the one the chart reads (the finding names it when there is one sure answer), or remove it.",
            since: "0.1.0",
        },
    },
    Rule {
        id: values::UNCHECKED_RULE,
        check: values::check_unchecked,
        doc: RuleDoc {
            severity: Severity::Info,
            what: "Values keys that could not be proved read or unread",
            why: "The chart renders a different number of lines each time (a certificate generated per render, a random list), so its random lines cannot be masked and the keys the chart does not define were not judged.",
            example: r#"# fixtures/charts/random-lines: a chart whose output changes its number of lines per render
# (a generated PEM block, a random list)
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: random
  namespace: tools
spec:
  chart:
    spec:
      chart: random-lines
      version: 0.1.0
      sourceRef:
        kind: HelmRepository
        name: local
  values:
    replicas: 2
    replica: 3   # not a key of the chart: whether it is read cannot be proved
"#,
            fix: "Nothing, if the keys are right; check them against `helm show values <chart> --version <version>`.",
            since: "0.1.0",
        },
    },
    Rule {
        id: chart_schema::RULE,
        check: chart_schema::check,
        doc: RuleDoc {
            severity: Severity::Info,
            what: "A chart's values schema refers to documents by URL, which lint does not fetch",
            why: "The values.schema.json of the chart (or of a subchart) has a $ref to an http(s) or other URL. Helm fetches such documents while it validates the values; lint contacts no host the tree does not name as a chart source, so it renders the chart with --skip-schema-validation and the values were not checked against that schema. Flux's helm-controller fetches and checks them in the cluster. One note per chart and version.",
            example: r#"# fixtures/charts/remote-schema (bjw-s app-template 3.1.0's shape): its values.schema.json has
#   "common": {"$ref": "https://example.invalid/x.json"}
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: remote
  namespace: tools
spec:
  chart:
    spec:
      chart: remote-schema
      version: 0.1.0
      sourceRef:
        kind: HelmRepository
        name: local
"#,
            fix: "Nothing; to check the values yourself, run `helm template` of that chart and version where those URLs can be reached.",
            since: "0.1.0",
        },
    },
    Rule {
        id: image::TAG_RULE,
        check: image::check_tag_override,
        doc: RuleDoc {
            severity: Severity::Warning,
            what: "image.tag is set in the HelmRelease values",
            why: "The chart and its image ship as a tested pair: a pinned tag keeps the old image when the chart is bumped. Remove the override, or keep it equal to the chart's appVersion knowingly.",
            example: r#"# fixtures/broken/pinned-image-tag: the v0.38.0 image under chart 0.41.0
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  values:
    image:
      tag: v0.38.0
"#,
            fix: "Remove `image.tag` from the HelmRelease values and let the chart use its appVersion; to run another Headlamp release, change the chart version.",
            since: "0.1.0",
        },
    },
    Rule {
        id: image::FLAG_RULE,
        check: image::check_flags,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "The rendered args pass flags the image's Headlamp version does not define",
            why: "The server exits at start on an unknown flag. Each flag is listed with the first Headlamp release that has it: use a matching image or drop the flag.",
            example: r#"# fixtures/broken/pinned-image-tag: chart 0.41.0 passes -in-cluster-context-name (v0.40.0)
# and -session-ttl (v0.41.0), which the v0.38.0 server does not define
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  values:
    image:
      tag: v0.38.0
"#,
            fix: "Use an image whose Headlamp release has every flag (remove `image.tag` so the chart's appVersion is used), or drop the flag.",
            since: "0.1.0",
        },
    },
    Rule {
        id: image::MUTABLE_RULE,
        check: image::check_mutable,
        doc: RuleDoc {
            severity: Severity::Warning,
            what: "A Headlamp image whose tag moves",
            why: "latest, no tag, or a tag naming a moving build (v0.0.0-latest, nightly, main) with no digest: a restart can run another build. Pin a release tag or a digest, or drop image.tag so the chart's own tag is used.",
            example: r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  values:
    image:
      tag: latest   # a restart can run another build
"#,
            fix: "Pin a release tag or a digest, or drop `image.tag` so the chart's own tag is used.",
            since: "0.1.0",
        },
    },
    Rule {
        id: rootfs::RULE,
        check: rootfs::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A read-only root filesystem without the writable paths Headlamp needs",
            why: "Error: /tmp is not on a writable volume and the server exits at start. Warning: only $HOME/.config is unwritable; the server starts without its user-plugins directory. The fix is the volumes/volumeMounts values snippet.",
            example: r#"# fixtures/broken/readonly-home: only /tmp is writable (warning); without the
# tmp volume the server exits at start (error)
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  values:
    securityContext:
      readOnlyRootFilesystem: true
    volumes:
      - name: tmp
        emptyDir: {}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
"#,
            fix: "Mount writable volumes at `/tmp` and `$HOME` (`/home/headlamp`); the finding gives the `volumes`/`volumeMounts` values snippet.",
            since: "0.1.0",
        },
    },
    Rule {
        id: manifest_fields::RULE,
        check: manifest_fields::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A field the object's API type does not have",
            why: "The API server drops or refuses a field its type does not define (k8s-openapi types, Flux CRD schemas): a typo or a field at the wrong level.",
            example: r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: headlamp
  namespace: headlamp
spec:
  template:
    spec:
      containers:
        - name: headlamp
          image: ghcr.io/headlamp-k8s/headlamp:v0.41.0
          securityContext:
            readOnlyRootFileSystem: true   # did you mean "readOnlyRootFilesystem"?
"#,
            fix: "Rename the field to the one the type has (the finding suggests a close name), or move it to the level where it belongs; for a rendered object, the values entry that sets it.",
            since: "0.1.0",
        },
    },
    Rule {
        id: psa::RULE,
        check: psa::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A pod template violates Pod Security \"restricted\" in a namespace that enforces it",
            why: "The admission controller rejects the pods; the finding is worded as the admission controller words it.",
            example: r#"apiVersion: v1
kind: Namespace
metadata:
  name: headlamp
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: headlamp
  namespace: headlamp
spec:
  template:
    spec:
      containers:
        - name: headlamp
          image: ghcr.io/headlamp-k8s/headlamp:v0.41.0
          securityContext:
            allowPrivilegeEscalation: true   # restricted wants false
"#,
            fix: "Set what the finding names on the pod or container security context (`allowPrivilegeEscalation: false`, `runAsNonRoot: true`, `capabilities.drop: [ALL]`, `seccompProfile.type: RuntimeDefault`, …), through the chart's values for a rendered pod.",
            since: "0.1.0",
        },
    },
    Rule {
        id: rbac::RULE,
        check: rbac::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "Headlamp's or a login ServiceAccount can write or read Secrets",
            why: "A binding grants a write verb, escalate/bind/impersonate, `*` or Secrets to Headlamp's pod or a login ServiceAccount, or a ClusterRole aggregated into `view` does. A role of your manifests that only reads (no Secrets) is an info note.",
            example: r#"# fixtures/broken/admin-and-typo: the chart's default binds cluster-admin
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  values:
    clusterRoleBinding:
      create: true
      clusterRoleName: cluster-admin
"#,
            fix: "Bind Headlamp and the login ServiceAccounts to the built-in ClusterRole `view` only (for the Headlamp chart: `clusterRoleBinding.clusterRoleName: view`); drop the aggregate-to-view label from a role that writes or reads Secrets.",
            since: "0.1.0",
        },
    },
    Rule {
        id: flux_source::RULE,
        check: flux_source::check,
        doc: RuleDoc {
            severity: Severity::Warning,
            what: "The checkout is on a branch the GitRepository does not track",
            why: "Warning: Flux renders the tracked branch and this change is not on it yet. Info: the tracked branch is not in this checkout (a clone of another branch, a CI checkout with fetch-depth 1), so whether HEAD is in it is unknown; git fetch origin <branch> makes the check run.",
            example: r#"# the checkout is on feat/x, with a commit main does not have
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  url: https://github.com/example/home-ops
  ref:
    branch: main   # Flux renders main; your change is on feat/x
"#,
            fix: "Merge the branch into the tracked one (open a PR and merge it), or, for a test cluster only, point `spec.ref.branch` at it; for the info note, `git fetch origin <branch>` makes the check run.",
            since: "0.1.0",
        },
    },
    Rule {
        id: post_render::RULE,
        check: post_render::check,
        doc: RuleDoc {
            severity: Severity::Warning,
            what: "spec.postRenderers could not be applied",
            why: "kubectl was missing or kustomize refused the post-renderer: the rules saw the chart's objects without the patches.",
            example: r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: Deployment
            patch: |
              - op: add
                path: /spec/template/spec/volumes/-
                value: {name: tmp, emptyDir: {}}
# with no kubectl to run kustomize (KUBECTL_BIN unset, none on PATH)
"#,
            fix: "Make `kubectl kustomize` work on the patches (set `KUBECTL_BIN` to a kubectl with kustomize), or fix the patch kustomize names.",
            since: "0.1.0",
        },
    },
    Rule {
        id: object_conflict::RULE,
        check: object_conflict::check,
        doc: RuleDoc {
            severity: Severity::Error,
            what: "A plain manifest and a chart-rendered object are the same object",
            why: "Helm refuses the install (`exists and cannot be imported into the current release`) unless the manifest carries Helm's ownership label and annotations for that release; also two releases rendering one object.",
            example: r#"# apps/headlamp/helmrelease.yaml: the chart renders Service headlamp in the release namespace
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: headlamp
  namespace: headlamp
spec:
  chart:
    spec:
      chart: headlamp
      version: 0.41.0
      sourceRef:
        kind: HelmRepository
        name: headlamp
---
# apps/headlamp/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: headlamp
  namespace: headlamp
spec:
  ports:
    - port: 80
"#,
            fix: "Keep one: remove the manifest and configure the object through the chart's values, or rename it (or turn the chart's object off in its values); two releases rendering one object: give one another name.",
            since: "0.1.0",
        },
    },
];

/// The ids a rule of [`RULES`] reports besides its own, with their documentation: `manifest-unknown-field`'s check
/// also reports `manifest-invalid` (a value that does not fit its API type).
pub const OTHER_IDS: &[(&str, RuleDoc)] = &[(
    manifest_fields::INVALID_RULE,
    RuleDoc {
        severity: Severity::Error,
        what: "A field whose value does not fit its API type",
        why: "The object cannot be read as its API type (a string where a number is wanted, a list where a map is): the API server refuses it.",
        example: r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: headlamp
  namespace: headlamp
spec:
  template:
    spec:
      containers:
        - name: headlamp
          image: ghcr.io/headlamp-k8s/headlamp:v0.41.0
          ports:
            - containerPort: http   # invalid type: string "http": a number is wanted
"#,
        fix: "Give the field a value of its type (a number, a boolean, a list, a map as the API wants).",
        since: "0.1.0",
    },
)];

/// Every rule id lint output can show, with its documentation: [`RULES`] in report order, then [`OTHER_IDS`].
pub fn documented_ids() -> impl Iterator<Item = (&'static str, &'static RuleDoc)> {
    RULES
        .iter()
        .map(|r| (r.id, &r.doc))
        .chain(OTHER_IDS.iter().map(|(id, doc)| (*id, doc)))
}

/// The documentation of rule `id`, when lint reports it.
pub fn rule_doc(id: &str) -> Option<&'static RuleDoc> {
    documented_ids().find(|(i, _)| *i == id).map(|(_, d)| d)
}

/// The findings of `rule` that the pipeline made (reading the tree, preparing and rendering the releases): the rules
/// that report them only pick them out.
pub fn pipeline_findings(input: &LintInput, rule: &str) -> Vec<Finding> {
    input
        .problems
        .iter()
        .chain(input.releases.iter().flat_map(|r| r.problems.iter()))
        .filter(|f| f.rule == rule)
        .cloned()
        .collect()
}

/// Apply every rule. Reports all findings, not the first. No finding quotes a value a release reads from a Secret
/// ([`secret_values`], [`redact_secret_values`]).
pub fn run_rules(input: &LintInput) -> Vec<Finding> {
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
    positions::locate(input, &mut findings);
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
    let mut input = prepare_with(tree, store, located.as_ref(), ahead).await?;
    input.checkout = checkout.await.ok();
    tracing::debug!(elapsed = ?started.elapsed(), "lint: releases rendered");
    let findings = run_rules(&input);
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

/// The chart a release asks for (its pin, its repository).
pub fn chart_ref(r: &Release) -> ChartRef {
    ChartRef {
        name: r.chart_name.clone(),
        version: r.render_version().unwrap_or_default().to_string(),
        repo_url: r.repo_url.clone(),
    }
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

/// Pod templates of a workload object: (json pointer to the PodSpec, the PodSpec value).
pub fn pod_spec(o: &Object) -> Option<(&'static str, &Value)> {
    let ptr = match (o.group(), o.kind()) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            "/spec/template/spec"
        }
        ("batch", "CronJob") => "/spec/jobTemplate/spec/template/spec",
        ("", "Pod") => "/spec",
        ("", "PodTemplate") => "/template/spec",
        _ => return None,
    };
    o.value
        .pointer(ptr)
        .filter(|v| v.is_object())
        .map(|v| (ptr, v))
}

/// A JSON pointer as a kubectl-style field path: `/spec/containers/0/image` → `spec.containers[0].image`.
pub fn pointer_to_path(ptr: &str) -> String {
    let mut out = String::new();
    for seg in ptr.split('/').filter(|s| !s.is_empty()) {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Hand-made rule inputs.
    use super::*;

    pub fn obj(yaml: &str) -> Object {
        let v = gitops::parse_yaml_documents(yaml, Path::new("t.yaml"))
            .unwrap()
            .remove(0);
        Object::plain(v, "apps/base/headlamp/x.yaml")
    }

    /// A tree of every document of `yaml`, all read from `file`.
    pub fn tree(yaml: &str, file: &str) -> Tree {
        let objects = gitops::parse_yaml_documents(yaml, Path::new("t.yaml"))
            .unwrap()
            .into_iter()
            .map(|v| Object::plain(v, file))
            .collect();
        Tree {
            objects,
            ..Tree::default()
        }
    }

    pub fn rendered(yaml: &str) -> Object {
        let mut o = obj(yaml);
        o.file = "apps/base/headlamp/helmrelease.yaml".into();
        o.origin = Origin::Rendered {
            release: "headlamp/headlamp".into(),
            template: Some("headlamp/templates/deployment.yaml".into()),
        };
        o
    }

    pub fn helmrelease(values_yaml: &str) -> Release {
        let text = format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: headlamp\n  namespace: headlamp\nspec:\n  chart:\n    spec:\n      chart: headlamp\n      version: 0.41.0\n      sourceRef: {{kind: HelmRepository, name: headlamp}}\n  values:\n{}",
            values_yaml
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        );
        let mut o = obj(&text);
        o.file = "apps/base/headlamp/helmrelease.yaml".into();
        Release::from_object(&o, None).unwrap()
    }

    pub fn input(objects: Vec<Object>, releases: Vec<Release>) -> LintInput {
        LintInput {
            root: PathBuf::from("."),
            objects,
            releases,
            problems: Vec::new(),
            checkout: None,
            plain_fields: None,
            clusters: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn release_name_and_namespace_follow_flux() {
        let r = helmrelease("{}");
        assert_eq!(
            (r.release_name.as_str(), r.namespace.as_str()),
            ("headlamp", "headlamp")
        );
        let mut o = r.object.clone();
        o.value["spec"]["targetNamespace"] = "tools".into();
        let r = Release::from_object(&o, None).unwrap();
        assert_eq!(
            (r.release_name.as_str(), r.namespace.as_str()),
            ("tools-headlamp", "tools")
        );
        o.value["spec"]["releaseName"] = "hl".into();
        assert_eq!(Release::from_object(&o, None).unwrap().release_name, "hl");
    }

    #[test]
    fn pinned_version_accepts_exact_only() {
        let mut r = helmrelease("{}");
        assert_eq!(r.pinned_version(), Some("0.41.0"));
        for range in ["0.41.x", ">=0.41.0", "~0.41", "*", "^0.41.0"] {
            r.chart_version = Some(range.into());
            assert_eq!(r.pinned_version(), None, "{range}");
        }
    }

    #[test]
    fn pointer_to_path_is_kubectl_style() {
        assert_eq!(
            pointer_to_path("/spec/template/spec/containers/0/securityContext"),
            "spec.template.spec.containers[0].securityContext"
        );
    }
}
