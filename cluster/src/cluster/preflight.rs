//! Preflight: what a k3s-in-Docker run needs from the machine, checked before anything starts (exit 2 with a clear
//! message when short), so a run does not die an hour in on an evicted pod or a controller out of inotify instances.
//!
//! - **Free disk** on the filesystem of the run directory (on CI runners, the same root filesystem as Docker's data
//!   root): at least [`MIN_FREE_BYTES`] and [`MIN_FREE_PERCENT`] %. k3s starts its kubelet with
//!   `eviction-hard: imagefs.available<5%,nodefs.available<5%` (k3s-io/k3s `pkg/daemons/agent`, the kubelet
//!   arguments map), and the run adds several GB: `--snapshotter=native` unpacks every image layer in full (no
//!   sharing), beside the build's `target/`.
//! - **cgroup v2** (`/sys/fs/cgroup/cgroup.controllers` exists): what GitHub's Ubuntu 24.04 runners and current
//!   distributions mount, and what the run is tested on.
//! - **inotify**: `fs.inotify.max_user_instances` ≥ [`MIN_INOTIFY_INSTANCES`] and `max_user_watches` ≥
//!   [`MIN_INOTIFY_WATCHES`]: the values kind's known issues ask for ("Pod errors due to too many open files",
//!   kind.sigs.k8s.io/docs/user/known-issues); the kubelet, k3s and the controllers each hold watches, and Ubuntu's
//!   default of 128 instances is shared with everything else on the machine.
//!
//! A fact that cannot be read is not a problem (the run tries), it is named in the notes.

use std::path::{Path, PathBuf};

/// Free space the run needs: images unpacked by the native snapshotter, logs, artifacts.
pub const MIN_FREE_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// Free share the run needs: twice k3s's 5 % eviction threshold.
pub const MIN_FREE_PERCENT: u64 = 10;
pub const MIN_INOTIFY_INSTANCES: u64 = 512;
pub const MIN_INOTIFY_WATCHES: u64 = 524_288;

/// Free and total bytes of a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disk {
    pub free: u64,
    pub total: u64,
}

/// What preflight read from the machine (`None`: could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The directory whose filesystem was measured.
    pub dir: PathBuf,
    pub disk: Option<Disk>,
    pub cgroup_v2: Option<bool>,
    pub inotify_instances: Option<u64>,
    pub inotify_watches: Option<u64>,
}

/// The outcome: problems (the run must not start) and notes (facts that could not be read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
}

/// Judge the facts against the minimums.
pub fn judge(f: &Facts) -> Verdict {
    let mut v = Verdict::default();
    match f.disk {
        Some(d) => {
            let percent = d.free.saturating_mul(100).checked_div(d.total).unwrap_or(0);
            if d.free < MIN_FREE_BYTES || percent < MIN_FREE_PERCENT {
                v.problems.push(format!(
                    "free disk: {} ({percent} %) free on the filesystem of {}; the run needs at least {} and {MIN_FREE_PERCENT} % (k3s evicts pods below 5 %; the native snapshotter unpacks every image in full). Free space (docker system prune, cargo clean) or pass --out DIR on a larger filesystem",
                    gib(d.free),
                    f.dir.display(),
                    gib(MIN_FREE_BYTES)
                ));
            }
        }
        None => v
            .notes
            .push(format!("free disk of {}: unknown", f.dir.display())),
    }
    match f.cgroup_v2 {
        Some(true) => {}
        Some(false) => v.problems.push(
            "cgroup v2: /sys/fs/cgroup is not a cgroup v2 hierarchy (no cgroup.controllers); the run needs a cgroup v2 host (boot with systemd.unified_cgroup_hierarchy=1)".to_string(),
        ),
        None => v.notes.push("cgroup version: unknown".to_string()),
    }
    for (name, value, min) in [
        (
            "fs.inotify.max_user_instances",
            f.inotify_instances,
            MIN_INOTIFY_INSTANCES,
        ),
        (
            "fs.inotify.max_user_watches",
            f.inotify_watches,
            MIN_INOTIFY_WATCHES,
        ),
    ] {
        match value {
            Some(n) if n < min => v.problems.push(format!(
                "inotify: {name} is {n}, the run needs at least {min} (sudo sysctl {name}={min})"
            )),
            Some(_) => {}
            None => v.notes.push(format!("{name}: unknown")),
        }
    }
    v
}

/// Read the facts of this machine; `dir` (the run directory's root) or its nearest existing ancestor is measured.
pub fn gather(dir: &Path) -> Facts {
    let measured = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let read_u64 = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    Facts {
        disk: disk_of(&measured),
        cgroup_v2: Path::new("/sys/fs/cgroup")
            .is_dir()
            .then(|| Path::new("/sys/fs/cgroup/cgroup.controllers").is_file()),
        inotify_instances: read_u64("/proc/sys/fs/inotify/max_user_instances"),
        inotify_watches: read_u64("/proc/sys/fs/inotify/max_user_watches"),
        dir: measured,
    }
}

#[cfg(unix)]
fn disk_of(path: &Path) -> Option<Disk> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` points to writable memory of the right type; statvfs(3) fills
    // it on success (return 0), and it is read only then.
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    let frsize = st.f_frsize as u64;
    Some(Disk {
        // available to unprivileged users, as the kubelet's nodefs.available counts it
        free: (st.f_bavail as u64).saturating_mul(frsize),
        total: (st.f_blocks as u64).saturating_mul(frsize),
    })
}

#[cfg(not(unix))]
fn disk_of(_path: &Path) -> Option<Disk> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    fn facts(free: u64, total: u64) -> Facts {
        Facts {
            dir: PathBuf::from("/work/target/e2e"),
            disk: Some(Disk { free, total }),
            cgroup_v2: Some(true),
            inotify_instances: Some(8192),
            inotify_watches: Some(524_288),
        }
    }

    #[test]
    fn a_machine_with_room_passes() {
        assert_eq!(judge(&facts(40 * GIB, 150 * GIB)), Verdict::default());
        // exactly the minimums
        assert!(judge(&facts(10 * GIB, 100 * GIB)).problems.is_empty());
    }

    #[test]
    fn too_little_disk_by_bytes_or_by_share_is_a_problem_naming_both_minimums() {
        let v = judge(&facts(9 * GIB, 50 * GIB));
        assert_eq!(v.problems.len(), 1, "{v:?}");
        assert!(
            v.problems[0].starts_with("free disk: 9.0 GiB (18 %) free on the filesystem of /work/target/e2e; the run needs at least 10.0 GiB and 10 %"),
            "{}",
            v.problems[0]
        );
        // 20 GiB free of 400: 5 %, k3s's eviction threshold
        let v = judge(&facts(20 * GIB, 400 * GIB));
        assert!(v.problems[0].contains("(5 %)"), "{v:?}");
        // a filesystem reporting no blocks at all is not "enough"
        assert_eq!(judge(&facts(20 * GIB, 0)).problems.len(), 1);
    }

    #[test]
    fn cgroup_v1_and_low_inotify_limits_are_problems_with_the_fix() {
        let mut f = facts(40 * GIB, 150 * GIB);
        f.cgroup_v2 = Some(false);
        f.inotify_instances = Some(128);
        f.inotify_watches = Some(524_287);
        let v = judge(&f);
        assert_eq!(v.problems.len(), 3, "{v:?}");
        assert!(v.problems[0].starts_with("cgroup v2:"), "{v:?}");
        assert_eq!(
            v.problems[1],
            "inotify: fs.inotify.max_user_instances is 128, the run needs at least 512 (sudo sysctl fs.inotify.max_user_instances=512)"
        );
        assert!(
            v.problems[2].contains("max_user_watches is 524287"),
            "{v:?}"
        );
    }

    #[test]
    fn what_cannot_be_read_is_a_note_not_a_problem() {
        let f = Facts {
            dir: PathBuf::from("/x"),
            disk: None,
            cgroup_v2: None,
            inotify_instances: None,
            inotify_watches: None,
        };
        let v = judge(&f);
        assert!(v.problems.is_empty());
        assert_eq!(v.notes.len(), 4, "{v:?}");
    }

    #[test]
    fn gather_measures_the_nearest_existing_ancestor() {
        let d = tempfile::tempdir().unwrap();
        let f = gather(&d.path().join("not/yet/there"));
        assert_eq!(f.dir, d.path());
        let disk = f.disk.expect("statvfs of a temp dir");
        assert!(disk.total >= disk.free && disk.total > 0, "{disk:?}");
    }
}
