//! The image cache's docker/ctr calls, against a recording runner.

use super::*;

/// Records every call; answers `ctr images ls -q` with `listed`, and creates the file a `docker cp` or `docker save`
/// would write (so the cache's bookkeeping sees it).
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    listed: String,
    fail: Option<&'static str>,
}

impl Runner for Fake {
    async fn run(&mut self, call: &Call, _timeout: Duration) -> Result<String, String> {
        let text = call.to_string();
        self.calls.push(text.clone());
        if self.fail.is_some_and(|f| text.contains(f)) {
            return Err(format!("{text}: exit status 1"));
        }
        match call.args.first().map(String::as_str) {
            Some("save") => std::fs::write(&call.args[2], b"tar").map_err(|e| e.to_string())?,
            Some("cp") => std::fs::write(&call.args[2], b"tar").map_err(|e| e.to_string())?,
            _ => {}
        }
        if text.ends_with("images ls -q") {
            return Ok(self.listed.clone());
        }
        Ok(String::new())
    }
}

/// What `k3s ctr -n k8s.io images ls -q` lists after setup: tags, their digest aliases and the bare ids.
const LISTED: &str = "docker.io/rancher/mirrored-coredns-coredns:1.12.1
docker.io/rancher/mirrored-coredns-coredns@sha256:4fbd1b1b4c2c1d0e2f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e
ghcr.io/fluxcd/helm-controller:v1.6.3
docker.io/rancher/mirrored-pause:3.6
sha256:6270bb605e12e581514ada5fd5b3216f727db55dc87d5889c790e4c760683fee
ghcr.io/headlamp-k8s/headlamp:v0.41.0
";

#[test]
fn only_tagged_references_are_exported() {
    assert_eq!(
        exportable(LISTED),
        [
            "docker.io/rancher/mirrored-coredns-coredns:1.12.1",
            "docker.io/rancher/mirrored-pause:3.6",
            "ghcr.io/fluxcd/helm-controller:v1.6.3",
            "ghcr.io/headlamp-k8s/headlamp:v0.41.0",
        ]
    );
    assert!(exportable("sha256:abc\n\n").is_empty());
}

#[tokio::test]
async fn a_cold_cache_loads_nothing_and_a_warm_one_loads_the_k3s_image() {
    let d = tempfile::tempdir().unwrap();
    let cache = ImageCache::new(d.path().join("cache"));
    let mut r = Fake::default();
    assert!(!cache.prepare(&mut r).await.unwrap());
    assert!(r.calls.is_empty(), "{:?}", r.calls);
    // the directory k3s's images dir is mounted from exists before the container starts
    assert!(cache.agent_images().is_dir());
    std::fs::write(cache.k3s_tar(), b"tar").unwrap();
    assert!(cache.prepare(&mut r).await.unwrap());
    assert_eq!(
        r.calls,
        [format!("docker load -i {}", cache.k3s_tar().display())]
    );
}

#[tokio::test]
async fn after_setup_the_k3s_image_is_saved_and_the_pulled_images_exported_once() {
    let d = tempfile::tempdir().unwrap();
    let cache = ImageCache::new(d.path());
    let mut r = Fake {
        listed: LISTED.into(),
        ..Fake::default()
    };
    cache.prepare(&mut r).await.unwrap();
    let exported = cache
        .save(
            &mut r,
            "headlamp-e2e-run-1",
            "rancher/k3s:v1.35.5-k3s1",
            "linux/arm64",
        )
        .await
        .unwrap();
    assert_eq!(exported.len(), 4);
    let export = cache.agent_images().join(EXPORT_TAR);
    assert_eq!(
        r.calls,
        [
            format!(
                "docker save -o {} rancher/k3s:v1.35.5-k3s1",
                cache.k3s_tar().display()
            ),
            "docker exec headlamp-e2e-run-1 k3s ctr -n k8s.io images ls -q".to_string(),
            "docker exec headlamp-e2e-run-1 k3s ctr -n k8s.io images export --platform linux/arm64 /tmp/headlamp-e2e-images.tar docker.io/rancher/mirrored-coredns-coredns:1.12.1 docker.io/rancher/mirrored-pause:3.6 ghcr.io/fluxcd/helm-controller:v1.6.3 ghcr.io/headlamp-k8s/headlamp:v0.41.0".to_string(),
            format!(
                "docker cp headlamp-e2e-run-1:/tmp/headlamp-e2e-images.tar {}",
                export.display()
            ),
            "docker exec headlamp-e2e-run-1 rm -f /tmp/headlamp-e2e-images.tar".to_string(),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join(EXPORT_LIST)).unwrap(),
        exported.join("\n")
    );

    // the next run with the same images: no save, no export, only the listing
    r.calls.clear();
    let again = cache
        .save(
            &mut r,
            "headlamp-e2e-run-2",
            "rancher/k3s:v1.35.5-k3s1",
            "linux/arm64",
        )
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        r.calls,
        ["docker exec headlamp-e2e-run-2 k3s ctr -n k8s.io images ls -q"]
    );

    // a new image (a chart bump): exported again
    r.listed.push_str("ghcr.io/headlamp-k8s/headlamp:v0.42.0\n");
    r.calls.clear();
    let bumped = cache
        .save(
            &mut r,
            "headlamp-e2e-run-3",
            "rancher/k3s:v1.35.5-k3s1",
            "linux/arm64",
        )
        .await
        .unwrap();
    assert_eq!(bumped.len(), 5);
    assert_eq!(r.calls.len(), 4, "{:?}", r.calls);
}

#[tokio::test]
async fn a_failed_copy_still_removes_the_export_in_the_container_and_records_nothing() {
    let d = tempfile::tempdir().unwrap();
    let cache = ImageCache::new(d.path());
    std::fs::write(cache.k3s_tar(), b"tar").unwrap();
    let mut r = Fake {
        listed: LISTED.into(),
        fail: Some("docker cp"),
        ..Fake::default()
    };
    cache.prepare(&mut r).await.unwrap();
    r.calls.clear();
    let e = cache
        .save(&mut r, "c", "rancher/k3s:v1.35.5-k3s1", "linux/amd64")
        .await
        .unwrap_err();
    assert!(
        e.starts_with("docker cp c:/tmp/headlamp-e2e-images.tar"),
        "{e}"
    );
    assert_eq!(
        r.calls.last().map(String::as_str),
        Some("docker exec c rm -f /tmp/headlamp-e2e-images.tar")
    );
    assert!(!d.path().join(EXPORT_LIST).exists());
}

#[test]
fn the_registry_mirror_writes_a_docker_io_mirror_and_refuses_credentials() {
    assert_eq!(
        registries_yaml("https://mirror.example.com:5000/").unwrap(),
        "# written by headlamp-e2e --registry-mirror\nmirrors:\n  docker.io:\n    endpoint:\n      - \"https://mirror.example.com:5000\"\n"
    );
    let yaml = registries_yaml("http://10.0.0.5:5000").unwrap();
    let v: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(
        v["mirrors"]["docker.io"]["endpoint"][0],
        "http://10.0.0.5:5000"
    );
    let e = registries_yaml("https://user:s3cret@mirror.example.com").unwrap_err();
    assert!(e.contains("credentials") && !e.contains("s3cret"), "{e}");
    assert!(registries_yaml("ftp://mirror.example.com").is_err());
    assert!(registries_yaml("mirror.example.com").is_err());
    assert!(registries_yaml("https://mirror.example.com/?x=\"").is_err());
}

#[test]
fn the_platform_is_containerds_name_for_this_machine() {
    let p = host_platform();
    assert!(p.starts_with("linux/"), "{p}");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(p, "linux/amd64");
    #[cfg(target_arch = "aarch64")]
    assert_eq!(p, "linux/arm64");
}
