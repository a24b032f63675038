//! `yaml-invalid`: a file (or kustomization) that is not YAML as Flux reads it ([`crate::yaml`]). Only that file is
//! left out; every other file is still read and linted.
//!
//! kustomize-controller builds every path with kustomize, which fails on such a file (`mapping key "x" already
//! defined at line N`, a syntax error, a key or value JSON cannot hold): the whole Flux Kustomization then fails,
//! not just the object.

use crate::finding::{Finding, Severity};
use crate::rules::input::LintInput;
use headlamp_e2e_gitops::Error;

pub const RULE: &str = "yaml-invalid";

/// The finding for a file [`crate::gitops::load_each`] could not read.
pub fn finding(e: &Error) -> Finding {
    let mut position = None;
    let (file, at, message) = match e {
        Error::Model(headlamp_e2e_model::Error::Yaml {
            file,
            line,
            column,
            message,
        }) => (
            file.display().to_string(),
            if *line == 0 {
                String::new()
            } else {
                position = Some((*line, *column));
                format!("line {line}, column {column}")
            },
            message.clone(),
        ),
        other => (String::new(), String::new(), other.to_string()),
    };
    let finding = Finding::new(RULE, Severity::Error);
    let finding = match position {
        Some((line, column)) => finding.at(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        ),
        None => finding,
    };
    finding
        .file(file)
        .path(at)
        .message(format!(
            "{message}; this file is not read (kustomize, and so Flux, fails the whole Kustomization on it)"
        ))
        .fix(fix_for(&message))
}

fn fix_for(message: &str) -> String {
    if message.contains("already defined at line") {
        "keep only one of the two (kustomize rejects a duplicate key and never takes the last one)"
            .into()
    } else if message.contains("not a string") {
        "quote the key (`\"80\"`); kustomize only writes mappings with string keys".into()
    } else if message.contains("cannot be written as JSON") {
        "quote the value if it is text; JSON has no infinity or NaN".into()
    } else if message.contains("cannot decode") {
        "drop the explicit tag, or write a value of that type".into()
    } else if message.contains("YAML bomb") {
        "write the repeated parts out instead of nesting aliases of aliases".into()
    } else if message.contains("map merge requires") {
        "`<<:` takes a mapping, an alias of one (`<<: *base`) or a list of them (`<<: [*a, *b]`)"
            .into()
    } else if message.starts_with("not a kustomization") {
        "a kustomization.yaml is a mapping (`resources:`, `patches:`, …) as kustomize's Kustomization type has it"
            .into()
    } else {
        "correct the YAML there (indentation, a missing `:` or space after it, an unclosed quote or bracket); \
         `kubectl kustomize` on the directory shows what Flux sees"
            .into()
    }
}

pub fn check(input: &LintInput) -> Vec<Finding> {
    crate::rules::input::pipeline_findings(input, RULE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn error_of(yaml: &str) -> Error {
        crate::yaml::parse_yaml_documents(yaml, Path::new("apps/cm.yaml"))
            .unwrap_err()
            .into()
    }

    #[test]
    fn a_duplicate_key_is_a_finding_with_line_and_column() {
        let f = finding(&error_of(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n  a: \"2\"\n",
        ));
        assert_eq!(f.rule, RULE);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.file, "apps/cm.yaml");
        assert_eq!(f.path, "line 7, column 3");
        assert!(
            f.message
                .starts_with("mapping key \"a\" already defined at line 6;"),
            "{}",
            f.message
        );
        assert!(f.fix.starts_with("keep only one of the two"), "{}", f.fix);
        // nothing in the fix looks like a secret to the redaction
        assert_eq!(f.clone().redacted(), f);
    }

    #[test]
    fn a_syntax_error_is_a_finding_with_line_and_column() {
        let f = finding(&error_of(
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: [1, 2\n",
        ));
        assert_eq!(f.file, "apps/cm.yaml");
        assert!(f.path.starts_with("line "), "{}", f.path);
        assert!(f.fix.contains("correct the YAML"), "{}", f.fix);
    }

    #[test]
    fn no_fix_is_taken_for_a_secret() {
        for message in [
            "mapping key \"a\" already defined at line 1",
            "mapping key `80` is a !!int, not a string",
            "+Inf cannot be written as JSON",
            "cannot decode !!str `abc` as a !!int",
            "repetition limit exceeded (a \"YAML bomb\")",
            "map merge requires map or sequence of maps as the value",
            "not a kustomization: invalid type",
            "did not find expected key",
        ] {
            let fix = fix_for(message);
            assert_eq!(crate::redact::redact(&fix), fix, "{message}");
        }
    }

    #[test]
    fn the_rule_reports_what_the_pipeline_found() {
        let f = finding(&error_of("a: 1\na: 2\n"));
        let mut input = LintInput::default();
        input.problems.push(f.clone());
        assert_eq!(check(&input), vec![f]);
    }
}
