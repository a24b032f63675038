//! `unstick`: the user's recipe for a HelmRelease stuck at Ready=Unknown "Running 'install' action…", through the
//! Kubernetes API, one reported step at a time, stopping at the first failure:
//!
//! 1. **read** the HelmRelease (its Helm release name, storage namespace, state);
//! 2. **suspend**: merge patch `spec.suspend: true` (as `flux suspend hr`);
//! 3. **uninstall** the Helm release: delete the objects of its newest release manifest (newest storage Secret; objects
//!    annotated `helm.sh/resource-policy: keep` are kept, as Helm keeps them), then its storage Secrets
//!    `sh.helm.release.v1.<release>.v<N>` (label `owner=helm,name=<release>`);
//! 4. **restart helm-controller**: merge patch the pod-template annotation `kubectl.kubernetes.io/restartedAt` of
//!    Deployment flux-system/helm-controller (as `kubectl rollout restart`), and wait for the rollout: SIGTERM cancels
//!    the action the old controller holds;
//! 5. **resume**: merge patch `spec.suspend: false`;
//! 6. **reconcile**: annotations `reconcile.fluxcd.io/requestedAt` and `reconcile.fluxcd.io/forceAt` set to the SAME
//!    RFC 3339 timestamp (as `flux reconcile hr --force`; the controller honours force only when both match);
//! 7. **wait Ready**: poll until Ready=True for this request (`status.lastHandledReconcileAt` equals it), with a
//!    deadline whose error names the last state seen. Stalled=True fails at once.
//!
//! # Why uninstall through the API, not `helm uninstall`
//! Uninstalling through the API is what `helm uninstall` does for this chart (it has no hooks): delete the release's
//! objects, then its storage Secrets. Doing it here means one client and one set of credentials (the kubeconfig
//! context the other steps use: `helm` would read its own kubeconfig/context resolution and could act on another
//! cluster), no helm binary needed on the machine that runs the fix, every request reported with its result, and the
//! whole procedure testable against a mocked API with the exact sequence of requests. The cost: chart hooks
//! (pre/post-delete) do not run — a chart that needs them should be uninstalled with helm.
//!
//! Suspend/resume/reconcile/restart helpers are kept small here; a `flux` module written in parallel will own them.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::view::{self, DEPLOYMENT, HELMRELEASE};

pub use crate::flux::reconcile::FORCE_AT_ANNOTATION as FORCE_AT;
/// Annotation of `flux reconcile --force`.
pub use crate::flux::reconcile::REQUESTED_AT_ANNOTATION as REQUESTED_AT;
/// Annotation of `kubectl rollout restart`.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

#[derive(Debug, Clone)]
pub struct UnstickOptions {
    /// The HelmRelease.
    pub name: String,
    pub namespace: String,
    /// Deadline of the whole procedure (the rollout and Ready waits are what take time).
    pub timeout: Duration,
    /// Poll interval of the waits.
    pub poll: Duration,
    pub controller_namespace: String,
    pub controller: String,
}

impl UnstickOptions {
    pub fn new(name: &str, namespace: &str) -> Self {
        UnstickOptions {
            name: name.to_string(),
            namespace: namespace.to_string(),
            timeout: Duration::from_secs(600),
            poll: Duration::from_secs(2),
            controller_namespace: "flux-system".to_string(),
            controller: "helm-controller".to_string(),
        }
    }
}

/// A step's result: what it did, or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(String),
    Failed(String),
}

/// One reported step.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

impl Step {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Done(_))
    }
    pub fn detail(&self) -> &str {
        match &self.outcome {
            Outcome::Done(s) | Outcome::Failed(s) => s,
        }
    }
}

/// The steps, in order, up to and including the first failure.
#[derive(Debug, Clone, Default)]
pub struct UnstickReport {
    pub steps: Vec<Step>,
    /// The procedure stopped because its `--timeout` ran out (the last step names what it was waiting for).
    pub timed_out: bool,
}

impl UnstickReport {
    pub fn succeeded(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(Step::ok)
    }

    /// The failed step and its error, for a one-line report (e.g. an e2e assertion).
    pub fn failure_message(&self) -> String {
        match self.steps.iter().find(|s| !s.ok()) {
            Some(Step {
                name,
                outcome: Outcome::Failed(m),
                ..
            }) => format!("unstick step `{name}` failed: {m}"),
            _ if self.steps.is_empty() => "unstick ran no step".to_string(),
            _ => "unstick did not finish".to_string(),
        }
    }
}

/// The step names, in order.
pub const STEPS: [&str; 7] = [
    "read",
    "suspend",
    "uninstall",
    "restart helm-controller",
    "resume",
    "reconcile",
    "wait Ready",
];

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let msg = if s.message.is_empty() {
                &s.reason
            } else {
                &s.message
            };
            format!("{} {}: {msg}", s.code, s.reason)
        }
        other => view::error_chain(other),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn dynamic_api(client: &Client, kind: &view::ResourceKind, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group, kind.version, kind.kind),
        kind.plural,
    );
    match ns.filter(|_| kind.namespaced) {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// `spec.suspend` (merge patch), as `flux suspend`/`flux resume`.
pub async fn set_suspend(api: &Api<DynamicObject>, name: &str, suspend: bool) -> kube::Result<()> {
    let patch = crate::flux::reconcile::suspend_patch(suspend);
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

/// Request a reconcile (with `force`: `forceAt` too, the same value), as `flux reconcile [--force]`.
pub async fn request_reconcile(
    api: &Api<DynamicObject>,
    name: &str,
    at: &str,
    force: bool,
) -> kube::Result<()> {
    let patch = crate::flux::reconcile::reconcile_patch(at, force);
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

/// `kubectl rollout restart deployment`: the pod-template annotation `kubectl.kubernetes.io/restartedAt`.
pub async fn restart_deployment(
    client: &Client,
    namespace: &str,
    name: &str,
    at: &str,
) -> kube::Result<()> {
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}});
    dynamic_api(client, &DEPLOYMENT, Some(namespace))
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

/// "Ready=Unknown (Progressing): Running 'install' action…" of an object's Ready condition.
pub fn ready_state(obj: &Value) -> String {
    match view::condition(obj, "Ready") {
        Some(c) => format!(
            "Ready={} ({}): {}",
            c["status"].as_str().unwrap_or("?"),
            c["reason"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        ),
        None => "no Ready condition yet".to_string(),
    }
}

/// The release manifest of a Helm storage Secret's `release` value (base64 of gzip of JSON, as Helm stores it).
pub fn decode_release(data: &[u8]) -> Result<Value, String> {
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| format!("release data is not base64: {e}"))?;
    let json_bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| format!("release data is not gzip: {e}"))?;
        out
    } else {
        raw
    };
    serde_json::from_slice(&json_bytes).map_err(|e| format!("release data is not JSON: {e}"))
}

/// An object of a release manifest to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub keep: bool,
}

impl ManifestObject {
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// The objects of a release manifest, in manifest order.
pub fn manifest_objects(manifest: &str) -> Result<Vec<ManifestObject>, String> {
    let docs = crate::yaml::parse_yaml_documents(manifest, Path::new("release manifest"))
        .map_err(|e| e.to_string())?;
    Ok(docs
        .into_iter()
        .filter_map(|d| {
            Some(ManifestObject {
                api_version: d["apiVersion"].as_str()?.to_string(),
                kind: d["kind"].as_str()?.to_string(),
                name: d["metadata"]["name"].as_str()?.to_string(),
                namespace: d["metadata"]["namespace"].as_str().map(str::to_string),
                keep: d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep",
            })
        })
        .collect())
}

/// Storage Secrets of a release, newest version last.
fn storage_secrets(secrets: Vec<Secret>, release: &str) -> Vec<(u64, Secret)> {
    let prefix = format!("sh.helm.release.v1.{release}.v");
    let mut out: Vec<(u64, Secret)> = secrets
        .into_iter()
        .filter_map(|s| {
            let v = s
                .metadata
                .name
                .as_deref()?
                .strip_prefix(&prefix)?
                .parse::<u64>()
                .ok()?;
            Some((v, s))
        })
        .collect();
    out.sort_by_key(|(v, _)| *v);
    out
}

struct Ctx<'a> {
    client: &'a Client,
    opts: &'a UnstickOptions,
    hr: Api<DynamicObject>,
    deadline: Instant,
    timed_out: std::sync::atomic::AtomicBool,
}

/// How long after the deadline a step may take to report it (the waits name the last state they saw).
const STEP_GRACE: Duration = Duration::from_secs(1);
/// The least time one read of a wait gets, also at the deadline (so a wait can report what it saw last).
const LAST_READ: Duration = Duration::from_millis(250);

impl Ctx<'_> {
    /// Until when one read of a wait may take: the deadline, or [`LAST_READ`] from now when that is later.
    fn read_until(&self) -> Instant {
        self.deadline.max(Instant::now() + LAST_READ)
    }
}

/// A step bounded by the procedure's deadline: a request that never comes back (an API server that accepts and
/// never answers) ends the step at the deadline, with what it was doing.
async fn bounded<T>(
    ctx: &Ctx<'_>,
    step: &str,
    fut: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    // the waits report their own deadline with the last state seen; this is the backstop for any other request
    match tokio::time::timeout_at(ctx.deadline + STEP_GRACE, fut).await {
        Ok(r) => r,
        Err(_) => {
            ctx.timed_out
                .store(true, std::sync::atomic::Ordering::Relaxed);
            Err(format!(
                "timed out: step `{step}` did not finish within the --timeout of {} (no answer from the API server?)",
                view::human_duration(ctx.opts.timeout)
            ))
        }
    }
}

/// Run the recipe. `on_step` sees each step when it ends; the report holds them all. Stops at the first failure.
pub async fn unstick(
    client: &Client,
    opts: &UnstickOptions,
    on_step: &mut (dyn FnMut(&Step) + Send),
) -> UnstickReport {
    let ctx = Ctx {
        client,
        opts,
        hr: dynamic_api(client, &HELMRELEASE, Some(&opts.namespace)),
        deadline: Instant::now() + opts.timeout,
        timed_out: Default::default(),
    };
    let mut report = UnstickReport::default();
    let mut record = |name: &'static str, started: Instant, r: Result<String, String>| {
        // a step's detail quotes the cluster (condition messages, API errors): through the one text redaction
        let step = Step {
            name,
            outcome: match r {
                Ok(s) => Outcome::Done(crate::report::redact::redact(&s)),
                Err(s) => Outcome::Failed(crate::report::redact::redact(&s)),
            },
            elapsed: started.elapsed(),
        };
        on_step(&step);
        let ok = step.ok();
        report.steps.push(step);
        report.timed_out = ctx.timed_out.load(std::sync::atomic::Ordering::Relaxed);
        ok
    };

    let t = Instant::now();
    let read = bounded(&ctx, STEPS[0], read(&ctx)).await;
    let (release, release_ns, storage_ns) = match &read {
        Ok((_, r)) => r.clone(),
        Err(_) => Default::default(),
    };
    if !record(STEPS[0], t, read.map(|(s, _)| s)) {
        return report;
    }
    let t = Instant::now();
    let r = bounded(&ctx, STEPS[1], async {
        set_suspend(&ctx.hr, &opts.name, true)
            .await
            .map(|_| "spec.suspend: true".to_string())
            .map_err(|e| describe(&e))
    })
    .await;
    if !record(STEPS[1], t, r) {
        return report;
    }
    let t = Instant::now();
    let r = bounded(
        &ctx,
        STEPS[2],
        uninstall(&ctx, &release, &release_ns, &storage_ns),
    )
    .await;
    if !record(STEPS[2], t, r) {
        return report;
    }
    let t = Instant::now();
    let r = bounded(&ctx, STEPS[3], restart_controller(&ctx)).await;
    if !record(STEPS[3], t, r) {
        return report;
    }
    let t = Instant::now();
    let r = bounded(&ctx, STEPS[4], async {
        set_suspend(&ctx.hr, &opts.name, false)
            .await
            .map(|_| "spec.suspend: false".to_string())
            .map_err(|e| describe(&e))
    })
    .await;
    if !record(STEPS[4], t, r) {
        return report;
    }
    let t = Instant::now();
    let at = Timestamp::now().to_string();
    let r = bounded(&ctx, STEPS[5], async {
        request_reconcile(&ctx.hr, &opts.name, &at, true)
            .await
            .map(|_| format!("{REQUESTED_AT} = {FORCE_AT} = {at}"))
            .map_err(|e| describe(&e))
    })
    .await;
    if !record(STEPS[5], t, r) {
        return report;
    }
    let t = Instant::now();
    let r = bounded(&ctx, STEPS[6], wait_ready(&ctx, &at)).await;
    record(STEPS[6], t, r);
    report
}

/// (detail, (release name, release namespace, storage namespace))
async fn read(ctx: &Ctx<'_>) -> Result<(String, (String, String, String)), String> {
    let o = &ctx.opts;
    let hr = match ctx.hr.get_opt(&o.name).await {
        Ok(Some(hr)) => hr,
        Ok(None) => {
            return Err(format!("HelmRelease {}/{} not found", o.namespace, o.name));
        }
        Err(e) => return Err(describe(&e)),
    };
    let v = serde_json::to_value(&hr).map_err(|e| e.to_string())?;
    let release = crate::doctor::release::release_name(&v);
    let release_ns = v["status"]["history"][0]["namespace"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| crate::doctor::release::target_namespace(&v));
    let storage_ns = v["spec"]["storageNamespace"]
        .as_str()
        .or(v["status"]["storageNamespace"].as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(&o.namespace)
        .to_string();
    Ok((
        format!(
            "HelmRelease {}/{}: {}; Helm release {release} in {release_ns} (storage in {storage_ns})",
            o.namespace,
            o.name,
            ready_state(&v)
        ),
        (release, release_ns, storage_ns),
    ))
}

async fn resource_api(
    client: &Client,
    o: &ManifestObject,
    release_ns: &str,
) -> Result<(Api<DynamicObject>, Option<String>), String> {
    let (group, version) = match o.api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", o.api_version.as_str()),
    };
    let (ar, namespaced) = match view::known_kind(group, &o.kind) {
        Some(k) if k.version == version => (
            ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, &o.kind),
                k.plural,
            ),
            k.namespaced,
        ),
        _ => {
            let gvk = GroupVersionKind::gvk(group, version, &o.kind);
            let (ar, caps) = kube::discovery::pinned_kind(client, &gvk)
                .await
                .map_err(|e| {
                    format!(
                        "cannot resolve {} {}: {}",
                        o.api_version,
                        o.kind,
                        describe(&e)
                    )
                })?;
            let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
            (ar, namespaced)
        }
    };
    if namespaced {
        let ns = o
            .namespace
            .clone()
            .unwrap_or_else(|| release_ns.to_string());
        Ok((Api::namespaced_with(client.clone(), &ns, &ar), Some(ns)))
    } else {
        Ok((Api::all_with(client.clone(), &ar), None))
    }
}

async fn uninstall(
    ctx: &Ctx<'_>,
    release: &str,
    release_ns: &str,
    storage_ns: &str,
) -> Result<String, String> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), storage_ns);
    let lp = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let list = secrets.list(&lp).await.map_err(|e| describe(&e))?;
    let storage = storage_secrets(list.items, release);
    let Some((version, newest)) = storage.last() else {
        return Ok(format!(
            "no Helm release `{release}` in namespace {storage_ns} (no sh.helm.release.v1.{release}.v* Secret): nothing to uninstall"
        ));
    };
    let data = newest
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| format!("storage Secret of v{version} has no `release` key"))?;
    let rel = decode_release(&data.0)?;
    let manifest = rel["manifest"].as_str().unwrap_or("");
    let objects = manifest_objects(manifest)?;

    let mut deleted = Vec::new();
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for o in objects.iter().rev() {
        if o.keep {
            kept.push(o.id());
            continue;
        }
        let (api, ns) = resource_api(ctx.client, o, release_ns).await?;
        let id = match &ns {
            Some(ns) => format!("{}/{ns}/{}", o.kind, o.name),
            None => format!("{}/{}", o.kind, o.name),
        };
        match api.delete(&o.name, &DeleteParams::background()).await {
            Ok(_) => deleted.push(id),
            Err(e) if is_not_found(&e) => gone.push(id),
            Err(e) => return Err(format!("deleting {id}: {}", describe(&e))),
        }
    }
    let mut secret_names = Vec::new();
    for (_, s) in &storage {
        let name = s.metadata.name.clone().unwrap_or_default();
        match secrets.delete(&name, &DeleteParams::background()).await {
            Ok(_) => secret_names.push(name),
            Err(e) if is_not_found(&e) => secret_names.push(format!("{name} (already gone)")),
            Err(e) => {
                return Err(format!(
                    "deleting Secret {storage_ns}/{name}: {}",
                    describe(&e)
                ));
            }
        }
    }
    let kept = if kept.is_empty() {
        String::new()
    } else {
        format!(
            "; kept (helm.sh/resource-policy: keep): {}",
            kept.join(", ")
        )
    };
    let gone = if gone.is_empty() {
        String::new()
    } else {
        format!("; already gone: {}", gone.join(", "))
    };
    Ok(format!(
        "Helm release {release} v{version}: deleted {} object{} ({}) and {} storage Secret{} ({}){gone}{kept}",
        deleted.len(),
        if deleted.len() == 1 { "" } else { "s" },
        deleted.join(", "),
        secret_names.len(),
        if secret_names.len() == 1 { "" } else { "s" },
        secret_names.join(", "),
    ))
}

async fn restart_controller(ctx: &Ctx<'_>) -> Result<String, String> {
    let (ns, name) = (&ctx.opts.controller_namespace, &ctx.opts.controller);
    let at = Timestamp::from_second(Timestamp::now().as_second())
        .unwrap_or_else(|_| Timestamp::now())
        .to_string();
    restart_deployment(ctx.client, ns, name, &at)
        .await
        .map_err(|e| format!("Deployment {ns}/{name}: {}", describe(&e)))?;
    let api = dynamic_api(ctx.client, &DEPLOYMENT, Some(ns));
    let mut seen = String::from("no answer yet");
    loop {
        let Ok(got) = tokio::time::timeout_at(ctx.read_until(), api.get(name)).await else {
            return Err(format!(
                "Deployment {ns}/{name} did not roll out within the deadline (the last request got no answer); last state: {seen}"
            ));
        };
        let last = match got {
            Ok(d) => {
                let v = serde_json::to_value(&d).map_err(|e| e.to_string())?;
                let n = |p: &str| v.pointer(p).and_then(Value::as_i64).unwrap_or(0);
                let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
                let (generation, observed) =
                    (n("/metadata/generation"), n("/status/observedGeneration"));
                let (updated, available, total) = (
                    n("/status/updatedReplicas"),
                    n("/status/availableReplicas"),
                    n("/status/replicas"),
                );
                if observed >= generation
                    && updated >= want
                    && available >= want
                    && total <= updated
                {
                    return Ok(format!(
                        "{RESTARTED_AT} = {at}; rolled out ({updated}/{want} updated and available)"
                    ));
                }
                format!(
                    "generation {generation} (observed {observed}), {updated} updated, {available} available, {total} total of {want}"
                )
            }
            Err(e) => describe(&e),
        };
        if Instant::now() + ctx.opts.poll > ctx.deadline {
            return Err(format!(
                "Deployment {ns}/{name} did not roll out within the deadline; last state: {last}"
            ));
        }
        seen = last;
        tokio::time::sleep(ctx.opts.poll).await;
    }
}

async fn wait_ready(ctx: &Ctx<'_>, at: &str) -> Result<String, String> {
    let o = &ctx.opts;
    let started = Instant::now();
    let mut seen = String::from("no answer yet");
    loop {
        let Ok(got) = tokio::time::timeout_at(ctx.read_until(), ctx.hr.get(&o.name)).await else {
            return Err(format!(
                "HelmRelease {}/{} not Ready within {} (requested at {at}; the last request got no answer); last state: {seen}",
                o.namespace,
                o.name,
                view::human_duration(o.timeout)
            ));
        };
        let last = match got {
            Ok(hr) => {
                let v = serde_json::to_value(&hr).map_err(|e| e.to_string())?;
                let handled = v["status"]["lastHandledReconcileAt"].as_str().unwrap_or("");
                let ready = view::condition(&v, "Ready");
                let generation = v["metadata"]["generation"].as_i64().unwrap_or(0);
                let observed = v["status"]["observedGeneration"].as_i64().unwrap_or(0);
                if handled == at
                    && observed >= generation
                    && ready.is_some_and(|c| c["status"] == "True")
                {
                    return Ok(format!(
                        "Ready after {}: {}",
                        view::human_duration(started.elapsed()),
                        ready_state(&v)
                    ));
                }
                if handled == at
                    && let Some(s) = view::condition(&v, "Stalled")
                    && s["status"] == "True"
                {
                    return Err(format!(
                        "HelmRelease {}/{} is Stalled ({}): {}",
                        o.namespace,
                        o.name,
                        s["reason"].as_str().unwrap_or(""),
                        s["message"].as_str().unwrap_or("")
                    ));
                }
                format!(
                    "{}; lastHandledReconcileAt {}",
                    ready_state(&v),
                    if handled.is_empty() { "unset" } else { handled }
                )
            }
            Err(e) => describe(&e),
        };
        if Instant::now() + o.poll > ctx.deadline {
            return Err(format!(
                "HelmRelease {}/{} not Ready within {} (requested at {at}); last state: {last}",
                o.namespace,
                o.name,
                view::human_duration(o.timeout)
            ));
        }
        seen = last;
        tokio::time::sleep(o.poll).await;
    }
}

#[cfg(test)]
mod tests;
