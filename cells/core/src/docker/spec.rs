//! Containers as data: what a Cell asks for ([`CellSpec`]) and what the engine reports
//! back ([`RunningCell`], [`ContainerStatus`]), read from its inspect responses.

use std::collections::HashMap;

use bollard::models::{ContainerInspectResponse, PortBinding};

use crate::workspace::short_hash;

/// A Cell's container, described as data (like testcontainers' `Image`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellSpec {
    /// The Cell's name, such as `postgres`.
    pub cell: String,
    /// The image reference, such as `postgres:17` or `cargo-cell/postgres:15`.
    pub image: String,
    /// Environment of the container, such as `POSTGRES_PASSWORD`.
    pub env: Vec<(String, String)>,
    /// Command, when not the image's own.
    pub cmd: Option<Vec<String>>,
    /// The port the service listens on inside the container (published on
    /// 127.0.0.1 with an ephemeral host port).
    pub container_port: u16,
    /// Where the Cell's named volume is mounted.
    pub data_path: String,
    /// The environment variable that chooses another image (`CELL_POSTGRES_IMAGE`), named
    /// in the help when the image is missing. Not part of [`CellSpec::config_hash`].
    pub image_env: String,
    /// How to get the image where nothing can be pulled (`build the local test images with
    /// `scripts/build-images``), for that help; empty for none.
    pub image_hint: String,
}

impl CellSpec {
    /// A short hash (16 hex digits) of everything that makes the container
    /// what it is: image, env, cmd, port and data path. A container whose
    /// [`LABEL_CONFIG`] differs is replaced; its volume is kept.
    ///
    /// The order of `env` does not matter.
    pub fn config_hash(&self) -> String {
        let mut env: Vec<&(String, String)> = self.env.iter().collect();
        env.sort();
        let canonical = serde_json::json!({
            "v": 1,
            "image": self.image,
            "env": env,
            "cmd": self.cmd,
            "port": self.container_port,
            "data_path": self.data_path,
        });
        short_hash(canonical.to_string().as_bytes(), 16)
    }
}

/// A container that backs a Cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningCell {
    /// The Cell's name.
    pub cell: String,
    /// The full container id.
    pub container_id: String,
    /// The container name (without the leading `/`).
    pub container_name: String,
    /// The image the container was created from, as it was named.
    pub image: String,
    /// The host port (on 127.0.0.1) of [`CellSpec::container_port`]; 0 when
    /// the container is not running.
    pub host_port: u16,
    /// The container's whole environment (the image's and ours).
    pub env: Vec<(String, String)>,
    /// `false` when an existing container was reused.
    pub created: bool,
}

impl RunningCell {
    /// The value of an environment variable of the container.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What [`Engine::container_status`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    pub running: bool,
    pub started_at: String,
    pub labels: HashMap<String, String>,
}

/// The host port bound to `container_port` on 127.0.0.1 (or any address),
/// if the container runs.
pub(super) fn host_port(info: &ContainerInspectResponse, container_port: u16) -> Option<u16> {
    let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    if !running {
        return None;
    }
    let ports = info.network_settings.as_ref()?.ports.as_ref()?;
    let bindings = ports.get(&format!("{container_port}/tcp"))?.as_ref()?;
    let pick = |b: &PortBinding| b.host_port.as_deref()?.parse::<u16>().ok();
    bindings
        .iter()
        .find(|b| b.host_ip.as_deref() == Some("127.0.0.1"))
        .and_then(pick)
        .or_else(|| bindings.iter().find_map(pick))
        .filter(|p| *p != 0)
}

/// The container port of the single TCP port a container we made publishes.
pub(super) fn published_container_port(info: &ContainerInspectResponse) -> Option<u16> {
    let bindings = info.host_config.as_ref()?.port_bindings.as_ref()?;
    bindings
        .keys()
        .find_map(|k| k.strip_suffix("/tcp")?.parse().ok())
}

pub(super) fn running_cell(
    cell: &str,
    info: &ContainerInspectResponse,
    container_port: u16,
    created: bool,
) -> RunningCell {
    let config = info.config.as_ref();
    RunningCell {
        cell: cell.to_owned(),
        container_id: info.id.clone().unwrap_or_default(),
        container_name: info
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image: config.and_then(|c| c.image.clone()).unwrap_or_default(),
        host_port: host_port(info, container_port).unwrap_or(0),
        env: config
            .and_then(|c| c.env.as_ref())
            .map(|env| {
                env.iter()
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_owned(), v.to_owned()),
                        None => (kv.clone(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        created,
    }
}
