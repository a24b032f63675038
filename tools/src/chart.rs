//! Charts: find an exact chart version (local dir, per-user cache, the repository's `index.yaml` with digest check),
//! read what the rules need from the archive, and render with the real `helm template`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::process::{Cmd, ProcessError};
use crate::yaml::parse_yaml_documents;

/// The most bytes of a repository's `index.yaml` read ([`download_from_index`]): a larger answer is refused with an
/// error naming this limit, before it is parsed. The biggest public index this was checked against (Bitnami's, before
/// it was trimmed) is about 20 MiB.
pub const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// The most bytes of a chart archive: a download (its body is read up to this, then refused), a cached or local
/// `.tgz` ([`read_archive`]). Helm itself decompresses at most 100 MiB of a chart (below), so a valid archive is
/// smaller.
pub const MAX_ARCHIVE_BYTES: u64 = 100 * 1024 * 1024;
/// The most bytes all the files of a chart archive decompress to, as Helm's loader bounds them:
/// `MaxDecompressedChartSize` = 100 MiB (helm/helm `pkg/chart/loader/archive/archive.go`, v4; v3:
/// `pkg/chart/loader/archive.go`).
pub const MAX_CHART_DECOMPRESSED_BYTES: u64 = 100 * 1024 * 1024;
/// The most bytes of each chart file lint parses itself (`Chart.yaml`, `values.yaml`, `values.schema.json`): Helm's
/// per-file `MaxDecompressedFileSize` (5 MiB, same file; still enforced by Helm 3, kept as a variable by Helm 4).
/// Parsed into memory a YAML file grows tens of times over, so a bigger one is refused.
pub const MAX_CHART_FILE_BYTES: u64 = 5 * 1024 * 1024;
/// The most bytes of `helm template` output read ([`Helm::template`]): the Headlamp chart renders 20 KiB, a large
/// chart (kube-prometheus-stack without its CRDs) about 2 MiB. More is a `render-failed` finding naming the limit;
/// helm is killed when it writes past it.
pub const MAX_RENDER_BYTES: u64 = 32 * 1024 * 1024;
/// How many chart downloads run at once ([`ChartStore::fetch_all`]).
pub const MAX_PARALLEL_DOWNLOADS: usize = 8;
/// One deadline for all the downloads of one store and its clones, however many [`ChartStore::fetch_all`] calls
/// share it (lint's downloads ahead and its prepare step are two; each request has its own 60 s timeout too): three
/// repositories that never finish answering cost this once, not three times, and not once per call.
pub const DOWNLOADS_DEADLINE: Duration = Duration::from_secs(60);

/// The longest release name Helm accepts, `maxReleaseNameLen` (helm/helm `pkg/chart/v2/util/validate_name.go`, Helm
/// 4; `pkg/chartutil/validate_name.go` in Helm 3); the HelmRelease CRD's `spec.releaseName` has the same
/// `MaxLength=53` (fluxcd/helm-controller `api/v2/helmrelease_types.go`).
pub const MAX_RELEASE_NAME: usize = 53;
/// The longest namespace name: a DNS-1123 label (k8s.io/apimachinery `pkg/util/validation/validation.go`,
/// `DNS1123LabelMaxLength`).
pub const MAX_NAMESPACE_NAME: usize = 63;

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, one DNS-1123 label's characters (no length check).
fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => ok(f) && ok(l) && b.iter().all(|c| ok(c) || *c == b'-'),
        _ => false,
    }
}

/// Why Helm refuses `name` as a release name, or `None`. Helm's `ValidateReleaseName` (helm/helm
/// `pkg/chart/v2/util/validate_name.go`, the helm v4.1.4 lint uses prints the same rule): at most 53 characters and a
/// full match of `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`. So a release name never
/// starts with `-`: it can never be read as one of helm's options.
pub fn release_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the release name is empty".into());
    }
    if name.len() > MAX_RELEASE_NAME {
        return Some(format!(
            "the release name is {} characters long; Helm allows at most {MAX_RELEASE_NAME}",
            name.len()
        ));
    }
    if !name.split('.').all(dns_label) {
        return Some(
            "the release name is not a valid Helm release name (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit: Helm's ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)".into(),
        );
    }
    None
}

/// Why Kubernetes refuses `ns` as a namespace name (a DNS-1123 label, at most 63 characters), or `None`.
pub fn namespace_problem(ns: &str) -> Option<String> {
    if ns.len() > MAX_NAMESPACE_NAME {
        return Some(format!(
            "the namespace is {} characters long; Kubernetes allows at most {MAX_NAMESPACE_NAME}",
            ns.len()
        ));
    }
    if !dns_label(ns) {
        return Some(
            "the namespace is not a DNS-1123 label (lowercase letters, digits and `-`, starting and ending with a letter or digit)".into(),
        );
    }
    None
}

/// The release name helm-controller installs under: a name longer than 53 characters is cut to 40, then `-` and
/// the first 12 hex digits of its sha256 (fluxcd/helm-controller `internal/release/name.go` `ShortenName`, applied
/// to `GetReleaseName()` in `internal/action/install.go`).
pub fn shorten_release_name(name: &str) -> String {
    if name.len() <= MAX_RELEASE_NAME {
        return name.to_string();
    }
    let sum = hex::encode(Sha256::digest(name.as_bytes()));
    // Go slices bytes; a name cut inside a character is not a valid name anyway (and is reported as such)
    let head = String::from_utf8_lossy(&name.as_bytes()[..MAX_RELEASE_NAME - 13]);
    format!("{head}-{}", &sum[..12])
}

/// The chart a HelmRelease asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChartRef {
    pub name: String,
    pub version: String,
    /// HelmRepository `spec.url`, when known.
    pub repo_url: Option<String>,
}

/// What the rules read from a chart archive.
#[derive(Debug, Clone)]
pub struct Chart {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    pub app_version: Option<String>,
    /// `values.yaml`, the chart's defaults.
    pub defaults: Value,
    /// `values.schema.json`, if the chart has one.
    pub schema: Option<Value>,
    /// The documents the `values.schema.json` files of the chart and its subcharts (`charts/`, unpacked or packed)
    /// refer to by URL ([`remote_schema_refs`]), sorted. When there are any, the chart is rendered with
    /// `--skip-schema-validation`: helm would fetch them (lint contacts no host the tree does not name as a chart
    /// source), and offline the render fails although the values are not at fault.
    pub remote_schema_refs: Vec<String>,
    /// The top-level values keys that hold a subchart's values (its dependency alias, else its name), sorted: Helm
    /// hands the map under such a key to that subchart ([`merge_subchart_defaults`]), so its keys are the subchart's
    /// settings, not the chart's own (a "moved" suggestion never points into one, [`crate::lint::values`]).
    pub subchart_keys: Vec<String>,
    /// sha256 of the archive (hex), for the render cache's key.
    pub sha256: String,
}

/// The Headlamp chart archives this project carries (`data/upstream/charts`, each with its provenance and sha256 in
/// `data/upstream/provenance.json`): what the tests render and what `cargo xtask lint` of the fixtures renders
/// offline. `None` when the binary runs away from its checkout.
pub fn bundled_charts_dir() -> Option<PathBuf> {
    // this crate is `tools/` in the project root
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    Some(root.join("data/upstream/charts")).filter(|d| d.is_dir())
}

/// Where charts are looked for, in order: `$HEADLAMP_E2E_CHARTS`, the per-user cache, the repository.
#[derive(Debug, Clone, Default)]
pub struct ChartStore {
    pub charts_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub offline: bool,
    /// Each repository's `index.yaml` as this store (and its clones) got it: however many charts one lint fetches
    /// from a repository, its index is asked for once ([`ChartStore::fetch_all`]).
    pub indexes: IndexMemo,
}

/// Parsed repository indexes by index URL, or why one could not be had (`(url, message)`), and when the store's
/// download deadline ends (set by the first [`ChartStore::fetch_all`]), shared by clones.
#[derive(Debug, Clone, Default)]
pub struct IndexMemo(
    Arc<std::sync::Mutex<HashMap<String, Arc<IndexCell>>>>,
    Arc<std::sync::OnceLock<tokio::time::Instant>>,
);

type IndexCell = tokio::sync::OnceCell<std::result::Result<Arc<RepoIndex>, (String, String)>>;

impl ChartStore {
    /// `$HEADLAMP_E2E_CHARTS` (else the project's own Headlamp charts, [`bundled_charts_dir`]), and the cache at
    /// `$HEADLAMP_E2E_CACHE/charts` or the user cache dir.
    pub fn from_env() -> Self {
        let charts_dir = std::env::var_os("HEADLAMP_E2E_CHARTS")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(bundled_charts_dir);
        ChartStore {
            charts_dir,
            cache_dir: cache_root().map(|d| d.join("charts")),
            offline: false,
            indexes: IndexMemo::default(),
        }
    }

    /// `<name>-<version>.tgz`, when both are plain names ([`plain_name`]): nothing else ever reaches a path.
    fn file_name(r: &ChartRef) -> Result<String> {
        for (what, value) in [("chart name", &r.name), ("chart version", &r.version)] {
            if !plain_name(value) {
                return Err(Error::UnsafeName {
                    what,
                    value: value.clone(),
                });
            }
        }
        Ok(format!("{}-{}.tgz", r.name, r.version))
    }

    /// The download cache's directory for `r`'s repository: `<cache>/<first 32 hex digits of sha256(URL)>`. The
    /// cache is keyed by the repository a chart came from, so a chart one tree's repository served is never used for
    /// another repository's chart of the same name and version. `None` without a repository URL or a cache.
    pub fn repo_cache_dir(&self, r: &ChartRef) -> Option<PathBuf> {
        let url = r.repo_url.as_deref()?;
        let key = hex::encode(Sha256::digest(url.trim_end_matches('/').as_bytes()));
        Some(self.cache_dir.as_ref()?.join(&key[..32]))
    }

    /// The archive names `r` may have: `<name>-<version>.tgz`, and `<name>-v<version>.tgz` — `helm pull` and
    /// `helm package` name the file after the chart's `version:` as written, and a chart versioned `v1.19.6`
    /// (cert-manager) is asked for as `1.19.6` once [`crate::lint::Release::pinned_version`] dropped the `v`.
    fn file_names(r: &ChartRef) -> Result<Vec<String>> {
        let name = Self::file_name(r)?;
        let mut names = vec![name];
        if !r.version.starts_with('v') {
            names.push(format!("{}-v{}.tgz", r.name, r.version));
        }
        Ok(names)
    }

    /// A local archive for `r`, without touching the network: `$HEADLAMP_E2E_CHARTS/<name>-<version>.tgz` or
    /// `<name>-v<version>.tgz` (the user's own), else the download cache of `r`'s repository.
    pub fn local(&self, r: &ChartRef) -> Option<PathBuf> {
        let names = Self::file_names(r).ok()?;
        [self.charts_dir.clone(), self.repo_cache_dir(r)]
            .into_iter()
            .flatten()
            .flat_map(|d| names.iter().filter_map(move |n| under(&d, n).ok()))
            .find(|p| p.is_file())
    }

    /// The newest version of chart `name` whose archive is at hand (`$HEADLAMP_E2E_CHARTS`, the download cache of
    /// `repo_url`'s repository) and matches the version range `range` (`0.41.x`, `>=0.41.0`, `~0.41`, `^0.41.0`,
    /// `*`, comparators separated by spaces or commas). Flux's helm-controller installs the newest chart of the
    /// repository's index that matches (fluxcd/source-controller `internal/helm/repository/chart_repository.go`
    /// `GetChartVersion`, Masterminds semver constraints, prereleases excluded); lint renders the newest one it has,
    /// without looking the index up. `None` when the range does not parse or nothing at hand matches.
    pub fn newest_at_hand(
        &self,
        name: &str,
        repo_url: Option<&str>,
        range: &str,
    ) -> Option<String> {
        let req = parse_range(range)?;
        let cref = ChartRef {
            name: name.to_string(),
            version: String::new(),
            repo_url: repo_url.map(str::to_string),
        };
        let prefix = format!("{name}-");
        [self.charts_dir.clone(), self.repo_cache_dir(&cref)]
            .into_iter()
            .flatten()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let file = e.file_name().into_string().ok()?;
                let v = file.strip_prefix(&prefix)?.strip_suffix(".tgz")?;
                // `<name>-v1.2.3.tgz` as `helm pull` names a `v`-versioned chart ([`ChartStore::local`] finds it)
                let parsed = semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).ok()?;
                (parsed.pre.is_empty() && req.matches(&parsed)).then_some(parsed)
            })
            .max()
            .map(|v| v.to_string())
    }

    /// The archive for `r`: local dir, cache, else downloaded from the repository's index (digest verified, cached).
    pub async fn fetch(&self, r: &ChartRef) -> Result<PathBuf> {
        self.fetch_with(r, None).await
    }

    /// The archives of `refs`, each fetched once ([`ChartStore::fetch_with`]), at most [`MAX_PARALLEL_DOWNLOADS`] at
    /// once, all within [`DOWNLOADS_DEADLINE`]: a chart not had by then is an error naming the deadline (a finding on
    /// its releases). Each repository's `index.yaml` is asked for once per store ([`ChartStore::indexes`]).
    pub async fn fetch_all(
        &self,
        refs: impl IntoIterator<Item = ChartRef>,
        helm: Option<&Helm>,
    ) -> HashMap<ChartRef, Result<PathBuf>> {
        self.fetch_all_within(refs, helm, DOWNLOADS_DEADLINE).await
    }

    /// [`ChartStore::fetch_all`] with another overall deadline, counted from the first call on this store or its
    /// clones: a later call gets what is left of it.
    pub async fn fetch_all_within(
        &self,
        refs: impl IntoIterator<Item = ChartRef>,
        helm: Option<&Helm>,
        deadline: Duration,
    ) -> HashMap<ChartRef, Result<PathBuf>> {
        use futures::StreamExt;
        let mut unique: Vec<ChartRef> = Vec::new();
        for r in refs {
            if !unique.contains(&r) {
                unique.push(r);
            }
        }
        let until = *self
            .indexes
            .1
            .get_or_init(|| tokio::time::Instant::now() + deadline);
        futures::stream::iter(unique)
            .map(|r| async move {
                let got = match tokio::time::timeout_at(until, self.fetch_with(&r, helm)).await {
                    Ok(got) => got,
                    Err(_) => Err(Error::Download {
                        url: r.repo_url.clone().unwrap_or_default(),
                        message: format!(
                            "the chart downloads did not finish within {} s (one deadline for all of them); the repository is slow or does not answer: retry, or put the archive in $HEADLAMP_E2E_CHARTS",
                            deadline.as_secs()
                        ),
                    }),
                };
                (r, got)
            })
            .buffer_unordered(MAX_PARALLEL_DOWNLOADS)
            .collect()
            .await
    }

    /// [`ChartStore::fetch`], pulling OCI charts with `helm` (else [`Helm::locate`]).
    pub async fn fetch_with(&self, r: &ChartRef, helm: Option<&Helm>) -> Result<PathBuf> {
        let name = Self::file_name(r)?;
        if let Some(p) = self.local(r) {
            return Ok(p);
        }
        let names = Self::file_names(r)?;
        let mut tried: Vec<String> = [self.charts_dir.clone(), self.repo_cache_dir(r)]
            .into_iter()
            .flatten()
            .flat_map(|d| {
                names
                    .iter()
                    .map(|n| d.join(n).display().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        if tried.is_empty() {
            tried.push("no HEADLAMP_E2E_CHARTS, no cache dir".into());
        }
        let (Some(url), false) = (&r.repo_url, self.offline) else {
            return Err(Error::ChartNotFound {
                chart: r.name.clone(),
                version: r.version.clone(),
                tried: tried.join(", "),
            });
        };
        // no cache dir: the download is kept in a temp dir for this process, keyed the same way
        let dir = self.repo_cache_dir(r).unwrap_or_else(|| {
            let key = hex::encode(Sha256::digest(url.trim_end_matches('/').as_bytes()));
            std::env::temp_dir()
                .join("headlamp-e2e-charts")
                .join(&key[..32])
        });
        if url.starts_with("oci://") {
            // an OCI registry (HelmRepository `type: oci`, or an OCIRepository): the real client pulls it
            let chart_url = format!("{}/{}", url.trim_end_matches('/'), r.name);
            let helm = match helm {
                Some(h) => h.clone(),
                None => Helm::locate()?,
            };
            return pull_oci(&helm, &chart_url, r, &dir, &name).await;
        }
        let bytes = download_with(&self.indexes, url, r)
            .await
            .map_err(|e| match e {
                Error::ChartNotFound { .. } => {
                    tried.push(format!("{}/index.yaml", url.trim_end_matches('/')));
                    Error::ChartNotFound {
                        chart: r.name.clone(),
                        version: r.version.clone(),
                        tried: tried.join(", "),
                    }
                }
                other => other,
            })?;
        // the archive must be the chart the index listed it as, before it is kept
        check_archive_identity(Path::new(url), &bytes, r)?;
        write_atomic(&dir, &name, &bytes)
    }
}

/// `helm pull oci://… --version=V` into a fresh temp dir under `dir`, then moved to `dir/<name>` (within the
/// [`crate::process`] deadline). The version must be exact; helm checks the registry's manifest digest. Its options
/// come first and `--` ends them: the URL (it starts with `oci://`) and nothing else is positional.
async fn pull_oci(
    helm: &Helm,
    chart_url: &str,
    r: &ChartRef,
    dir: &Path,
    name: &str,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile::tempdir_in(dir).map_err(|e| Error::io(dir, e))?;
    let out = Cmd::new(&helm.bin)
        .arg("pull")
        .arg(format!("--version={}", r.version))
        .arg("--destination")
        .arg(tmp.path())
        .arg("--")
        .arg(chart_url)
        .run()
        .await
        .map_err(|e| match e {
            // a registry that does not answer is this chart's problem, not the tool's
            ProcessError::TimedOut { .. } => Error::Download {
                url: chart_url.to_string(),
                message: e.to_string(),
            },
            other => other.into(),
        })?;
    if !out.success() {
        return Err(Error::Download {
            url: format!("{chart_url} (helm pull, version {})", r.version),
            message: format!(
                "{}; check the OCI URL and tag, or put the archive in $HEADLAMP_E2E_CHARTS",
                out.complaint()
            ),
        });
    }
    let pulled = std::fs::read_dir(tmp.path())
        .map_err(|e| Error::io(tmp.path(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| Error::Download {
            url: chart_url.to_string(),
            message: "helm pull succeeded but wrote no .tgz".into(),
        })?;
    let bytes = read_archive(&pulled)?;
    check_archive_identity(Path::new(chart_url), &bytes, r)?;
    let dest = under(dir, name)?;
    std::fs::rename(&pulled, &dest).map_err(|e| Error::io(&dest, e))?;
    Ok(dest)
}

/// Refuse an archive whose `Chart.yaml` is not the chart `r` names: Helm's own name/version check when it pulls a
/// chart by version is the index's, so an index that lists `demo 1.2.3` at an archive of another chart would
/// otherwise be rendered (and cached) as `demo 1.2.3`.
fn check_archive_identity(source: &Path, bytes: &[u8], r: &ChartRef) -> Result<()> {
    let chart = read_chart_bytes(source, bytes, String::new())?;
    check_identity(&chart, r)
}

/// `chart`'s `Chart.yaml` names the chart and version `r` asks for (a leading `v` of either version aside), else an
/// error naming both.
pub fn check_identity(chart: &Chart, r: &ChartRef) -> Result<()> {
    let v = |s: &str| s.trim_start_matches('v').to_string();
    if chart.name == r.name && v(&chart.version) == v(&r.version) {
        return Ok(());
    }
    Err(Error::Other(format!(
        "{}: its Chart.yaml says chart {:?} version {:?}, but the release asks for chart {:?} version {:?} (and the repository index lists it as that): refusing a chart that is not the one asked for; fix the repository or the HelmRelease",
        chart.path.display(),
        chart.name,
        chart.version,
        r.name,
        r.version
    )))
}

/// A name that can be one path component and nothing more: not empty, no `/` or `\`, no `..`, no NUL or other
/// control character. Chart names, chart versions and repository names must be plain before they touch a path.
pub fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && !s.contains("..")
        && !s.contains(['/', '\\'])
        && !s.chars().any(char::is_control)
}

/// `root/name`, checked after joining to stay under `root`: `name` is one plain component and the joined path is
/// `root` plus exactly that component.
pub fn under(root: &Path, name: &str) -> Result<PathBuf> {
    let unsafe_name = || Error::UnsafeName {
        what: "file name",
        value: name.to_string(),
    };
    if !plain_name(name) {
        return Err(unsafe_name());
    }
    let joined = root.join(name);
    let rest: Vec<_> = match joined.strip_prefix(root) {
        Ok(rest) => rest.components().collect(),
        Err(_) => return Err(unsafe_name()),
    };
    if !matches!(rest.as_slice(), [std::path::Component::Normal(_)]) {
        return Err(unsafe_name());
    }
    Ok(joined)
}

/// The per-user cache root: `$HEADLAMP_E2E_CACHE`, else the platform cache dir (`~/.cache/headlamp-e2e`).
pub fn cache_root() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("HEADLAMP_E2E_CACHE").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::BaseDirs::new().map(|b| b.cache_dir().join("headlamp-e2e"))
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    use std::io::Write;
    let dest = under(dir, name)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
    Ok(dest)
}

#[derive(Debug, Deserialize)]
pub struct RepoIndex {
    #[serde(default)]
    entries: HashMap<String, Vec<IndexEntry>>,
}

#[derive(Debug, Deserialize)]
struct IndexEntry {
    version: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    digest: Option<String>,
}

fn http_client() -> Result<reqwest::Client> {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("headlamp-e2e/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Other(format!("cannot build an HTTP client: {e}")))
}

/// Why a request failed and what to do, from the error's whole chain: DNS, refused, TLS, timeout.
fn transport_cause(e: &reqwest::Error) -> String {
    let chain = crate::error::error_chain(e);
    let lower = chain.to_ascii_lowercase();
    let (cause, fix) = if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated")
    {
        (
            "the host name does not resolve (DNS)",
            "check the HelmRepository URL's host, and this machine's network/DNS",
        )
    } else if lower.contains("connection refused") {
        (
            "the connection was refused",
            "check the URL's host and port; is the repository server up?",
        )
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        (
            "the TLS handshake failed",
            "the server's certificate is not trusted or the URL is not HTTPS on that port; check the URL",
        )
    } else if e.is_timeout() || lower.contains("timed out") {
        (
            "no answer in time",
            "the repository is slow or unreachable from here; retry, or put the archive in $HEADLAMP_E2E_CHARTS",
        )
    } else {
        (
            "the request failed",
            "check the URL; to work offline put the archive in $HEADLAMP_E2E_CHARTS",
        )
    };
    format!("{cause} ({chain}); {fix}")
}

/// What an HTTP status means here, and what to do.
fn status_cause(status: reqwest::StatusCode) -> String {
    let fix = match status.as_u16() {
        404 | 410 => "not found: check the URL (and the chart version in index.yaml)",
        401 | 403 => {
            "the repository wants credentials: this tool fetches public repositories only; put the archive in $HEADLAMP_E2E_CHARTS"
        }
        429 => "rate limited: retry later",
        500..=599 => "the server failed: retry later",
        _ => "unexpected answer: check the URL",
    };
    format!("HTTP {status}: {fix}")
}

/// The body of `url`, at most `limit` bytes: a larger one (by its Content-Length, or once that many bytes came) is
/// refused with an error naming the limit, before more is read.
async fn get_bytes(client: &reqwest::Client, url: &str, limit: u64) -> Result<Vec<u8>> {
    let mut resp = client.get(url).send().await.map_err(|e| Error::Download {
        url: url.to_string(),
        message: transport_cause(&e),
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Error::Download {
            url: url.to_string(),
            message: status_cause(status),
        });
    }
    let too_large = || Error::Download {
        url: url.to_string(),
        message: format!(
            "the answer is larger than lint's limit of {} MiB for it; refusing to read more (a Helm repository index or chart archive is far smaller)",
            limit / (1024 * 1024)
        ),
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Error::Download {
        url: url.to_string(),
        message: transport_cause(&e),
    })? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn repo_index(
    memo: &IndexMemo,
    client: &reqwest::Client,
    index_url: &str,
) -> Result<Arc<RepoIndex>> {
    let cell = memo
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(index_url.to_string())
        .or_default()
        .clone();
    let got = cell
        .get_or_init(|| async {
            let bytes = get_bytes(client, index_url, MAX_INDEX_BYTES)
                .await
                .map_err(|e| match e {
                    Error::Download { url, message } => (url, message),
                    other => (index_url.to_string(), other.to_string()),
                })?;
            serde_norway::from_slice::<RepoIndex>(&bytes)
                .map(Arc::new)
                .map_err(|e| {
                    (
                        index_url.to_string(),
                        format!("not a Helm repository index: {e}"),
                    )
                })
        })
        .await;
    got.clone()
        .map_err(|(url, message)| Error::Download { url, message })
}

/// Resolve `r` in the repository's `index.yaml` (at most [`MAX_INDEX_BYTES`]), download
/// it (at most [`MAX_ARCHIVE_BYTES`]) and check its sha256 digest.
pub async fn download_from_index(repo_url: &str, r: &ChartRef) -> Result<Vec<u8>> {
    download_with(&IndexMemo::default(), repo_url, r).await
}

/// [`download_from_index`], the index asked for once per `memo`.
async fn download_with(memo: &IndexMemo, repo_url: &str, r: &ChartRef) -> Result<Vec<u8>> {
    let client = http_client()?;
    let base = repo_url.trim_end_matches('/');
    let index_url = format!("{base}/index.yaml");
    let index = repo_index(memo, &client, &index_url).await?;
    let not_found = || Error::ChartNotFound {
        chart: r.name.clone(),
        version: r.version.clone(),
        tried: index_url.clone(),
    };
    let entry = index
        .entries
        .get(&r.name)
        .and_then(|v| {
            v.iter()
                .find(|e| e.version.trim_start_matches('v') == r.version.trim_start_matches('v'))
        })
        .ok_or_else(not_found)?;
    let url = entry.urls.first().ok_or_else(not_found)?;
    let url = if url.contains("://") {
        url.clone()
    } else {
        format!("{base}/{}", url.trim_start_matches('/'))
    };
    let bytes = get_bytes(&client, &url, MAX_ARCHIVE_BYTES).await?;
    let actual = hex::encode(Sha256::digest(&bytes));
    match &entry.digest {
        Some(expected) if expected.trim_start_matches("sha256:") != actual => {
            Err(Error::DigestMismatch {
                url,
                expected: expected.clone(),
                actual,
            })
        }
        Some(_) => Ok(bytes),
        None => Err(Error::Download {
            url,
            message:
                "index.yaml gives no digest for this chart version; refusing an unverified download"
                    .into(),
        }),
    }
}

/// Read `Chart.yaml`, `values.yaml` and `values.schema.json` from a chart archive.
pub fn read_chart(path: &Path) -> Result<Chart> {
    // read once: the same bytes give the digest (the render cache's key) and the files
    let bytes = read_archive(path)?;
    let sha256 = digest(&bytes);
    read_chart_bytes(path, &bytes, sha256)
}

/// The bytes of the chart archive at `path`: a regular file of at most [`MAX_ARCHIVE_BYTES`].
pub fn read_archive(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::ChartArchive {
            path: path.to_path_buf(),
            message: "not a regular file".into(),
        });
    }
    let too_large = || Error::ChartArchive {
        path: path.to_path_buf(),
        message: format!(
            "the archive is larger than lint's limit of {} MiB for a chart archive",
            MAX_ARCHIVE_BYTES / (1024 * 1024)
        ),
    };
    if meta.len() > MAX_ARCHIVE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_ARCHIVE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_ARCHIVE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A reader that fails once more than `left` bytes came through it: the decompressed size of a chart archive.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "the chart decompresses to more than {} MiB, Helm's limit (MaxDecompressedChartSize)",
                MAX_CHART_DECOMPRESSED_BYTES / (1024 * 1024)
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The sha256 (hex) of a chart archive's bytes: [`Chart::sha256`], part of a render's key.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// [`read_chart`] of the archive `path` already read into `bytes`, whose [`digest`] is `sha256`.
/// A Flux chart version range as a [`semver::VersionReq`]: Masterminds' `x`/`X` wildcards and space-separated
/// comparators (`>=0.40.0 <0.42.0`) are rewritten to the forms the semver crate reads. An exact version is not a
/// range (`None`).
pub fn parse_range(range: &str) -> Option<semver::VersionReq> {
    let range = range.trim();
    if range.is_empty() || semver::Version::parse(range.trim_start_matches('v')).is_ok() {
        return None;
    }
    // join an operator written apart from its version (`>= 0.40.0`), then comparators with commas
    let mut parts: Vec<String> = Vec::new();
    for tok in range.split([' ', ',']).filter(|t| !t.is_empty()) {
        match parts.last_mut() {
            Some(last) if last.chars().all(|c| "<>=~^!".contains(c)) => last.push_str(tok),
            _ => parts.push(tok.to_string()),
        }
    }
    let text = parts
        .iter()
        .map(|p| {
            p.replace(['x', 'X'], "*")
                .trim_start_matches('v')
                .replace(">v", ">")
                .replace("=v", "=")
        })
        .collect::<Vec<_>>()
        .join(", ");
    semver::VersionReq::parse(&text).ok()
}

/// The chart's own templates (`<chart>/templates/…`, not those of its subcharts) as (path, text), read with the same
/// bounds as [`read_chart_bytes`]. For rules that must know how a template uses a value (`image-tag-override`: does
/// the image tag default to `.Chart.AppVersion` or to `printf "v%s" .Chart.AppVersion`).
pub fn template_texts(path: &Path) -> Result<Vec<(String, String)>> {
    let bytes = read_archive(path)?;
    let bad = |message: String| Error::ChartArchive {
        path: path.to_path_buf(),
        message,
    };
    let mut archive = tar::Archive::new(Bounded {
        inner: flate2::read::GzDecoder::new(bytes.as_slice()),
        left: MAX_CHART_DECOMPRESSED_BYTES,
    });
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let mut parts = name.splitn(2, '/');
        let (_, Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !rest.starts_with("templates/") {
            continue;
        }
        let mut s = String::new();
        (&mut entry)
            .take(MAX_CHART_FILE_BYTES + 1)
            .read_to_string(&mut s)
            .map_err(|e| bad(format!("{rest}: {e}")))?;
        if s.len() as u64 > MAX_CHART_FILE_BYTES {
            return Err(bad(format!(
                "{rest} is larger than lint's limit of {} MiB for a chart file",
                MAX_CHART_FILE_BYTES / (1024 * 1024)
            )));
        }
        out.push((rest.to_string(), s));
    }
    Ok(out)
}

/// How deep lint looks into packed subcharts of packed subcharts for their `values.schema.json`.
const MAX_PACKED_DEPTH: usize = 4;

/// The `$ref`s of a `values.schema.json` that name another document by URL: a value with a scheme (`https:`,
/// `http:`, `file:`, any `scheme:`), or a relative reference under an `$id` that has one (resolved against it).
/// `#…` fragments and relative references without such a base are local. `$dynamicRef`/`$recursiveRef` count as
/// `$ref`. Helm v4 validates values with santhosh-tekuri/jsonschema v6 and registers loaders for `http`/`https`
/// (helm `pkg/chart/common/util/jsonschema.go`): every such reference is fetched during `helm template`.
pub fn remote_schema_refs(schema: &Value) -> Vec<String> {
    fn has_scheme(s: &str) -> bool {
        let Some((scheme, _)) = s.split_once(':') else {
            return false;
        };
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }
    fn walk(v: &Value, base: Option<&url::Url>, depth: usize, out: &mut Vec<String>) {
        if depth > 256 {
            return;
        }
        match v {
            Value::Object(map) => {
                let own = map
                    .get("$id")
                    .and_then(Value::as_str)
                    .filter(|id| has_scheme(id))
                    .and_then(|id| url::Url::parse(id).ok());
                let base = own.as_ref().or(base);
                for key in ["$ref", "$dynamicRef", "$recursiveRef"] {
                    let Some(r) = map.get(key).and_then(Value::as_str) else {
                        continue;
                    };
                    if has_scheme(r) {
                        out.push(r.to_string());
                    } else if !r.starts_with('#')
                        && let Some(u) = base.and_then(|b| b.join(r).ok())
                    {
                        out.push(u.to_string());
                    }
                }
                for child in map.values() {
                    walk(child, base, depth + 1, out);
                }
            }
            Value::Array(items) => {
                for child in items {
                    walk(child, base, depth + 1, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(schema, None, 0, &mut out);
    out.sort();
    out.dedup();
    out
}

/// [`remote_schema_refs`] of a `values.schema.json` text; one that is not JSON names nothing (helm's render
/// fails on it, a finding).
fn remote_refs_of_text(text: &str) -> Vec<String> {
    serde_json::from_str(text)
        .map(|v| remote_schema_refs(&v))
        .unwrap_or_default()
}

/// What lint reads of a packed subchart: its `Chart.yaml`, `values.yaml`, and the remote schema references of
/// every `values.schema.json` in it (its own, its subcharts', packed ones to [`MAX_PACKED_DEPTH`]).
type PackedSubchart = (Option<String>, Option<String>, Vec<String>);

/// [`PackedSubchart`] of a packed subchart (`charts/<name>-<version>.tgz`), read with the same bounds as the chart;
/// `None` when the archive cannot be read.
fn packed_subchart(bytes: &[u8], depth: usize) -> Option<PackedSubchart> {
    let mut archive = tar::Archive::new(Bounded {
        inner: flate2::read::GzDecoder::new(bytes),
        left: MAX_CHART_DECOMPRESSED_BYTES,
    });
    let (mut chart_yaml, mut values_yaml) = (None, None);
    let mut refs = Vec::new();
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let name = entry.path().ok()?.to_string_lossy().into_owned();
        let rest = name.split_once('/').map(|(_, rest)| rest).unwrap_or("");
        if rest.starts_with("charts/") && rest.ends_with(".tgz") {
            let mut inner = Vec::new();
            (&mut entry)
                .take(MAX_ARCHIVE_BYTES + 1)
                .read_to_end(&mut inner)
                .ok()?;
            if depth < MAX_PACKED_DEPTH
                && inner.len() as u64 <= MAX_ARCHIVE_BYTES
                && let Some((_, _, r)) = packed_subchart(&inner, depth + 1)
            {
                refs.extend(r);
            }
            continue;
        }
        if rest == "values.schema.json" || rest.ends_with("/values.schema.json") {
            let mut s = String::new();
            (&mut entry)
                .take(MAX_CHART_FILE_BYTES + 1)
                .read_to_string(&mut s)
                .ok()?;
            refs.extend(remote_refs_of_text(&s));
            continue;
        }
        let slot = match rest {
            "Chart.yaml" => &mut chart_yaml,
            "values.yaml" => &mut values_yaml,
            _ => continue,
        };
        let mut s = String::new();
        (&mut entry)
            .take(MAX_CHART_FILE_BYTES + 1)
            .read_to_string(&mut s)
            .ok()?;
        if s.len() as u64 > MAX_CHART_FILE_BYTES {
            return None;
        }
        *slot = Some(s);
    }
    Some((chart_yaml, values_yaml, refs))
}

/// Helm's view of a subchart's values: the parent's `<alias or name>:` map over the subchart's own `values.yaml`
/// (helm `pkg/chart/common/util/coalesce.go` `coalesceDeps`/`coalesceValues`: the parent's values win, maps merge).
/// A key under a dependency's name or alias is then judged against that subchart's defaults too (issue 19 cause 2:
/// `grafana.replicas` under kube-prometheus-stack is grafana's). The alias comes from the parent's `Chart.yaml`
/// `dependencies`; a subchart no dependency names is keyed by its own name, as Helm loads every chart in `charts/`.
/// A subchart whose files cannot be parsed adds nothing (its keys are left to the renders).
/// Returns the keys that hold a subchart's values, sorted.
fn merge_subchart_defaults(
    defaults: &mut Value,
    meta: &Value,
    subcharts: &std::collections::BTreeMap<String, (Option<String>, Option<String>)>,
) -> Vec<String> {
    let mut sub_keys = Vec::new();
    let Value::Object(top) = defaults else {
        return sub_keys;
    };
    let first_doc = |text: &Option<String>, name: &str| -> Option<Value> {
        parse_yaml_documents(text.as_deref()?, Path::new(name))
            .ok()?
            .into_iter()
            .next()
    };
    for (chart_yaml, values_yaml) in subcharts.values() {
        let Some(name) = first_doc(chart_yaml, "Chart.yaml")
            .and_then(|m| m["name"].as_str().map(str::to_string))
        else {
            continue;
        };
        let sub_values = first_doc(values_yaml, "values.yaml")
            .filter(Value::is_object)
            .unwrap_or(Value::Object(Default::default()));
        let mut keys: Vec<String> = meta["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["name"].as_str() == Some(name.as_str()))
            .map(|d| d["alias"].as_str().unwrap_or(name.as_str()).to_string())
            .collect();
        if keys.is_empty() {
            keys.push(name.clone());
        }
        for key in keys {
            let mut merged = sub_values.clone();
            if let Some(parent) = top.get(&key) {
                coalesce(&mut merged, parent);
            }
            top.insert(key.clone(), merged);
            sub_keys.push(key);
        }
    }
    sub_keys.sort();
    sub_keys.dedup();
    sub_keys
}

/// `over` onto `base`: maps merge key by key, anything else in `over` replaces.
fn coalesce(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => coalesce(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

pub fn read_chart_bytes(path: &Path, bytes: &[u8], sha256: String) -> Result<Chart> {
    let bad = |message: String| Error::ChartArchive {
        path: path.to_path_buf(),
        message,
    };
    let text_of = |entry: &mut dyn Read, name: &str| -> Result<String> {
        let mut s = String::new();
        entry
            .take(MAX_CHART_FILE_BYTES + 1)
            .read_to_string(&mut s)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        if s.len() as u64 > MAX_CHART_FILE_BYTES {
            return Err(bad(format!(
                "{name} is larger than lint's limit of {} MiB for a chart file (Helm's MaxDecompressedFileSize); the chart was not read",
                MAX_CHART_FILE_BYTES / (1024 * 1024)
            )));
        }
        Ok(s)
    };
    // every entry is decompressed while walking the archive: the whole is bounded as Helm bounds it
    let mut archive = tar::Archive::new(Bounded {
        inner: flate2::read::GzDecoder::new(bytes),
        left: MAX_CHART_DECOMPRESSED_BYTES,
    });
    let (mut chart_yaml, mut values_yaml, mut schema_json) = (None, None, None);
    // subcharts (`charts/<dir>/…` unpacked, `charts/<name>-<version>.tgz` packed): (their Chart.yaml, values.yaml)
    let mut subcharts: std::collections::BTreeMap<String, (Option<String>, Option<String>)> =
        Default::default();
    // every `values.schema.json`'s references by URL: helm validates the subcharts' schemas too
    let mut remote_refs: Vec<String> = Vec::new();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        // top-level chart files only: `<chart>/Chart.yaml`, not those of subcharts
        let mut parts = name.splitn(2, '/');
        let (_, Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(sub) = rest.strip_prefix("charts/") {
            // an unpacked subchart's schema, at any depth (`charts/a/charts/b/values.schema.json`)
            if sub.ends_with("/values.schema.json") {
                remote_refs.extend(remote_refs_of_text(&text_of(&mut entry, rest)?));
                continue;
            }
            match sub.split('/').collect::<Vec<_>>()[..] {
                [dir, file @ ("Chart.yaml" | "values.yaml")] => {
                    let text = text_of(&mut entry, rest)?;
                    let e = subcharts.entry(dir.to_string()).or_default();
                    if file == "Chart.yaml" {
                        e.0 = Some(text);
                    } else {
                        e.1 = Some(text);
                    }
                }
                [.., file] if file.ends_with(".tgz") => {
                    let mut inner = Vec::new();
                    (&mut entry)
                        .take(MAX_ARCHIVE_BYTES + 1)
                        .read_to_end(&mut inner)
                        .map_err(|e| bad(format!("{rest}: {e}")))?;
                    // an unreadable packed subchart only loses its defaults: its keys are then probed by render
                    if inner.len() as u64 <= MAX_ARCHIVE_BYTES
                        && let Some((chart_yaml, values_yaml, refs)) = packed_subchart(&inner, 1)
                    {
                        remote_refs.extend(refs);
                        // only the chart's own subcharts give defaults under their names
                        if !sub.contains('/') {
                            subcharts.insert(file.to_string(), (chart_yaml, values_yaml));
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        let slot = match rest {
            "Chart.yaml" => &mut chart_yaml,
            "values.yaml" => &mut values_yaml,
            "values.schema.json" => &mut schema_json,
            _ => continue,
        };
        *slot = Some(text_of(&mut entry, rest)?);
    }
    let chart_yaml = chart_yaml.ok_or_else(|| bad("no Chart.yaml".into()))?;
    let meta = parse_yaml_documents(&chart_yaml, Path::new("Chart.yaml"))?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let defaults = match values_yaml {
        Some(v) => parse_yaml_documents(&v, Path::new("values.yaml"))?
            .into_iter()
            .next()
            .unwrap_or(Value::Object(Default::default())),
        None => Value::Object(Default::default()),
    };
    let mut defaults = defaults;
    let subchart_keys = merge_subchart_defaults(&mut defaults, &meta, &subcharts);
    let schema = match schema_json {
        Some(s) => {
            Some(serde_json::from_str(&s).map_err(|e| bad(format!("values.schema.json: {e}")))?)
        }
        None => None,
    };
    remote_refs.extend(schema.as_ref().map(remote_schema_refs).unwrap_or_default());
    remote_refs.sort();
    remote_refs.dedup();
    let text = |k: &str| match &meta[k] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Ok(Chart {
        path: path.to_path_buf(),
        name: text("name").ok_or_else(|| bad("Chart.yaml has no name".into()))?,
        version: text("version").ok_or_else(|| bad("Chart.yaml has no version".into()))?,
        app_version: text("appVersion"),
        defaults,
        schema,
        remote_schema_refs: remote_refs,
        subchart_keys,
        sha256,
    })
}

/// The helm CLI: at most [`Helm::parallelism`] `helm` processes at once (a semaphore shared by every clone), and the
/// render cache ([`RenderCache`]) in front of `helm template`.
#[derive(Debug, Clone)]
pub struct Helm {
    pub bin: PathBuf,
    /// How `bin` was chosen, for the "helm not found" message.
    tried: String,
    slots: Arc<tokio::sync::Semaphore>,
    limit: usize,
    cache: Option<RenderCache>,
    /// The binary's identity for cache keys, read once.
    identity: Arc<OnceLock<Option<String>>>,
    /// This process's renders by key (shared by every clone): a render asked for twice — a release rendered ahead
    /// while the tree was still being read ([`crate::lint::lint`]), then again — runs helm once; the second caller
    /// waits for the first. Failures are not kept (the next caller renders again).
    memo: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<String>>>>>,
}

impl Helm {
    /// `$HELM_BIN`, else `helm` on PATH. Nothing is run: the path is looked up (PATH search, a stat), and a helm
    /// that cannot be started is reported by the first render ("helm not found" with the spawn error). Renders use
    /// the cache at `$HEADLAMP_E2E_CACHE/renders` ([`cache_root`]) and at most
    /// [`std::thread::available_parallelism`] processes at once.
    pub fn locate() -> Result<Helm> {
        let (bin, tried) = match std::env::var_os("HELM_BIN").filter(|v| !v.is_empty()) {
            Some(b) => (
                PathBuf::from(&b),
                format!("HELM_BIN={}", PathBuf::from(&b).display()),
            ),
            None => (PathBuf::from("helm"), "`helm` on PATH".to_string()),
        };
        // a bad deadline setting is an error even when every render is a cache hit and no helm runs
        crate::process::default_timeout().map_err(|m| Error::from(ProcessError::BadTimeout(m)))?;
        if resolve_program(&bin).is_none() {
            return Err(Error::HelmMissing {
                tried: format!("{tried}: no such executable file"),
            });
        }
        let mut helm = Helm::new(bin);
        helm.tried = tried;
        Ok(helm)
    }

    /// helm at `bin`, with the default concurrency limit and the cache under [`cache_root`].
    pub fn new(bin: impl Into<PathBuf>) -> Helm {
        let bin = bin.into();
        let limit = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        Helm {
            tried: bin.display().to_string(),
            bin,
            slots: Arc::new(tokio::sync::Semaphore::new(limit)),
            limit,
            cache: cache_root().map(|d| RenderCache::new(d.join("renders"))),
            identity: Arc::new(OnceLock::new()),
            memo: Arc::default(),
        }
    }

    /// At most `n` (≥ 1) helm processes at once, instead of [`std::thread::available_parallelism`].
    pub fn with_parallelism(mut self, n: usize) -> Helm {
        self.limit = n.max(1);
        self.slots = Arc::new(tokio::sync::Semaphore::new(self.limit));
        self
    }

    /// Renders are cached in `cache` (`None`: every render runs helm, `--no-cache`).
    pub fn with_cache(mut self, cache: Option<RenderCache>) -> Helm {
        self.cache = cache;
        self
    }

    /// The most helm processes this runs at once.
    pub fn parallelism(&self) -> usize {
        self.limit
    }

    pub fn cache(&self) -> Option<&RenderCache> {
        self.cache.as_ref()
    }

    /// Path, size and mtime of the helm binary (symlinks followed), read once; `None` when it cannot be found
    /// (then nothing is cached, and the render reports the spawn error).
    fn identity(&self) -> Option<&str> {
        self.identity
            .get_or_init(|| {
                let path = std::fs::canonicalize(resolve_program(&self.bin)?).ok()?;
                let meta = std::fs::metadata(&path).ok()?;
                let mtime = meta
                    .modified()
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?;
                Some(format!(
                    "{} {} {}.{:09}",
                    path.display(),
                    meta.len(),
                    mtime.as_secs(),
                    mtime.subsec_nanos()
                ))
            })
            .as_deref()
    }

    /// The arguments of a render, without the chart path (it goes last, after the release name). Options first,
    /// then `--`, then the positionals: whatever the release name is, helm (cobra/pflag: `--` ends the flags) reads
    /// it as a name, never as an option; the namespace is one `--namespace=NS` argument.
    fn template_args(release: &str, namespace: &str, skip_schema: bool) -> Vec<String> {
        // no --kube-version / --api-versions: helm's built-in defaults, part of the binary's identity
        let mut args = vec![
            "template".to_string(),
            format!("--namespace={namespace}"),
            "--values".to_string(),
            "-".to_string(),
            "--".to_string(),
            release.to_string(),
        ];
        // a schema that refers to documents by URL: helm would fetch them (helm v4 `template` has the flag)
        if skip_schema {
            args.insert(2, "--skip-schema-validation".to_string());
        }
        args
    }

    /// Run one helm command in a slot: waits while [`parallelism`](Helm::parallelism) helm processes run. The
    /// command's deadline starts when it starts, not while it waits.
    async fn run(&self, cmd: Cmd) -> Result<crate::process::Output> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| Error::Other(format!("helm slots: {e}")))?;
        match cmd.run().await {
            Ok(out) => Ok(out),
            // the first render is the first time helm is started: "not found" with why
            Err(ProcessError::Spawn { source, .. }) => Err(Error::HelmMissing {
                tried: format!("{}: {source}", self.tried),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// `helm template --namespace=NS --values - -- RELEASE CHART` (values on stdin) and its stdout (at most
    /// [`MAX_RENDER_BYTES`]), within the [`crate::process`] deadline; with `--skip-schema-validation` when the
    /// chart's schemas refer to documents by URL ([`Chart::remote_schema_refs`]). Not cached: [`Helm::render`] is.
    pub async fn template(
        &self,
        chart: &Chart,
        release: &str,
        namespace: &str,
        values: &Value,
    ) -> Result<String> {
        // the values travel on stdin (`--values -`): no file with them is ever written
        // a name helm or Kubernetes would refuse never reaches helm (the lint reports it as helmrelease-invalid)
        if release_name_problem(release).is_some() {
            return Err(Error::UnsafeName {
                what: "release name",
                value: release.to_string(),
            });
        }
        if namespace_problem(namespace).is_some() {
            return Err(Error::UnsafeName {
                what: "namespace",
                value: namespace.to_string(),
            });
        }
        let values = serde_json::to_vec(values).map_err(|e| Error::Other(e.to_string()))?;
        let cmd = Cmd::new(&self.bin)
            .args(Self::template_args(
                release,
                namespace,
                !chart.remote_schema_refs.is_empty(),
            ))
            .arg(&chart.path)
            .stdin(values)
            .max_stdout(MAX_RENDER_BYTES)
            .short_lived_go();
        let out = match self.run(cmd).await {
            // the render's output is this release's problem (a finding), not the tool's
            Err(Error::Process(ProcessError::OutputTooLarge { limit, .. })) => {
                return Err(Error::HelmTemplate {
                    release: format!("{namespace}/{release}"),
                    stderr: format!(
                        "its output is larger than lint's limit of {} MiB for a render; helm was stopped there",
                        limit / (1024 * 1024)
                    ),
                });
            }
            other => other?,
        };
        if !out.success() {
            return Err(Error::HelmTemplate {
                release: format!("{namespace}/{release}"),
                stderr: out.complaint(),
            });
        }
        String::from_utf8(out.stdout)
            .map_err(|e| Error::Other(format!("helm template output is not UTF-8: {e}")))
    }

    /// [`Helm::template`] of `chart`, through the render cache: a hit returns the stored output without running
    /// helm; a miss renders and stores it (failures are not stored). Within one process the same render (same key)
    /// runs once, however many callers ask for it at once.
    pub async fn render(
        &self,
        chart: &Chart,
        release: &str,
        namespace: &str,
        values: &Value,
    ) -> Result<String> {
        let identity = self.identity();
        let key = render_key(
            &chart.sha256,
            release,
            namespace,
            values,
            identity.unwrap_or("helm not found"),
            &Self::template_args(release, namespace, !chart.remote_schema_refs.is_empty()),
        );
        // the persistent cache only for a helm whose identity is known
        let cache = self.cache.as_ref().filter(|_| identity.is_some());
        let cell = self
            .memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            if let Some(text) = cache.and_then(|c| c.get(&key)) {
                return Ok(text);
            }
            let text = self.template(chart, release, namespace, values).await?;
            if let Some(c) = cache {
                c.put(&key, &text);
            }
            Ok(text)
        })
        .await
        .cloned()
    }
}

/// Where a program name resolves, as `Command` would start it: a path with a `/` as it is, a bare name on `$PATH`.
fn resolve_program(bin: &Path) -> Option<PathBuf> {
    let is_exe = |p: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            p.is_file()
        }
    };
    if bin.components().count() > 1 || bin.is_absolute() {
        return Some(bin.to_path_buf()).filter(|p| is_exe(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(bin))
        .find(|p| is_exe(p))
}

/// `values` with every map's keys sorted, at every depth: the same values give the same bytes.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The cache key of one render: sha256 over the chart archive's sha256, release, namespace, canonical values JSON,
/// helm's identity and helm's arguments (kube version flags included, when there are any).
fn render_key(
    chart_sha256: &str,
    release: &str,
    namespace: &str,
    values: &Value,
    helm_identity: &str,
    args: &[String],
) -> String {
    let material = serde_json::json!([
        "headlamp-e2e render v1",
        chart_sha256,
        release,
        namespace,
        canonical(values),
        helm_identity,
        args,
    ]);
    hex::encode(Sha256::digest(material.to_string().as_bytes()))
}

/// Rendered output across runs: one file per key, `<key>.render`, holding a header line with the sha256 of the body,
/// then the body. Written atomically (a temp file in the same directory, then rename), so a reader sees a whole entry
/// or none; an entry that does not check out is a miss, not an error.
#[derive(Debug, Clone)]
pub struct RenderCache {
    dir: PathBuf,
}

const ENTRY_HEADER: &str = "headlamp-e2e render v1 sha256:";

impl RenderCache {
    pub fn new(dir: impl Into<PathBuf>) -> RenderCache {
        RenderCache { dir: dir.into() }
    }

    /// The cache's directory (for `$HEADLAMP_E2E_CACHE/renders`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, key: &str) -> Option<PathBuf> {
        under(&self.dir, &format!("{key}.render")).ok()
    }

    /// The stored output for `key`; `None` when absent, unreadable or corrupt.
    pub fn get(&self, key: &str) -> Option<String> {
        let path = self.entry(key)?;
        let bytes = std::fs::read(&path).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (header, body) = text.split_once('\n')?;
        let digest = header.strip_prefix(ENTRY_HEADER)?;
        if hex::encode(Sha256::digest(body.as_bytes())) != digest {
            tracing::debug!(
                "render cache: {} is corrupt; rendering again",
                path.display()
            );
            return None;
        }
        Some(body.to_string())
    }

    /// Store `text` for `key`. A cache that cannot be written is not an error (the render still counts).
    pub fn put(&self, key: &str, text: &str) {
        let body = format!(
            "{ENTRY_HEADER}{}\n{text}",
            hex::encode(Sha256::digest(text.as_bytes()))
        );
        if let Err(e) = write_atomic(&self.dir, &format!("{key}.render"), body.as_bytes()) {
            tracing::debug!("render cache: cannot write an entry: {e}");
        }
    }
}

/// Split `helm template` output into objects, each with the `# Source:` template it came from.
pub fn split_rendered(text: &str) -> Result<Vec<(Option<String>, Value)>> {
    let mut out = Vec::new();
    for chunk in split_documents(text) {
        let source = chunk
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .map(|s| s.trim().to_string());
        for v in parse_yaml_documents(chunk, Path::new("helm template output"))? {
            out.push((source.clone(), v));
        }
    }
    Ok(out)
}

fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            docs.push(&text[start..pos]);
            start = pos + line.len();
        }
        pos += line.len();
    }
    docs.push(&text[start..]);
    docs.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

/// Test charts: a directory of `fixtures/charts/` packed into a chart archive, as `helm package` lays it out.
/// The chart-typed helpers of this project's own tests (`crate::test_support` has the others).
#[cfg(any(test, feature = "test-support"))]
pub mod testing {
    use std::path::PathBuf;

    use super::{ChartStore, Helm};
    use crate::test_support::{skip, test_cache_dir};

    /// The chart archive dir: `$HEADLAMP_E2E_CHARTS`, else the project's `data/upstream/charts`.
    pub fn charts_dir() -> Option<PathBuf> {
        match std::env::var_os("HEADLAMP_E2E_CHARTS").filter(|v| !v.is_empty()) {
            Some(d) => Some(PathBuf::from(d)),
            None => super::bundled_charts_dir(),
        }
    }
    /// helm: `$HELM_BIN`, else `helm` on PATH.
    pub fn helm() -> Option<Helm> {
        Helm::locate().ok()
    }
    /// helm and a chart store that has `chart-version.tgz`, or a skip.
    pub fn render_tools(chart: &str, version: &str) -> Option<(Helm, ChartStore)> {
        let Some(helm) = helm() else {
            return skip(
                "helm not found (install helm 3 or 4, or set HELM_BIN): the render tier needs it",
            );
        };
        let Some(dir) = charts_dir() else {
            return skip(
                "no chart archives (data/upstream/charts is missing, or set HEADLAMP_E2E_CHARTS)",
            );
        };
        if !dir.join(format!("{chart}-{version}.tgz")).is_file() {
            return skip(&format!(
                "{}/{chart}-{version}.tgz not found",
                dir.display()
            ));
        }
        let store = ChartStore {
            charts_dir: Some(dir),
            cache_dir: None,
            offline: true,
            ..Default::default()
        };
        Some((helm, store))
    }
    /// Point a child command at the same helm and chart archives the tests use (`HELM_BIN`, `HEADLAMP_E2E_CHARTS`).
    pub fn with_tools(cmd: &mut std::process::Command) -> &mut std::process::Command {
        if let Some(h) = helm() {
            cmd.env("HELM_BIN", h.bin);
        }
        if let Some(c) = charts_dir() {
            cmd.env("HEADLAMP_E2E_CHARTS", c);
        }
        // tests never fill the user's own cache (~/.cache/headlamp-e2e); a test that sets its own keeps it
        let own_cache = cmd
            .get_envs()
            .any(|(k, _)| k == std::ffi::OsStr::new("HEADLAMP_E2E_CACHE"));
        if !own_cache {
            cmd.env("HEADLAMP_E2E_CACHE", test_cache_dir());
        }
        cmd
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod test_charts {
    use super::*;

    /// Pack `fixtures/charts/<fixture>` (files replaced or added by `overrides`, `(path, text)`) into
    /// `<tmp>/<fixture>.tgz` and read it. The directory must outlive the chart.
    pub fn pack(fixture: &str, overrides: &[(&str, &str)]) -> (tempfile::TempDir, Chart) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/charts")
            .join(fixture);
        let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
        fn walk(dir: &Path, base: &Path, files: &mut std::collections::BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(dir).expect("fixture chart directory") {
                let p = e.expect("fixture entry").path();
                if p.is_dir() {
                    walk(&p, base, files);
                } else {
                    let rel = p.strip_prefix(base).expect("under base");
                    files.insert(
                        rel.to_string_lossy().replace('\\', "/"),
                        std::fs::read(&p).expect("fixture file"),
                    );
                }
            }
        }
        walk(&root, &root, &mut files);
        for (path, text) in overrides {
            files.insert(path.to_string(), text.as_bytes().to_vec());
        }
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (file, body) in &files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("{fixture}/{file}"), body.as_slice())
                .expect("tar entry");
        }
        let bytes = tar.into_inner().and_then(|gz| gz.finish()).expect("gzip");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(format!("{fixture}.tgz"));
        std::fs::write(&path, bytes).expect("write chart");
        let chart = read_chart(&path).expect("read packed chart");
        (dir, chart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rendered_keeps_source_template() {
        let text = "---\n# Source: headlamp/templates/serviceaccount.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: headlamp\n---\n# Source: headlamp/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: headlamp\n";
        let objs = split_rendered(text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(
            objs[1].0.as_deref(),
            Some("headlamp/templates/service.yaml")
        );
        assert_eq!(objs[1].1["kind"], "Service");
    }

    #[tokio::test]
    async fn store_prefers_local_dir_and_reports_what_it_tried() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("headlamp-0.41.0.tgz"), b"x").unwrap();
        let store = ChartStore {
            charts_dir: Some(d.path().to_path_buf()),
            cache_dir: None,
            offline: true,
            ..Default::default()
        };
        let r = |v: &str| ChartRef {
            name: "headlamp".into(),
            version: v.into(),
            repo_url: Some("https://example.invalid/".into()),
        };
        assert_eq!(
            store.fetch(&r("0.41.0")).await.unwrap(),
            d.path().join("headlamp-0.41.0.tgz")
        );
        let e = store.fetch(&r("9.9.9")).await.unwrap_err().to_string();
        assert!(
            e.contains("headlamp 9.9.9 not found")
                && e.contains("headlamp-9.9.9.tgz")
                && e.contains("headlamp-v9.9.9.tgz"),
            "{e}"
        );
    }

    /// eval5 F-2: `helm pull jetstack/cert-manager --version v1.19.6` (and `helm package`) write
    /// `cert-manager-v1.19.6.tgz`; the release's version reaches the store as `1.19.6`. That file is found, for a
    /// pin and for a range.
    #[tokio::test]
    async fn a_chart_file_named_with_the_v_helm_pull_gives_it_is_found() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cert-manager-v1.19.6.tgz"), b"x").unwrap();
        let store = ChartStore {
            charts_dir: Some(d.path().to_path_buf()),
            cache_dir: None,
            offline: true,
            ..Default::default()
        };
        let r = ChartRef {
            name: "cert-manager".into(),
            version: "1.19.6".into(),
            repo_url: None,
        };
        assert_eq!(
            store.fetch(&r).await.unwrap(),
            d.path().join("cert-manager-v1.19.6.tgz")
        );
        assert_eq!(
            store
                .newest_at_hand("cert-manager", None, "1.19.x")
                .as_deref(),
            Some("1.19.6")
        );
    }

    #[tokio::test]
    async fn download_errors_name_the_cause_and_a_fix() {
        let r = ChartRef {
            name: "headlamp".into(),
            version: "0.41.0".into(),
            repo_url: None,
        };
        // nothing listens on a port just released
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = download_from_index(&format!("http://127.0.0.1:{port}/"), &r)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/index.yaml: the connection was refused")
                && e.contains("is the repository server up?"),
            "{e}"
        );
        let server = wiremock::MockServer::start().await;
        let e = download_from_index(&server.uri(), &r)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("HTTP 404 Not Found: not found: check the URL"),
            "{e}"
        );
    }

    #[test]
    fn a_corrupt_chart_archive_says_to_delete_it_and_where() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("headlamp-0.41.0.tgz");
        std::fs::write(&p, b"\x1f\x8b not really gzip").unwrap();
        let e = read_chart(&p).unwrap_err().to_string();
        assert!(
            e.contains("not a readable chart archive")
                && e.contains(&format!("rm {}", p.display())),
            "{e}"
        );
    }

    #[test]
    fn names_that_are_not_plain_never_become_paths() {
        for bad in ["", ".", "..", "../x", "a/b", "/abs", "a\\b", "x\0y", "a..b"] {
            assert!(!plain_name(bad), "{bad:?}");
            assert!(under(Path::new("/cache"), bad).is_err(), "{bad:?}");
        }
        assert!(plain_name("headlamp") && plain_name("0.41.0") && plain_name("1.0.0-rc.1+build"));
        assert_eq!(
            under(Path::new("/cache"), "headlamp-0.41.0.tgz").unwrap(),
            Path::new("/cache/headlamp-0.41.0.tgz")
        );
        let store = ChartStore {
            charts_dir: None,
            cache_dir: Some(PathBuf::from("/nonexistent/cache")),
            offline: true,
            ..Default::default()
        };
        let evil = ChartRef {
            name: "../../../x/evil".into(),
            version: "1.0.0".into(),
            repo_url: None,
        };
        assert!(store.local(&evil).is_none());
    }

    /// A stand-in helm: logs each run to `runs`, counts how many run at once in `running/` (the most it saw goes to
    /// `max`), and prints a ConfigMap named after the release (the argument after `--`).
    fn stand_in_helm(dir: &Path) -> PathBuf {
        let p = dir.join("helm");
        let running = dir.join("running");
        std::fs::create_dir_all(&running).unwrap();
        crate::test_support::script(
            &p,
            &format!(
                "cat > /dev/null\necho \"$*\" >> {d}/runs\nrel=; seen=0; for a in \"$@\"; do if [ $seen = 1 ]; then rel=$a; break; fi; [ \"$a\" = -- ] && seen=1; done\ntouch {r}/$$\nn=$(ls {r} | wc -l)\necho $n >> {d}/seen\nsleep 0.2\nrm {r}/$$\nprintf -- '---\\n# Source: x/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: %s\\n' \"$rel\"\n",
                d = dir.display(),
                r = running.display()
            ),
        )
    }

    fn runs(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn test_chart(dir: &Path) -> Chart {
        Chart {
            path: dir.join("x-1.0.0.tgz"),
            name: "x".into(),
            version: "1.0.0".into(),
            app_version: None,
            defaults: serde_json::json!({}),
            schema: None,
            remote_schema_refs: Vec::new(),
            subchart_keys: Vec::new(),
            sha256: "ab".repeat(32),
        }
    }

    /// eval5 F-1: a `$ref` by URL (its own schema, a packed or unpacked subchart's, a relative one under an `$id`
    /// URL) is a remote reference; fragments and relative paths are local.
    #[test]
    fn schema_references_by_url_are_found_in_the_chart_and_its_subcharts() {
        let schema = serde_json::json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "properties": {
                "a": {"$ref": "#/definitions/a"},
                "b": {"$ref": "./local.json"},
                "c": {"$ref": "https://example.invalid/x.json#/y"},
                "d": {"$id": "http://example.invalid/base/", "$ref": "pod.json"},
                "e": {"items": [{"$dynamicRef": "urn:example:z"}]}
            }
        });
        assert_eq!(
            remote_schema_refs(&schema),
            [
                "http://example.invalid/base/pod.json",
                "https://example.invalid/x.json#/y",
                "urn:example:z"
            ]
        );
        let (_d, chart) = test_charts::pack("remote-schema", &[]);
        assert_eq!(chart.remote_schema_refs, ["https://example.invalid/x.json"]);
        // a local schema only: nothing
        let local = r##"{"type": "object", "properties": {"replicas": {"$ref": "#/definitions/n"}}, "definitions": {"n": {"type": "integer"}}}"##;
        let (_d, chart) = test_charts::pack("remote-schema", &[("values.schema.json", local)]);
        assert!(chart.remote_schema_refs.is_empty());
        // an unpacked subchart's schema
        let sub = r#"{"$ref": "https://example.invalid/sub.json"}"#;
        let (_d, chart) = test_charts::pack(
            "remote-schema",
            &[
                ("values.schema.json", local),
                (
                    "charts/common/Chart.yaml",
                    "apiVersion: v2\nname: common\nversion: 1.0.0\n",
                ),
                ("charts/common/values.schema.json", sub),
            ],
        );
        assert_eq!(
            chart.remote_schema_refs,
            ["https://example.invalid/sub.json"]
        );
        // a packed subchart's schema
        let (packed_dir, packed) = test_charts::pack("remote-schema", &[]);
        let packed_bytes = std::fs::read(&packed.path).unwrap();
        drop(packed_dir);
        let parent = tempfile::tempdir().unwrap();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (file, body) in [
            (
                "parent/Chart.yaml",
                b"apiVersion: v2\nname: parent\nversion: 1.0.0\n".as_slice(),
            ),
            (
                "parent/charts/remote-schema-0.1.0.tgz",
                packed_bytes.as_slice(),
            ),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, file, body).unwrap();
        }
        let path = parent.path().join("parent-1.0.0.tgz");
        std::fs::write(&path, tar.into_inner().unwrap().finish().unwrap()).unwrap();
        let chart = read_chart(&path).unwrap();
        assert_eq!(chart.remote_schema_refs, ["https://example.invalid/x.json"]);
    }

    /// eval5 F-1: helm runs with `--skip-schema-validation` for a chart whose schema refers to documents by URL,
    /// and only for such a chart.
    #[tokio::test]
    async fn only_a_chart_with_remote_schema_references_skips_schema_validation() {
        let d = tempfile::tempdir().unwrap();
        let helm = Helm::new(stand_in_helm(d.path())).with_cache(None);
        let mut chart = test_chart(d.path());
        helm.render(&chart, "r1", "ns", &serde_json::json!({}))
            .await
            .unwrap();
        chart.remote_schema_refs = vec!["https://example.invalid/x.json".into()];
        chart.sha256 = "cd".repeat(32);
        helm.render(&chart, "r1", "ns", &serde_json::json!({}))
            .await
            .unwrap();
        let runs = std::fs::read_to_string(d.path().join("runs")).unwrap();
        let runs: Vec<&str> = runs.lines().collect();
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert!(!runs[0].contains("--skip-schema-validation"), "{runs:?}");
        assert!(runs[1].contains("--skip-schema-validation"), "{runs:?}");
    }

    /// eval5 F-1, with the real helm: the remote `$ref` fixture renders offline (helm would otherwise fetch
    /// `https://example.invalid/x.json` and fail), while the same chart with a local schema still fails on a value
    /// that breaks it.
    #[tokio::test]
    async fn a_remote_schema_reference_renders_and_a_local_schema_still_checks() {
        let Some((helm, _)) = crate::chart::testing::render_tools("headlamp", "0.41.0") else {
            return;
        };
        let helm = helm.with_cache(None);
        let bad = serde_json::json!({"replicas": "many"});
        let (_d, chart) = test_charts::pack("remote-schema", &[]);
        let out = helm.render(&chart, "r", "ns", &bad).await.unwrap();
        assert!(out.contains("replicas: \"many\""), "{out}");
        let local = r#"{"type": "object", "properties": {"replicas": {"type": "integer"}}}"#;
        let (_d, chart) = test_charts::pack("remote-schema", &[("values.schema.json", local)]);
        let e = helm.render(&chart, "r", "ns", &bad).await.unwrap_err();
        assert!(matches!(e, Error::HelmTemplate { .. }), "{e}");
        assert!(e.to_string().contains("replicas"), "{e}");
    }

    #[tokio::test]
    async fn a_cached_render_skips_helm_and_a_changed_input_does_not() {
        let d = tempfile::tempdir().unwrap();
        let helm = Helm::new(stand_in_helm(d.path()))
            .with_cache(Some(RenderCache::new(d.path().join("cache"))));
        let chart = test_chart(d.path());
        let values = serde_json::json!({"b": 1, "a": {"y": 2, "x": 1}});
        let first = helm.render(&chart, "r1", "ns", &values).await.unwrap();
        assert!(first.contains("name: r1"), "{first}");
        assert_eq!(runs(d.path()), 1);
        // the same values in another key order are the same render
        let same = serde_json::json!({"a": {"x": 1, "y": 2}, "b": 1});
        assert_eq!(helm.render(&chart, "r1", "ns", &same).await.unwrap(), first);
        assert_eq!(runs(d.path()), 1, "a hit runs no helm");
        // release, namespace, values and the chart's digest are in the key
        helm.render(&chart, "r2", "ns", &values).await.unwrap();
        helm.render(&chart, "r1", "other", &values).await.unwrap();
        helm.render(&chart, "r1", "ns", &serde_json::json!({"b": 2}))
            .await
            .unwrap();
        let mut other = chart.clone();
        other.sha256 = "cd".repeat(32);
        helm.render(&other, "r1", "ns", &values).await.unwrap();
        assert_eq!(runs(d.path()), 5);
        // so is helm's identity: another binary (size, mtime) is a miss
        let helm2 = Helm::new(stand_in_helm(&d.path().join("second")))
            .with_cache(Some(RenderCache::new(d.path().join("cache"))));
        helm2.render(&chart, "r1", "ns", &values).await.unwrap();
        assert_eq!(runs(&d.path().join("second")), 1);
        // --no-cache: helm in every process (a new `Helm` is a new process's)
        let nocache = Helm::new(helm.bin.clone()).with_cache(None);
        nocache.render(&chart, "r1", "ns", &values).await.unwrap();
        assert_eq!(runs(d.path()), 6);
        // entries are whole files, written by rename: no temp file is left in the directory
        let names: Vec<String> = std::fs::read_dir(d.path().join("cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 6, "{names:?}");
        assert!(names.iter().all(|n| n.ends_with(".render")), "{names:?}");
    }

    #[tokio::test]
    async fn a_corrupt_cache_entry_is_a_miss_and_is_rewritten() {
        let d = tempfile::tempdir().unwrap();
        let cache_dir = d.path().join("cache");
        let helm =
            Helm::new(stand_in_helm(d.path())).with_cache(Some(RenderCache::new(&cache_dir)));
        let chart = test_chart(d.path());
        let values = serde_json::json!({});
        let good = helm.render(&chart, "r1", "ns", &values).await.unwrap();
        let entry = std::fs::read_dir(&cache_dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let whole = std::fs::read(&entry).unwrap();
        for bad in [
            whole[..whole.len() / 2].to_vec(), // a half-written file
            b"garbage".to_vec(),
            vec![0xff, 0xfe, b'\n', 0x00],
            Vec::new(),
        ] {
            std::fs::write(&entry, &bad).unwrap();
            let before = runs(d.path());
            // the next run of lint: a new process (within one, the render is not asked of the cache twice)
            let helm = Helm::new(helm.bin.clone()).with_cache(Some(RenderCache::new(&cache_dir)));
            assert_eq!(
                helm.render(&chart, "r1", "ns", &values).await.unwrap(),
                good
            );
            assert_eq!(runs(d.path()), before + 1, "a corrupt entry renders again");
            assert_eq!(std::fs::read(&entry).unwrap(), whole, "and is rewritten");
        }
    }

    #[tokio::test]
    async fn one_process_renders_the_same_release_once_and_a_failure_again() {
        let d = tempfile::tempdir().unwrap();
        let helm = Helm::new(stand_in_helm(d.path())).with_cache(None);
        let chart = test_chart(d.path());
        let values = serde_json::json!({"a": 1});
        // asked for at once (a render ahead of the tree, then prepare's): one helm, the same text for both
        let other = helm.clone();
        let (a, b) = tokio::join!(
            helm.render(&chart, "r1", "ns", &values),
            other.render(&chart, "r1", "ns", &values)
        );
        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(runs(d.path()), 1);
        helm.render(&chart, "r1", "ns", &values).await.unwrap();
        assert_eq!(runs(d.path()), 1, "and later: no helm");
        // a failed render is not kept: the next caller runs helm again
        let failing = tempfile::tempdir().unwrap();
        let bin = crate::test_support::script(
            &failing.path().join("helm"),
            "echo x >> \"$0.runs\"\necho 'Error: boom' >&2\nexit 1",
        );
        let broken = Helm::new(&bin).with_cache(None);
        for _ in 0..2 {
            let e = broken
                .render(&chart, "r1", "ns", &values)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("boom"), "{e}");
        }
        let tries = std::fs::read_to_string(failing.path().join("helm.runs")).unwrap();
        assert_eq!(tries.lines().count(), 2);
    }

    #[tokio::test]
    async fn at_most_the_limit_of_helm_processes_run_at_once() {
        let d = tempfile::tempdir().unwrap();
        let helm = Helm::new(stand_in_helm(d.path()))
            .with_cache(None)
            .with_parallelism(2);
        let chart = test_chart(d.path());
        let values = serde_json::json!({});
        let names: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
        let outs = futures::future::try_join_all(
            names.iter().map(|n| helm.render(&chart, n, "ns", &values)),
        )
        .await
        .unwrap();
        assert!(
            outs.iter()
                .zip(&names)
                .all(|(o, n)| o.contains(&format!("name: {n}\n")))
        );
        assert_eq!(runs(d.path()), 8);
        let seen: Vec<usize> = std::fs::read_to_string(d.path().join("seen"))
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert!(
            seen.iter().all(|&n| n <= 2),
            "more than 2 at once: {seen:?}"
        );
        assert_eq!(
            Helm::new("helm").parallelism(),
            std::thread::available_parallelism().map_or(1, usize::from)
        );
    }

    #[tokio::test]
    async fn a_helm_that_cannot_start_is_not_found_with_the_spawn_error() {
        let d = tempfile::tempdir().unwrap();
        let helm = Helm::new(d.path().join("no-such-helm"));
        let e = helm
            .render(&test_chart(d.path()), "r", "ns", &serde_json::json!({}))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("helm not found") && e.contains("No such file or directory"),
            "{e}"
        );
    }
}
