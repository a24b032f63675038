//! `doctor`: read-only diagnosis of a cluster (live or snapshot) through a [`ClusterView`](crate::view::ClusterView), in the order the user's
//! write-up recommends debugging: the source revision first, a stuck release second, the values third, then what the
//! pods and their logs say.
//!
//! | check | rules |
//! |---|---|
//! | 1 source revision | `flux-source-revision` ([`source`]) |
//! | 2 stuck release | `helmrelease-stuck` ([`release`]) |
//! | 3 values | every lint rule on the live HelmRelease rendered with the chart version it runs ([`values`]) |
//! | 4 pods and logs | `image-flag-unsupported`, `rootfs-unwritable-path`, `pod-crashloop` ([`pods`]) |
//!
//! Findings are the lint [`Finding`](crate::finding::Finding)s. A finding from the logs with the same (rule, object) as one from the render is
//! not reported twice: the render's is kept (it knows the values path and every missing flag or mount) and the log
//! evidence is appended to it. A check that cannot run (no `--gitops`, no helm, chart not found) leaves a note, not a
//! finding: the exit code stays "0 = nothing found", and the notes say what was not checked.
//!
//! [`check`] is what a check reports, [`options`] what `doctor` is asked, [`report`] runs the checks in order.

pub mod check;
pub mod options;
pub mod pods;
pub mod release;
pub mod report;
pub mod source;
pub mod values;

pub use crate::duration::{age, parse_go_duration};
pub use check::{Check, Evidence, PodsCheck, object_id};
pub use options::{DEFAULT_STUCK_AFTER, DoctorOptions, Render};
pub use report::{DoctorReport, run};
