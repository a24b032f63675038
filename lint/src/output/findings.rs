//! Findings where the user looks: GitHub workflow commands (annotations on the pull request's diff), SARIF 2.1.0
//! (code scanning) and a markdown table (the step summary).
//!
//! Every finding's `file` is relative to the GitOps directory; `prefix` (that directory relative to the repository
//! root, `""` when it is the root) makes it relative to the repository root, which is what GitHub resolves
//! annotation files and SARIF `artifactLocation.uri`s against. Every text goes through the one redaction
//! ([`crate::finding::Finding::redacted`]) and has its control characters escaped.

use std::fmt::Write as _;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::finding::{Finding, Severity};
use crate::redact::{escape_controls, markdown_inline};

/// `Kind/ns/name path`: what a finding is about, the parts it has, for the first line of a message.
fn object_and_path(f: &Finding) -> String {
    [f.object.as_str(), f.path.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each rule's one-line description, what fixing it means (SARIF `shortDescription`, `fullDescription`, `help`) and
/// the most severe level it reports (`defaultConfiguration.level`): the rule's own documentation
/// ([`crate::RuleDoc`] `what`, `why`, `severity`). Rules that also report a milder level say so in `why`.
fn help(rule: &str) -> Option<(Severity, &'static str, &'static str)> {
    crate::rules::registry::rule_doc(rule).map(|d| (d.severity, d.what, d.why))
}

/// `file` relative to the repository root.
fn repo_path(prefix: &str, file: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() || prefix == "." {
        file.to_string()
    } else {
        format!("{prefix}/{file}")
    }
}

/// actions/toolkit `packages/core/src/command.ts` `escapeData`: a workflow command's message.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// actions/toolkit `packages/core/src/command.ts` `escapeProperty`: a workflow command's property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The message a reader sees for `f`: the message, then the fix.
fn text_of(f: &Finding) -> String {
    let mut t = f.message.clone();
    if !f.fix.is_empty() {
        t.push_str(if f.severity == Severity::Info {
            "\nnote: "
        } else {
            "\nfix: "
        });
        t.push_str(&f.fix);
    }
    if f.places.len() > 1 {
        t.push_str("\nfound in: ");
        t.push_str(&f.places.join(", "));
    }
    t
}

/// Info notes once per cause (rule, message, fix), as the text report prints them: the first place, with the number
/// of the others. Errors and warnings each stay.
fn grouped(findings: &[Finding]) -> Vec<(Finding, usize)> {
    let mut out: Vec<(Finding, usize)> = Vec::new();
    for f in findings {
        if f.severity == Severity::Info
            && let Some((_, n)) = out.iter_mut().find(|(n, _)| {
                n.severity == Severity::Info
                    && (&n.rule, &n.message, &n.fix) == (&f.rule, &f.message, &f.fix)
            })
        {
            *n += 1;
            continue;
        }
        out.push((f.clone(), 0));
    }
    out
}

/// `--format github`: one workflow command per finding (`::error file=…,line=…,col=…,title=<rule>::<message>`;
/// warning → `::warning`, info → `::notice`, one per cause), and nothing else. Control characters other than
/// newline and tab are shown escaped first (`\u{d}`, [`escape_controls`]); then the message and every property are
/// escaped as actions/toolkit `packages/core/src/command.ts` escapes them (`escapeData`: `%`, CR, LF;
/// `escapeProperty`: also `:` and `,`), so no text of a finding can end its command or start another line: each
/// finding is exactly one line.
pub fn to_github(findings: &[Finding], prefix: &str) -> String {
    let mut out = String::new();
    for (f, more) in grouped(findings) {
        let f = f.redacted();
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props: Vec<String> = Vec::new();
        if !f.file.is_empty() {
            props.push(format!(
                "file={}",
                escape_property(&escape_controls(&repo_path(prefix, &f.file)))
            ));
            if let Some(line) = f.line {
                props.push(format!("line={line}"));
            }
            if let Some(col) = f.column {
                props.push(format!("col={col}"));
            }
        }
        props.push(format!(
            "title={}",
            escape_property(&escape_controls(&f.rule))
        ));
        let mut text = String::new();
        let at = object_and_path(&f);
        if !at.is_empty() {
            let _ = writeln!(text, "{at}");
        }
        text.push_str(&text_of(&f));
        if more > 0 {
            let _ = write!(
                text,
                "\n(and {more} more of the same; `--format json` lists each)"
            );
        }
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            props.join(","),
            escape_data(&escape_controls(&text))
        );
    }
    out
}

/// A fingerprint of `f` that stays while lines move: rule, file, object and path (not the line, not the message).
pub fn fingerprint(f: &Finding, prefix: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        f.rule.as_str(),
        &repo_path(prefix, &f.file),
        f.object.as_str(),
        f.path.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `--format sarif`: one SARIF 2.1.0 log (OASIS, `data/upstream/sarif/sarif-schema-2.1.0.json`), one run. The rules
/// of the findings are in `tool.driver.rules` ([`help`]); each result names its rule, level, message (with the
/// fix), its file relative to the repository root with line and column, and a `partialFingerprints` entry
/// ([`fingerprint`]) so code scanning tracks it across commits. `version` is the tool's.
pub fn to_sarif(findings: &[Finding], prefix: &str, version: &str) -> Value {
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let rule_objects: Vec<Value> = rules
        .iter()
        .map(|id| {
            let (short, full, default) = match help(id) {
                Some((sev, short, full)) => (short.to_string(), full.to_string(), sev),
                None => {
                    let sev = findings
                        .iter()
                        .filter(|f| f.rule == *id)
                        .map(|f| f.severity)
                        .min()
                        .unwrap_or(Severity::Warning);
                    (id.to_string(), id.to_string(), sev)
                }
            };
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": short },
                "fullDescription": { "text": full },
                "help": { "text": format!("{full}\nEach result's message ends with its fix.") },
                "defaultConfiguration": { "level": level(default) },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let f = f.clone().redacted();
            let index = rules.iter().position(|r| *r == f.rule).unwrap_or(0);
            let mut text = String::new();
            let at = object_and_path(&f);
            if !at.is_empty() {
                let _ = write!(text, "{at}: ");
            }
            text.push_str(&text_of(&f));
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": escape_controls(&text) },
                "partialFingerprints": { "headlampE2eFinding/v1": fingerprint(&f, prefix) },
            });
            if !f.file.is_empty() {
                let mut physical = json!({
                    "artifactLocation": {
                        "uri": uri(&repo_path(prefix, &f.file)),
                        "uriBaseId": "%SRCROOT%",
                    },
                });
                if let Some(line) = f.line {
                    physical["region"] = json!({
                        "startLine": line,
                        "startColumn": f.column.unwrap_or(1),
                    });
                }
                let mut location = json!({ "physicalLocation": physical });
                if !f.object.is_empty() {
                    location["logicalLocations"] =
                        json!([{ "fullyQualifiedName": escape_controls(&f.object) }]);
                }
                result["locations"] = json!([location]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "headlamp-e2e lint",
                    "version": version,
                    "rules": rule_objects,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// A relative path as a URI reference: every byte outside RFC 3986's unreserved set and `/` percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Where a markdown link to a file's line points: the blob on GitHub when `$GITHUB_SERVER_URL`,
/// `$GITHUB_REPOSITORY` and `$GITHUB_SHA` are set (a step summary is not in the repository, so a relative link
/// would not resolve), else the path relative to the repository root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkBase {
    /// `https://github.com/owner/repo/blob/<sha>`, without the trailing slash.
    pub blob: Option<String>,
}

impl LinkBase {
    /// From the GitHub Actions environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let blob = match (
            var("GITHUB_SERVER_URL"),
            var("GITHUB_REPOSITORY"),
            var("GITHUB_SHA"),
        ) {
            (Some(server), Some(repo), Some(sha))
                if (server.starts_with("https://") || server.starts_with("http://"))
                    && repo.split('/').count() == 2
                    && repo.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
                    })
                    && sha.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                Some(format!(
                    "{}/{repo}/blob/{sha}",
                    server.trim_end_matches('/')
                ))
            }
            _ => None,
        };
        LinkBase { blob }
    }
}

/// `--format markdown`: a table of the findings (severity, rule, where with a link to the file's line, message and
/// fix). Every text from input is text, never markup ([`markdown_inline`]); a link's target is percent-encoded, so
/// a file name cannot end it. Info notes are one row per cause.
pub fn to_markdown(findings: &[Finding], prefix: &str, links: &LinkBase) -> String {
    let mut out = String::new();
    let counts = crate::finding::Summary::of(findings);
    let _ = writeln!(
        out,
        "### headlamp-e2e lint: {} error{}, {} warning{}{}\n",
        counts.errors,
        if counts.errors == 1 { "" } else { "s" },
        counts.warnings,
        if counts.warnings == 1 { "" } else { "s" },
        match counts.info {
            0 => String::new(),
            1 => ", 1 note".into(),
            n => format!(", {n} notes"),
        }
    );
    if findings.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    out.push_str("| | Rule | Where | Message | Fix |\n|---|---|---|---|---|\n");
    for (f, more) in grouped(findings) {
        let icon = match f.severity {
            Severity::Error => "❌ error",
            Severity::Warning => "⚠️ warning",
            Severity::Info => "ℹ️ note",
        };
        let file = repo_path(prefix, &f.file);
        let shown = match f.line {
            Some(l) => format!("{file}:{l}"),
            None => file.clone(),
        };
        let link = if f.file.is_empty() {
            String::new()
        } else {
            let target = match &links.blob {
                Some(b) => format!("{b}/{}", uri(&file)),
                None => uri(&file),
            };
            let anchor = f.line.map(|l| format!("#L{l}")).unwrap_or_default();
            format!("[{}]({target}{anchor})", markdown_inline(&shown))
        };
        let mut at = vec![link];
        if !f.object.is_empty() {
            at.push(format!("<code>{}</code>", markdown_inline(&f.object)));
        }
        if !f.path.is_empty() {
            at.push(format!("<code>{}</code>", markdown_inline(&f.path)));
        }
        if more > 0 {
            at.push(format!("and {more} more"));
        }
        // lines joined by <br>, each line's indentation kept (a values snippet in a fix)
        let multi = |t: &str| {
            t.lines()
                .map(|l| {
                    let body = l.trim_start_matches(' ');
                    "&nbsp;".repeat(l.len() - body.len()) + &markdown_inline(body)
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            out,
            "| {icon} | <code>{}</code> | {} | {} | {} |",
            markdown_inline(&f.rule),
            at.into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("<br>"),
            multi(&f.message),
            multi(&f.fix),
        );
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
                .message("image.tag is set: 100%, a: b\r\nsecond line")
                .fix("remove it")
                .at(21, 7),
            Finding::new("values-unknown-key", Severity::Error)
                .file("apps/base/headlamp/helm,release:x.yaml")
                .object("HelmRelease/headlamp/headlamp")
                .path("extraVolumes")
                .message("unused\n::add-mask::x")
                .fix("volumes:\n  - name: home")
                .at(14, 5),
            Finding::new("gitops-not-deployed", Severity::Info)
                .file("apps/a.yaml")
                .message("not deployed")
                .fix("nothing"),
            Finding::new("gitops-not-deployed", Severity::Info)
                .file("apps/b.yaml")
                .message("not deployed")
                .fix("nothing"),
        ]
    }

    #[test]
    fn github_commands_are_one_line_each_and_escaped_as_the_toolkit_does() {
        let out = to_github(&sample(), "fixtures/gitops");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines.iter().all(|l| l.starts_with("::")));
        assert_eq!(
            lines[0],
            "::warning file=fixtures/gitops/apps/base/headlamp/helmrelease.yaml,line=21,col=7,title=image-tag-override::HelmRelease/headlamp/headlamp image.tag%0Aimage.tag is set: 100%25, a: b\\u{d}%0Asecond line%0Afix: remove it"
        );
        assert!(
            lines[1].starts_with(
                "::error file=fixtures/gitops/apps/base/headlamp/helm%2Crelease%3Ax.yaml,line=14,col=5,title=values-unknown-key::"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("unused%0A::add-mask::x"));
        // info notes once per cause
        assert!(
            lines[2].starts_with(
                "::notice file=fixtures/gitops/apps/a.yaml,title=gitops-not-deployed::"
            )
        );
        assert!(lines[2].contains("and 1 more"));
        assert!(to_github(&sample(), "").contains("file=apps/a.yaml"));
    }

    #[test]
    fn sarif_fingerprints_ignore_the_line_and_the_message() {
        let a = &sample()[0];
        let moved = a.clone().at(40, 1).message("other words");
        assert_eq!(fingerprint(a, "x"), fingerprint(&moved, "x"));
        assert_ne!(
            fingerprint(a, "x"),
            fingerprint(&a.clone().path("image.repository"), "x")
        );
    }

    #[test]
    fn sarif_has_rules_results_and_positions() {
        let s = to_sarif(&sample(), "fixtures/gitops", "0.1.0");
        let run = &s["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "gitops-not-deployed",
                "image-tag-override",
                "values-unknown-key"
            ]
        );
        assert_eq!(rules[2]["defaultConfiguration"]["level"], "error");
        let r = &run["results"][0];
        assert_eq!(r["ruleId"], "image-tag-override");
        assert_eq!(r["ruleIndex"], 1);
        assert_eq!(r["level"], "warning");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"],
            "fixtures/gitops/apps/base/headlamp/helmrelease.yaml"
        );
        assert_eq!(loc["region"]["startLine"], 21);
        assert_eq!(loc["region"]["startColumn"], 7);
        assert_eq!(
            run["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "fixtures/gitops/apps/base/headlamp/helm%2Crelease%3Ax.yaml"
        );
        assert_eq!(run["results"][2]["level"], "note");
        validate(&s);
    }

    /// `sarif` against the OASIS SARIF 2.1.0 schema vendored in data/upstream/sarif/ (provenance.json).
    pub(crate) fn validate(sarif: &Value) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/upstream/sarif/sarif-schema-2.1.0.json"
        );
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = jsonschema::draft4::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn the_schema_rejects_what_is_not_sarif() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/upstream/sarif/sarif-schema-2.1.0.json"
        );
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = jsonschema::draft4::new(&schema).unwrap();
        let mut bad = to_sarif(&sample(), "", "0.1.0");
        bad["runs"][0]["results"][0]["level"] = json!("fatal");
        assert!(!validator.is_valid(&bad));
    }

    #[test]
    fn every_lint_rule_has_its_help() {
        for r in crate::rules::registry::RULES {
            assert!(help(r.id).is_some(), "{} has no documentation", r.id);
        }
    }

    #[test]
    fn markdown_links_to_the_line_and_cannot_be_injected() {
        let mut f = sample();
        f.push(
            Finding::new("object-conflict", Severity::Error)
                .file("apps/x](javascript:alert(1)).yaml")
                .object("ConfigMap/a/<b>|c")
                .message("m")
                .at(3, 1),
        );
        let md = to_markdown(&f, "fixtures/gitops", &LinkBase::default());
        assert!(md.contains("1 error") || md.contains("2 errors"), "{md}");
        assert!(
            md.contains("[fixtures/gitops/apps/base/headlamp/helmrelease.yaml:21](fixtures/gitops/apps/base/headlamp/helmrelease.yaml#L21)"),
            "{md}"
        );
        assert!(
            md.contains("(fixtures/gitops/apps/x%5D%28javascript%3Aalert%281%29%29.yaml#L3)"),
            "{md}"
        );
        assert!(md.contains("ConfigMap/a/&lt;b&gt;&#124;c"), "{md}");
        assert!(md.contains("volumes:<br>&nbsp;&nbsp;- name: home"), "{md}");
        // one row per finding (notes once), each a table row of five cells
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows.len(), 1 + 4, "{md}");
        for r in rows {
            assert_eq!(r.matches(" | ").count(), 4, "{r}");
        }
        let gh = LinkBase {
            blob: Some("https://github.com/o/r/blob/abc123".into()),
        };
        assert!(to_markdown(&f, "", &gh).contains(
            "(https://github.com/o/r/blob/abc123/apps/base/headlamp/helmrelease.yaml#L21)"
        ));
    }
}
