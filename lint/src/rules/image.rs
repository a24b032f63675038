//! `image-tag-override` (warning) and `image-flag-unsupported` (error).
//!
//! The chart's templates pass flags to the server binary; chart and image ship as a tested pair. Pinning `image.tag`
//! to an older release runs a binary that does not know the flags, and Go's flag package exits at start with
//! `flag provided but not defined: -<flag>` (it reports only the first one: the rule lists all).

use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::flags::{self, Known};
use crate::gitops::Object;
pub use crate::image_ref::{ImageRef, is_headlamp_image, parse_image};
use crate::rules::input::{LintInput, pod_spec, pointer_to_path};

pub const TAG_RULE: &str = "image-tag-override";
pub const FLAG_RULE: &str = "image-flag-unsupported";
/// A Headlamp server container whose image tag moves (`latest`, no tag at all, `v0.0.0-latest`, `nightly`) and has
/// no digest (warning).
pub const MUTABLE_RULE: &str = "image-tag-mutable";

/// Words that name a tag which moves to each new build rather than one release: the whole tag, or a `-`/`.`/`_`
/// part of it (`latest`, `v0.0.0-latest`, `main`, `nightly-amd64`). A release tag (`v0.41.0`, `0.41.0-alpine`) has
/// none of them.
const MOVING_WORDS: [&str; 8] = [
    "latest", "nightly", "edge", "main", "master", "snapshot", "canary", "stable",
];

/// Does `tag` (digest already split off) name a build that moves rather than one release?
pub fn moving_tag(tag: &str) -> bool {
    tag.to_ascii_lowercase()
        .split(['-', '.', '_', '+'])
        .any(|part| MOVING_WORDS.contains(&part))
}

/// A Headlamp server container in a workload: (field path of the container, image, args).
#[derive(Debug, Clone)]
pub struct HeadlampContainer {
    pub pointer: String,
    pub name: String,
    pub image: ImageRef,
    pub image_text: String,
    pub args: Vec<String>,
}

/// The Headlamp server containers of an object.
pub fn headlamp_containers(o: &Object) -> Vec<HeadlampContainer> {
    let Some((ptr, spec)) = pod_spec(o) else {
        return Vec::new();
    };
    let Some(containers) = spec["containers"].as_array() else {
        return Vec::new();
    };
    containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let image_text = c["image"].as_str()?.to_string();
            let image = parse_image(&image_text);
            if !is_headlamp_image(&image) {
                return None;
            }
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            // `command` replaces the entrypoint; its flags count too (after the binary path)
            let mut args: Vec<String> = strings(&c["command"]).into_iter().skip(1).collect();
            args.extend(strings(&c["args"]));
            Some(HeadlampContainer {
                pointer: format!("{ptr}/containers/{i}"),
                name: c["name"].as_str().unwrap_or("").to_string(),
                image,
                image_text,
                args,
            })
        })
        .collect()
}

/// A tag reduced to the release it names: the digest (`v0.14.0@sha256:…`) and an architecture suffix
/// (`480-amd64`) dropped, then a leading `v`. `v0.14.0@sha256:…` and appVersion `0.14.0` are one release; so are
/// `480-amd64` and `480`.
pub fn release_of_tag(tag: &str) -> String {
    let t = tag.split_once('@').map_or(tag, |(t, _)| t);
    const ARCH: [&str; 7] = ["amd64", "arm64", "arm", "armv7", "ppc64le", "s390x", "386"];
    let mut t = t;
    for arch in ARCH {
        for sep in ["-linux-", "-", "_"] {
            if let Some(rest) = t.strip_suffix(&format!("{sep}{arch}")) {
                t = rest;
            }
        }
    }
    t.trim_start_matches('v').to_string()
}

/// The image tag a chart gives when `image.tag` is unset: `v<appVersion>` when a template prefixes it
/// (`printf "v%s" .Chart.AppVersion`, the Headlamp chart's `templates/deployment.yaml`), else the appVersion as it
/// is (`default .Chart.AppVersion`, the common form). `None` when the chart has no appVersion.
pub fn chart_default_tag(chart: &crate::chart::Chart) -> Option<String> {
    let app = chart.app_version.as_deref()?;
    let prefixed = crate::chart::template_texts(&chart.path)
        .map(|ts| {
            ts.iter().any(|(_, t)| {
                let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
                t.contains("printf \"v%s\" .Chart.AppVersion")
                    || t.contains("print \"v\" .Chart.AppVersion")
                    || t.contains(":v{{ .Chart.AppVersion")
                    || t.contains(":v{{.Chart.AppVersion")
            })
        })
        .unwrap_or(false);
    Some(if prefixed && !app.starts_with('v') {
        format!("v{app}")
    } else {
        app.to_string()
    })
}

pub fn check_tag_override(input: &LintInput) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &input.releases {
        let tag = match &r.values["image"]["tag"] {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        // only a Headlamp release speaks of Headlamp
        let headlamp = r.chart_name == "headlamp"
            || r.rendered
                .iter()
                .any(|o| !headlamp_containers(o).is_empty());
        // a moving tag that a Headlamp container runs: `image-tag-mutable` reports it (each problem once)
        let runs_moving = r
            .rendered
            .iter()
            .flat_map(headlamp_containers)
            .any(|c| c.image.digest.is_none() && c.image.tag.as_deref() == Some(tag.as_str()));
        if moving_tag(&tag) && runs_moving {
            continue;
        }
        let message = match &r.chart {
            Some(c) => {
                let chart_desc = format!("chart {} {}", c.name, c.version);
                let app = c.app_version.clone();
                let same = app
                    .as_deref()
                    .is_some_and(|a| release_of_tag(a) == release_of_tag(&tag));
                if same {
                    // today's tag is the chart's own: harmless now, the risk is the next chart bump
                    format!(
                        "image.tag is pinned to `{tag}`, the appVersion of {chart_desc}: harmless today, but a chart bump will not move the image. The next chart version's templates may pass flags and settings this binary does not know{}.",
                        if headlamp {
                            " (how a chart bump breaks Headlamp at start)"
                        } else {
                            ""
                        }
                    )
                } else {
                    let ships = match (&app, chart_default_tag(c)) {
                        (Some(a), Some(t)) if *a != t => {
                            format!(" ships appVersion {a} (image tag {t})")
                        }
                        (Some(a), _) => format!(" ships appVersion {a}"),
                        (None, _) => " has no appVersion".to_string(),
                    };
                    format!(
                        "image.tag is pinned to `{tag}`, but {chart_desc}{ships}. Chart and image ship as a tested pair: the chart's templates pass flags and settings that its own appVersion knows, an older or newer image may not."
                    )
                }
            }
            None => format!(
                "image.tag is pinned to `{tag}`; chart {}{} could not be read, so the tag was not compared with its appVersion. Chart and image ship as a tested pair: a chart bump will not move a pinned image.",
                r.chart_name,
                r.chart_version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            ),
        };
        out.push(
            Finding::new(TAG_RULE, Severity::Warning)
                .file(r.file())
                .object(r.id())
                .path("image.tag")
                .message(message)
                .fix(if headlamp {
                    "remove `image.tag` from the HelmRelease values and let the chart use its appVersion; to change the Headlamp version, change the chart version"
                } else {
                    "remove `image.tag` from the HelmRelease values and let the chart use its appVersion; to run another release, change the chart version"
                }),
        );
    }
    out
}

/// `image-tag-mutable`: a Headlamp server container (plain manifest or rendered by any chart) whose image has no
/// digest and a tag that moves ([`moving_tag`]) or no tag (the registry's `latest`). Each pod start may pull another
/// build, so the cluster does not run what was reviewed, two replicas may differ, and a new build may not know the
/// flags the chart passes (`image-flag-unsupported` cannot check a tag that names no release). A tag set as the
/// release's `image.tag` is reported here, not also as `image-tag-override`.
pub fn check_mutable(input: &LintInput) -> Vec<Finding> {
    let mut out = Vec::new();
    let releases = input.releases.iter().map(Some);
    let plain = std::iter::once(None);
    for r in releases.chain(plain) {
        let objects: Box<dyn Iterator<Item = &Object>> = match r {
            Some(r) => Box::new(r.rendered.iter()),
            None => Box::new(input.objects.iter()),
        };
        for o in objects {
            for c in headlamp_containers(o) {
                if c.image.digest.is_some() {
                    continue;
                }
                let tag = c.image.tag.as_deref();
                if tag.is_some_and(|t| !moving_tag(t)) {
                    continue;
                }
                let what = match tag {
                    Some(t) => format!("the tag `{t}` moves to each new build"),
                    None => "it has no tag, so the registry's `latest` is pulled, which moves to each new build"
                        .to_string(),
                };
                let message = format!(
                    "container \"{}\" runs {}: {what}. Each pod start may pull another Headlamp build, so the cluster does not run what was reviewed, two replicas may run different builds, and lint cannot check the flags the chart passes against a build it cannot name.",
                    c.name, c.image_text
                );
                let values_tag = r.and_then(|r| r.values["image"]["tag"].as_str());
                let fix = match (r, values_tag) {
                    (Some(_), Some(t)) if tag == Some(t) => format!(
                        "remove `image.tag: {t}` from the HelmRelease values so the chart runs its own release (its appVersion), or pin a release tag or a digest (`@sha256:…`)"
                    ),
                    _ => "pin a release tag (e.g. `v0.41.0`, the chart's appVersion) or a digest (`@sha256:…`), and let Renovate propose updates as reviewed PRs".to_string(),
                };
                out.push(
                    Finding::new(MUTABLE_RULE, Severity::Warning)
                        .file(o.location())
                        .object(o.id())
                        .path(format!("{}.image", pointer_to_path(&c.pointer)))
                        .message(message)
                        .fix(fix),
                );
            }
        }
    }
    out
}

pub fn check_flags(input: &LintInput) -> Vec<Finding> {
    let table = flags::table();
    let mut out = Vec::new();
    for r in &input.releases {
        for o in &r.rendered {
            for c in headlamp_containers(o) {
                let Some(version) = c.image.tag.as_deref().and_then(flags::parse_version) else {
                    continue;
                };
                let Known::Flags(known) = table.flags_of(&version) else {
                    continue;
                };
                let unknown: Vec<String> = flags::flags_in_args(&c.args)
                    .into_iter()
                    .filter(|f| !known.contains(f))
                    .collect();
                if unknown.is_empty() {
                    continue;
                }
                let listed: Vec<String> = unknown
                    .iter()
                    .map(|f| match table.since(f) {
                        Some(since) => format!("-{f} (first in {since})"),
                        None => format!("-{f} (no Headlamp release defines it)"),
                    })
                    .collect();
                let app = r.chart.as_ref().and_then(|c| c.app_version.clone());
                let own = app
                    .map(|a| format!(" (v{})", a.trim_start_matches('v')))
                    .unwrap_or_default();
                let fix = match r.values["image"]["tag"].as_str() {
                    Some(t) if !t.is_empty() => format!(
                        "remove `image.tag: {t}` so the chart runs its own image{own}, or pin a chart version whose templates match the image"
                    ),
                    _ => "run an image that defines these flags (the chart's appVersion), or remove the values that add them (config.extraArgs)".to_string(),
                };
                out.push(
                    Finding::new(FLAG_RULE, Severity::Error)
                        .file(o.location())
                        .object(o.id())
                        .path(format!("{}.args", pointer_to_path(&c.pointer)))
                        .message(format!(
                            "container \"{}\" runs {} (Headlamp {}), which does not define {}: {}. The server exits at start with `flag provided but not defined: -{}` and the pod crashloops.",
                            c.name,
                            c.image_text,
                            c.image.tag.as_deref().unwrap_or("?"),
                            if unknown.len() == 1 { "this flag" } else { "these flags" },
                            listed.join(", "),
                            unknown[0]
                        ))
                        .fix(fix),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::input::Release;
    use crate::rules::input::testutil::*;

    #[test]
    fn image_refs() {
        assert_eq!(
            parse_image("ghcr.io/headlamp-k8s/headlamp:v0.41.0"),
            ImageRef {
                repository: "ghcr.io/headlamp-k8s/headlamp".into(),
                tag: Some("v0.41.0".into()),
                digest: None
            }
        );
        let r = parse_image("localhost:5000/headlamp@sha256:abc");
        assert_eq!(
            (r.repository.as_str(), r.tag, r.digest.as_deref()),
            ("localhost:5000/headlamp", None, Some("sha256:abc"))
        );
        assert!(!is_headlamp_image(&parse_image(
            "cloudflare/cloudflared:2025.11.1"
        )));
    }

    fn deployment(image: &str) -> Object {
        rendered(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: headlamp, namespace: headlamp}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: headlamp\n        image: {image}\n        args: [\"-in-cluster\", \"-in-cluster-context-name=main\", \"-plugins-dir=/headlamp/plugins\", \"-session-ttl=86400\"]\n"
        ))
    }

    #[test]
    fn v038_under_chart_041_lists_every_unknown_flag() {
        let mut r = helmrelease("image:\n  tag: v0.38.0");
        r.rendered = vec![deployment("ghcr.io/headlamp-k8s/headlamp:v0.38.0")];
        let f = check_flags(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains(
                "-in-cluster-context-name (first in v0.40.0), -session-ttl (first in v0.41.0)"
            ),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message
                .contains("flag provided but not defined: -in-cluster-context-name")
        );
        assert_eq!(f[0].path, "spec.template.spec.containers[0].args");
        assert!(f[0].fix.contains("remove `image.tag: v0.38.0`"));
    }

    #[test]
    fn matching_image_is_clean_and_unknown_versions_are_skipped() {
        for image in [
            "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
            "ghcr.io/headlamp-k8s/headlamp:latest",
            "ghcr.io/headlamp-k8s/headlamp:v9.0.0",
        ] {
            let mut r = helmrelease("{}");
            r.rendered = vec![deployment(image)];
            assert!(check_flags(&input(vec![], vec![r])).is_empty(), "{image}");
        }
    }

    /// Issue 19 (mutable tags): a Headlamp container whose tag moves (`latest`, none, `v0.0.0-latest`) and has no
    /// digest is one warning, wherever the image is written (a plain Deployment, a chart's render); a release tag,
    /// a digest, or another program's `latest` is not. A moving `image.tag` of the Headlamp release is reported
    /// once, here, with the fix to remove it (not also as `image-tag-override`).
    #[test]
    fn a_headlamp_image_tag_that_moves_is_one_warning() {
        let plain = |image: &str| {
            let mut o = deployment(image);
            o.origin = crate::gitops::Origin::Plain;
            o.file = "apps/headlamp/deployment.yaml".into();
            o
        };
        for image in [
            "ghcr.io/headlamp-k8s/headlamp:latest",
            "ghcr.io/headlamp-k8s/headlamp",
            "ghcr.io/headlamp-k8s/headlamp:v0.0.0-latest",
        ] {
            let f = check_mutable(&input(vec![plain(image)], vec![]));
            assert_eq!(f.len(), 1, "{image}: {f:#?}");
            assert_eq!(f[0].severity, Severity::Warning);
            assert_eq!(f[0].path, "spec.template.spec.containers[0].image");
            assert_eq!(f[0].file, "apps/headlamp/deployment.yaml");
            assert!(
                f[0].message.contains("moves to each new build"),
                "{}",
                f[0].message
            );
        }
        for image in [
            "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
            "ghcr.io/headlamp-k8s/headlamp:latest@sha256:0123abcd",
            "docker.io/library/nginx:latest",
        ] {
            assert!(
                check_mutable(&input(vec![plain(image)], vec![])).is_empty(),
                "{image}"
            );
        }
        let mut r = helmrelease("image:\n  tag: latest");
        r.rendered = vec![deployment("ghcr.io/headlamp-k8s/headlamp:latest")];
        let both = input(vec![], vec![r]);
        let f = check_mutable(&both);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].fix.contains("remove `image.tag: latest`"),
            "{}",
            f[0].fix
        );
        assert!(check_tag_override(&both).is_empty());
        assert!(moving_tag("nightly-amd64") && moving_tag("MAIN") && !moving_tag("v0.41.0"));
        assert!(!moving_tag("1.2.3-alpine") && !moving_tag("480-amd64"));
    }

    #[test]
    fn tag_override_warns_only_when_set() {
        let r = helmrelease("image:\n  tag: v0.38.0");
        let f = check_tag_override(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].severity, f[0].path.as_str()),
            (Severity::Warning, "image.tag")
        );
        let r = helmrelease("image:\n  tag: \"\"\n  registry: ghcr.io");
        assert!(check_tag_override(&input(vec![], vec![r])).is_empty());
    }

    #[test]
    fn tags_name_their_release() {
        assert_eq!(release_of_tag("v0.14.0@sha256:0123abcd"), "0.14.0");
        assert_eq!(release_of_tag("480-amd64"), "480");
        assert_eq!(release_of_tag("1.2.3-linux-arm64"), "1.2.3");
        assert_eq!(release_of_tag("v0.41.0"), "0.41.0");
        // a suffix that is not an architecture stays: 1.2.3-alpine is not 1.2.3
        assert_eq!(release_of_tag("1.2.3-alpine"), "1.2.3-alpine");
    }

    /// A release of the test chart `fixtures/charts/appversion-default` (appVersion given) with `image.tag`.
    fn other_chart_release(app_version: &str, tag: &str) -> (tempfile::TempDir, Release) {
        let chart_yaml = format!(
            "apiVersion: v2\nname: appversion-default\nversion: 1.2.3\nappVersion: \"{app_version}\"\n"
        );
        let (dir, chart) =
            crate::chart::test_charts::pack("appversion-default", &[("Chart.yaml", &chart_yaml)]);
        let mut r = helmrelease(&format!("image:\n  tag: \"{tag}\""));
        r.chart_name = "appversion-default".into();
        r.chart = Some(chart);
        (dir, r)
    }

    #[test]
    fn digest_and_arch_suffixed_tags_equal_the_app_version_and_say_nothing_of_headlamp() {
        for (app, tag) in [("0.14.0", "v0.14.0@sha256:0123abcd"), ("480", "480-amd64")] {
            let (_dir, r) = other_chart_release(app, tag);
            let f = check_tag_override(&input(vec![], vec![r]));
            assert_eq!(f.len(), 1, "{tag}");
            assert!(
                f[0].message.contains("harmless today")
                    && f[0]
                        .message
                        .contains("the appVersion of chart appversion-default 1.2.3"),
                "{tag}: {}",
                f[0].message
            );
            assert!(
                !f[0].message.contains("Headlamp") && !f[0].fix.contains("Headlamp"),
                "{tag}: {}",
                f[0].message
            );
        }
    }

    #[test]
    fn a_chart_that_defaults_to_the_bare_app_version_is_not_given_a_v() {
        // the chart's template is `.Values.image.tag | default .Chart.AppVersion`: its own tag is `481`, not `v481`
        let (_dir, r) = other_chart_release("481", "480-amd64");
        let f = check_tag_override(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .contains("but chart appversion-default 1.2.3 ships appVersion 481."),
            "{}",
            f[0].message
        );
        assert!(!f[0].message.contains("v481") && !f[0].message.contains("Headlamp"));
    }

    #[test]
    fn the_headlamp_chart_prefixes_v_and_says_so() {
        let dir = crate::chart::bundled_charts_dir().expect("data/upstream/charts");
        let chart = crate::chart::read_chart(&dir.join("headlamp-0.41.0.tgz")).expect("chart");
        let mut r = helmrelease("image:\n  tag: v0.38.0");
        r.chart = Some(chart);
        let f = check_tag_override(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1);
        // templates/deployment.yaml: `.Values.image.tag | default (printf "v%s" .Chart.AppVersion)`
        assert!(
            f[0].message
                .contains("but chart headlamp 0.41.0 ships appVersion 0.41.0 (image tag v0.41.0)."),
            "{}",
            f[0].message
        );
        assert!(f[0].fix.contains("Headlamp version"));
    }

    #[test]
    fn a_chart_that_could_not_be_had_gives_a_whole_message() {
        let mut r = helmrelease("image:\n  tag: \"RELEASE.2025-01-01\"");
        r.chart_name = "rustfs".into();
        r.chart_version = Some("0.0.50".into());
        r.chart = None;
        let f = check_tag_override(&input(vec![], vec![r]));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .contains("chart rustfs 0.0.50 could not be read, so the tag was not compared with its appVersion."),
            "{}",
            f[0].message
        );
        assert!(!f[0].message.contains("Headlamp") && !f[0].fix.contains("Headlamp"));
    }
}
