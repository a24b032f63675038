//! `psa-restricted`: Pod Security Standards "restricted" violations of pod templates in restricted namespaces.
//!
//! A port of the checks of `k8s.io/pod-security-admission/policy` at level `restricted` (which is every baseline
//! check, minus the baseline checks a restricted check overrides, plus the restricted checks), with the reasons and
//! details worded exactly as the admission controller words them. One finding per (pod template, failed check).
//!
//! Policy versions are honoured the way the registry resolves them: `pod-security.kubernetes.io/enforce-version`
//! (default `latest`) picks, per check, the newest revision whose minimum version is not newer; versions above the
//! newest modelled one, and `latest`, resolve to [`LATEST_MINOR`] (the API version k8s-openapi is built for).
//!
//! | check | level | revisions modelled |
//! |---|---|---|
//! | appArmorProfile, hostNamespaces, hostPorts, privileged, windowsHostProcess | baseline | 1.0 |
//! | capabilities_baseline | baseline, overridden by capabilities_restricted from 1.22 | 1.0 |
//! | hostPathVolumes | baseline, always overridden by restrictedVolumes (which reports hostPath) | — |
//! | hostProbesAndHostLifecycle | baseline | 1.34 |
//! | procMount (→ procMount_restricted from 1.35, same rule) | baseline/restricted | 1.0 |
//! | seLinuxOptions | baseline | 1.0, 1.31 (`container_engine_t`) |
//! | seccompProfile_baseline (annotations) | baseline, overridden by seccompProfile_restricted from 1.19 | 1.0 |
//! | sysctls | baseline | 1.0, 1.27, 1.29, 1.32 |
//! | allowPrivilegeEscalation | restricted | 1.8, 1.25 (Windows pods exempt) |
//! | capabilities_restricted | restricted | 1.22, 1.25 (Windows pods exempt) |
//! | restrictedVolumes | restricted | 1.0 |
//! | runAsNonRoot | restricted | 1.0, 1.35 (`hostUsers: false` exempt) |
//! | runAsUser | restricted | 1.23, 1.35 (`hostUsers: false` exempt) |
//! | seccompProfile_restricted | restricted | 1.19, 1.25 (Windows pods exempt) |

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, PodSecurityContext, PodSpec, Probe, SELinuxOptions, SecurityContext,
};
use serde::Deserialize;
use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::gitops::Object;
use crate::rules::input::{LintInput, pod_spec, pointer_to_path};

pub const RULE: &str = "psa-restricted";

const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";

/// The newest policy version modelled (`v1.35`); `latest` and newer pinned versions evaluate as this one.
const LATEST_MINOR: u32 = 35;

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// `capabilities_allowed_1_0`: what baseline lets a container add.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Safe sysctls and the policy version that allowed them.
const SAFE_SYSCTLS: [(&str, u32); 12] = [
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
];

const ALLOWED_VOLUME_TYPES: &str = "configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret";

pub fn check(input: &LintInput) -> Vec<Finding> {
    // The first Namespace object of a name decides its policy.
    let mut policies: BTreeMap<&str, Option<Policy>> = BTreeMap::new();
    for ns in input.objects.iter().filter(|o| o.is("", "Namespace")) {
        policies.entry(ns.name()).or_insert_with(|| Policy::of(ns));
    }
    let policy = |ns: &str| policies.get(ns).and_then(Option::as_ref);

    let mut out = Vec::new();
    for o in &input.objects {
        if let Some(p) = policy(o.namespace().unwrap_or("default")) {
            out.extend(check_object(o, p, None));
        }
    }
    for r in &input.releases {
        for o in &r.rendered {
            if let Some(p) = policy(o.namespace().unwrap_or(&r.namespace)) {
                out.extend(check_object(o, p, Some(&r.chart_name)));
            }
        }
    }
    out
}

/// The enforced policy of a namespace labelled `enforce: restricted`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    /// As the admission controller prints it: `latest` or `v1.N`.
    version: String,
    /// The policy version the checks are evaluated at.
    minor: u32,
}

impl Policy {
    fn of(ns: &Object) -> Option<Policy> {
        if ns.label(ENFORCE_LABEL)? != "restricted" {
            return None;
        }
        let label = ns.label(ENFORCE_VERSION_LABEL).unwrap_or("latest");
        Some(match parse_minor(label) {
            Some(minor) => Policy {
                version: label.to_string(),
                minor: minor.min(LATEST_MINOR),
            },
            // `latest`, or a version the admission controller cannot parse (it falls back to its default, latest).
            None => Policy {
                version: "latest".to_string(),
                minor: LATEST_MINOR,
            },
        })
    }
}

/// `v1.N` → N (as `api.ParseVersion` accepts it: no leading zeros).
fn parse_minor(version: &str) -> Option<u32> {
    let digits = version.strip_prefix("v1.")?;
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if well_formed {
        digits.parse().ok()
    } else {
        None
    }
}

fn check_object(o: &Object, policy: &Policy, chart: Option<&str>) -> Vec<Finding> {
    let Some(pod) = Pod::of(o) else {
        return Vec::new();
    };
    evaluate(&pod, policy.minor)
        .into_iter()
        .map(|v| finding(o, policy, chart, v))
        .collect()
}

fn finding(o: &Object, policy: &Policy, chart: Option<&str>, v: Violation) -> Finding {
    let mut message = format!(
        "would violate PodSecurity \"restricted:{}\": {}",
        policy.version, v.reason
    );
    if !v.detail.is_empty() {
        message.push_str(&format!(" ({})", v.detail));
    }
    let mut fix = v.fix;
    if let Some(chart) = chart {
        fix.push('\n');
        match (chart, v.values) {
            ("headlamp", Some(values)) => fix.push_str(&format!(
                "rendered from the headlamp chart: {values} in the HelmRelease values"
            )),
            _ => fix.push_str(&format!(
                "rendered from the {chart} chart: change it through the HelmRelease values"
            )),
        }
    }
    Finding::new(RULE, Severity::Error)
        .file(o.location())
        .object(o.id())
        .path(v.path)
        .message(message)
        .fix(fix)
}

/// A pod template as the checks see it.
struct Pod {
    spec: PodSpec,
    annotations: BTreeMap<String, String>,
    /// Init containers, containers, ephemeral containers: the admission controller's visiting order.
    containers: Vec<Ctr>,
    /// kubectl-style paths of the PodSpec and of the pod's metadata.
    spec_path: String,
    meta_path: String,
}

struct Ctr {
    c: Container,
    path: String,
}

impl Ctr {
    fn name(&self) -> &str {
        &self.c.name
    }
    fn sc(&self) -> Option<&SecurityContext> {
        self.c.security_context.as_ref()
    }
}

impl Pod {
    /// `None` when the object has no pod template, or when it does not deserialize (another rule reports bad fields).
    fn of(o: &Object) -> Option<Pod> {
        let (ptr, value) = pod_spec(o)?;
        let mut spec = PodSpec::deserialize(value).ok()?;
        // Ephemeral containers are visited as containers, as upstream does.
        let ephemeral = match value.get("ephemeralContainers") {
            Some(v) if !v.is_null() => Vec::<Container>::deserialize(v).ok()?,
            _ => Vec::new(),
        };
        let meta_ptr = format!("{}metadata", ptr.strip_suffix("spec").unwrap_or(ptr));
        let annotations = o
            .value
            .pointer(&format!("{meta_ptr}/annotations"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let spec_path = pointer_to_path(ptr);
        let lists = [
            (
                "initContainers",
                spec.init_containers.take().unwrap_or_default(),
            ),
            ("containers", std::mem::take(&mut spec.containers)),
            ("ephemeralContainers", ephemeral),
        ];
        let containers = lists
            .into_iter()
            .flat_map(|(field, list)| {
                let spec_path = &spec_path;
                list.into_iter().enumerate().map(move |(i, c)| Ctr {
                    c,
                    path: format!("{spec_path}.{field}[{i}]"),
                })
            })
            .collect();
        Some(Pod {
            spec,
            annotations,
            containers,
            meta_path: pointer_to_path(&meta_ptr),
            spec_path,
        })
    }

    fn sc(&self) -> Option<&PodSecurityContext> {
        self.spec.security_context.as_ref()
    }
    fn is_windows(&self) -> bool {
        self.spec.os.as_ref().is_some_and(|os| os.name == "windows")
    }
    /// `hostUsers: false`: the pod runs in a user namespace.
    fn user_namespaced(&self) -> bool {
        self.spec.host_users == Some(false)
    }
    fn pod_field(&self, field: &str) -> String {
        format!("{}.securityContext.{field}", self.spec_path)
    }
    fn annotation_path(&self, key: &str) -> String {
        format!("{}.annotations[{key}]", self.meta_path)
    }
}

/// One failed check.
struct Violation {
    reason: String,
    detail: String,
    /// The field to look at first.
    path: String,
    fix: String,
    /// For objects rendered by the headlamp chart: what to do in its values.
    values: Option<String>,
}

type Check = fn(&Pod, u32) -> Option<Violation>;

/// Upstream order: baseline checks by id, then restricted checks by id.
const CHECKS: [Check; 17] = [
    app_armor_profile,
    capabilities_baseline,
    host_namespaces,
    host_ports,
    host_probes_and_host_lifecycle,
    privileged,
    proc_mount,
    se_linux_options,
    seccomp_profile_baseline,
    sysctls,
    windows_host_process,
    allow_privilege_escalation,
    capabilities_restricted,
    restricted_volumes,
    run_as_non_root,
    run_as_user,
    seccomp_profile_restricted,
];

fn evaluate(pod: &Pod, minor: u32) -> Vec<Violation> {
    CHECKS
        .iter()
        .filter_map(|check| check(pod, minor))
        .collect()
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// `"a", "b"`, as upstream's `joinQuote` (no escaping).
fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let quoted: Vec<String> = items
        .into_iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    quoted.join(", ")
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Go's `%q` for the strings annotations hold.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Baseline: AppArmor profile types and annotations.
fn app_armor_profile(pod: &Pod, _: u32) -> Option<Violation> {
    let allowed_type = |t: &str| t == "RuntimeDefault" || t == "Localhost";
    let allowed_annotation =
        |v: &str| v.is_empty() || v == "runtime/default" || v.starts_with("localhost/");
    let mut setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut path = None;
    let mut values = None;

    if let Some(p) = pod.sc().and_then(|s| s.app_armor_profile.as_ref())
        && !allowed_type(&p.type_)
    {
        setters.push("pod".to_string());
        bad_values.insert(p.type_.clone());
        path = Some(pod.pod_field("appArmorProfile.type"));
        values = Some("set `podSecurityContext.appArmorProfile.type: RuntimeDefault`".to_string());
    }
    let mut bad_containers = Vec::new();
    for c in &pod.containers {
        if let Some(p) = c.sc().and_then(|s| s.app_armor_profile.as_ref())
            && !allowed_type(&p.type_)
        {
            bad_containers.push(c.name());
            bad_values.insert(p.type_.clone());
            path.get_or_insert_with(|| format!("{}.securityContext.appArmorProfile.type", c.path));
            values.get_or_insert_with(|| {
                "set `securityContext.appArmorProfile.type: RuntimeDefault`".to_string()
            });
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    let mut bad_annotations = Vec::new();
    for (k, v) in &pod.annotations {
        if k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !allowed_annotation(v) {
            bad_annotations.push(format!("{k}={}", go_quote(v)));
            path.get_or_insert_with(|| pod.annotation_path(k));
        }
    }
    if !bad_annotations.is_empty() {
        setters.push(pluralize("annotation", "annotations", bad_annotations.len()).to_string());
    }
    if setters.is_empty() {
        return None;
    }
    let field_setters = &setters[..setters.len() - usize::from(!bad_annotations.is_empty())];
    let mut fixes = Vec::new();
    if !field_setters.is_empty() {
        fixes.push(format!(
            "set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (or remove it) on the {}",
            field_setters.join(" and ")
        ));
    }
    if !bad_annotations.is_empty() {
        fixes.push(format!(
            "set the {APPARMOR_ANNOTATION_PREFIX}* annotations to runtime/default or localhost/<profile> (or remove them)"
        ));
    }
    let fix = fixes.join("\n");
    let mut bad_list: Vec<String> = bad_values.into_iter().collect();
    bad_list.extend(bad_annotations);
    Some(Violation {
        reason: pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            bad_list.len(),
        )
        .to_string(),
        detail: format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&bad_list)
        ),
        path: path.unwrap_or_default(),
        fix,
        values,
    })
}

/// Baseline (until restricted 1.22 overrides it): only the default capabilities may be added.
fn capabilities_baseline(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor >= 22 {
        return None;
    }
    let mut bad = Vec::new();
    let mut caps = BTreeSet::new();
    let mut path = None;
    for c in &pod.containers {
        let Some(capabilities) = c.sc().and_then(|s| s.capabilities.as_ref()) else {
            continue;
        };
        let mut valid = true;
        for cap in capabilities.add.iter().flatten() {
            if !BASELINE_CAPABILITIES.contains(&cap.as_str()) {
                valid = false;
                caps.insert(cap.as_str());
            }
        }
        if !valid {
            bad.push(c.name());
            path.get_or_insert_with(|| format!("{}.securityContext.capabilities.add", c.path));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "non-default capabilities".to_string(),
        detail: format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&caps)
        ),
        path: path.unwrap_or_default(),
        fix: format!(
            "remove {} from securityContext.capabilities.add of {}",
            join_quote(&caps),
            containers_phrase(&bad)
        ),
        values: Some("remove them from `securityContext.capabilities.add`".to_string()),
    })
}

/// Baseline: hostNetwork, hostPID, hostIPC.
fn host_namespaces(pod: &Pod, _: u32) -> Option<Violation> {
    let mut set = Vec::new();
    for (field, value) in [
        ("hostNetwork", pod.spec.host_network),
        ("hostPID", pod.spec.host_pid),
        ("hostIPC", pod.spec.host_ipc),
    ] {
        if value == Some(true) {
            set.push(field);
        }
    }
    let first = set.first()?;
    Some(Violation {
        reason: "host namespaces".to_string(),
        detail: set
            .iter()
            .map(|f| format!("{f}=true"))
            .collect::<Vec<_>>()
            .join(", "),
        path: format!("{}.{first}", pod.spec_path),
        fix: format!(
            "remove {} from {} (or set it to false)",
            set.iter()
                .map(|f| format!("{f}: true"))
                .collect::<Vec<_>>()
                .join(", "),
            pod.spec_path
        ),
        values: None,
    })
}

/// Baseline: no container port may be bound to the node.
fn host_ports(pod: &Pod, _: u32) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut ports = BTreeSet::new();
    let mut path = None;
    for c in &pod.containers {
        let mut valid = true;
        for (j, port) in c.c.ports.iter().flatten().enumerate() {
            if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
                valid = false;
                ports.insert(host_port.to_string());
                path.get_or_insert_with(|| format!("{}.ports[{j}].hostPort", c.path));
            }
        }
        if !valid {
            bad.push(c.name());
        }
    }
    if bad.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    Some(Violation {
        reason: "hostPort".to_string(),
        detail: format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
        path: path.unwrap_or_default(),
        fix: format!(
            "remove hostPort from the ports of {}: reach the pod through a Service",
            containers_phrase(&bad)
        ),
        values: None,
    })
}

/// Baseline from 1.34: probes and lifecycle handlers must not name a host.
fn host_probes_and_host_lifecycle(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor < 34 {
        return None;
    }
    let mut bad = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let mut path = None;
    for c in &pod.containers {
        let probes: [(&str, Option<&Probe>); 3] = [
            ("livenessProbe", c.c.liveness_probe.as_ref()),
            ("readinessProbe", c.c.readiness_probe.as_ref()),
            ("startupProbe", c.c.startup_probe.as_ref()),
        ];
        let mut handlers = Vec::new();
        for (field, probe) in probes {
            if let Some(p) = probe {
                handlers.push((
                    field.to_string(),
                    p.http_get.as_ref().and_then(|h| h.host.as_deref()),
                    "httpGet",
                ));
                handlers.push((
                    field.to_string(),
                    p.tcp_socket.as_ref().and_then(|t| t.host.as_deref()),
                    "tcpSocket",
                ));
            }
        }
        if let Some(lifecycle) = &c.c.lifecycle {
            for (field, handler) in [
                ("postStart", &lifecycle.post_start),
                ("preStop", &lifecycle.pre_stop),
            ] {
                if let Some(h) = handler {
                    let field = format!("lifecycle.{field}");
                    handlers.push((
                        field.clone(),
                        h.http_get.as_ref().and_then(|a| a.host.as_deref()),
                        "httpGet",
                    ));
                    handlers.push((
                        field,
                        h.tcp_socket.as_ref().and_then(|a| a.host.as_deref()),
                        "tcpSocket",
                    ));
                }
            }
        }
        for (field, host, action) in handlers {
            if let Some(host) = host.filter(|h| !h.is_empty()) {
                bad.insert(c.name());
                hosts.insert(host);
                path.get_or_insert_with(|| format!("{}.{field}.{action}.host", c.path));
            }
        }
    }
    if bad.is_empty() {
        return None;
    }
    let bad: Vec<&str> = bad.into_iter().collect();
    Some(Violation {
        reason: "probe or lifecycle host".to_string(),
        detail: format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
        path: path.unwrap_or_default(),
        fix: format!(
            "remove `host` from the httpGet/tcpSocket probes and lifecycle handlers of {}: without it they target the pod IP",
            containers_phrase(&bad)
        ),
        values: None,
    })
}

/// Baseline: no privileged container.
fn privileged(pod: &Pod, _: u32) -> Option<Violation> {
    let bad: Vec<&Ctr> = pod
        .containers
        .iter()
        .filter(|c| c.sc().and_then(|s| s.privileged) == Some(true))
        .collect();
    let first = bad.first()?;
    let names: Vec<&str> = bad.iter().map(|c| c.name()).collect();
    Some(Violation {
        reason: "privileged".to_string(),
        detail: format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&names)
        ),
        path: format!("{}.securityContext.privileged", first.path),
        fix: format!(
            "set securityContext.privileged: false (or remove it) on {}",
            containers_phrase(&names)
        ),
        values: Some("set `securityContext.privileged: false`".to_string()),
    })
}

/// Baseline procMount, and restricted procMount_restricted from 1.35 (the same rule: only `Default`).
fn proc_mount(pod: &Pod, _: u32) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    let mut path = None;
    for c in &pod.containers {
        if let Some(t) = c.sc().and_then(|s| s.proc_mount.as_deref())
            && t != "Default"
        {
            bad.push(c.name());
            types.insert(t);
            path.get_or_insert_with(|| format!("{}.securityContext.procMount", c.path));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "procMount".to_string(),
        detail: format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad),
            join_quote(&types)
        ),
        path: path.unwrap_or_default(),
        fix: format!(
            "remove securityContext.procMount (or set it to Default) on {}",
            containers_phrase(&bad)
        ),
        values: Some("remove `securityContext.procMount`".to_string()),
    })
}

/// Baseline: SELinux type from an allowed set, no user or role.
fn se_linux_options(pod: &Pod, minor: u32) -> Option<Violation> {
    #[derive(Default)]
    struct Seen {
        types: BTreeSet<String>,
        user: bool,
        role: bool,
    }
    let allowed = |t: &str| {
        matches!(
            t,
            "" | "container_t" | "container_init_t" | "container_kvm_t"
        ) || (minor >= 31 && t == "container_engine_t")
    };
    let valid = |o: &SELinuxOptions, seen: &mut Seen| -> bool {
        let t = o.type_.as_deref().unwrap_or("");
        let mut ok = true;
        if !allowed(t) {
            ok = false;
            seen.types.insert(t.to_string());
        }
        if o.user.as_deref().is_some_and(|u| !u.is_empty()) {
            ok = false;
            seen.user = true;
        }
        if o.role.as_deref().is_some_and(|r| !r.is_empty()) {
            ok = false;
            seen.role = true;
        }
        ok
    };
    let mut seen = Seen::default();
    let mut setters = Vec::new();
    let mut path = None;
    let mut values = None;
    if let Some(o) = pod.sc().and_then(|s| s.se_linux_options.as_ref())
        && !valid(o, &mut seen)
    {
        setters.push("pod".to_string());
        path = Some(pod.pod_field("seLinuxOptions"));
        values = Some("fix `podSecurityContext.seLinuxOptions`".to_string());
    }
    let mut bad = Vec::new();
    for c in &pod.containers {
        if let Some(o) = c.sc().and_then(|s| s.se_linux_options.as_ref())
            && !valid(o, &mut seen)
        {
            bad.push(c.name());
            path.get_or_insert_with(|| format!("{}.securityContext.seLinuxOptions", c.path));
            values.get_or_insert_with(|| "fix `securityContext.seLinuxOptions`".to_string());
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !seen.types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", seen.types.len()),
            join_quote(&seen.types)
        ));
    }
    if seen.user {
        data.push("user may not be set".to_string());
    }
    if seen.role {
        data.push("role may not be set".to_string());
    }
    let types = if minor >= 31 {
        "container_t, container_init_t, container_kvm_t or container_engine_t"
    } else {
        "container_t, container_init_t or container_kvm_t"
    };
    Some(Violation {
        reason: "seLinuxOptions".to_string(),
        detail: format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
        path: path.unwrap_or_default(),
        fix: format!(
            "on the {}: remove seLinuxOptions.user and seLinuxOptions.role, and leave seLinuxOptions.type unset or use {types}",
            setters.join(" and ")
        ),
        values,
    })
}

/// Baseline before 1.19 (restricted seccompProfile_restricted overrides it since): the seccomp annotations.
fn seccomp_profile_baseline(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor >= 19 {
        return None;
    }
    let valid =
        |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let mut forbidden = BTreeSet::new();
    let mut path = None;
    let keys = std::iter::once(SECCOMP_POD_ANNOTATION.to_string()).chain(
        pod.containers
            .iter()
            .map(|c| format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name())),
    );
    for key in keys {
        if let Some(v) = pod.annotations.get(&key)
            && !valid(v)
        {
            path.get_or_insert_with(|| pod.annotation_path(&key));
            forbidden.insert(format!("{key}={}", go_quote(v)));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let forbidden: Vec<String> = forbidden.into_iter().collect();
    Some(Violation {
        reason: "seccompProfile".to_string(),
        detail: format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.join(", ")
        ),
        path: path.unwrap_or_default(),
        fix:
            "set the seccomp annotations to runtime/default or localhost/<profile> (or remove them)"
                .to_string(),
        values: None,
    })
}

/// Baseline: only the safe sysctls of the policy version.
fn sysctls(pod: &Pod, minor: u32) -> Option<Violation> {
    let safe = |name: &str| {
        SAFE_SYSCTLS
            .iter()
            .any(|(n, since)| *n == name && minor >= *since)
    };
    let mut forbidden = Vec::new();
    let mut path = None;
    for (i, s) in pod
        .sc()
        .and_then(|s| s.sysctls.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !safe(&s.name) {
            forbidden.push(s.name.as_str());
            path.get_or_insert_with(|| pod.pod_field(&format!("sysctls[{i}].name")));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "forbidden sysctls".to_string(),
        detail: forbidden.join(", "),
        path: path.unwrap_or_default(),
        fix: format!(
            "remove {} from {}.securityContext.sysctls",
            forbidden.join(", "),
            pod.spec_path
        ),
        values: Some("remove them from `podSecurityContext.sysctls`".to_string()),
    })
}

/// Baseline: no Windows HostProcess pod or container.
fn windows_host_process(pod: &Pod, _: u32) -> Option<Violation> {
    let host_process = |o: Option<&k8s_openapi::api::core::v1::WindowsSecurityContextOptions>| {
        o.and_then(|w| w.host_process) == Some(true)
    };
    let mut setters = Vec::new();
    let mut path = None;
    if host_process(pod.sc().and_then(|s| s.windows_options.as_ref())) {
        setters.push("pod".to_string());
        path = Some(pod.pod_field("windowsOptions.hostProcess"));
    }
    let bad: Vec<&Ctr> = pod
        .containers
        .iter()
        .filter(|c| host_process(c.sc().and_then(|s| s.windows_options.as_ref())))
        .collect();
    if let Some(first) = bad.first() {
        let names: Vec<&str> = bad.iter().map(|c| c.name()).collect();
        setters.push(containers_phrase(&names));
        path.get_or_insert_with(|| {
            format!("{}.securityContext.windowsOptions.hostProcess", first.path)
        });
    }
    if setters.is_empty() {
        return None;
    }
    let setters = setters.join(" and ");
    Some(Violation {
        reason: "hostProcess".to_string(),
        detail: format!("{setters} must not set securityContext.windowsOptions.hostProcess=true"),
        path: path.unwrap_or_default(),
        fix: format!("remove securityContext.windowsOptions.hostProcess from the {setters}"),
        values: None,
    })
}

/// Restricted from 1.8 (Windows pods exempt from 1.25): allowPrivilegeEscalation must be false.
fn allow_privilege_escalation(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor < 8 || (minor >= 25 && pod.is_windows()) {
        return None;
    }
    let bad: Vec<&Ctr> = pod
        .containers
        .iter()
        .filter(|c| c.sc().and_then(|s| s.allow_privilege_escalation) != Some(false))
        .collect();
    let first = bad.first()?;
    let names: Vec<&str> = bad.iter().map(|c| c.name()).collect();
    Some(Violation {
        reason: "allowPrivilegeEscalation != false".to_string(),
        detail: format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&names)
        ),
        path: format!("{}.securityContext.allowPrivilegeEscalation", first.path),
        fix: format!(
            "set securityContext.allowPrivilegeEscalation: false on {}",
            containers_phrase(&names)
        ),
        values: Some("set `securityContext.allowPrivilegeEscalation: false`".to_string()),
    })
}

/// Restricted from 1.22 (Windows pods exempt from 1.25): drop ALL, add nothing but NET_BIND_SERVICE.
fn capabilities_restricted(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor < 22 || (minor >= 25 && pod.is_windows()) {
        return None;
    }
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden = BTreeSet::new();
    let mut drop_path = None;
    let mut add_path = None;
    for c in &pod.containers {
        let Some(caps) = c.sc().and_then(|s| s.capabilities.as_ref()) else {
            missing_drop.push(c.name());
            drop_path
                .get_or_insert_with(|| format!("{}.securityContext.capabilities.drop", c.path));
            continue;
        };
        if !caps.drop.iter().flatten().any(|d| d == "ALL") {
            missing_drop.push(c.name());
            drop_path
                .get_or_insert_with(|| format!("{}.securityContext.capabilities.drop", c.path));
        }
        let mut added = false;
        for cap in caps
            .add
            .iter()
            .flatten()
            .filter(|a| *a != "NET_BIND_SERVICE")
        {
            added = true;
            forbidden.insert(cap.as_str());
        }
        if added {
            adding.push(c.name());
            add_path.get_or_insert_with(|| format!("{}.securityContext.capabilities.add", c.path));
        }
    }
    let mut details = Vec::new();
    let mut fixes = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop)
        ));
        fixes.push(format!(
            "on {}:\nsecurityContext:\n  capabilities:\n    drop: [\"ALL\"]",
            containers_phrase(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&forbidden)
        ));
        fixes.push(format!(
            "remove {} from securityContext.capabilities.add of {} (only NET_BIND_SERVICE may be added)",
            join_quote(&forbidden),
            containers_phrase(&adding)
        ));
    }
    if details.is_empty() {
        return None;
    }
    let values = if missing_drop.is_empty() {
        "keep only NET_BIND_SERVICE in `securityContext.capabilities.add`"
    } else {
        "set `securityContext.capabilities.drop: [ALL]`"
    };
    Some(Violation {
        reason: "unrestricted capabilities".to_string(),
        detail: details.join("; "),
        path: drop_path.or(add_path).unwrap_or_default(),
        fix: fixes.join("\n"),
        values: Some(values.to_string()),
    })
}

/// Restricted: inline volume sources other than the allowed ones (hostPath included).
fn restricted_volumes(pod: &Pod, _: u32) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    let mut path = None;
    for (i, v) in pod.spec.volumes.iter().flatten().enumerate() {
        let allowed = v.config_map.is_some()
            || v.csi.is_some()
            || v.downward_api.is_some()
            || v.empty_dir.is_some()
            || v.ephemeral.is_some()
            || v.image.is_some()
            || v.persistent_volume_claim.is_some()
            || v.projected.is_some()
            || v.secret.is_some();
        if allowed {
            continue;
        }
        let restricted = [
            ("hostPath", v.host_path.is_some()),
            ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
            ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
            ("gitRepo", v.git_repo.is_some()),
            ("nfs", v.nfs.is_some()),
            ("iscsi", v.iscsi.is_some()),
            ("glusterfs", v.glusterfs.is_some()),
            ("rbd", v.rbd.is_some()),
            ("flexVolume", v.flex_volume.is_some()),
            ("cinder", v.cinder.is_some()),
            ("cephfs", v.cephfs.is_some()),
            ("flocker", v.flocker.is_some()),
            ("fc", v.fc.is_some()),
            ("azureFile", v.azure_file.is_some()),
            ("vsphereVolume", v.vsphere_volume.is_some()),
            ("quobyte", v.quobyte.is_some()),
            ("azureDisk", v.azure_disk.is_some()),
            ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
            ("portworxVolume", v.portworx_volume.is_some()),
            ("scaleIO", v.scale_io.is_some()),
            ("storageos", v.storageos.is_some()),
        ];
        // A volume without any source is defaulted to emptyDir by the API server before admission.
        let Some((t, _)) = restricted.into_iter().find(|(_, set)| *set) else {
            continue;
        };
        bad.push(v.name.as_str());
        types.insert(t);
        path.get_or_insert_with(|| format!("{}.volumes[{i}].{t}", pod.spec_path));
    }
    if bad.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "restricted volume types".to_string(),
        detail: format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad.len()),
            join_quote(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
        path: path.unwrap_or_default(),
        fix: format!(
            "replace {} {} with an allowed volume type: {ALLOWED_VOLUME_TYPES}",
            pluralize("volume", "volumes", bad.len()),
            join_quote(&bad)
        ),
        values: Some("change them under `volumes`".to_string()),
    })
}

/// Restricted (pods with `hostUsers: false` exempt from 1.35): runAsNonRoot must be true, on the pod or every container.
fn run_as_non_root(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor >= 35 && pod.user_namespaced() {
        return None;
    }
    let mut setters = Vec::new();
    let mut path = None;
    let mut pod_non_root = false;
    match pod.sc().and_then(|s| s.run_as_non_root) {
        Some(false) => {
            setters.push("pod".to_string());
            path = Some(pod.pod_field("runAsNonRoot"));
        }
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in &pod.containers {
        match c.sc().and_then(|s| s.run_as_non_root) {
            Some(false) => {
                explicit.push(c.name());
                path.get_or_insert_with(|| format!("{}.securityContext.runAsNonRoot", c.path));
            }
            Some(true) => {}
            None if !pod_non_root => implicit.push(c.name()),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        let setters = setters.join(" and ");
        let values = if setters.starts_with("pod") {
            "set `podSecurityContext.runAsNonRoot: true`"
        } else {
            "set `securityContext.runAsNonRoot: true`"
        };
        return Some(Violation {
            reason: "runAsNonRoot != true".to_string(),
            detail: format!("{setters} must not set securityContext.runAsNonRoot=false"),
            path: path.unwrap_or_default(),
            fix: format!("set securityContext.runAsNonRoot: true (not false) on the {setters}"),
            values: Some(values.to_string()),
        });
    }
    if implicit.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "runAsNonRoot != true".to_string(),
        detail: format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(&implicit)
        ),
        path: pod.pod_field("runAsNonRoot"),
        fix: format!(
            "in {}:\nsecurityContext:\n  runAsNonRoot: true\n(or set it on {})",
            pod.spec_path,
            containers_phrase(&implicit)
        ),
        values: Some("set `podSecurityContext.runAsNonRoot: true`".to_string()),
    })
}

/// Restricted from 1.23 (pods with `hostUsers: false` exempt from 1.35): runAsUser must not be 0.
fn run_as_user(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor < 23 || (minor >= 35 && pod.user_namespaced()) {
        return None;
    }
    let mut setters = Vec::new();
    let mut path = None;
    let mut values = None;
    if pod.sc().and_then(|s| s.run_as_user) == Some(0) {
        setters.push("pod".to_string());
        path = Some(pod.pod_field("runAsUser"));
        values = Some("set `podSecurityContext.runAsUser` to a non-zero UID");
    }
    let mut bad = Vec::new();
    for c in &pod.containers {
        if c.sc().and_then(|s| s.run_as_user) == Some(0) {
            bad.push(c.name());
            path.get_or_insert_with(|| format!("{}.securityContext.runAsUser", c.path));
            values.get_or_insert("set `securityContext.runAsUser` to a non-zero UID");
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let setters = setters.join(" and ");
    Some(Violation {
        reason: "runAsUser=0".to_string(),
        detail: format!("{setters} must not set runAsUser=0"),
        path: path.unwrap_or_default(),
        fix: format!(
            "set runAsUser to a non-zero UID (e.g. 65532), or remove it, on the {setters}"
        ),
        values: values.map(str::to_string),
    })
}

/// Restricted from 1.19 (Windows pods exempt from 1.25): seccompProfile.type RuntimeDefault or Localhost.
fn seccomp_profile_restricted(pod: &Pod, minor: u32) -> Option<Violation> {
    if minor < 19 || (minor >= 25 && pod.is_windows()) {
        return None;
    }
    let valid = |t: &str| t == "RuntimeDefault" || t == "Localhost";
    let mut setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut path = None;
    let mut pod_set = false;
    if let Some(p) = pod.sc().and_then(|s| s.seccomp_profile.as_ref()) {
        if valid(&p.type_) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            bad_values.insert(p.type_.as_str());
            path = Some(pod.pod_field("seccompProfile.type"));
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in &pod.containers {
        match c.sc().and_then(|s| s.seccomp_profile.as_ref()) {
            Some(p) if !valid(&p.type_) => {
                explicit.push(c.name());
                bad_values.insert(p.type_.as_str());
                path.get_or_insert_with(|| {
                    format!("{}.securityContext.seccompProfile.type", c.path)
                });
            }
            Some(_) => {}
            None if !pod_set => implicit.push(c.name()),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        let setters = setters.join(" and ");
        let values = if setters.starts_with("pod") {
            "set `podSecurityContext.seccompProfile.type: RuntimeDefault`"
        } else {
            "set `securityContext.seccompProfile.type: RuntimeDefault`"
        };
        return Some(Violation {
            reason: "seccompProfile".to_string(),
            detail: format!(
                "{setters} must not set securityContext.seccompProfile.type to {}",
                join_quote(&bad_values)
            ),
            path: path.unwrap_or_default(),
            fix: format!(
                "set securityContext.seccompProfile.type: RuntimeDefault (or Localhost) on the {setters}"
            ),
            values: Some(values.to_string()),
        });
    }
    if implicit.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "seccompProfile".to_string(),
        detail: format!(
            "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            containers_phrase(&implicit)
        ),
        path: pod.pod_field("seccompProfile.type"),
        fix: format!(
            "in {}:\nsecurityContext:\n  seccompProfile:\n    type: RuntimeDefault",
            pod.spec_path
        ),
        values: Some("set `podSecurityContext.seccompProfile.type: RuntimeDefault`".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rules::input::testutil::{helmrelease, input, obj, rendered};

    /// The Headlamp Deployment as the chart renders it with the fixture's values: compliant with restricted.
    const HEADLAMP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: headlamp
  namespace: headlamp
  labels:
    app.kubernetes.io/name: headlamp
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: headlamp
  template:
    metadata:
      labels:
        app.kubernetes.io/name: headlamp
    spec:
      serviceAccountName: headlamp
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: headlamp
          image: ghcr.io/headlamp-k8s/headlamp:v0.41.0
          args: ["-in-cluster", "-plugins-dir=/headlamp/plugins"]
          ports:
            - name: http
              containerPort: 4466
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /
              port: http
          readinessProbe:
            httpGet:
              path: /
              port: http
          securityContext:
            runAsNonRoot: true
            runAsUser: 100
            runAsGroup: 101
            privileged: false
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop:
                - ALL
          volumeMounts:
            - name: home
              mountPath: /home/headlamp
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: home
          emptyDir: {}
        - name: tmp
          emptyDir: {}
"#;

    const PREFIX: &str = "would violate PodSecurity \"restricted:latest\": ";
    const POD: &str = "/spec/template/spec";
    const CTR: &str = "/spec/template/spec/containers/0";

    fn namespace(name: &str, labels: &[(&str, &str)]) -> Object {
        let labels: String = labels
            .iter()
            .map(|(k, v)| format!("    {k}: {v}\n"))
            .collect();
        obj(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/metadata.name: {name}\n{labels}"
        ))
    }

    fn restricted_ns(version: Option<&str>) -> Object {
        let mut labels = vec![
            (ENFORCE_LABEL, "restricted"),
            ("pod-security.kubernetes.io/warn", "restricted"),
        ];
        if let Some(v) = version {
            labels.push((ENFORCE_VERSION_LABEL, v));
        }
        namespace("headlamp", &labels)
    }

    fn headlamp() -> Object {
        obj(HEADLAMP)
    }

    /// Set `value` at a JSON pointer, creating missing objects on the way.
    fn set(o: &mut Object, ptr: &str, value: Value) {
        let mut cur = &mut o.value;
        for seg in ptr.split('/').skip(1) {
            cur = match cur {
                Value::Array(a) => {
                    let i = seg.parse::<usize>().unwrap();
                    if i == a.len() {
                        a.push(json!({}));
                    }
                    &mut a[i]
                }
                Value::Object(m) => m.entry(seg).or_insert_with(|| json!({})),
                other => panic!("cannot descend into {other} at {seg}"),
            };
        }
        *cur = value;
    }

    fn remove(o: &mut Object, ptr: &str) {
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        o.value
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
    }

    fn headlamp_with(ptr: &str, value: Value) -> Object {
        let mut o = headlamp();
        set(&mut o, ptr, value);
        o
    }

    /// Findings for `objects` in the `headlamp` namespace (enforce: restricted, `version` or latest).
    fn lint_at(version: Option<&str>, objects: Vec<Object>) -> Vec<Finding> {
        let mut all = vec![restricted_ns(version)];
        all.extend(objects);
        check(&input(all, vec![]))
    }

    fn lint(o: Object) -> Vec<Finding> {
        lint_at(None, vec![o])
    }

    /// The single finding; fails when there are none or several.
    fn single(findings: Vec<Finding>) -> Finding {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        findings.into_iter().next().unwrap()
    }

    /// `reason (detail)` of the single finding.
    fn violation(findings: Vec<Finding>) -> String {
        let m = single(findings).message;
        m.strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("{m}"))
            .to_string()
    }

    fn reasons(findings: &[Finding]) -> Vec<&str> {
        findings
            .iter()
            .map(|f| {
                let rest = f.message.split_once("\": ").unwrap().1;
                rest.split(" (").next().unwrap()
            })
            .collect()
    }

    #[test]
    fn compliant_headlamp_pod_has_no_findings() {
        assert_eq!(lint(headlamp()), vec![]);
        // and the same object rendered by the HelmRelease, without metadata.namespace
        let mut o = rendered(HEADLAMP);
        remove(&mut o, "/metadata/namespace");
        let mut r = helmrelease("{}");
        r.rendered = vec![o];
        assert_eq!(check(&input(vec![restricted_ns(None)], vec![r])), vec![]);
    }

    #[test]
    fn fixture_cloudflared_deployment_is_compliant() {
        let text = include_str!("../../../fixtures/gitops/apps/base/headlamp/cloudflared.yaml");
        let mut all = vec![obj(include_str!(
            "../../../fixtures/gitops/apps/base/headlamp/namespace.yaml"
        ))];
        all.push(obj(text));
        assert_eq!(all[0].label(ENFORCE_LABEL), Some("restricted"));
        assert_eq!(check(&input(all, vec![])), vec![]);
    }

    #[test]
    fn namespaces_not_enforcing_restricted_are_skipped() {
        let bad = headlamp_with(&format!("{POD}/hostNetwork"), json!(true));
        let baseline = namespace(
            "headlamp",
            &[
                (ENFORCE_LABEL, "baseline"),
                ("pod-security.kubernetes.io/warn", "restricted"),
            ],
        );
        let unlabelled = namespace("headlamp", &[]);
        for ns in [baseline, unlabelled] {
            assert_eq!(check(&input(vec![ns, bad.clone()], vec![])), vec![]);
        }
        // no Namespace object for the namespace at all
        assert_eq!(check(&input(vec![bad.clone()], vec![])), vec![]);
        // the same object is reported once the namespace enforces restricted
        assert_eq!(lint(bad).len(), 1);
    }

    #[test]
    fn object_without_namespace_is_in_default() {
        let mut bad = headlamp_with(&format!("{POD}/hostPID"), json!(true));
        remove(&mut bad, "/metadata/namespace");
        let default_ns = namespace("default", &[(ENFORCE_LABEL, "restricted")]);
        assert_eq!(
            check(&input(vec![default_ns, bad.clone()], vec![])).len(),
            1
        );
        assert_eq!(
            check(&input(vec![restricted_ns(None), bad], vec![])),
            vec![]
        );
    }

    #[test]
    fn finding_fields_name_file_object_path_and_fix() {
        let f = single(lint(headlamp_with(
            &format!("{CTR}/securityContext/allowPrivilegeEscalation"),
            json!(true),
        )));
        assert_eq!(f.rule, RULE);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.file, "apps/base/headlamp/x.yaml");
        assert_eq!(f.object, "Deployment/headlamp/headlamp");
        assert_eq!(
            f.path,
            "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"
        );
        assert_eq!(
            f.message,
            r#"would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "headlamp" must set securityContext.allowPrivilegeEscalation=false)"#
        );
        assert_eq!(
            f.fix,
            r#"set securityContext.allowPrivilegeEscalation: false on container "headlamp""#
        );
    }

    #[test]
    fn rendered_object_takes_the_release_namespace_and_names_the_values_key() {
        let mut o = rendered(HEADLAMP);
        remove(&mut o, "/metadata/namespace");
        remove(
            &mut o,
            &format!("{CTR}/securityContext/allowPrivilegeEscalation"),
        );
        let mut r = helmrelease("{}");
        r.rendered = vec![o];
        let f = single(check(&input(vec![restricted_ns(None)], vec![r.clone()])));
        assert_eq!(f.file, "apps/base/headlamp/helmrelease.yaml");
        assert_eq!(f.object, "Deployment/headlamp");
        assert!(
            f.fix.ends_with(
                "rendered from the headlamp chart: set `securityContext.allowPrivilegeEscalation: false` in the HelmRelease values"
            ),
            "{}",
            f.fix
        );
        // installed elsewhere, the release's namespace is not restricted
        r.namespace = "tools".into();
        assert_eq!(check(&input(vec![restricted_ns(None)], vec![r])), vec![]);
    }

    #[test]
    fn enforce_version_is_in_the_message() {
        let bad = headlamp_with(&format!("{POD}/hostIPC"), json!(true));
        let m = single(lint_at(Some("v1.29"), vec![bad.clone()])).message;
        assert_eq!(
            m,
            r#"would violate PodSecurity "restricted:v1.29": host namespaces (hostIPC=true)"#
        );
        let m = single(lint_at(Some("latest"), vec![bad.clone()])).message;
        assert!(m.starts_with(PREFIX), "{m}");
        // unparseable: the admission controller falls back to latest
        let m = single(lint_at(Some("1.29"), vec![bad])).message;
        assert!(m.starts_with(PREFIX), "{m}");
    }

    #[test]
    fn parse_minor_follows_api_parse_version() {
        assert_eq!(parse_minor("v1.29"), Some(29));
        assert_eq!(parse_minor("v1.0"), Some(0));
        for bad in ["latest", "1.29", "v1.029", "v2.1", "v1.", "v1.x"] {
            assert_eq!(parse_minor(bad), None, "{bad}");
        }
    }

    #[test]
    fn host_namespaces() {
        let mut o = headlamp_with(&format!("{POD}/hostNetwork"), json!(true));
        set(&mut o, &format!("{POD}/hostPID"), json!(true));
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!("{PREFIX}host namespaces (hostNetwork=true, hostPID=true)")
        );
        assert_eq!(f.path, "spec.template.spec.hostNetwork");
        // explicitly false is allowed
        let mut ok = headlamp_with(&format!("{POD}/hostNetwork"), json!(false));
        set(&mut ok, &format!("{POD}/hostIPC"), json!(false));
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn privileged() {
        let f = single(lint(headlamp_with(
            &format!("{CTR}/securityContext/privileged"),
            json!(true),
        )));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}privileged (container "headlamp" must not set securityContext.privileged=true)"#
            )
        );
        assert_eq!(
            f.path,
            "spec.template.spec.containers[0].securityContext.privileged"
        );
        // the fixture sets privileged: false, which is allowed
        assert_eq!(
            lint(headlamp_with(
                &format!("{CTR}/securityContext/privileged"),
                json!(false)
            )),
            vec![]
        );
    }

    #[test]
    fn baseline_capabilities_apply_before_restricted_capabilities_exist() {
        // at v1.21 capabilities_restricted does not exist yet: baseline's allow-list applies and drop ALL is not required
        let mut o = headlamp_with(
            &format!("{CTR}/securityContext/capabilities"),
            json!({"add": ["NET_RAW", "CHOWN"]}),
        );
        let f = single(lint_at(Some("v1.21"), vec![o.clone()]));
        assert_eq!(
            f.message,
            r#"would violate PodSecurity "restricted:v1.21": non-default capabilities (container "headlamp" must not include "NET_RAW" in securityContext.capabilities.add)"#
        );
        assert_eq!(
            f.path,
            "spec.template.spec.containers[0].securityContext.capabilities.add"
        );
        set(
            &mut o,
            &format!("{CTR}/securityContext/capabilities/add"),
            json!(["CHOWN", "NET_BIND_SERVICE"]),
        );
        assert_eq!(lint_at(Some("v1.21"), vec![o]), vec![]);
        // from 1.22 the restricted check overrides it
        let latest = lint(headlamp_with(
            &format!("{CTR}/securityContext/capabilities/add"),
            json!(["NET_RAW"]),
        ));
        assert_eq!(reasons(&latest), ["unrestricted capabilities"]);
    }

    #[test]
    fn host_path_volumes_are_restricted_volume_types() {
        let mut o = headlamp();
        set(
            &mut o,
            &format!("{POD}/volumes/1"),
            json!({"name": "tmp", "hostPath": {"path": "/tmp"}}),
        );
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}restricted volume types (volume "tmp" uses restricted volume type "hostPath")"#
            )
        );
        assert_eq!(f.path, "spec.template.spec.volumes[1].hostPath");
        assert!(f.fix.contains("emptyDir"), "{}", f.fix);
    }

    #[test]
    fn restricted_volume_types() {
        let mut o = headlamp();
        set(
            &mut o,
            &format!("{POD}/volumes"),
            json!([
                {"name": "home", "emptyDir": {}},
                {"name": "data", "nfs": {"server": "nas", "path": "/data"}},
                {"name": "host", "hostPath": {"path": "/var/run"}},
                {"name": "repo", "gitRepo": {"repository": "https://example.net/x.git"}},
            ]),
        );
        assert_eq!(
            violation(lint(o)),
            r#"restricted volume types (volumes "data", "host", "repo" use restricted volume types "gitRepo", "hostPath", "nfs")"#
        );
        let mut ok = headlamp();
        set(
            &mut ok,
            &format!("{POD}/volumes"),
            json!([
                {"name": "cm", "configMap": {"name": "headlamp"}},
                {"name": "sec", "secret": {"secretName": "oidc"}},
                {"name": "pvc", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
                {"name": "down", "downwardAPI": {"items": []}},
                {"name": "csi", "csi": {"driver": "secrets-store.csi.k8s.io"}},
                {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                {"name": "img", "image": {"reference": "ghcr.io/example/plugins:1"}},
                {"name": "defaulted"},
            ]),
        );
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn host_ports() {
        let mut o = headlamp_with(&format!("{CTR}/ports/0/hostPort"), json!(8080));
        set(
            &mut o,
            &format!("{CTR}/ports/1"),
            json!({"name": "metrics", "containerPort": 9090, "hostPort": 10250}),
        );
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(r#"{PREFIX}hostPort (container "headlamp" uses hostPorts 10250, 8080)"#)
        );
        assert_eq!(f.path, "spec.template.spec.containers[0].ports[0].hostPort");
        assert_eq!(
            lint(headlamp_with(&format!("{CTR}/ports/0/hostPort"), json!(0))),
            vec![]
        );
    }

    #[test]
    fn app_armor() {
        let o = headlamp_with(
            &format!("{CTR}/securityContext/appArmorProfile"),
            json!({"type": "Unconfined"}),
        );
        assert_eq!(
            violation(lint(o)),
            r#"forbidden AppArmor profile (container "headlamp" must not set AppArmor profile type to "Unconfined")"#
        );
        let mut o = headlamp_with(
            "/spec/template/metadata/annotations",
            json!({"container.apparmor.security.beta.kubernetes.io/headlamp": "unconfined", "team": "ops"}),
        );
        set(
            &mut o,
            &format!("{POD}/securityContext/appArmorProfile"),
            json!({"type": "Unconfined"}),
        );
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}forbidden AppArmor profiles (pod and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/headlamp="unconfined"")"#
            )
        );
        assert_eq!(
            f.path,
            "spec.template.spec.securityContext.appArmorProfile.type"
        );
        assert_eq!(
            f.fix,
            "set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (or remove it) on the pod\n\
             set the container.apparmor.security.beta.kubernetes.io/* annotations to runtime/default or \
             localhost/<profile> (or remove them)"
        );
        let mut ok = headlamp_with(
            &format!("{POD}/securityContext/appArmorProfile"),
            json!({"type": "RuntimeDefault"}),
        );
        set(
            &mut ok,
            &format!("{CTR}/securityContext/appArmorProfile"),
            json!({"type": "Localhost", "localhostProfile": "k8s-headlamp"}),
        );
        set(
            &mut ok,
            "/spec/template/metadata/annotations",
            json!({"container.apparmor.security.beta.kubernetes.io/headlamp": "localhost/k8s-headlamp"}),
        );
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn se_linux_options() {
        let mut o = headlamp_with(
            &format!("{POD}/securityContext/seLinuxOptions"),
            json!({"type": "spc_t", "user": "system_u"}),
        );
        set(
            &mut o,
            &format!("{CTR}/securityContext/seLinuxOptions"),
            json!({"role": "system_r"}),
        );
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}seLinuxOptions (pod and container "headlamp" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set)"#
            )
        );
        assert_eq!(f.path, "spec.template.spec.securityContext.seLinuxOptions");
        let ok = headlamp_with(
            &format!("{CTR}/securityContext/seLinuxOptions"),
            json!({"type": "container_t", "level": "s0:c123,c456"}),
        );
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn se_linux_container_engine_t_is_allowed_from_1_31() {
        let o = headlamp_with(
            &format!("{CTR}/securityContext/seLinuxOptions"),
            json!({"type": "container_engine_t"}),
        );
        assert_eq!(lint_at(Some("v1.31"), vec![o.clone()]), vec![]);
        assert_eq!(
            reasons(&lint_at(Some("v1.30"), vec![o])),
            ["seLinuxOptions"]
        );
    }

    #[test]
    fn proc_mount() {
        let f = single(lint(headlamp_with(
            &format!("{CTR}/securityContext/procMount"),
            json!("Unmasked"),
        )));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}procMount (container "headlamp" must not set securityContext.procMount to "Unmasked")"#
            )
        );
        assert_eq!(
            f.path,
            "spec.template.spec.containers[0].securityContext.procMount"
        );
        // restricted does not relax procMount for user-namespaced pods
        let mut userns = headlamp_with(
            &format!("{CTR}/securityContext/procMount"),
            json!("Unmasked"),
        );
        set(&mut userns, &format!("{POD}/hostUsers"), json!(false));
        assert_eq!(reasons(&lint(userns)), ["procMount"]);
        assert_eq!(
            lint(headlamp_with(
                &format!("{CTR}/securityContext/procMount"),
                json!("Default")
            )),
            vec![]
        );
    }

    #[test]
    fn seccomp_annotations_are_checked_before_1_19() {
        let mut o = headlamp_with(
            "/spec/template/metadata/annotations",
            json!({"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
        );
        // before 1.19 the seccompProfile field is not required
        remove(&mut o, &format!("{POD}/securityContext/seccompProfile"));
        let f = single(lint_at(Some("v1.18"), vec![o.clone()]));
        assert_eq!(
            f.message,
            r#"would violate PodSecurity "restricted:v1.18": seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")"#
        );
        assert_eq!(
            f.path,
            "spec.template.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]"
        );
        set(
            &mut o,
            "/spec/template/metadata/annotations",
            json!({"seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
                   "container.seccomp.security.alpha.kubernetes.io/headlamp": "localhost/headlamp.json"}),
        );
        assert_eq!(lint_at(Some("v1.18"), vec![o.clone()]), vec![]);
        // from 1.19 the field is what counts
        assert_eq!(
            reasons(&lint_at(Some("v1.19"), vec![o])),
            ["seccompProfile"]
        );
    }

    #[test]
    fn seccomp_profile_restricted() {
        let mut o = headlamp();
        remove(&mut o, &format!("{POD}/securityContext/seccompProfile"));
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}seccompProfile (pod or container "headlamp" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
            )
        );
        assert_eq!(
            f.path,
            "spec.template.spec.securityContext.seccompProfile.type"
        );
        assert!(
            f.fix.contains("seccompProfile:\n    type: RuntimeDefault"),
            "{}",
            f.fix
        );

        let o = headlamp_with(
            &format!("{CTR}/securityContext/seccompProfile"),
            json!({"type": "Unconfined"}),
        );
        assert_eq!(
            violation(lint(o)),
            r#"seccompProfile (container "headlamp" must not set securityContext.seccompProfile.type to "Unconfined")"#
        );
        // set on the container only is enough
        let mut ok = headlamp();
        remove(&mut ok, &format!("{POD}/securityContext/seccompProfile"));
        set(
            &mut ok,
            &format!("{CTR}/securityContext/seccompProfile"),
            json!({"type": "Localhost", "localhostProfile": "headlamp.json"}),
        );
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn sysctls() {
        let o = headlamp_with(
            &format!("{POD}/securityContext/sysctls"),
            json!([{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
                   {"name": "kernel.msgmax", "value": "65536"},
                   {"name": "net.core.somaxconn", "value": "1024"}]),
        );
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!("{PREFIX}forbidden sysctls (kernel.msgmax, net.core.somaxconn)")
        );
        assert_eq!(f.path, "spec.template.spec.securityContext.sysctls[1].name");
        let ok = headlamp_with(
            &format!("{POD}/securityContext/sysctls"),
            json!([{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]),
        );
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn sysctls_follow_the_policy_version() {
        let o = headlamp_with(
            &format!("{POD}/securityContext/sysctls"),
            json!([{"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}]),
        );
        assert_eq!(lint_at(Some("v1.32"), vec![o.clone()]), vec![]);
        assert_eq!(lint(o.clone()), vec![]);
        assert_eq!(
            reasons(&lint_at(Some("v1.31"), vec![o])),
            ["forbidden sysctls"]
        );
    }

    #[test]
    fn windows_host_process() {
        let mut o = headlamp_with(
            &format!("{POD}/securityContext/windowsOptions"),
            json!({"hostProcess": true}),
        );
        set(
            &mut o,
            &format!("{CTR}/securityContext/windowsOptions"),
            json!({"hostProcess": true}),
        );
        assert_eq!(
            violation(lint(o)),
            r#"hostProcess (pod and container "headlamp" must not set securityContext.windowsOptions.hostProcess=true)"#
        );
        let ok = headlamp_with(
            &format!("{CTR}/securityContext/windowsOptions"),
            json!({"hostProcess": false}),
        );
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn probe_and_lifecycle_hosts_are_forbidden_from_1_34() {
        let mut o = headlamp_with(
            &format!("{CTR}/livenessProbe/httpGet/host"),
            json!("10.0.0.1"),
        );
        set(
            &mut o,
            &format!("{CTR}/lifecycle"),
            json!({"preStop": {"tcpSocket": {"host": "localhost", "port": 4466}}}),
        );
        let f = single(lint(o.clone()));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}probe or lifecycle host (container "headlamp" uses probe or lifecycle hosts "10.0.0.1", "localhost")"#
            )
        );
        assert_eq!(
            f.path,
            "spec.template.spec.containers[0].livenessProbe.httpGet.host"
        );
        assert_eq!(lint_at(Some("v1.33"), vec![o]), vec![]);
        // an empty host is the pod IP
        assert_eq!(
            lint(headlamp_with(
                &format!("{CTR}/readinessProbe/httpGet/host"),
                json!("")
            )),
            vec![]
        );
    }

    #[test]
    fn allow_privilege_escalation_unset_or_true() {
        let mut o = headlamp();
        remove(
            &mut o,
            &format!("{CTR}/securityContext/allowPrivilegeEscalation"),
        );
        assert_eq!(
            violation(lint(o)),
            r#"allowPrivilegeEscalation != false (container "headlamp" must set securityContext.allowPrivilegeEscalation=false)"#
        );
        // the compliant pod sets it to false
        assert_eq!(
            lint(headlamp_with(
                &format!("{CTR}/securityContext/allowPrivilegeEscalation"),
                json!(false)
            )),
            vec![]
        );
    }

    #[test]
    fn multi_container_message_lists_init_containers_first() {
        let mut o = headlamp();
        remove(
            &mut o,
            &format!("{CTR}/securityContext/allowPrivilegeEscalation"),
        );
        let mut sidecar = o.value.pointer(CTR).unwrap().clone();
        sidecar["name"] = json!("plugins");
        set(&mut o, &format!("{POD}/containers/1"), sidecar.clone());
        sidecar["name"] = json!("copy-plugins");
        set(&mut o, &format!("{POD}/initContainers"), json!([sidecar]));
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}allowPrivilegeEscalation != false (containers "copy-plugins", "headlamp", "plugins" must set securityContext.allowPrivilegeEscalation=false)"#
            )
        );
        assert_eq!(
            f.path,
            "spec.template.spec.initContainers[0].securityContext.allowPrivilegeEscalation"
        );
        assert!(
            f.fix
                .contains(r#"containers "copy-plugins", "headlamp", "plugins""#),
            "{}",
            f.fix
        );
    }

    #[test]
    fn ephemeral_containers_are_checked() {
        let o = headlamp_with(
            &format!("{POD}/ephemeralContainers"),
            json!([{"name": "debugger", "image": "busybox", "targetContainerName": "headlamp"}]),
        );
        let f = lint(o);
        assert_eq!(
            reasons(&f),
            [
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities"
            ]
        );
        assert!(
            f[0].message.contains(r#"container "debugger""#),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].path,
            "spec.template.spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation"
        );
    }

    #[test]
    fn windows_pods_are_exempt_from_linux_only_checks() {
        let mut o = headlamp_with(&format!("{POD}/os"), json!({"name": "windows"}));
        remove(
            &mut o,
            &format!("{CTR}/securityContext/allowPrivilegeEscalation"),
        );
        remove(&mut o, &format!("{CTR}/securityContext/capabilities"));
        remove(&mut o, &format!("{POD}/securityContext/seccompProfile"));
        assert_eq!(lint(o.clone()), vec![]);
        // not before 1.25
        assert_eq!(
            reasons(&lint_at(Some("v1.24"), vec![o])),
            [
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities",
                "seccompProfile"
            ]
        );
    }

    #[test]
    fn run_as_non_root() {
        let o = headlamp_with(&format!("{POD}/securityContext/runAsNonRoot"), json!(false));
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                "{PREFIX}runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"
            )
        );
        assert_eq!(f.path, "spec.template.spec.securityContext.runAsNonRoot");

        let mut o = headlamp();
        remove(&mut o, &format!("{POD}/securityContext/runAsNonRoot"));
        remove(&mut o, &format!("{CTR}/securityContext/runAsNonRoot"));
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}runAsNonRoot != true (pod or container "headlamp" must set securityContext.runAsNonRoot=true)"#
            )
        );
        assert!(f.fix.contains("runAsNonRoot: true"), "{}", f.fix);

        // container-level true without the pod-level field is enough
        let mut ok = headlamp();
        remove(&mut ok, &format!("{POD}/securityContext/runAsNonRoot"));
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn user_namespaced_pods_are_exempt_from_run_as_checks_from_1_35() {
        let mut o = headlamp_with(&format!("{POD}/hostUsers"), json!(false));
        remove(&mut o, &format!("{POD}/securityContext/runAsNonRoot"));
        set(
            &mut o,
            &format!("{CTR}/securityContext/runAsNonRoot"),
            json!(false),
        );
        set(
            &mut o,
            &format!("{CTR}/securityContext/runAsUser"),
            json!(0),
        );
        assert_eq!(lint(o.clone()), vec![]);
        assert_eq!(
            reasons(&lint_at(Some("v1.34"), vec![o])),
            ["runAsNonRoot != true", "runAsUser=0"]
        );
    }

    #[test]
    fn run_as_user_zero() {
        let mut o = headlamp_with(&format!("{POD}/securityContext/runAsUser"), json!(0));
        set(
            &mut o,
            &format!("{CTR}/securityContext/runAsUser"),
            json!(0),
        );
        let f = single(lint(o.clone()));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}runAsUser=0 (pod and container "headlamp" must not set runAsUser=0)"#
            )
        );
        assert_eq!(f.path, "spec.template.spec.securityContext.runAsUser");
        // runAsUser=0 is only checked from 1.23
        assert_eq!(lint_at(Some("v1.22"), vec![o]), vec![]);
        assert_eq!(
            lint(headlamp_with(
                &format!("{POD}/securityContext/runAsUser"),
                json!(65532)
            )),
            vec![]
        );
    }

    #[test]
    fn restricted_capabilities() {
        let mut o = headlamp();
        remove(&mut o, &format!("{CTR}/securityContext/capabilities"));
        let f = single(lint(o));
        assert_eq!(
            f.message,
            format!(
                r#"{PREFIX}unrestricted capabilities (container "headlamp" must set securityContext.capabilities.drop=["ALL"])"#
            )
        );
        assert_eq!(
            f.path,
            "spec.template.spec.containers[0].securityContext.capabilities.drop"
        );
        assert!(
            f.fix.contains("capabilities:\n    drop: [\"ALL\"]"),
            "{}",
            f.fix
        );

        let o = headlamp_with(
            &format!("{CTR}/securityContext/capabilities"),
            json!({"drop": ["NET_RAW"], "add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}),
        );
        assert_eq!(
            violation(lint(o)),
            r#"unrestricted capabilities (container "headlamp" must set securityContext.capabilities.drop=["ALL"]; container "headlamp" must not include "SYS_ADMIN" in securityContext.capabilities.add)"#
        );
        let ok = headlamp_with(
            &format!("{CTR}/securityContext/capabilities/add"),
            json!(["NET_BIND_SERVICE"]),
        );
        assert_eq!(lint(ok), vec![]);
    }

    #[test]
    fn one_finding_per_failed_check_and_every_pod_kind() {
        let pod = obj(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: headlamp}\nspec:\n  hostNetwork: true\n  containers:\n    - name: shell\n      image: busybox\n",
        );
        let f = lint(pod);
        assert_eq!(
            reasons(&f),
            [
                "host namespaces",
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities",
                "runAsNonRoot != true",
                "seccompProfile"
            ]
        );
        assert_eq!(f[0].path, "spec.hostNetwork");
        assert_eq!(
            f[1].path,
            "spec.containers[0].securityContext.allowPrivilegeEscalation"
        );

        let cron = obj(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: backup, namespace: headlamp}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          annotations:\n            container.apparmor.security.beta.kubernetes.io/backup: unconfined\n        spec:\n          securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n          containers:\n            - name: backup\n              image: restic/restic\n              securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n",
        );
        let f = single(lint(cron));
        assert_eq!(f.object, "CronJob/headlamp/backup");
        assert_eq!(
            f.path,
            "spec.jobTemplate.spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/backup]"
        );
    }

    #[test]
    fn objects_that_do_not_deserialize_are_skipped() {
        let o = headlamp_with(&format!("{POD}/hostNetwork"), json!("yes"));
        assert_eq!(lint(o), vec![]);
        // objects without a pod template are not looked at
        let cm = obj(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: headlamp}\ndata: {hostNetwork: 'true'}\n",
        );
        assert_eq!(lint(cm), vec![]);
    }

    #[test]
    fn go_quote_escapes_like_percent_q() {
        assert_eq!(go_quote("unconfined"), "\"unconfined\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
