//! The rules lint runs, in report order ([`RULES`]), each with its documentation ([`RuleDoc`]): the book's rule pages
//! and SARIF's rule descriptions are made from it.

use crate::finding::{Finding, Severity};
use crate::rules::input::LintInput;
use crate::rules::{
    chart_ref, chart_schema, chart_version, flux_source, image, kustomize, manifest_fields,
    object_conflict, post_render, psa, rbac, release_source, rootfs, values, values_from,
    yaml_invalid,
};

/// A rule's own documentation, as data: its page in the book (`docs/src/rules/<id>.md`) is generated from it
/// ([`crate::output::rule_docs`], `cargo xtask rule-docs`), and SARIF's rule descriptions read `what` and `why`.
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
