//! The Flux kinds the harness drives, with the group / version / plural Flux v2.9 serves them at (read from the
//! CRDs in `flux-v2.9.4-components.yaml`; each has exactly one served and stored version).

use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client};

pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
pub const SOURCE_VERSION: &str = "v1";
pub const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
pub const KUSTOMIZE_VERSION: &str = "v1";
pub const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";
pub const HELM_VERSION: &str = "v2";

/// A Flux kind the harness reconciles, suspends, resumes or waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FluxKind {
    GitRepository,
    HelmRepository,
    Kustomization,
    HelmRelease,
}

impl FluxKind {
    pub const ALL: [FluxKind; 4] = [
        FluxKind::GitRepository,
        FluxKind::HelmRepository,
        FluxKind::Kustomization,
        FluxKind::HelmRelease,
    ];

    pub const fn kind(self) -> &'static str {
        match self {
            FluxKind::GitRepository => "GitRepository",
            FluxKind::HelmRepository => "HelmRepository",
            FluxKind::Kustomization => "Kustomization",
            FluxKind::HelmRelease => "HelmRelease",
        }
    }

    pub const fn group(self) -> &'static str {
        match self {
            FluxKind::GitRepository | FluxKind::HelmRepository => SOURCE_GROUP,
            FluxKind::Kustomization => KUSTOMIZE_GROUP,
            FluxKind::HelmRelease => HELM_GROUP,
        }
    }

    pub const fn version(self) -> &'static str {
        match self {
            FluxKind::GitRepository | FluxKind::HelmRepository => SOURCE_VERSION,
            FluxKind::Kustomization => KUSTOMIZE_VERSION,
            FluxKind::HelmRelease => HELM_VERSION,
        }
    }

    pub const fn plural(self) -> &'static str {
        match self {
            FluxKind::GitRepository => "gitrepositories",
            FluxKind::HelmRepository => "helmrepositories",
            FluxKind::Kustomization => "kustomizations",
            FluxKind::HelmRelease => "helmreleases",
        }
    }

    /// `group/version`.
    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    pub fn api_resource(self) -> ApiResource {
        ApiResource {
            group: self.group().into(),
            version: self.version().into(),
            api_version: self.api_version(),
            kind: self.kind().into(),
            plural: self.plural().into(),
        }
    }

    /// An API for this kind in `namespace` (all Flux kinds are namespaced).
    pub fn api(self, client: Client, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client, namespace, &self.api_resource())
    }

    /// The Flux kind of an `apiVersion` + `kind` pair, if it is one of these at the served version.
    pub fn from_type(api_version: &str, kind: &str) -> Option<FluxKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.kind() == kind && k.api_version() == api_version)
    }
}

impl std::fmt::Display for FluxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// `source.toolkit.fluxcd.io/v1` `gitrepositories`.
pub fn git_repository() -> ApiResource {
    FluxKind::GitRepository.api_resource()
}

/// `source.toolkit.fluxcd.io/v1` `helmrepositories`.
pub fn helm_repository() -> ApiResource {
    FluxKind::HelmRepository.api_resource()
}

/// `kustomize.toolkit.fluxcd.io/v1` `kustomizations`.
pub fn kustomization() -> ApiResource {
    FluxKind::Kustomization.api_resource()
}

/// `helm.toolkit.fluxcd.io/v2` `helmreleases`.
pub fn helm_release() -> ApiResource {
    FluxKind::HelmRelease.api_resource()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_resources_match_the_crds() {
        let hr = helm_release();
        assert_eq!(hr.api_version, "helm.toolkit.fluxcd.io/v2");
        assert_eq!(hr.plural, "helmreleases");
        assert_eq!(git_repository().api_version, "source.toolkit.fluxcd.io/v1");
        assert_eq!(kustomization().plural, "kustomizations");
        assert_eq!(helm_repository().kind, "HelmRepository");
        assert_eq!(
            FluxKind::from_type("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
            Some(FluxKind::Kustomization)
        );
        assert_eq!(
            FluxKind::from_type("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease"),
            None
        );
    }

    /// The pinned components file serves every kind at the version above.
    #[test]
    fn components_file_serves_these_versions() {
        let path = crate::test_support::flux_components_file();
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let docs = crate::yaml::parse_yaml_documents(&text, &path).unwrap();
        for k in FluxKind::ALL {
            let crd = docs
                .iter()
                .find(|d| {
                    d["kind"] == "CustomResourceDefinition"
                        && d["spec"]["names"]["kind"] == k.kind()
                        && d["spec"]["group"] == k.group()
                })
                .unwrap_or_else(|| panic!("no CRD for {k}"));
            assert_eq!(crd["spec"]["names"]["plural"], k.plural());
            let served: Vec<_> = crd["spec"]["versions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["served"] == true)
                .map(|v| v["name"].as_str().unwrap())
                .collect();
            assert!(served.contains(&k.version()), "{k}: {served:?}");
        }
    }
}
