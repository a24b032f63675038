//! The CLI as a user runs it: exit codes, one-line errors, JSON shape. Render-tier cases skip without helm/charts
//! (fail with HEADLAMP_E2E_REQUIRE_TOOLS=1).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use headlamp_e2e::testing::{charts_dir, copy_tree, project_root, render_tools, with_tools};

fn xtask(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).env("NO_COLOR", "1");
    with_tools(&mut cmd).output().expect("xtask runs")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn fixture(rel: &str) -> String {
    project_root()
        .join("fixtures")
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn help_lists_the_commands() {
    let o = xtask(&["--help"]);
    assert!(o.status.success());
    let out = text(&o.stdout);
    for cmd in ["lint", "bench-lint"] {
        assert!(out.contains(cmd), "{out}");
    }
}

#[test]
fn clean_fixtures_exit_0() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let o = xtask(&["lint"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains("0 errors"));
}

#[test]
fn broken_fixture_exits_1_and_json_is_one_object() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let o = xtask(&[
        "lint",
        "--gitops",
        &fixture("broken/pinned-image-tag"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is exactly one JSON document");
    let findings = v["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "image-flag-unsupported" && f["severity"] == "error")
    );
    for f in findings {
        for k in [
            "rule", "severity", "file", "object", "path", "message", "fix",
        ] {
            assert!(f.get(k).is_some(), "finding lacks {k}: {f}");
        }
    }
    assert!(v["summary"]["errors"].as_u64().unwrap() >= 1);
}

/// Issue 20: `--format github` prints only workflow commands, files relative to the repository root with their
/// lines; `--format sarif` one SARIF log; `--format markdown` a table linking each finding's line. Exit codes as text.
#[test]
fn github_sarif_and_markdown_name_files_from_the_repository_root_with_lines() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let dir = fixture("broken/pinned-image-tag");
    let run = |format: &str| xtask(&["lint", "--gitops", &dir, "--format", format]);
    let o = run("github");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.lines().all(|l| l.starts_with("::")), "{out}");
    assert!(
        out.contains(
            "::warning file=fixtures/broken/pinned-image-tag/helmrelease.yaml,line=29,col=7,title=image-tag-override::"
        ),
        "{out}"
    );
    let o = run("sarif");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is exactly one SARIF document");
    assert_eq!(v["version"], "2.1.0");
    let uris: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str())
        .collect();
    assert!(
        uris.contains(&"fixtures/broken/pinned-image-tag/helmrelease.yaml"),
        "{v:#}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["lint", "--gitops", &dir, "--format", "markdown"])
        .env("NO_COLOR", "1")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_SHA", "0123abcd")
        .output()
        .expect("xtask runs");
    let md = text(&o.stdout);
    assert!(
        md.contains("(https://github.com/o/r/blob/0123abcd/fixtures/broken/pinned-image-tag/helmrelease.yaml#L29)"),
        "{md}"
    );
}

#[test]
fn strict_makes_warnings_fail() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    copy_tree(&project_root().join("fixtures/gitops"), d.path()).unwrap();
    let hr = d.path().join("apps/base/headlamp/helmrelease.yaml");
    let t = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(
        &hr,
        t.replacen(
            "  values:\n",
            "  values:\n    image:\n      tag: v0.41.0\n",
            1,
        ),
    )
    .unwrap();
    let dir = d.path().display().to_string();
    let o = xtask(&["lint", "--gitops", &dir]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "warnings alone pass: {}",
        text(&o.stdout)
    );
    assert!(text(&o.stdout).contains("warning[image-tag-override]"));
    let o = xtask(&["lint", "--gitops", &dir, "--strict"]);
    assert_eq!(o.status.code(), Some(1));
}

fn assert_cannot_run(o: &Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let err = text(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
    assert!(err.contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_dir_exits_2() {
    assert_cannot_run(
        &xtask(&["lint", "--gitops", "/nonexistent/gitops"]),
        "does not exist",
    );
}

#[test]
fn a_yaml_syntax_error_is_a_finding_with_file_line_and_column_exit_1() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n",
    )
    .unwrap();
    let o = xtask(&["lint", "--gitops", &d.path().display().to_string()]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    assert!(
        out.contains("bad.yaml\n  error[yaml-invalid]  line "),
        "{out}"
    );
    assert!(out.contains("fix: correct the YAML there"), "{out}");
}

#[test]
fn the_yaml_layout_lints_clean_octal_modes_underscores_and_merge_keys_included() {
    let o = xtask(&["lint", "--gitops", &fixture("layouts/yaml")]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(out.contains("0 errors, 0 warnings (4 objects"), "{out}");
}

#[test]
fn one_file_with_a_duplicate_key_is_a_finding_and_the_rest_is_linted() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(Path::new(&fixture("layouts/yaml")), d.path()).unwrap();
    let app = d.path().join("apps/cloudflared");
    std::fs::write(
        app.join("configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tunnel\n  namespace: network\ndata:\n  config.yaml: |\n    tunnel: home\n  config.yaml: |\n    tunnel: other\n",
    )
    .unwrap();
    let k = std::fs::read_to_string(app.join("kustomization.yaml")).unwrap();
    std::fs::write(
        app.join("kustomization.yaml"),
        k.replace("  - service.yaml", "  - service.yaml\n  - configmap.yaml"),
    )
    .unwrap();
    // and a mistake in another file, which is still found
    let dep = std::fs::read_to_string(app.join("deployment.yaml")).unwrap();
    std::fs::write(
        app.join("deployment.yaml"),
        dep.replace(
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: yes",
        ),
    )
    .unwrap();
    let o = xtask(&[
        "lint",
        "--gitops",
        &d.path().display().to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            (
                "yaml-invalid".to_string(),
                "apps/cloudflared/configmap.yaml".to_string(),
                "line 9, column 3".to_string()
            ),
            (
                "manifest-invalid".to_string(),
                "apps/cloudflared/deployment.yaml".to_string(),
                "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem"
                    .to_string()
            ),
        ]
    );
    let message = v["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("mapping key \"config.yaml\" already defined at line 7"),
        "{message}"
    );
}

#[test]
fn helm_missing_exits_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["lint"])
        .env("HELM_BIN", "/nonexistent/helm")
        .env(
            "HEADLAMP_E2E_CHARTS",
            charts_dir().unwrap_or_else(|| PathBuf::from("/nonexistent")),
        )
        .output()
        .unwrap();
    assert_cannot_run(&o, "helm not found");
}

#[test]
fn json_error_is_still_one_object() {
    let o = xtask(&[
        "lint",
        "--gitops",
        "/nonexistent/gitops",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert!(v["error"].as_str().unwrap().contains("does not exist"));
}

#[test]
fn missing_chart_version_is_a_finding_exit_1() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(Path::new(&fixture("broken/readonly-home")), d.path()).unwrap();
    let hr = d.path().join("helmrelease.yaml");
    let t = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(&hr, t.replacen("      version: 0.41.0\n", "", 1)).unwrap();
    let o = xtask(&["lint", "--gitops", &d.path().display().to_string()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains("error[chart-version-not-pinned]")
            && text(&o.stdout).contains("has no version"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn an_empty_dir_exits_2() {
    let d = tempfile::tempdir().unwrap();
    assert_cannot_run(
        &xtask(&["lint", "--gitops", &d.path().display().to_string()]),
        "no Kubernetes objects found (0 YAML files read",
    );
}

#[test]
fn one_release_that_cannot_be_had_is_a_finding_and_the_rest_is_linted() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let o = xtask(&["lint", "--gitops", &fixture("layouts/isolation")]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    for needle in [
        "error[render-failed] HelmRelease/tools/headlamp-staging spec.chartRef",
        "error[chart-unavailable] HelmRelease/observability/grafana spec.chart",
        "error[chart-version-not-pinned] HelmRelease/tools/podinfo",
        "error[helmrelease-source-missing] HelmRelease/tools/whoami",
        "(9 objects, 1 of 5 HelmReleases rendered)",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
}

#[test]
fn helm_controller_inputs_values_from_post_renderers_and_conflicts() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let o = xtask(&[
        "lint",
        "--gitops",
        &fixture("layouts/inputs"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let found: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["object"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        // the probe equal to the chart's hard-coded one (path from config.baseURL, set by valuesFrom targetPath)
        (
            "values-unknown-key",
            "HelmRelease/tools/headlamp",
            "livenessProbe",
        ),
        // the Secret made outside the tree
        (
            "values-from-incomplete",
            "HelmRelease/tools/headlamp",
            "spec.valuesFrom[2]",
        ),
        ("object-conflict", "Service/tools/headlamp", "metadata.name"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    let mut sorted = found.clone();
    sorted.sort();
    let mut want = expected.clone();
    want.sort();
    // exactly these: the ConfigMap's securityContext/volumes were merged (else the chart's default security context
    // and no $HOME mount would be findings), and the postRenderer's /tmp mount was applied (else
    // rootfs-unwritable-path), with real kustomize
    assert_eq!(sorted, want, "{}", text(&o.stdout));
}

/// fixtures/layouts/overlays: base + overlay, a Flux Kustomization with patches, a component and postBuild
/// substitution. The base is linted once (through the overlay); `${HEADLAMP_VERSION:=0.41.0}` renders chart 0.41.0.
#[test]
fn the_overlays_fixture_is_linted_as_flux_applies_it() {
    if render_tools("headlamp", "0.41.0").is_none() {
        return;
    }
    let o = xtask(&["lint", "--gitops", &fixture("layouts/overlays")]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(
        out.contains("(9 objects, 1 of 1 HelmRelease rendered)"),
        "{out}"
    );
    assert!(!out.contains("flux-substitution"), "{out}");
    // a typo in a variable: a warning naming the variable and the object; the render goes on
    let d = tempfile::tempdir().unwrap();
    copy_tree(Path::new(&fixture("layouts/overlays")), d.path()).unwrap();
    let ing = d.path().join("apps/base/headlamp/ingress.yaml");
    let t = std::fs::read_to_string(&ing).unwrap();
    std::fs::write(&ing, t.replace("${SECRET_DOMAIN}", "${SECRET_DOMIAN}")).unwrap();
    let o = xtask(&["lint", "--gitops", &d.path().display().to_string()]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(
        out.contains("warning[flux-substitution-unresolved] Ingress/headlamp/headlamp")
            && out.contains("`${SECRET_DOMIAN}` has no value"),
        "{out}"
    );
    assert!(out.contains("1 of 1 HelmRelease rendered"), "{out}");
}

#[test]
fn rule_docs_check_exits_1_naming_the_page_and_0_once_written() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("rules");
    let dir_arg = dir.display().to_string();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("no-such-rule.md"), "x\n").unwrap();
    let o = xtask(&["rule-docs", "--check", "--dir", &dir_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("yaml-invalid.md: missing"), "{out}");
    assert!(out.contains("no-such-rule.md: names no rule"), "{out}");
    assert!(
        !dir.join("yaml-invalid.md").exists(),
        "--check writes nothing"
    );
    let o = xtask(&["rule-docs", "--dir", &dir_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!dir.join("no-such-rule.md").exists());
    let o = xtask(&["rule-docs", "--check", "--dir", &dir_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    // the committed pages are current
    let o = xtask(&["rule-docs", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}
