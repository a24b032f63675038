//! The Docker engine: a fast reachability probe, the bridge network's gateway, and label-based sweeping.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::Ipam;
use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};

use super::container::{LABEL, RUN_LABEL, RunId};
use super::error::ClusterError;

/// Where Docker (and testcontainers) look when `DOCKER_HOST` is unset.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// The CLI's message when Docker cannot be reached (exit code 2).
pub fn docker_unreachable_message(reason: &str) -> String {
    ClusterError::DockerUnreachable {
        reason: reason.to_owned(),
    }
    .to_string()
}

/// Probe the engine testcontainers will use (`DOCKER_HOST`, `~/.testcontainers.properties`, the usual sockets) with
/// one `/_ping`, giving up after `timeout`. `Err` carries a one-line reason naming the host.
pub async fn docker_reachable(timeout: Duration) -> Result<(), String> {
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| format!("DOCKER_HOST={h}"))
        .unwrap_or_else(|| "default Docker socket".to_owned());
    let probe = async {
        let docker = testcontainers::core::client::docker_client_instance()
            .await
            .map_err(|e| error_chain(&e))?;
        docker.ping().await.map(drop).map_err(|e| error_chain(&e))
    };
    match tokio::time::timeout(timeout, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{host}: {e}")),
        Err(_) => Err(format!("{host}: no answer within {timeout:?}")),
    }
}

/// Probe an explicit engine address (`unix:///…`, `tcp://host:port`, `http://…`, `https://…`) with one `/_ping`,
/// giving up after `timeout`. Unlike [`docker_reachable`] this reads no environment except TLS settings for https.
pub async fn docker_reachable_at(host: &str, timeout: Duration) -> Result<(), String> {
    let docker =
        Docker::connect_with_host(host).map_err(|e| format!("{host}: {}", error_chain(&e)))?;
    match tokio::time::timeout(timeout, docker.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{host}: {}", error_chain(&e))),
        Err(_) => Err(format!("{host}: no answer within {timeout:?}")),
    }
}

use crate::error::error_chain;

async fn client() -> Result<Docker, ClusterError> {
    testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|e| ClusterError::DockerUnreachable {
            reason: e.to_string(),
        })
}

/// The IPv4 gateway of Docker's default `bridge` network, e.g. 172.17.0.1: the address at which pods inside k3s reach
/// a service on the host (they resolve names through CoreDNS, so they need an IP). Bind host services to it.
pub async fn bridge_gateway() -> Result<Ipv4Addr, ClusterError> {
    let docker = client().await?;
    let network = docker
        .inspect_network("bridge", None)
        .await
        .map_err(|source| ClusterError::Docker {
            action: "inspecting network bridge".into(),
            source: Box::new(source),
        })?;
    let ipam = network.ipam.unwrap_or_default();
    gateway_from_ipam(&ipam).ok_or_else(|| ClusterError::Network {
        network: "bridge".into(),
        message: format!(
            "no IPv4 gateway or subnet in its IPAM config ({:?})",
            ipam.config.unwrap_or_default()
        ),
    })
}

/// The IPv4 gateway of an IPAM config: its `Gateway` when given, else the first host address of its IPv4 subnet,
/// which is what Docker assigns to the bridge (Docker 20.10 leaves `Gateway` out for the default bridge).
pub fn gateway_from_ipam(ipam: &Ipam) -> Option<Ipv4Addr> {
    let configs = ipam.config.as_deref().unwrap_or_default();
    if let Some(gw) = configs
        .iter()
        .filter_map(|c| c.gateway.as_deref())
        .find_map(|g| g.parse::<Ipv4Addr>().ok())
    {
        return Some(gw);
    }
    configs
        .iter()
        .filter_map(|c| c.subnet.as_deref())
        .find_map(first_host_of_subnet)
}

fn first_host_of_subnet(cidr: &str) -> Option<Ipv4Addr> {
    let (addr, prefix) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u32 = prefix.parse().ok()?;
    if prefix > 30 {
        return None;
    }
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    Some(Ipv4Addr::from((u32::from(addr) & mask) + 1))
}

fn label_filter(run: Option<&RunId>) -> HashMap<String, Vec<String>> {
    let label = match run {
        Some(run) => format!("{RUN_LABEL}={}", run.as_str()),
        None => LABEL.to_owned(),
    };
    HashMap::from([("label".to_owned(), vec![label])])
}

async fn labelled_ids(docker: &Docker, run: Option<&RunId>) -> Result<Vec<String>, ClusterError> {
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&label_filter(run))
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|source| ClusterError::Docker {
            action: "listing containers".into(),
            source: Box::new(source),
        })?;
    Ok(containers.into_iter().filter_map(|c| c.id).collect())
}

/// How many containers (running or not) carry this run's label; with `None`, any headlamp-e2e label.
pub async fn count_labelled_containers(run: Option<&RunId>) -> Result<usize, ClusterError> {
    let docker = client().await?;
    Ok(labelled_ids(&docker, run).await?.len())
}

/// Force-remove the containers (and their anonymous volumes) of one run, or with `None` of every run: the sweep
/// for leftovers of killed runs. Returns how many were removed.
pub async fn remove_labelled_containers(run: Option<&RunId>) -> Result<usize, ClusterError> {
    let docker = client().await?;
    let ids = labelled_ids(&docker, run).await?;
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let mut removed = 0;
    for id in &ids {
        match docker.remove_container(id, Some(options.clone())).await {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "could not remove labelled container")
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testcontainers::bollard::models::IpamConfig;

    fn ipam(configs: Vec<(Option<&str>, Option<&str>)>) -> Ipam {
        Ipam {
            config: Some(
                configs
                    .into_iter()
                    .map(|(subnet, gateway)| IpamConfig {
                        subnet: subnet.map(str::to_owned),
                        gateway: gateway.map(str::to_owned),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn gateway_is_taken_from_ipam_when_present() {
        let i = ipam(vec![(Some("172.18.0.0/16"), Some("172.18.0.254"))]);
        assert_eq!(gateway_from_ipam(&i), Some(Ipv4Addr::new(172, 18, 0, 254)));
    }

    #[test]
    fn gateway_falls_back_to_first_host_of_subnet() {
        // Docker 20.10's default bridge: `{"Config":[{"Subnet":"172.17.0.0/16"}]}`.
        let i = ipam(vec![(Some("172.17.0.0/16"), None)]);
        assert_eq!(gateway_from_ipam(&i), Some(Ipv4Addr::new(172, 17, 0, 1)));
        let i = ipam(vec![(Some("10.1.2.128/25"), None)]);
        assert_eq!(gateway_from_ipam(&i), Some(Ipv4Addr::new(10, 1, 2, 129)));
    }

    #[test]
    fn ipv6_entries_are_skipped() {
        let i = ipam(vec![
            (Some("fd00::/64"), Some("fd00::1")),
            (Some("172.17.0.0/16"), None),
        ]);
        assert_eq!(gateway_from_ipam(&i), Some(Ipv4Addr::new(172, 17, 0, 1)));
        assert_eq!(
            gateway_from_ipam(&ipam(vec![(Some("fd00::/64"), None)])),
            None
        );
        assert_eq!(gateway_from_ipam(&Ipam::default()), None);
    }

    #[tokio::test]
    async fn closed_port_is_unreachable_quickly() {
        let started = std::time::Instant::now();
        let err = docker_reachable_at("tcp://127.0.0.1:1", Duration::from_secs(10))
            .await
            .expect_err("nothing listens on port 1");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        assert!(err.starts_with("tcp://127.0.0.1:1: "), "{err}");
        assert!(
            err.to_lowercase().contains("refused"),
            "the OS reason is kept: {err}"
        );
        let message = docker_unreachable_message(&err);
        assert!(
            message.starts_with("Docker is not reachable (tcp://127.0.0.1:1: "),
            "{message}"
        );
        assert!(
            message.ends_with("e2e needs a Docker engine; `cargo xtask lint` runs without one")
        );
    }

    #[tokio::test]
    async fn unknown_scheme_is_an_error_not_a_panic() {
        let err = docker_reachable_at("ftp://example.invalid", Duration::from_secs(1))
            .await
            .expect_err("ftp is not a Docker transport");
        assert!(err.contains("ftp://example.invalid"), "{err}");
    }

    #[test]
    fn label_filters() {
        let run = RunId::new("r-1").expect("valid");
        assert_eq!(
            label_filter(None)["label"],
            vec!["io.headlamp-e2e".to_owned()]
        );
        assert_eq!(
            label_filter(Some(&run))["label"],
            vec!["io.headlamp-e2e.run=r-1".to_owned()]
        );
    }
}
