//! Path helpers shared by the walk and the builds: kustomization file names, YAML files, lexical normalisation.

use std::path::{Path, PathBuf};

pub(crate) const KUSTOMIZATION_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Drop `.` components and fold `dir/..` (lexically; the walk has already resolved symlinks for safety).
pub fn normalise(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

pub(crate) fn is_yaml(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            normalise(Path::new("app/./hr.yaml")),
            PathBuf::from("app/hr.yaml")
        );
        assert_eq!(
            normalise(Path::new("./a/b/../c.yaml")),
            PathBuf::from("a/c.yaml")
        );
        assert_eq!(
            normalise(Path::new("../x.yaml")),
            PathBuf::from("../x.yaml")
        );
    }
}
