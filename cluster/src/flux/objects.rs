//! The two objects that point Flux at the harness's git server: a GitRepository (branch `main`) and a Kustomization
//! applying `./clusters/e2e` from it, as `flux create source git` / `flux create kustomization` would write them.

use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::{Value, json};

use super::kinds::FluxKind;
pub use crate::duration::go_duration;
use crate::error::{Error, Result};

/// The name and namespace `flux bootstrap` uses for both objects.
pub const DEFAULT_NAME: &str = "flux-system";
pub const DEFAULT_NAMESPACE: &str = "flux-system";
pub const DEFAULT_BRANCH: &str = "main";
pub const DEFAULT_PATH: &str = "./clusters/e2e";

/// A `source.toolkit.fluxcd.io/v1` GitRepository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRepositorySpec {
    pub name: String,
    pub namespace: String,
    /// A smart-HTTP URL the source-controller pod can reach, e.g. `http://172.17.0.1:8419/e2e.git`.
    pub url: String,
    pub branch: String,
    pub interval: Duration,
}

impl GitRepositorySpec {
    /// `flux-system/flux-system`, branch `main`, interval 1m.
    pub fn new(url: impl Into<String>) -> Self {
        GitRepositorySpec {
            name: DEFAULT_NAME.into(),
            namespace: DEFAULT_NAMESPACE.into(),
            url: url.into(),
            branch: DEFAULT_BRANCH.into(),
            interval: Duration::from_secs(60),
        }
    }

    pub fn to_value(&self) -> Value {
        let kind = FluxKind::GitRepository;
        json!({
            "apiVersion": kind.api_version(),
            "kind": kind.kind(),
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "interval": go_duration(self.interval),
                "url": self.url,
                "ref": {"branch": self.branch},
            }
        })
    }

    pub fn to_dynamic(&self) -> Result<DynamicObject> {
        to_dynamic(self.to_value())
    }
}

/// A `kustomize.toolkit.fluxcd.io/v1` Kustomization applying `path` from a GitRepository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KustomizationSpec {
    pub name: String,
    pub namespace: String,
    /// The GitRepository's name (same namespace).
    pub source: String,
    pub path: String,
    pub prune: bool,
    pub interval: Duration,
}

impl KustomizationSpec {
    /// `flux-system/flux-system`, path `./clusters/e2e`, prune, interval 1m, source the GitRepository `source`.
    pub fn new(source: impl Into<String>) -> Self {
        KustomizationSpec {
            name: DEFAULT_NAME.into(),
            namespace: DEFAULT_NAMESPACE.into(),
            source: source.into(),
            path: DEFAULT_PATH.into(),
            prune: true,
            interval: Duration::from_secs(60),
        }
    }

    /// The Kustomization for `git`: same name and namespace, source it.
    pub fn for_source(git: &GitRepositorySpec) -> Self {
        KustomizationSpec {
            name: git.name.clone(),
            namespace: git.namespace.clone(),
            ..Self::new(git.name.clone())
        }
    }

    pub fn to_value(&self) -> Value {
        let kind = FluxKind::Kustomization;
        json!({
            "apiVersion": kind.api_version(),
            "kind": kind.kind(),
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "interval": go_duration(self.interval),
                "path": self.path,
                "prune": self.prune,
                "sourceRef": {"kind": FluxKind::GitRepository.kind(), "name": self.source},
            }
        })
    }

    pub fn to_dynamic(&self) -> Result<DynamicObject> {
        to_dynamic(self.to_value())
    }
}

fn to_dynamic(v: Value) -> Result<DynamicObject> {
    serde_json::from_value(v).map_err(|e| Error::Other(format!("building a Flux object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_repository_object() {
        let git = GitRepositorySpec::new("http://172.17.0.1:8419/e2e.git");
        assert_eq!(
            git.to_value(),
            json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "flux-system", "namespace": "flux-system"},
                "spec": {"interval": "1m0s", "url": "http://172.17.0.1:8419/e2e.git", "ref": {"branch": "main"}}
            })
        );
        let d = git.to_dynamic().unwrap();
        assert_eq!(d.metadata.name.as_deref(), Some("flux-system"));
        assert_eq!(d.types.unwrap().kind, "GitRepository");
    }

    #[test]
    fn kustomization_object() {
        let git = GitRepositorySpec::new("http://172.17.0.1:8419/e2e.git");
        let k = KustomizationSpec::for_source(&git);
        assert_eq!(
            k.to_value(),
            json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "flux-system", "namespace": "flux-system"},
                "spec": {"interval": "1m0s", "path": "./clusters/e2e", "prune": true,
                         "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}
            })
        );
        assert_eq!(
            k.to_dynamic().unwrap().data["spec"]["sourceRef"]["name"],
            "flux-system"
        );
    }

    /// The objects pass the served CRDs' required fields (read from the pinned components file).
    #[test]
    fn objects_have_the_crd_required_fields() {
        let path = crate::test_support::flux_components_file();
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let docs = crate::yaml::parse_yaml_documents(&text, &path).unwrap();
        let git = GitRepositorySpec::new("http://172.17.0.1:8419/e2e.git").to_value();
        let ks = KustomizationSpec::new("flux-system").to_value();
        for obj in [git, ks] {
            let crd = docs
                .iter()
                .find(|d| {
                    d["kind"] == "CustomResourceDefinition"
                        && d["spec"]["names"]["kind"] == obj["kind"]
                })
                .unwrap();
            let version = crd["spec"]["versions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| {
                    format!(
                        "{}/{}",
                        crd["spec"]["group"].as_str().unwrap(),
                        v["name"].as_str().unwrap()
                    ) == obj["apiVersion"]
                })
                .unwrap();
            let spec_schema = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
            for req in spec_schema["required"].as_array().unwrap() {
                let key = req.as_str().unwrap();
                assert!(
                    obj["spec"].get(key).is_some(),
                    "{} lacks spec.{key}",
                    obj["kind"]
                );
            }
            for key in obj["spec"].as_object().unwrap().keys() {
                assert!(
                    spec_schema["properties"].get(key).is_some(),
                    "{}: spec.{key} is not in the schema",
                    obj["kind"]
                );
            }
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_secs(600)), "10m0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_secs(3725)), "1h2m5s");
    }
}
