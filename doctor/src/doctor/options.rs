//! What `doctor` is asked to do: the namespace, the GitOps clone, when a release counts as stuck, and whether the
//! values check renders the chart.

use std::path::PathBuf;
use std::time::Duration;

use crate::chart::{ChartStore, Helm};

/// How long Ready=Unknown "Running '<action>' action" may last before it counts as stuck.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(5 * 60);

/// Whether and how the values check renders the chart.
#[derive(Debug, Clone)]
pub enum Render {
    /// Do not render (the values check is skipped with a note).
    Off,
    /// Rendering is impossible here, and why (helm missing): noted, not an error.
    Unavailable(String),
    Tools {
        helm: Helm,
        store: ChartStore,
    },
}

impl Render {
    /// helm from `HELM_BIN` / PATH and the chart store from the environment, or why not.
    pub fn from_env() -> Render {
        match Helm::locate() {
            Ok(helm) => Render::Tools {
                helm,
                store: ChartStore::from_env(),
            },
            Err(e) => Render::Unavailable(e.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The app's namespace (its HelmReleases and pods).
    pub namespace: String,
    /// The local clone of the GitOps repository, for `flux-source-revision`.
    pub gitops: Option<PathBuf>,
    pub stuck_after: Duration,
    pub render: Render,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            namespace: "headlamp".to_string(),
            gitops: None,
            stuck_after: DEFAULT_STUCK_AFTER,
            render: Render::Off,
        }
    }
}
