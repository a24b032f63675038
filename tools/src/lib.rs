//! External processes (helm, kubectl, git: [`process::Cmd`], with deadlines and process groups) and the chart store
//! ([`chart`]: find, download and verify charts, render them with `helm template`, the render cache).

pub mod chart;
pub mod error;
pub mod private_file;
pub mod process;
pub mod tls;

pub use error::{Error, Result};
pub use headlamp_e2e_model::{duration, yaml};

#[cfg(any(test, feature = "test-support"))]
use headlamp_e2e_test_support as test_support;
