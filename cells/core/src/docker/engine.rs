//! [`Engine`]: exactly one container per workspace and Cell, found by labels, started,
//! inspected, logged, exec'd into and removed; volumes kept unless asked.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ExecConfig, HostConfig, Mount, MountType,
    PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::connect::Host;
use super::error::{DockerError, is_status, start_error};
use super::spec::{CellSpec, ContainerStatus, RunningCell, published_container_port, running_cell};
use super::{
    LABEL_CELL, LABEL_CONFIG, LABEL_MANAGED_BY, LABEL_WORKSPACE, LABEL_WORKSPACE_NAME, MANAGED_BY,
    WorkspaceId,
};
use crate::ui::Ui;

/// How long a Cell gets to shut down cleanly before it is killed.
const STOP_TIMEOUT_SECS: i32 = 10;

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
    pub(super) docker: Docker,
    pub(super) host: Host,
    pub(super) extra_label: Option<(String, String)>,
}

impl Engine {
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

    /// The Cell's named volume exists and is ours. Returns its name.
    pub(super) async fn ensure_volume(
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
