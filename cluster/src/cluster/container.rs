//! The one code path that starts containers: any testcontainers [`Image`], labelled and named after the run, removed
//! on drop (also outside a tokio runtime and while unwinding from a panic) and on SIGINT/SIGTERM (watchdog).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use testcontainers::core::{ContainerPort, ExecCommand};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, Image, ImageExt};

use super::error::ClusterError;

/// Label carried by every container this crate starts (value `true`): `docker ps -aq --filter label=io.headlamp-e2e`.
pub const LABEL: &str = "io.headlamp-e2e";
/// Label naming the run that started a container (value: the [`RunId`]).
pub const RUN_LABEL: &str = "io.headlamp-e2e.run";

/// Identifies one harness run; the value of [`RUN_LABEL`] and part of every container name.
/// 1 to 40 characters of `[A-Za-z0-9_.-]`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    /// Validate a caller-chosen id (e.g. CI's run number).
    pub fn new(value: impl Into<String>) -> Result<Self, ClusterError> {
        let value = value.into();
        let invalid = |reason: &str| ClusterError::InvalidRunId {
            value: value.clone(),
            reason: reason.to_owned(),
        };
        if value.is_empty() || value.len() > 40 {
            return Err(invalid("must be 1 to 40 characters"));
        }
        if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(invalid("must start with a letter or digit"));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(invalid(
                "only letters, digits, '_', '.' and '-' are allowed",
            ));
        }
        Ok(Self(value))
    }

    /// A fresh id: UTC time, process id and a random suffix, e.g. `20260501t101530-4242-9f3a`.
    pub fn generate() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let now = jiff::Timestamp::now().strftime("%Y%m%dt%H%M%S");
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(jiff::Timestamp::now().as_nanosecond().unsigned_abs());
        let suffix = hasher.finish() & 0xffff;
        Self(format!("{now}-{}-{suffix:04x}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

static CONTAINER_SEQ: AtomicU32 = AtomicU32::new(1);

fn next_container_name(run: &RunId) -> String {
    let seq = CONTAINER_SEQ.fetch_add(1, Ordering::Relaxed);
    format!("headlamp-e2e-{run}-{seq}")
}

/// Output of a command run in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// `None` if Docker had not recorded an exit code a second after the output ended.
    pub exit_code: Option<i64>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A started, labelled container. Dropping it removes it (force, with volumes); [`Container::remove`] does so
/// explicitly and reports errors.
pub struct Container<I: Image> {
    inner: Option<ContainerAsync<I>>,
    name: String,
    image: String,
    run: RunId,
}

impl<I: Image> fmt::Debug for Container<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Container")
            .field("name", &self.name)
            .field("id", &self.id())
            .field("image", &self.image)
            .field("run", &self.run)
            .finish()
    }
}

/// Start `request` with the labels [`LABEL`]`=true` and [`RUN_LABEL`]`=<run>` and the name
/// `headlamp-e2e-<run>-<n>`, waiting for the image's ready conditions within the request's startup timeout.
/// If starting fails after the container was created, the container is removed before the error is returned.
pub async fn start_container<I: Image>(
    request: impl Into<ContainerRequest<I>>,
    run: &RunId,
) -> Result<Container<I>, ClusterError> {
    let request: ContainerRequest<I> = request.into();
    let image = request.descriptor();
    let name = next_container_name(run);
    let request = request
        .with_labels([(LABEL, "true"), (RUN_LABEL, run.as_str())])
        .with_container_name(&name);
    tracing::info!(container = %name, image = %image, "starting container");
    let started = std::time::Instant::now();
    match request.start().await {
        Ok(inner) => {
            tracing::info!(container = %name, id = %inner.id(), elapsed = ?started.elapsed(), "container ready");
            Ok(Container {
                inner: Some(inner),
                name,
                image,
                run: run.clone(),
            })
        }
        Err(source) => {
            remove_by_name(&name).await;
            Err(ClusterError::Start {
                image,
                name,
                source: Box::new(source),
            })
        }
    }
}

/// Best-effort removal of a container that testcontainers created but did not hand back (e.g. `start` failed).
async fn remove_by_name(name: &str) {
    use testcontainers::bollard::query_parameters::RemoveContainerOptionsBuilder;
    let Ok(docker) = testcontainers::core::client::docker_client_instance().await else {
        return;
    };
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => tracing::info!(container = %name, "removed container after failed start"),
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => {}
        Err(e) => {
            tracing::warn!(container = %name, error = %e, "could not remove container after failed start")
        }
    }
}

impl<I: Image> Container<I> {
    fn inner(&self) -> &ContainerAsync<I> {
        // `inner` is only taken by `remove(self)` and `drop`, which consume the container.
        self.inner
            .as_ref()
            .unwrap_or_else(|| unreachable!("container {} used after removal", self.name))
    }

    /// The underlying testcontainers handle, for what this wrapper does not cover.
    pub fn as_testcontainer(&self) -> &ContainerAsync<I> {
        self.inner()
    }

    pub fn id(&self) -> &str {
        self.inner.as_ref().map(|c| c.id()).unwrap_or("<removed>")
    }

    /// The Docker container name, `headlamp-e2e-<run>-<n>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image reference, `name:tag`.
    pub fn image_ref(&self) -> &str {
        &self.image
    }

    pub fn run_id(&self) -> &RunId {
        &self.run
    }

    fn err(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(testcontainers::TestcontainersError) -> ClusterError {
        let name = self.name.clone();
        let action = action.into();
        move |source| ClusterError::Container {
            name,
            action,
            source: Box::new(source),
        }
    }

    /// The host port (IPv4) that `port` is published on.
    pub async fn host_port(&self, port: ContainerPort) -> Result<u16, ClusterError> {
        self.inner()
            .get_host_port_ipv4(port)
            .await
            .map_err(self.err(format!("looking up the host port of {port:?}")))
    }

    /// The host at which published ports are reachable (`localhost` for a local engine).
    pub async fn host(&self) -> Result<String, ClusterError> {
        self.inner()
            .get_host()
            .await
            .map(|h| h.to_string())
            .map_err(self.err("looking up the container host"))
    }

    /// Run `cmd` in the container and collect its output and exit code.
    pub async fn exec<S: Into<String>>(
        &self,
        cmd: impl IntoIterator<Item = S>,
    ) -> Result<ExecOutput, ClusterError> {
        let cmd: Vec<String> = cmd.into_iter().map(Into::into).collect();
        let action = format!(
            "exec {:?}",
            cmd.first().map(String::as_str).unwrap_or_default()
        );
        let mut result = self
            .inner()
            .exec(ExecCommand::new(cmd))
            .await
            .map_err(self.err(action.clone()))?;
        let stdout = result
            .stdout_to_vec()
            .await
            .map_err(self.err(action.clone()))?;
        let stderr = result
            .stderr_to_vec()
            .await
            .map_err(self.err(action.clone()))?;
        // The output streams can end a moment before Docker records the exit code.
        let mut exit_code = None;
        for _ in 0..20 {
            exit_code = result.exit_code().await.map_err(self.err(action.clone()))?;
            if exit_code.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(ExecOutput {
            exit_code,
            stdout,
            stderr,
        })
    }

    /// Copy one regular file out of the container.
    pub async fn copy_file_out(&self, path: &str) -> Result<Vec<u8>, ClusterError> {
        self.inner()
            .copy_file_from(path, Vec::new())
            .await
            .map_err(self.err(format!("copying {path} out")))
    }

    /// The container's stdout and stderr so far (for diagnostics).
    pub async fn logs(&self) -> Result<(Vec<u8>, Vec<u8>), ClusterError> {
        let inner = self.inner();
        let stdout = inner
            .stdout_to_vec()
            .await
            .map_err(self.err("reading stdout"))?;
        let stderr = inner
            .stderr_to_vec()
            .await
            .map_err(self.err("reading stderr"))?;
        Ok((stdout, stderr))
    }

    /// Remove the container now (force), reporting failure instead of logging it as drop does.
    pub async fn remove(mut self) -> Result<(), ClusterError> {
        let name = self.name.clone();
        match self.inner.take() {
            Some(inner) => inner.rm().await.map_err(|source| ClusterError::Container {
                name,
                action: "removing".into(),
                source: Box::new(source),
            }),
            None => Ok(()),
        }
    }
}

impl<I: Image> Drop for Container<I> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        tracing::debug!(container = %self.name, "removing container on drop");
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(inner);
            return;
        }
        // testcontainers' drop needs a runtime context (e.g. a std thread that panicked while holding the
        // container): enter a throwaway one; the removal itself runs on testcontainers' drop worker.
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let _guard = runtime.enter();
                drop(inner);
            }
            Err(e) => {
                tracing::error!(
                    container = %self.name,
                    error = %e,
                    "cannot remove container outside a tokio runtime; remove it with `docker rm -f {}`",
                    self.name
                );
                std::mem::forget(inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_validated() {
        assert!(RunId::new("gh-123.4_x").is_ok());
        for bad in ["", "-x", "a b", "a/b", "é", &"x".repeat(41)] {
            assert!(RunId::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn generated_run_ids_are_valid_and_distinct() {
        let a = RunId::generate();
        let b = RunId::generate();
        assert!(RunId::new(a.as_str()).is_ok(), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn container_names_carry_the_run() {
        let run = RunId::new("r1").expect("valid");
        let a = next_container_name(&run);
        let b = next_container_name(&run);
        assert!(a.starts_with("headlamp-e2e-r1-"), "{a}");
        assert_ne!(a, b);
    }
}
