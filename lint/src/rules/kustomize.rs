//! Findings of reading the tree as Flux's kustomize-controller reads it ([`crate::gitops::load`]): a Flux
//! Kustomization whose path does not build with its patches/components, postBuild variables without a value or a
//! source, kustomize resources outside their kustomization root. The loader makes them (it is where the tree is read);
//! these rules report them.

use crate::finding::Finding;
use crate::gitops::{self, substitute};

use crate::rules::input::LintInput;

pub const BUILD_RULE: &str = gitops::FLUX_BUILD_RULE;
pub const UNRESOLVED_RULE: &str = substitute::UNRESOLVED_RULE;
pub const SOURCE_RULE: &str = substitute::SOURCE_RULE;
pub const FAILED_RULE: &str = substitute::FAILED_RULE;
pub const OUTSIDE_ROOT_RULE: &str = gitops::OUTSIDE_ROOT_RULE;
/// The files no Flux Kustomization deploys (one `info` finding; they are not linted).
pub const NOT_DEPLOYED_RULE: &str = gitops::NOT_DEPLOYED_RULE;
/// The Flux Kustomizations whose path is outside the directory lint was given (`info`, grouped; not followed).
pub const NOT_FOLLOWED_RULE: &str = gitops::NOT_FOLLOWED_RULE;
/// The Flux Kustomizations whose source is not this repository (ExternalArtifact, OCIRepository, Bucket): `info`,
/// grouped per kind; their paths are not checked.
pub const OTHER_SOURCE_RULE: &str = gitops::OTHER_SOURCE_RULE;
/// A kustomization.yaml in the tree that kustomize cannot build (a resource that does not exist, kustomize's own
/// error, no kubectl to build it with): that directory is left out, every other one is linted.
pub const KUSTOMIZATION_RULE: &str = gitops::KUSTOMIZATION_BUILD_RULE;

/// The finding for a file the loader left out ([`crate::gitops::Tree::unreadable`]): `yaml-invalid` for YAML that
/// kustomize cannot read, `kustomization-build` for a kustomization it cannot build.
pub fn unreadable_finding(e: &headlamp_e2e_gitops::Error) -> Finding {
    use crate::finding::Severity;
    use headlamp_e2e_gitops::Error;
    let (file, message, fix) = match e {
        Error::KustomizeResourceMissing { file, resource } => (
            file,
            format!(
                "resource {resource:?} does not exist; kustomize fails this kustomization (and Flux the Kustomization that applies it), so nothing in it is linted"
            ),
            format!("create {resource:?} or remove it from `resources`"),
        ),
        Error::Kustomize {
            file,
            features,
            message,
        } => (
            file,
            format!(
                "this kustomization uses {features}, and `kubectl kustomize` could not build it: {message}; nothing in it is linted"
            ),
            "fix what kustomize says (run `kubectl kustomize --load-restrictor LoadRestrictionsNone` on the directory); if kubectl is missing, install it or set KUBECTL_BIN".to_string(),
        ),
        other => return super::yaml_invalid::finding(other),
    };
    Finding::new(KUSTOMIZATION_RULE, Severity::Error)
        .file(file.display().to_string())
        .message(message)
        .fix(fix)
}

use crate::rules::input::pipeline_findings as of_rule;

pub fn check_build(input: &LintInput) -> Vec<Finding> {
    of_rule(input, BUILD_RULE)
}
pub fn check_unresolved(input: &LintInput) -> Vec<Finding> {
    of_rule(input, UNRESOLVED_RULE)
}
pub fn check_source(input: &LintInput) -> Vec<Finding> {
    of_rule(input, SOURCE_RULE)
}
pub fn check_failed(input: &LintInput) -> Vec<Finding> {
    of_rule(input, FAILED_RULE)
}
pub fn check_kustomization(input: &LintInput) -> Vec<Finding> {
    of_rule(input, KUSTOMIZATION_RULE)
}
pub fn check_outside_root(input: &LintInput) -> Vec<Finding> {
    of_rule(input, OUTSIDE_ROOT_RULE)
}
pub fn check_not_deployed(input: &LintInput) -> Vec<Finding> {
    of_rule(input, NOT_DEPLOYED_RULE)
}
pub fn check_not_followed(input: &LintInput) -> Vec<Finding> {
    of_rule(input, NOT_FOLLOWED_RULE)
}
pub fn check_other_source(input: &LintInput) -> Vec<Finding> {
    of_rule(input, OTHER_SOURCE_RULE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kustomization_that_cannot_build_is_a_finding_and_the_rest_is_read() {
        let d = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("a/kustomization.yaml", "resources: [nope.yaml]\n");
        write(
            "b/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n",
        );
        let tree = crate::gitops::load_each(d.path()).unwrap();
        let ids: Vec<String> = tree.objects.iter().map(|o| o.id()).collect();
        assert_eq!(ids, ["ConfigMap/n/c"]);
        let found: Vec<Finding> = tree.unreadable.iter().map(unreadable_finding).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, KUSTOMIZATION_RULE);
        assert_eq!(found[0].file, "a/kustomization.yaml");
        assert!(
            found[0].message.contains("\"nope.yaml\" does not exist"),
            "{}",
            found[0].message
        );
        // the strict reader used by chart-diff and e2e still refuses the tree
        assert!(crate::gitops::load(d.path()).is_err());
    }
}
