//! The one wrapper around bollard: starts, finds and removes the containers
//! that back Cells.
//!
//! A Cell describes its container as data ([`CellSpec`]); [`Engine`] makes
//! sure exactly one container per workspace and Cell exists and runs, with its
//! data in a named volume. Everything cargo-cell creates carries labels
//! ([`LABEL_MANAGED_BY`], [`LABEL_WORKSPACE`], ...) and is found again by those
//! labels only: the engine never touches a container or volume it did not
//! create.
//!
//! Protocol readiness (is Postgres accepting connections?) is not checked
//! here: the Cell adapter does that, with [`Engine::exec`] or a real client.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ExecConfig, HostConfig, Mount, MountType,
    PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListVolumesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::ui::Ui;
pub use crate::workspace::WorkspaceId;
use crate::workspace::short_hash;

/// Label on everything cargo-cell creates; its value is [`MANAGED_BY`].
pub const LABEL_MANAGED_BY: &str = "dev.cell.managed-by";
/// The value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "cargo-cell";
/// Label holding [`WorkspaceId::id`].
pub const LABEL_WORKSPACE: &str = "dev.cell.workspace";
/// Label holding [`WorkspaceId::name`] (for people; never used to find things).
pub const LABEL_WORKSPACE_NAME: &str = "dev.cell.workspace-name";
/// Label holding [`CellSpec::cell`].
pub const LABEL_CELL: &str = "dev.cell.cell";
/// Label on containers holding [`CellSpec::config_hash`].
pub const LABEL_CONFIG: &str = "dev.cell.config";
/// Environment variable with one more label (`key=value`) for containers and
/// volumes, so that a test suite can find and remove what it created.
pub const TEST_LABEL_ENV: &str = "CELL_TEST_LABEL";

/// How long [`Engine::connect`] may take in all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a Cell gets to shut down cleanly before it is killed.
const STOP_TIMEOUT_SECS: i32 = 10;

#[cfg(unix)]
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
#[cfg(windows)]
const DEFAULT_HOST: &str = "npipe:////./pipe/docker_engine";

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

/// The engine address, and where it came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `unix:///var/run/docker.sock`, `tcp://...`.
    pub url: String,
    /// Where `url` came from.
    pub origin: HostOrigin,
}

/// Where [`Host::url`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOrigin {
    /// The platform's default socket.
    Default,
    /// The `DOCKER_HOST` environment variable.
    DockerHostEnv,
    /// Given to [`Engine::connect_to`].
    Explicit,
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            HostOrigin::Default => {
                write!(f, "{} (the default socket; DOCKER_HOST is unset)", self.url)
            }
            HostOrigin::DockerHostEnv => write!(f, "{} (from DOCKER_HOST)", self.url),
            HostOrigin::Explicit => f.write_str(&self.url),
        }
    }
}

/// Everything that can go wrong talking to Docker.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum DockerError {
    /// No engine answered.
    #[error("cannot reach the Docker engine at {host}")]
    #[diagnostic(
        code(cell::docker::unreachable),
        help(
            "is the Docker daemon running? Start it with `systemctl start docker` \
             (or `sudo service docker start`), or point DOCKER_HOST at a running engine \
             (`docker info` should work first)"
        )
    )]
    Unreachable {
        host: Host,
        #[source]
        source: Box<BollardError>,
    },

    /// The socket exists but this user may not use it.
    #[error("permission denied on the Docker socket {socket}")]
    #[diagnostic(
        code(cell::docker::permission_denied),
        help(
            "add your user to the `docker` group (`sudo usermod -aG docker $USER`, then log in \
             again or run `newgrp docker`), or run it with `sudo`, or use rootless Docker: \
             `dockerd-rootless-setuptool.sh install`, then \
             `export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock`"
        )
    )]
    PermissionDenied {
        socket: String,
        #[source]
        source: Box<BollardError>,
    },

    /// DOCKER_HOST is not something bollard can connect to.
    #[error("cannot use Docker host {host}")]
    #[diagnostic(
        code(cell::docker::invalid_host),
        help(
            "DOCKER_HOST must look like `unix:///var/run/docker.sock` or `tcp://127.0.0.1:2375`; \
             unset it to use the default socket"
        )
    )]
    InvalidHost {
        host: Host,
        #[source]
        source: Box<BollardError>,
    },

    /// The engine did not answer in time.
    #[error("the Docker engine at {host} did not answer within {seconds} s ({operation})")]
    #[diagnostic(
        code(cell::docker::timeout),
        help(
            "the daemon may be starting or overloaded: check `docker info`, and restart it \
             (`systemctl restart docker`) if it hangs"
        )
    )]
    Timeout {
        host: Host,
        operation: &'static str,
        seconds: u64,
    },

    /// CELL_TEST_LABEL is not `key=value`.
    #[error("{TEST_LABEL_ENV}={value:?} is not of the form key=value")]
    #[diagnostic(
        code(cell::docker::invalid_test_label),
        help("set it like `CELL_TEST_LABEL=dev.cell.test=run-42`, or unset it")
    )]
    InvalidTestLabel { value: String },

    /// The image is neither local nor pullable.
    #[error("the image {image} for the {cell} Cell is not available")]
    #[diagnostic(
        code(cell::docker::image_unavailable),
        help(
            "run `docker pull {image}`; or choose another image with \
             `[workspace.metadata.cell.{cell}] image = \"...\"` in Cargo.toml or the \
             environment variable {env_var}{hint}"
        )
    )]
    ImageUnavailable {
        cell: String,
        image: String,
        /// The variable that chooses the image (`CELL_POSTGRES_IMAGE`).
        env_var: String,
        /// `; without a registry, ...`, or empty.
        hint: String,
        #[source]
        source: Box<BollardError>,
    },

    /// A container or volume with our name exists but is not ours.
    #[error("a {kind} named {name} exists, but cargo-cell did not create it")]
    #[diagnostic(
        code(cell::docker::name_conflict),
        help(
            "cargo-cell never removes what it did not create: remove or rename that {kind} \
             yourself (`docker {kind} inspect {name}` shows what it is) and try again"
        )
    )]
    NameConflict { kind: &'static str, name: String },

    /// Listing containers or volumes failed.
    #[error("cannot list Docker {what}")]
    #[diagnostic(
        code(cell::docker::list),
        help("check that the engine works: `docker ps -a` and `docker volume ls`")
    )]
    List {
        what: &'static str,
        #[source]
        source: Box<BollardError>,
    },

    /// Creating the container failed.
    #[error("cannot create the container {name} for the {cell} Cell")]
    #[diagnostic(
        code(cell::docker::create),
        help("the engine's message is below; `docker info` and `docker ps -a` may tell more")
    )]
    Create {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Creating the volume failed.
    #[error("cannot create the volume {name} for the {cell} Cell")]
    #[diagnostic(
        code(cell::docker::volume),
        help("check free disk space and `docker volume ls`")
    )]
    Volume {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Starting the container failed.
    #[error("cannot start the container {name} for the {cell} Cell")]
    #[diagnostic(
        code(cell::docker::start),
        help(
            "see `docker logs {name}`; if the published port or the volume is the problem, \
             `cargo cell down {cell}` and try again"
        )
    )]
    Start {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// The engine could not publish the Cell's port.
    #[error("the port of the {cell} Cell's container {name} is taken")]
    #[diagnostic(
        code(cell::docker::port_conflict),
        help(
            "another process or container holds it: `cargo cell down {cell}` and then \
             `cargo cell up {cell}` picks a new ephemeral port; `docker ps` shows what else publishes ports"
        )
    )]
    PortConflict {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// The container stopped right after it started.
    #[error("the container {name} of the {cell} Cell is not running ({state})")]
    #[diagnostic(
        code(cell::docker::not_running),
        help(
            "its last log lines:\n{logs}\nfix the cause, or `cargo cell down {cell}` to start afresh"
        )
    )]
    NotRunning {
        cell: String,
        name: String,
        state: String,
        logs: String,
    },

    /// Inspecting a container, image or volume failed.
    #[error("cannot inspect {what}")]
    #[diagnostic(
        code(cell::docker::inspect),
        help("check that it still exists and that the engine works (`docker ps -a`)")
    )]
    Inspect {
        what: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Removing a container or volume failed.
    #[error("cannot remove {what}")]
    #[diagnostic(
        code(cell::docker::remove),
        help(
            "remove it by hand with `docker rm -f` or `docker volume rm`; a volume still used \
             by a container cannot be removed"
        )
    )]
    Remove {
        what: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Reading a container's logs failed.
    #[error("cannot read the logs of the container {container}")]
    #[diagnostic(
        code(cell::docker::logs),
        help("check that the container still exists: `cargo cell status`")
    )]
    Logs {
        container: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Running a command in a container failed.
    #[error("cannot run {cmd:?} in the container {container}")]
    #[diagnostic(
        code(cell::docker::exec),
        help("check that the container is running: `docker ps`")
    )]
    Exec {
        container: String,
        cmd: Vec<String>,
        #[source]
        source: Box<BollardError>,
    },
}

/// The output of [`Engine::exec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code (`None` if the engine did not report one).
    pub exit_code: Option<i64>,
    /// Stdout and stderr, interleaved as they came.
    pub output: String,
}

/// A connection to the Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    host: Host,
    extra_label: Option<(String, String)>,
}

impl Engine {
    /// Connect to the engine named by `DOCKER_HOST` (or the default socket),
    /// negotiate the API version and ping it, all within
    /// [`CONNECT_TIMEOUT`]. Adds the label from `CELL_TEST_LABEL` when set.
    pub async fn connect() -> Result<Engine, DockerError> {
        let host = match std::env::var("DOCKER_HOST") {
            Ok(url) if !url.is_empty() => Host {
                url,
                origin: HostOrigin::DockerHostEnv,
            },
            _ => Host {
                url: DEFAULT_HOST.to_owned(),
                origin: HostOrigin::Default,
            },
        };
        let engine = Engine::connect_host(host).await?;
        match std::env::var(TEST_LABEL_ENV) {
            Ok(value) if !value.is_empty() => {
                let (key, val) =
                    parse_label(&value).ok_or_else(|| DockerError::InvalidTestLabel {
                        value: value.clone(),
                    })?;
                Ok(engine.with_extra_label(key, val))
            }
            _ => Ok(engine),
        }
    }

    /// Connect to `host` (`unix://...`, `tcp://...`), or to the default socket
    /// when `None`. Reads no environment variable.
    pub async fn connect_to(host: Option<&str>) -> Result<Engine, DockerError> {
        Engine::connect_host(match host {
            Some(url) => Host {
                url: url.to_owned(),
                origin: HostOrigin::Explicit,
            },
            None => Host {
                url: DEFAULT_HOST.to_owned(),
                origin: HostOrigin::Default,
            },
        })
        .await
    }

    async fn connect_host(host: Host) -> Result<Engine, DockerError> {
        let attempt = async {
            let docker = Docker::connect_with_host(&host.url)
                .map_err(|source| classify_connect_error(&host, source))?;
            let docker = docker
                .negotiate_version()
                .await
                .map_err(|source| classify_connect_error(&host, source))?;
            docker
                .ping()
                .await
                .map_err(|source| classify_connect_error(&host, source))?;
            Ok(docker)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(docker)) => Ok(Engine {
                docker,
                host,
                extra_label: None,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DockerError::Timeout {
                host,
                operation: "connect",
                seconds: CONNECT_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Put one more label on every container and volume this engine
    /// creates (see [`TEST_LABEL_ENV`]).
    pub fn with_extra_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_label = Some((key.into(), value.into()));
        self
    }

    /// The host this engine is connected to.
    /// The bollard client, for what this wrapper does not cover (the Auth Cell's image build).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The API version in use after negotiation, such as `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// Make sure this workspace's container for `spec.cell` exists and runs.
    ///
    /// An existing container (found by labels) is reused when its
    /// [`LABEL_CONFIG`] matches (and started if stopped); otherwise it is
    /// removed, keeping its volume, and a new one is created. The image is
    /// pulled when missing. The host port is read back from the engine
    /// every time. Protocol readiness is not checked.
    pub async fn ensure_running(
        &self,
        ws: &WorkspaceId,
        spec: &CellSpec,
        ui: &Ui,
    ) -> Result<RunningCell, DockerError> {
        let name = ws.container_name(&spec.cell);
        let config = spec.config_hash();
        // A second round only when another process created the container
        // between our look and our create.
        let mut attempts = 0;
        let (id, created) = loop {
            attempts += 1;
            let mut reuse = None;
            for found in self.list_containers(ws, Some(&spec.cell)).await? {
                let same = found.config.as_deref() == Some(config.as_str())
                    && found.name == name
                    && !matches!(found.state.as_str(), "dead" | "removing");
                if same && reuse.is_none() {
                    reuse = Some(found.id);
                } else {
                    ui.verbose(&format!(
                        "{}: replacing container {} (its configuration changed)",
                        spec.cell, found.name
                    ));
                    self.stop_and_remove(&found.id, &found.name, true).await?;
                }
            }
            if let Some(id) = reuse {
                ui.verbose(&format!("{}: reusing container {name}", spec.cell));
                break (id, false);
            }
            match self.create(ws, spec, &name, &config, ui).await? {
                Created::Id(id) => break (id, true),
                Created::Raced if attempts < 2 => continue,
                Created::Raced => {
                    return Err(DockerError::NameConflict {
                        kind: "container",
                        name,
                    });
                }
            }
        };

        let info = self.inspect(&id).await?;
        let state = info.state.as_ref();
        let running = state.and_then(|s| s.running).unwrap_or(false);
        let paused = state.and_then(|s| s.paused).unwrap_or(false);
        if paused {
            self.docker
                .unpause_container(&id)
                .await
                .map_err(|source| DockerError::Start {
                    cell: spec.cell.clone(),
                    name: name.clone(),
                    source: Box::new(source),
                })?;
        } else if !running {
            ui.verbose(&format!("{}: starting container {name}", spec.cell));
            self.docker
                .start_container(&id, None)
                .await
                .map_err(|source| start_error(&spec.cell, &name, source))?;
        }

        // Ports change across engine and container restarts: always ask.
        let info = self.inspect(&id).await?;
        let cell = running_cell(&spec.cell, &info, spec.container_port, created);
        if cell.host_port == 0 {
            let state = info
                .state
                .as_ref()
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown state".into());
            return Err(DockerError::NotRunning {
                cell: spec.cell.clone(),
                name,
                state,
                logs: self.logs_tail(&id, 20).await,
            });
        }
        Ok(cell)
    }

    /// This workspace's container for `cell`, running or not, if any. Its
    /// `host_port` is 0 when it is not running; its `env` is the container's,
    /// so a generated password can be recovered from it.
    pub async fn find_cell(
        &self,
        ws: &WorkspaceId,
        cell: &str,
    ) -> Result<Option<RunningCell>, DockerError> {
        let name = ws.container_name(cell);
        let found = self.list_containers(ws, Some(cell)).await?;
        // Prefer the one with our name; there is normally only one.
        let Some(found) = found
            .iter()
            .find(|c| c.name == name)
            .or_else(|| found.first())
        else {
            return Ok(None);
        };
        let info = match self.docker.inspect_container(&found.id, None).await {
            Ok(info) => info,
            Err(e) if is_status(&e, 404) => return Ok(None),
            Err(source) => {
                return Err(DockerError::Inspect {
                    what: format!("container {}", found.name),
                    source: Box::new(source),
                });
            }
        };
        let port = published_container_port(&info).unwrap_or(0);
        Ok(Some(running_cell(cell, &info, port, false)))
    }

    /// Whether the container `id` runs, since when (the engine's `StartedAt`, which changes
    /// on every start), and its labels. `None` when there is no such container.
    pub async fn container_status(&self, id: &str) -> Result<Option<ContainerStatus>, DockerError> {
        let info = match self.docker.inspect_container(id, None).await {
            Ok(info) => info,
            Err(e) if is_status(&e, 404) => return Ok(None),
            Err(source) => {
                return Err(DockerError::Inspect {
                    what: format!("container {id}"),
                    source: Box::new(source),
                });
            }
        };
        let state = info.state.as_ref();
        Ok(Some(ContainerStatus {
            running: state.and_then(|s| s.running).unwrap_or(false)
                && !state.and_then(|s| s.paused).unwrap_or(false),
            started_at: state.and_then(|s| s.started_at.clone()).unwrap_or_default(),
            labels: info.config.and_then(|c| c.labels).unwrap_or_default(),
        }))
    }

    /// Remove this workspace's containers (of every Cell when `cells` is
    /// empty, else of the named ones) and, with `volumes`, their volumes.
    /// Found by label only. Returns the names of what was removed.
    pub async fn remove_cells(
        &self,
        ws: &WorkspaceId,
        cells: &[String],
        volumes: bool,
    ) -> Result<Vec<String>, DockerError> {
        let wanted = |cell: Option<&str>| {
            cells.is_empty() || cell.is_some_and(|c| cells.iter().any(|w| w == c))
        };
        let mut removed = Vec::new();
        for found in self.list_containers(ws, None).await? {
            if wanted(found.cell.as_deref()) {
                // Without `volumes` the data stays: let the service shut down cleanly.
                if self
                    .stop_and_remove(&found.id, &found.name, !volumes)
                    .await?
                {
                    removed.push(found.name);
                }
            }
        }
        if volumes {
            let filters = self.filters(&[
                (LABEL_MANAGED_BY, MANAGED_BY),
                (LABEL_WORKSPACE, ws.id.as_str()),
            ]);
            for (name, labels) in self.list_volumes(filters).await? {
                if wanted(labels.get(LABEL_CELL).map(String::as_str))
                    && self.remove_volume(&name).await?
                {
                    removed.push(name);
                }
            }
        }
        Ok(removed)
    }

    /// Remove every container and volume that cargo-cell created and that
    /// carries the label `key=value` (for test suites: see
    /// [`TEST_LABEL_ENV`]). Containers are killed, not stopped.
    pub async fn remove_labelled(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, DockerError> {
        let filters = self.filters(&[(LABEL_MANAGED_BY, MANAGED_BY), (key, value)]);
        let mut removed = Vec::new();
        for found in self.list_containers_filtered(filters.clone()).await? {
            if self.stop_and_remove(&found.id, &found.name, false).await? {
                removed.push(found.name);
            }
        }
        for (name, _) in self.list_volumes(filters).await? {
            if self.remove_volume(&name).await? {
                removed.push(name);
            }
        }
        Ok(removed)
    }

    /// The last `n` log lines (stdout and stderr) of a container, for
    /// diagnostics. Never fails: a failure to read is described instead.
    pub async fn logs_tail(&self, container_id: &str, n: usize) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&n.to_string())
            .build();
        let mut stream = self.docker.logs(container_id, Some(options));
        let mut text = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(out) => text.push_str(&String::from_utf8_lossy(&out.into_bytes())),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
        .await;
        match read {
            Ok(Ok(())) => {}
            Ok(Err(e)) => text.push_str(&format!("(could not read more logs: {e})")),
            Err(_) => text.push_str("(timed out reading logs)"),
        }
        // Keep the last n lines even if the engine sent more.
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Stream a container's logs (stdout and stderr) to `out`: the last
    /// `tail` lines (all when `None`), then, with `follow`, new lines as they
    /// come until the container stops.
    pub async fn stream_logs(
        &self,
        container_id: &str,
        follow: bool,
        tail: Option<usize>,
        mut out: impl FnMut(&[u8]),
    ) -> Result<(), DockerError> {
        let tail = tail.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .build();
        let mut stream = self.docker.logs(container_id, Some(options));
        while let Some(item) = stream.next().await {
            let item = item.map_err(|source| DockerError::Logs {
                container: container_id.to_owned(),
                source: Box::new(source),
            })?;
            out(&item.into_bytes());
        }
        Ok(())
    }

    /// Run `cmd` in a running container and wait for it (for readiness
    /// checks such as `pg_isready`).
    pub async fn exec(&self, container_id: &str, cmd: &[&str]) -> Result<ExecOutput, DockerError> {
        let err = |source| DockerError::Exec {
            container: container_id.to_owned(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            source: Box::new(source),
        };
        let config = ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        let exec = self
            .docker
            .create_exec(container_id, config)
            .await
            .map_err(err)?;
        let mut output = String::new();
        if let bollard::exec::StartExecResults::Attached {
            output: mut out, ..
        } = self.docker.start_exec(&exec.id, None).await.map_err(err)?
        {
            while let Some(item) = out.next().await {
                output.push_str(&String::from_utf8_lossy(&item.map_err(err)?.into_bytes()));
            }
        }
        let inspect = self.docker.inspect_exec(&exec.id).await.map_err(err)?;
        Ok(ExecOutput {
            exit_code: inspect.exit_code,
            output,
        })
    }

    /// The container's bridge gateway: the host as the container reaches it.
    pub async fn gateway(&self, container_id: &str) -> Result<Option<String>, DockerError> {
        let info = self.inspect(container_id).await?;
        let gateway = info
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|nets| nets.into_values().find_map(|e| e.gateway))
            .filter(|g| !g.is_empty());
        Ok(gateway)
    }

    // ---- helpers ----

    /// Labels for a container or volume of `cell`.
    fn labels(&self, ws: &WorkspaceId, cell: &str) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
            (LABEL_WORKSPACE.to_owned(), ws.id.clone()),
            (LABEL_WORKSPACE_NAME.to_owned(), ws.name.clone()),
            (LABEL_CELL.to_owned(), cell.to_owned()),
        ]);
        if let Some((k, v)) = &self.extra_label {
            labels.insert(k.clone(), v.clone());
        }
        labels
    }

    /// A `label` filter matching all of `labels`.
    fn filters(&self, labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_owned(),
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        )])
    }

    async fn list_containers(
        &self,
        ws: &WorkspaceId,
        cell: Option<&str>,
    ) -> Result<Vec<Found>, DockerError> {
        let mut labels = vec![
            (LABEL_MANAGED_BY, MANAGED_BY),
            (LABEL_WORKSPACE, ws.id.as_str()),
        ];
        if let Some(cell) = cell {
            labels.push((LABEL_CELL, cell));
        }
        self.list_containers_filtered(self.filters(&labels)).await
    }

    async fn list_containers_filtered(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<Found>, DockerError> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|source| DockerError::List {
                what: "containers",
                source: Box::new(source),
            })?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let id = c.id?;
                let labels = c.labels.unwrap_or_default();
                let name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_else(|| id.clone());
                Some(Found {
                    id,
                    name,
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    cell: labels.get(LABEL_CELL).cloned(),
                    config: labels.get(LABEL_CONFIG).cloned(),
                })
            })
            .collect())
    }

    async fn list_volumes(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<(String, HashMap<String, String>)>, DockerError> {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(|source| DockerError::List {
                what: "volumes",
                source: Box::new(source),
            })?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.name, v.labels))
            .collect())
    }

    async fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, DockerError> {
        self.docker
            .inspect_container(id, None)
            .await
            .map_err(|source| DockerError::Inspect {
                what: format!("container {id}"),
                source: Box::new(source),
            })
    }

    /// Stop (gracefully when `graceful`) and remove a container. Returns
    /// false when it was already gone.
    async fn stop_and_remove(
        &self,
        id: &str,
        name: &str,
        graceful: bool,
    ) -> Result<bool, DockerError> {
        if graceful {
            let options = StopContainerOptionsBuilder::default()
                .t(STOP_TIMEOUT_SECS)
                .build();
            // 304 (already stopped) and 404 (gone) are fine; anything else is
            // settled by the forced removal below.
            let _ = self.docker.stop_container(id, Some(options)).await;
        }
        // `v` removes anonymous volumes only; named ones (the Cell's data) stay.
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(true),
            Err(e) if is_status(&e, 404) => Ok(false),
            // 409: removal already in progress (another `cargo cell down`).
            Err(e) if is_status(&e, 409) => Ok(false),
            Err(source) => Err(DockerError::Remove {
                what: format!("container {name}"),
                source: Box::new(source),
            }),
        }
    }

    async fn remove_volume(&self, name: &str) -> Result<bool, DockerError> {
        let options = RemoveVolumeOptionsBuilder::default().force(false).build();
        match self.docker.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(true),
            Err(e) if is_status(&e, 404) => Ok(false),
            Err(source) => Err(DockerError::Remove {
                what: format!("volume {name}"),
                source: Box::new(source),
            }),
        }
    }

    /// Create the container (image and volume first).
    async fn create(
        &self,
        ws: &WorkspaceId,
        spec: &CellSpec,
        name: &str,
        config: &str,
        ui: &Ui,
    ) -> Result<Created, DockerError> {
        self.ensure_image(spec, ui).await?;
        let volume = self.ensure_volume(ws, spec).await?;

        let port = format!("{}/tcp", spec.container_port);
        let mut labels = self.labels(ws, &spec.cell);
        labels.insert(LABEL_CONFIG.to_owned(), config.to_owned());
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            cmd: spec.cmd.clone(),
            labels: Some(labels),
            exposed_ports: Some(vec![port.clone()]),
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    port,
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_owned()),
                        // Empty: the engine picks an ephemeral port.
                        host_port: Some(String::new()),
                    }]),
                )])),
                mounts: Some(vec![Mount {
                    target: Some(spec.data_path.clone()),
                    source: Some(volume),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        ui.verbose(&format!("{}: creating container {name}", spec.cell));
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(Created::Id(created.id)),
            Err(e) if is_status(&e, 409) => {
                // Someone holds the name. Ours (a concurrent run)? Then look again.
                let owner = self.docker.inspect_container(name, None).await.ok();
                let ours = owner
                    .and_then(|info| info.config)
                    .and_then(|c| c.labels)
                    .is_some_and(|l| {
                        l.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
                            && l.get(LABEL_WORKSPACE) == Some(&ws.id)
                            && l.get(LABEL_CELL) == Some(&spec.cell)
                    });
                if ours {
                    Ok(Created::Raced)
                } else {
                    Err(DockerError::NameConflict {
                        kind: "container",
                        name: name.to_owned(),
                    })
                }
            }
            Err(source) => Err(DockerError::Create {
                cell: spec.cell.clone(),
                name: name.to_owned(),
                source: Box::new(source),
            }),
        }
    }

    /// The image exists locally, or is pulled (with progress).
    async fn ensure_image(&self, spec: &CellSpec, ui: &Ui) -> Result<(), DockerError> {
        match self.docker.inspect_image(&spec.image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_status(&e, 404) => {}
            Err(source) => {
                return Err(DockerError::Inspect {
                    what: format!("image {}", spec.image),
                    source: Box::new(source),
                });
            }
        }
        let unavailable = |source| DockerError::ImageUnavailable {
            cell: spec.cell.clone(),
            image: spec.image.clone(),
            env_var: spec.image_env.clone(),
            hint: if spec.image_hint.is_empty() {
                String::new()
            } else {
                format!("; without a registry, {}", spec.image_hint)
            },
            source: Box::new(source),
        };
        let task = ui.task(&spec.cell, &format!("pulling {}", spec.image));
        let (repo, tag) = split_reference(&spec.image);
        let mut options = CreateImageOptionsBuilder::default().from_image(repo);
        if let Some(tag) = tag {
            options = options.tag(tag);
        }
        let mut stream = self.docker.create_image(Some(options.build()), None, None);
        let mut progress = PullProgress::default();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    progress.update(&info);
                    task.set_message(format!("pulling {}: {}", spec.image, progress));
                }
                Err(source) => {
                    task.fail(format!("cannot pull {}", spec.image));
                    return Err(unavailable(source));
                }
            }
        }
        // A pull that "succeeded" without giving us the image still fails.
        if let Err(source) = self.docker.inspect_image(&spec.image).await {
            task.fail(format!("cannot pull {}", spec.image));
            return Err(unavailable(source));
        }
        task.finish(format!("pulled {}", spec.image));
        Ok(())
    }

    /// The Cell's named volume exists and is ours. Returns its name.
    async fn ensure_volume(
        &self,
        ws: &WorkspaceId,
        spec: &CellSpec,
    ) -> Result<String, DockerError> {
        let name = ws.volume_name(&spec.cell);
        match self.docker.inspect_volume(&name).await {
            Ok(volume) => {
                let ours = volume.labels.get(LABEL_MANAGED_BY).map(String::as_str)
                    == Some(MANAGED_BY)
                    && volume.labels.get(LABEL_WORKSPACE) == Some(&ws.id);
                if ours {
                    Ok(name)
                } else {
                    Err(DockerError::NameConflict {
                        kind: "volume",
                        name,
                    })
                }
            }
            Err(e) if is_status(&e, 404) => {
                let request = VolumeCreateRequest {
                    name: Some(name.clone()),
                    labels: Some(self.labels(ws, &spec.cell)),
                    ..Default::default()
                };
                self.docker
                    .create_volume(request)
                    .await
                    .map_err(|source| DockerError::Volume {
                        cell: spec.cell.clone(),
                        name: name.clone(),
                        source: Box::new(source),
                    })?;
                Ok(name)
            }
            Err(source) => Err(DockerError::Inspect {
                what: format!("volume {name}"),
                source: Box::new(source),
            }),
        }
    }
}

/// A container found by labels.
struct Found {
    id: String,
    name: String,
    state: String,
    cell: Option<String>,
    config: Option<String>,
}

enum Created {
    Id(String),
    /// Another process created the container first.
    Raced,
}

/// Progress of one pull, summed over layers.
#[derive(Default)]
struct PullProgress {
    layers: HashMap<String, (i64, i64, bool)>,
    status: String,
}

impl PullProgress {
    fn update(&mut self, info: &bollard::models::CreateImageInfo) {
        let status = info.status.clone().unwrap_or_default();
        match &info.id {
            Some(id) if !id.is_empty() && id.len() <= 12 && status != "Pulling from" => {
                let layer = self.layers.entry(id.clone()).or_default();
                if let Some(detail) = &info.progress_detail
                    && let (Some(current), Some(total)) = (detail.current, detail.total)
                    && total > 0
                {
                    layer.0 = current;
                    layer.1 = total;
                }
                if status.starts_with("Pull complete") || status.starts_with("Already exists") {
                    layer.0 = layer.1;
                    layer.2 = true;
                }
            }
            _ => self.status = status,
        }
    }
}

impl fmt::Display for PullProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layers.is_empty() {
            return f.write_str(if self.status.is_empty() {
                "starting"
            } else {
                &self.status
            });
        }
        let done = self.layers.values().filter(|l| l.2).count();
        let current: i64 = self.layers.values().map(|l| l.0).sum();
        let total: i64 = self.layers.values().map(|l| l.1).sum();
        let mb = |b: i64| b as f64 / 1_000_000.0;
        write!(
            f,
            "{done}/{} layers, {:.1}/{:.1} MB",
            self.layers.len(),
            mb(current),
            mb(total)
        )
    }
}

/// What a connection failure means for the user.
fn classify_connect_error(host: &Host, source: BollardError) -> DockerError {
    match &source {
        BollardError::UnsupportedURISchemeError { .. } => DockerError::InvalidHost {
            host: host.clone(),
            source: Box::new(source),
        },
        BollardError::RequestTimeoutError => DockerError::Timeout {
            host: host.clone(),
            operation: "connect",
            seconds: CONNECT_TIMEOUT.as_secs(),
        },
        _ if io_error_kind(&source) == Some(std::io::ErrorKind::PermissionDenied) => {
            DockerError::PermissionDenied {
                socket: host
                    .url
                    .strip_prefix("unix://")
                    .unwrap_or(&host.url)
                    .to_owned(),
                source: Box::new(source),
            }
        }
        _ => DockerError::Unreachable {
            host: host.clone(),
            source: Box::new(source),
        },
    }
}

/// The kind of the first I/O error in `err`'s chain of sources.
fn io_error_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

/// A failed start, told apart: a taken port has its own fix.
fn start_error(cell: &str, name: &str, source: BollardError) -> DockerError {
    let text = source.to_string();
    if text.contains("port is already allocated") || text.contains("address already in use") {
        DockerError::PortConflict {
            cell: cell.to_owned(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    } else {
        DockerError::Start {
            cell: cell.to_owned(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    }
}

fn is_status(err: &BollardError, code: u16) -> bool {
    matches!(err, BollardError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

/// The host port bound to `container_port` on 127.0.0.1 (or any address),
/// if the container runs.
fn host_port(info: &ContainerInspectResponse, container_port: u16) -> Option<u16> {
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
fn published_container_port(info: &ContainerInspectResponse) -> Option<u16> {
    let bindings = info.host_config.as_ref()?.port_bindings.as_ref()?;
    bindings
        .keys()
        .find_map(|k| k.strip_suffix("/tcp")?.parse().ok())
}

fn running_cell(
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

/// `repo[:tag]` → (repo, tag); a digest reference stays whole. A registry
/// host with a port (`localhost:5000/pg`) is not mistaken for a tag.
fn split_reference(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], Some(&image[last_slash + i + 1..])),
        None => (image, Some("latest")),
    }
}

fn parse_label(value: &str) -> Option<(&str, &str)> {
    let (k, v) = value.split_once('=')?;
    (!k.trim().is_empty()).then_some((k.trim(), v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::sanitize_name;
    use std::path::Path;

    fn spec() -> CellSpec {
        CellSpec {
            cell: "postgres".into(),
            image: "postgres:17".into(),
            env: vec![
                ("POSTGRES_PASSWORD".into(), "pw".into()),
                ("POSTGRES_USER".into(), "app".into()),
            ],
            cmd: None,
            container_port: 5432,
            data_path: "/var/lib/postgresql/data".into(),
            image_env: "CELL_POSTGRES_IMAGE".into(),
            image_hint: "build the local test images with `scripts/build-images`".into(),
        }
    }

    #[test]
    fn config_hash_is_16_hex_and_ignores_env_order() {
        let a = spec();
        let mut b = spec();
        b.env.reverse();
        assert_eq!(a.config_hash(), b.config_hash());
        assert_eq!(a.config_hash().len(), 16);
        assert!(a.config_hash().chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn config_hash_changes_with_each_field() {
        let base = spec().config_hash();
        let changes: [fn(&mut CellSpec); 5] = [
            |s| s.image = "postgres:16".into(),
            |s| s.env[0].1 = "other".into(),
            |s| s.cmd = Some(vec!["postgres".into()]),
            |s| s.container_port = 5433,
            |s| s.data_path = "/data".into(),
        ];
        for change in changes {
            let mut s = spec();
            change(&mut s);
            assert_ne!(s.config_hash(), base, "{s:?}");
        }
    }

    #[test]
    fn workspace_id_is_stable_and_names_are_docker_safe() {
        let a = WorkspaceId::for_root(Path::new("/nonexistent/My Project!"));
        let b = WorkspaceId::for_root(Path::new("/nonexistent/My Project!"));
        let c = WorkspaceId::for_root(Path::new("/elsewhere/My Project!"));
        assert_eq!(a, b);
        assert_ne!(a.id, c.id);
        assert_eq!(a.name, "my-project");
        assert_eq!(a.id.len(), 10);
        assert_eq!(
            a.container_name("postgres"),
            format!("cell-my-project-{}-postgres", a.id)
        );
        assert_eq!(
            a.volume_name("postgres"),
            format!("cell-my-project-{}-postgres-data", a.id)
        );
        assert_eq!(WorkspaceId::for_root(Path::new("/")).name, "workspace");
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_name("_-abc"), "abc");
        assert_eq!(sanitize_name("a..b"), "a..b");
        assert_eq!(sanitize_name("ÄÖ x"), "x");
        assert_eq!(sanitize_name("abc-"), "abc");
        assert_eq!(sanitize_name(&"x".repeat(80)).len(), 32);
    }

    #[test]
    fn references() {
        assert_eq!(split_reference("postgres:17"), ("postgres", Some("17")));
        assert_eq!(split_reference("postgres"), ("postgres", Some("latest")));
        assert_eq!(
            split_reference("cargo-cell/postgres:15"),
            ("cargo-cell/postgres", Some("15"))
        );
        assert_eq!(
            split_reference("localhost:5000/pg"),
            ("localhost:5000/pg", Some("latest"))
        );
        assert_eq!(
            split_reference("localhost:5000/pg:1"),
            ("localhost:5000/pg", Some("1"))
        );
        assert_eq!(split_reference("pg@sha256:abc"), ("pg@sha256:abc", None));
    }

    #[test]
    fn labels_parse() {
        assert_eq!(parse_label("a=b"), Some(("a", "b")));
        assert_eq!(parse_label("a=b=c"), Some(("a", "b=c")));
        assert_eq!(parse_label("a"), None);
        assert_eq!(parse_label("=b"), None);
    }

    #[test]
    fn image_unavailable_help_names_every_way_out() {
        use miette::Diagnostic;
        let err = DockerError::ImageUnavailable {
            cell: "postgres".into(),
            image: "postgres:17".into(),
            env_var: "CELL_POSTGRES_IMAGE".into(),
            hint: "; without a registry, build the local test images with `scripts/build-images`"
                .into(),
            source: Box::new(BollardError::RequestTimeoutError),
        };
        let help = err.help().unwrap().to_string();
        for needle in [
            "docker pull postgres:17",
            "[workspace.metadata.cell.postgres] image",
            "CELL_POSTGRES_IMAGE",
            "scripts/build-images",
        ] {
            assert!(help.contains(needle), "{needle} missing from {help}");
        }
        assert_eq!(
            err.code().unwrap().to_string(),
            "cell::docker::image_unavailable"
        );
    }

    #[test]
    fn a_taken_port_is_told_apart_from_other_start_failures() {
        use miette::Diagnostic;
        let taken = BollardError::DockerResponseServerError {
            status_code: 500,
            message: "driver failed programming external connectivity: Bind for 127.0.0.1:5432 failed: port is already allocated".into(),
        };
        let err = start_error("postgres", "cell-x-postgres", taken);
        assert_eq!(
            err.code().unwrap().to_string(),
            "cell::docker::port_conflict"
        );
        assert!(
            err.help()
                .unwrap()
                .to_string()
                .contains("cargo cell down postgres")
        );
        let other = BollardError::DockerResponseServerError {
            status_code: 500,
            message: "no such image".into(),
        };
        assert_eq!(
            start_error("postgres", "n", other)
                .code()
                .unwrap()
                .to_string(),
            "cell::docker::start"
        );
    }
}
