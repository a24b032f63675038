//! The GitOps fixtures as a git repository, served over smart HTTP for Flux's source-controller inside k3s.
//!
//! [`GitRepo`] drives the `git` CLI (commits with a fixed author, branches, merges). [`GitServer`] runs
//! `git http-backend` as a CGI program per request behind a small hyper server: go-git (Flux) speaks only the smart
//! protocol, which http-backend implements (v0/v1 and, for the `git` CLI, v2). Bind it to the Docker bridge gateway
//! ([`crate::cluster::bridge_gateway`]) so pods reach it by IP.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout};

use crate::process::Cmd;

/// Author and committer of every commit [`GitRepo`] makes.
pub const AUTHOR_NAME: &str = "headlamp-e2e";
pub const AUTHOR_EMAIL: &str = "headlamp-e2e@example.invalid";

/// Errors from the git CLI and the git server; git's own stderr is kept.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("`git {args}` in {dir} failed ({status}): {output}")]
    Command {
        args: String,
        dir: PathBuf,
        status: String,
        output: String,
    },

    /// git could not be started (is it installed and on PATH?) or did not finish within its deadline.
    #[error("git: {0}")]
    Run(#[source] crate::process::ProcessError),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{what} {value:?} is not allowed: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error("binding the git server to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> GitError + '_ {
    move |source| GitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A `git` command isolated from the user's and system's configuration and from inherited repository variables,
/// with hooks and signing off and the fixed author; run through [`crate::process`] (deadline, process group).
fn git_command(dir: &Path) -> Cmd {
    let mut cmd = Cmd::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
        .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
        .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
        .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
    ] {
        cmd = cmd.env_remove(var);
    }
    cmd
}

/// Run git in `dir`; stdout (trimmed) on success, an error with git's stderr (or stdout) otherwise.
async fn run_git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = git_command(dir)
        .args(args)
        .run()
        .await
        .map_err(GitError::Run)?;
    let stdout = output.stdout_text();
    if output.success() {
        tracing::debug!(dir = %dir.display(), args = ?args, "git ok");
        return Ok(stdout);
    }
    let stderr = output.stderr_text();
    Err(GitError::Command {
        args: args.join(" "),
        dir: dir.to_path_buf(),
        status: output.status.to_string(),
        output: if stderr.is_empty() { stdout } else { stderr },
    })
}

fn check_ref_name(what: &'static str, name: &str) -> Result<(), GitError> {
    let invalid = |reason| GitError::Invalid {
        what,
        value: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    if name.starts_with('-') {
        return Err(invalid("starts with '-'"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains whitespace or control characters"));
    }
    Ok(())
}

/// A relative path inside the work tree: no absolute paths, no `..`, not under `.git`.
fn check_relative(rel: &Path) -> Result<(), GitError> {
    let invalid = |reason| GitError::Invalid {
        what: "path",
        value: rel.display().to_string(),
        reason,
    };
    let mut components = rel.components().peekable();
    if components.peek().is_none() {
        return Err(invalid("empty"));
    }
    for (i, c) in components.enumerate() {
        match c {
            Component::Normal(part) if i == 0 && part == ".git" => {
                return Err(invalid("inside .git"));
            }
            Component::Normal(_) | Component::CurDir => {}
            _ => return Err(invalid("must be relative, without `..`")),
        }
    }
    Ok(())
}

/// Copy `src` to `dest` recursively, skipping `.git`; symlinks are copied as symlinks.
fn copy_tree(src: &Path, dest: &Path) -> Result<(), GitError> {
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    for entry in std::fs::read_dir(src).map_err(io_err(src))? {
        let entry = entry.map_err(io_err(src))?;
        if entry.file_name() == ".git" {
            continue;
        }
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let file_type = entry.file_type().map_err(io_err(&from))?;
        if file_type.is_dir() {
            copy_tree(&from, &to)?;
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(&from).map_err(io_err(&from))?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &to).map_err(io_err(&to))?;
            #[cfg(not(unix))]
            std::fs::copy(&from, &to).map(drop).map_err(io_err(&from))?;
        } else {
            std::fs::copy(&from, &to).map_err(io_err(&from))?;
        }
    }
    Ok(())
}

/// A non-bare git repository with a work tree, driven through the `git` CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRepo {
    path: PathBuf,
}

impl GitRepo {
    /// Copy the tree at `src` (without any `.git`) to `dest` (absent or empty), `git init -b main` and commit it all
    /// as [`AUTHOR_NAME`]. To serve it with [`GitServer`] as `<name>.git`, use `dest = <root>/<name>.git`.
    pub async fn create_from_dir(src: &Path, dest: &Path) -> Result<GitRepo, GitError> {
        if !src.is_dir() {
            return Err(GitError::Io {
                path: src.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        if dest.exists()
            && std::fs::read_dir(dest)
                .map_err(io_err(dest))?
                .next()
                .is_some()
        {
            return Err(GitError::Io {
                path: dest.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "destination is not empty",
                ),
            });
        }
        let (from, to) = (src.to_path_buf(), dest.to_path_buf());
        tokio::task::spawn_blocking(move || copy_tree(&from, &to))
            .await
            .map_err(|e| GitError::Io {
                path: dest.to_path_buf(),
                source: std::io::Error::other(e),
            })??;
        let repo = GitRepo {
            path: dest.to_path_buf(),
        };
        repo.git(&["init", "-q", "-b", "main"]).await?;
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        repo.commit_all(&format!("Import {name}")).await?;
        Ok(repo)
    }

    /// An existing repository (checked with `git rev-parse`).
    pub async fn open(path: &Path) -> Result<GitRepo, GitError> {
        let repo = GitRepo {
            path: path.to_path_buf(),
        };
        repo.git(&["rev-parse", "--git-dir"]).await?;
        Ok(repo)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run any git command in this repository.
    pub async fn git(&self, args: &[&str]) -> Result<String, GitError> {
        run_git(&self.path, args).await
    }

    /// Write a file in the work tree (parents created); `rel` must stay inside it.
    pub async fn write_file(
        &self,
        rel: impl AsRef<Path>,
        contents: impl AsRef<[u8]>,
    ) -> Result<(), GitError> {
        let rel = rel.as_ref();
        check_relative(rel)?;
        let path = self.path.join(rel);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io_err(parent))?;
        }
        tokio::fs::write(&path, contents)
            .await
            .map_err(io_err(&path))
    }

    /// Delete a file from the work tree.
    pub async fn remove_file(&self, rel: impl AsRef<Path>) -> Result<(), GitError> {
        let rel = rel.as_ref();
        check_relative(rel)?;
        let path = self.path.join(rel);
        tokio::fs::remove_file(&path).await.map_err(io_err(&path))
    }

    /// Stage everything and commit; returns the new HEAD sha. Fails (with git's message) if nothing changed.
    pub async fn commit_all(&self, message: &str) -> Result<String, GitError> {
        self.git(&["add", "-A"]).await?;
        self.git(&["commit", "-q", "-m", message]).await?;
        self.head_sha().await
    }

    /// Create a branch at HEAD and switch to it.
    pub async fn create_branch(&self, name: &str) -> Result<(), GitError> {
        check_ref_name("branch", name)?;
        self.git(&["switch", "-q", "-c", name]).await.map(drop)
    }

    /// Switch to an existing branch.
    pub async fn switch(&self, name: &str) -> Result<(), GitError> {
        check_ref_name("branch", name)?;
        self.git(&["switch", "-q", name]).await.map(drop)
    }

    /// Merge `branch` into the current branch with a merge commit (`--no-ff`); returns the new HEAD sha.
    pub async fn merge(&self, branch: &str, message: &str) -> Result<String, GitError> {
        check_ref_name("branch", branch)?;
        self.git(&["merge", "-q", "--no-ff", "-m", message, branch])
            .await?;
        self.head_sha().await
    }

    /// The 40-hex sha of HEAD.
    pub async fn head_sha(&self) -> Result<String, GitError> {
        self.git(&["rev-parse", "HEAD"]).await
    }

    /// The checked-out branch.
    pub async fn current_branch(&self) -> Result<String, GitError> {
        self.git(&["symbolic-ref", "--short", "HEAD"]).await
    }

    /// Every local branch and the sha it points at.
    pub async fn branch_shas(&self) -> Result<BTreeMap<String, String>, GitError> {
        let out = self
            .git(&[
                "for-each-ref",
                "--format=%(refname:short) %(objectname)",
                "refs/heads",
            ])
            .await?;
        Ok(out
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(branch, sha)| (branch.to_owned(), sha.to_owned()))
            .collect())
    }
}

type ResponseBody = UnsyncBoxBody<Bytes, std::io::Error>;

#[derive(Debug)]
struct ServerConfig {
    root: PathBuf,
    path_env: Option<std::ffi::OsString>,
}

/// Serves every repository under a root directory over smart HTTP (read-only: upload-pack) until dropped.
#[derive(Debug)]
pub struct GitServer {
    addr: SocketAddr,
    root: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl GitServer {
    /// Listen on `<ip>:0` and serve the repositories under `root` (`<root>/<name>.git`, bare or with a work tree).
    /// Pass the Docker bridge gateway as `ip` for pods in k3s, 127.0.0.1 for the host only.
    pub async fn start(root: impl Into<PathBuf>, ip: IpAddr) -> Result<GitServer, GitError> {
        let root = root.into();
        let root = std::fs::canonicalize(&root).map_err(io_err(&root))?;
        let requested = SocketAddr::new(ip, 0);
        let listener = tokio::net::TcpListener::bind(requested)
            .await
            .map_err(|source| GitError::Bind {
                addr: requested,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| GitError::Bind {
            addr: requested,
            source,
        })?;
        let config = Arc::new(ServerConfig {
            root: root.clone(),
            path_env: std::env::var_os("PATH"),
        });
        let task = tokio::spawn(accept_loop(listener, config));
        tracing::info!(%addr, root = %root.display(), "git server listening");
        Ok(GitServer { addr, root, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `http://<ip>:<port>`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The clone URL of `<root>/<repo>.git`: `http://<ip>:<port>/<repo>.git`.
    pub fn url(&self, repo: &str) -> String {
        format!("{}/{}.git", self.base_url(), repo.trim_end_matches(".git"))
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection; their CGI children are
        // spawned with kill_on_drop.
        self.task.abort();
        tracing::debug!(addr = %self.addr, "git server stopped");
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, config: Arc<ServerConfig>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let config = Arc::clone(&config);
                    connections.spawn(serve_connection(stream, remote, config));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "git server: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    config: Arc<ServerConfig>,
) {
    let service = hyper::service::service_fn(move |request| {
        let config = Arc::clone(&config);
        async move { Ok::<_, Infallible>(handle(request, remote, &config).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%remote, error = %e, "git server: connection ended with an error");
    }
}

fn text_response(status: StatusCode, message: impl Into<String>) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(message.into()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Decode `%XX` escapes; `None` for malformed escapes or non-UTF-8 results.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The CGI `PATH_INFO` for a request path, refusing anything that could leave the project root.
fn path_info(raw_path: &str) -> Option<String> {
    let path = percent_decode(raw_path)?;
    if !path.starts_with('/') || path.contains('\0') || path.contains('\\') {
        return None;
    }
    if path.split('/').any(|segment| segment == "..") {
        return None;
    }
    Some(path)
}

/// CGI meta-variable for a request header, or `None` for headers passed otherwise or never
/// (`Proxy` would become `HTTP_PROXY`: httpoxy).
fn cgi_header_var(name: &HeaderName) -> Option<String> {
    let name = name.as_str();
    if matches!(
        name,
        "content-type" | "content-length" | "proxy" | "authorization"
    ) {
        return None;
    }
    Some(format!(
        "HTTP_{}",
        name.to_ascii_uppercase().replace('-', "_")
    ))
}

async fn handle(
    request: Request<Incoming>,
    remote: SocketAddr,
    config: &ServerConfig,
) -> Response<ResponseBody> {
    let Some(path_info) = path_info(request.uri().path()) else {
        return text_response(StatusCode::BAD_REQUEST, "bad path\n");
    };
    // one CGI run per request, through the crate's runner: own process group, killed with the response body (or
    // at the deadline), never left running
    let timeout = match crate::process::default_timeout() {
        Ok(t) => t,
        Err(e) => return text_response(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    };
    let mut cgi = Cmd::new("git")
        .arg("http-backend")
        .env_clear()
        .env("GIT_PROJECT_ROOT", &config.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("SERVER_SOFTWARE", "headlamp-e2e-gitserver")
        .env("REQUEST_METHOD", request.method().as_str())
        .env("PATH_INFO", &path_info)
        .env("QUERY_STRING", request.uri().query().unwrap_or_default())
        .env("REMOTE_ADDR", remote.ip().to_string())
        .env("REMOTE_PORT", remote.port().to_string());
    if let Some(path) = &config.path_env {
        cgi = cgi.env("PATH", path);
    }
    let headers = request.headers();
    if let Some(v) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        cgi = cgi.env("CONTENT_TYPE", v);
    }
    if let Some(v) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    {
        cgi = cgi.env("CONTENT_LENGTH", v);
    }
    for (name, value) in headers {
        if let (Some(var), Ok(value)) = (cgi_header_var(name), value.to_str()) {
            cgi = cgi.env(var, value);
        }
    }
    let mut cmd = cgi.tokio_command();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let method = request.method().clone();
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!(error = %e, "git server: cannot run git http-backend");
            return text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot run git http-backend\n",
            );
        }
    };
    let group = child.id().map(crate::process::Running::track);
    let deadline = tokio::time::Instant::now() + timeout;
    if let Some(stdin) = child.stdin.take() {
        tokio::spawn(feed_stdin(request.into_body(), stdin));
    }
    if let Some(mut stderr) = child.stderr.take() {
        let path = path_info.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            if stderr.read_to_string(&mut text).await.is_ok() && !text.trim().is_empty() {
                tracing::warn!(path = %path, stderr = %text.trim(), "git http-backend");
            }
        });
    }
    let Some(stdout) = child.stdout.take() else {
        return text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "git http-backend has no stdout\n",
        );
    };
    let mut reader = BufReader::new(stdout);
    let mut response = Response::new(());
    let mut header_lines = 0;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) => {
                return text_response(
                    StatusCode::BAD_GATEWAY,
                    "git http-backend ended before its headers\n",
                );
            }
            Ok(_) => {}
            Err(e) => {
                return text_response(
                    StatusCode::BAD_GATEWAY,
                    format!("reading git http-backend: {e}\n"),
                );
            }
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        header_lines += 1;
        if header_lines > 100 {
            return text_response(
                StatusCode::BAD_GATEWAY,
                "git http-backend sent too many headers\n",
            );
        }
        let Some((name, value)) = line.split_once(':') else {
            return text_response(
                StatusCode::BAD_GATEWAY,
                "git http-backend sent a malformed header\n",
            );
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok());
            match code.and_then(|c| StatusCode::from_u16(c).ok()) {
                Some(status) => *response.status_mut() = status,
                None => {
                    return text_response(
                        StatusCode::BAD_GATEWAY,
                        "git http-backend sent a bad Status\n",
                    );
                }
            }
        } else if let (Ok(name), Ok(value)) =
            (HeaderName::try_from(name), HeaderValue::try_from(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    tracing::debug!(%method, path = %path_info, status = %response.status(), "git request");
    let body = StreamBody::new(stdout_stream(
        reader,
        CgiChild {
            child,
            _group: group,
            deadline,
        },
    ))
    .boxed_unsync();
    let (parts, ()) = response.into_parts();
    Response::from_parts(parts, body)
}

async fn feed_stdin(mut body: Incoming, mut stdin: tokio::process::ChildStdin) {
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return;
        };
        if let Ok(data) = frame.into_data()
            && stdin.write_all(&data).await.is_err()
        {
            return;
        }
    }
    let _ = stdin.shutdown().await;
}

/// A running `git http-backend`: its process group dies with it (a dropped response body kills it), and its output
/// must be complete by `deadline`.
struct CgiChild {
    child: Child,
    _group: Option<crate::process::Running>,
    deadline: tokio::time::Instant,
}

/// The rest of the CGI output as body frames; reaps the child at the end (dropping early kills it).
fn stdout_stream(
    reader: BufReader<ChildStdout>,
    child: CgiChild,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send {
    futures::stream::unfold(Some((reader, child)), |state| async move {
        let (mut reader, mut child) = state?;
        let mut buf = vec![0u8; 32 * 1024];
        let read = tokio::time::timeout_at(child.deadline, reader.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) => {
                let _ = child.child.wait().await;
                None
            }
            Ok(Ok(n)) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some((reader, child))))
            }
            Ok(Err(e)) => Some((Err(e), None)),
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "git http-backend did not finish within its deadline (${})",
                        crate::process::TIMEOUT_ENV
                    ),
                )),
                None,
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/gitops")
    }

    async fn served_fixtures() -> (tempfile::TempDir, GitRepo, GitServer) {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = GitRepo::create_from_dir(&fixtures(), &dir.path().join("fixtures.git"))
            .await
            .expect("repo from fixtures");
        let server = GitServer::start(dir.path(), LOCALHOST)
            .await
            .expect("server");
        (dir, repo, server)
    }

    /// `git ls-remote` with an isolated client: ref -> sha.
    async fn ls_remote(url: &str, protocol: &str) -> BTreeMap<String, String> {
        let cwd = std::env::temp_dir();
        let out = run_git(
            &cwd,
            &[
                "-c",
                &format!("protocol.version={protocol}"),
                "ls-remote",
                url,
            ],
        )
        .await
        .expect("ls-remote");
        out.lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(sha, r)| (r.to_owned(), sha.to_owned()))
            .collect()
    }

    #[test]
    fn paths_and_headers() {
        assert_eq!(
            path_info("/fixtures.git/info/refs").as_deref(),
            Some("/fixtures.git/info/refs")
        );
        assert_eq!(
            path_info("/a%20b.git/HEAD").as_deref(),
            Some("/a b.git/HEAD")
        );
        assert_eq!(path_info("/../etc/passwd"), None);
        assert_eq!(path_info("/x/%2e%2e/y"), None);
        assert_eq!(path_info("/x%zz"), None);
        assert_eq!(path_info("relative"), None);
        assert_eq!(
            cgi_header_var(&HeaderName::from_static("git-protocol")).as_deref(),
            Some("HTTP_GIT_PROTOCOL")
        );
        assert_eq!(cgi_header_var(&HeaderName::from_static("proxy")), None);
        assert_eq!(
            cgi_header_var(&HeaderName::from_static("content-type")),
            None
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_ref_name("branch", "feature/x").is_ok());
        assert!(check_ref_name("branch", "-f").is_err());
        assert!(check_ref_name("branch", "a b").is_err());
        assert!(check_relative(Path::new("apps/x.yaml")).is_ok());
        assert!(check_relative(Path::new("../x")).is_err());
        assert!(check_relative(Path::new("/etc/x")).is_err());
        assert!(check_relative(Path::new(".git/config")).is_err());
    }

    #[tokio::test]
    async fn repo_commits_branches_and_merges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = GitRepo::create_from_dir(&fixtures(), &dir.path().join("r.git"))
            .await
            .expect("repo");
        assert_eq!(repo.current_branch().await.expect("branch"), "main");
        let first = repo.head_sha().await.expect("sha");
        assert_eq!(first.len(), 40);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        let author = repo
            .git(&["log", "-1", "--format=%an <%ae>|%cn"])
            .await
            .expect("log");
        assert_eq!(
            author,
            format!("{AUTHOR_NAME} <{AUTHOR_EMAIL}>|{AUTHOR_NAME}")
        );
        // The tree was copied: a tracked file from the fixtures exists.
        let files = repo.git(&["ls-files"]).await.expect("ls-files");
        assert!(files.lines().any(|f| f.ends_with(".yaml")), "{files}");

        let err = repo
            .commit_all("nothing")
            .await
            .expect_err("nothing to commit");
        assert!(err.to_string().contains("nothing to commit"), "{err}");

        repo.create_branch("feature").await.expect("branch");
        repo.write_file("notes/feature.txt", "hello\n")
            .await
            .expect("write");
        let feature = repo.commit_all("Add a note").await.expect("commit");
        repo.switch("main").await.expect("switch");
        assert_eq!(repo.head_sha().await.expect("sha"), first);
        let merged = repo.merge("feature", "Merge feature").await.expect("merge");
        let parents = repo
            .git(&["rev-list", "--parents", "-n", "1", "HEAD"])
            .await
            .expect("parents");
        assert_eq!(parents, format!("{merged} {first} {feature}"));
        let branches = repo.branch_shas().await.expect("branches");
        assert_eq!(branches.get("main"), Some(&merged));
        assert_eq!(branches.get("feature"), Some(&feature));

        let err = repo
            .switch("does-not-exist")
            .await
            .expect_err("no such branch");
        assert!(err.to_string().contains("does-not-exist"), "{err}");
        assert!(repo.write_file("../escape", "x").await.is_err());
        let again = GitRepo::create_from_dir(&fixtures(), repo.path()).await;
        assert!(again.is_err(), "destination not empty");
        assert_eq!(GitRepo::open(repo.path()).await.expect("open"), repo);
    }

    #[tokio::test]
    async fn smart_http_clone_and_ls_remote() {
        let (dir, repo, server) = served_fixtures().await;
        let url = server.url("fixtures");
        assert_eq!(
            url,
            format!("http://127.0.0.1:{}/fixtures.git", server.addr().port())
        );
        let head = repo.head_sha().await.expect("sha");

        // Protocol v0 (what go-git speaks) and v2 (the git CLI's default).
        for protocol in ["0", "2"] {
            let refs = ls_remote(&url, protocol).await;
            assert_eq!(
                refs.get("refs/heads/main"),
                Some(&head),
                "protocol {protocol}: {refs:?}"
            );
            assert_eq!(
                refs.get("HEAD"),
                Some(&head),
                "protocol {protocol}: {refs:?}"
            );
        }

        let clone = dir.path().join("clone");
        let clone_str = clone.to_string_lossy().into_owned();
        run_git(dir.path(), &["clone", "-q", &url, &clone_str])
            .await
            .expect("clone");
        let cloned = GitRepo::open(&clone).await.expect("open clone");
        assert_eq!(cloned.head_sha().await.expect("sha"), head);
        assert!(clone.join("clusters").is_dir());

        // A new commit is visible to the next ls-remote, and a fetch gets it.
        repo.write_file("apps/extra.txt", "more\n")
            .await
            .expect("write");
        let second = repo.commit_all("Second").await.expect("commit");
        assert_ne!(second, head);
        let refs = ls_remote(&url, "0").await;
        assert_eq!(refs.get("refs/heads/main"), Some(&second));
        cloned
            .git(&["pull", "-q", "--ff-only"])
            .await
            .expect("pull");
        assert_eq!(cloned.head_sha().await.expect("sha"), second);

        // A branch created on the server shows up too.
        repo.create_branch("broken").await.expect("branch");
        let refs = ls_remote(&url, "0").await;
        assert_eq!(refs.get("refs/heads/broken"), Some(&second));
    }

    #[tokio::test]
    async fn info_refs_advertisement_and_errors() {
        crate::tls::install_crypto_provider();
        let (_dir, _repo, server) = served_fixtures().await;
        let http = reqwest::Client::new();
        let response = http
            .get(format!(
                "{}/info/refs?service=git-upload-pack",
                server.url("fixtures")
            ))
            .send()
            .await
            .expect("GET info/refs");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/x-git-upload-pack-advertisement")
        );
        let body = response.text().await.expect("body");
        assert!(
            body.starts_with("001e# service=git-upload-pack\n"),
            "{body:?}"
        );
        assert!(body.contains("refs/heads/main"), "{body:?}");

        // Read-only: receive-pack is refused (http.receivepack is off without authentication).
        let response = http
            .get(format!(
                "{}/info/refs?service=git-receive-pack",
                server.url("fixtures")
            ))
            .send()
            .await
            .expect("GET receive-pack refs");
        assert_eq!(response.status(), 403);

        let missing = http
            .get(format!(
                "{}/info/refs?service=git-upload-pack",
                server.url("nope")
            ))
            .send()
            .await
            .expect("GET missing repo");
        assert_eq!(missing.status(), 404);

        // Raw request: URL libraries would resolve the dot segments before sending.
        let mut stream = tokio::net::TcpStream::connect(server.addr())
            .await
            .expect("connect");
        stream
            .write_all(
                b"GET /x/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await
            .expect("send");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.expect("read");
        assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    }

    #[tokio::test]
    async fn dropping_the_server_closes_the_port() {
        let (_dir, _repo, server) = served_fixtures().await;
        let addr = server.addr();
        drop(server);
        tokio::task::yield_now().await;
        let mut refused = false;
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(refused, "{addr} still accepts connections");
    }
}
