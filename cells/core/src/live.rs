//! The live side of a Cell: its container as data, readiness, plan and apply, driven by
//! cargo-cell through [`LiveCell`] and nothing else.
//!
//! A Cell says what its container is ([`LiveCell::container`]), how to tell it is ready (one
//! [`LiveCell::probe`]), and what its endpoint is; [`up`] does the rest the same way for every
//! Cell: find or start the container through the one Docker wrapper, wait for readiness with
//! one timeout policy ([`ready_timeout`]) and one error ([`ReadyError`]), run the Cell's
//! [`LiveCell::after_up`] hook, write its state file.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use miette::Diagnostic;

use crate::cell::Cell;
use crate::docker::{CellSpec, DockerError, Engine, RunningCell};
use crate::error::CellError;
use crate::manifest::Manifest;
use crate::plan::CellPlan;
use crate::ui::Ui;
use crate::workspace::Workspace;

/// A Cell's container, described as data.
pub type ContainerSpec = CellSpec;

/// An error a readiness probe or a client returns, kept as the cause of [`ReadyError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where plan and apply run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The workspace's Docker Cells.
    Dev,
    /// A deployment environment (`--env NAME`): endpoints come from environment variables.
    Env(String),
}

impl Target {
    pub fn new(env: &str) -> Target {
        if env == "dev" {
            Target::Dev
        } else {
            Target::Env(env.to_string())
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Dev => "dev",
            Target::Env(env) => env,
        }
    }
}

/// A running Cell's address, read from Docker.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL [`Cell::url_env`] names.
    pub url: String,
    pub port: u16,
    pub container_id: String,
    /// Every variable `run` and `test` set for this Cell (the URL's among them).
    pub env: Vec<(String, String)>,
    /// The bytes of `.cell/state/<cell>.json` (endpoint and secrets), for Cells that keep one.
    pub state: Option<Vec<u8>>,
}

impl Endpoint {
    /// An endpoint whose only variable is the URL's.
    pub fn single(cell: &dyn Cell, url: String, running: &RunningCell) -> Endpoint {
        Endpoint {
            env: vec![(cell.url_env().to_string(), url.clone())],
            url,
            port: running.host_port,
            container_id: running.container_id.clone(),
            state: None,
        }
    }

    /// With `state` serialised as the Cell's state file.
    pub fn with_state(mut self, state: &impl serde::Serialize) -> Endpoint {
        self.state = Some(serde_json::to_vec_pretty(state).expect("state serialises"));
        self
    }
}

/// How long each stage took, for `--timings`.
#[derive(Debug)]
pub struct Timings {
    stages: Mutex<Vec<(&'static str, f64)>>,
    start: Instant,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            stages: Mutex::new(Vec::new()),
            start: Instant::now(),
        }
    }
}

impl Timings {
    /// Records that `name` ran from `start` until now; passes `value` through.
    pub fn stage<T>(&self, name: &'static str, start: Instant, value: T) -> T {
        self.push(name, start.elapsed());
        value
    }

    pub fn push(&self, name: &'static str, took: Duration) {
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, took.as_secs_f64()));
    }

    /// `timings: record 0.412s, plan 0.010s (total 0.5s)` when enabled.
    pub fn print(&self, ui: &Ui, enabled: bool) {
        if enabled {
            // Wall time: some stages overlap.
            let total = self.start.elapsed().as_secs_f64();
            let stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
            let parts: Vec<String> = stages.iter().map(|(n, s)| format!("{n} {s:.3}s")).collect();
            ui.info(&format!(
                "timings: {} (total {total:.3}s)",
                parts.join(", ")
            ));
        }
    }
}

/// What every live verb of a Cell gets: the workspace, the terminal, the target, and the
/// Docker engine (connected on first use).
pub struct Context<'a> {
    pub ws: &'a Workspace,
    pub ui: &'a Ui,
    pub target: Target,
    pub timings: &'a Timings,
    engine: tokio::sync::OnceCell<Engine>,
    /// Each Cell is brought up once per command, however many verbs ask.
    endpoints: Mutex<HashMap<&'static str, Arc<tokio::sync::OnceCell<Endpoint>>>>,
}

impl<'a> Context<'a> {
    pub fn new(ws: &'a Workspace, ui: &'a Ui, target: Target, timings: &'a Timings) -> Self {
        Context {
            ws,
            ui,
            target,
            timings,
            engine: tokio::sync::OnceCell::new(),
            endpoints: Mutex::new(HashMap::new()),
        }
    }

    /// The Docker engine, connected on first use (`-v` says where).
    pub async fn engine(&self) -> Result<&Engine, DockerError> {
        self.engine
            .get_or_try_init(|| async {
                let engine = Engine::connect().await?;
                self.ui.verbose(&format!(
                    "docker: connected to {} (API {})",
                    engine.host(),
                    engine.api_version()
                ));
                Ok(engine)
            })
            .await
    }

    /// `cell` up and ready (see [`up`]), once per command.
    pub async fn up(&self, cell: &dyn LiveCell) -> Result<Endpoint, CellError> {
        let slot = self
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(cell.name())
            .or_default()
            .clone();
        slot.get_or_try_init(|| up(self, cell)).await.cloned()
    }

    /// For a Cell that only the dev target has (a cache, a fixture): its endpoint, brought
    /// up, when the target is the dev one and the workspace uses the Cell; else `None`, and
    /// nothing is started.
    pub async fn up_if_used_in_dev(
        &self,
        cell: &dyn LiveCell,
        manifest: &Manifest,
    ) -> Result<Option<Endpoint>, CellError> {
        if self.target != Target::Dev || !cell.is_used(self.ws, Some(manifest)) {
            return Ok(None);
        }
        self.up(cell).await.map(Some)
    }

    /// `cell`'s endpoint, when this command brought it up.
    pub fn endpoint_of(&self, cell: &dyn LiveCell) -> Option<Endpoint> {
        self.endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(cell.name())
            .and_then(|s| s.get().cloned())
    }

    /// Whether `cell` was brought up by this command already.
    pub fn is_up(&self, cell: &dyn LiveCell) -> bool {
        self.endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(cell.name())
            .is_some_and(|s| s.initialized())
    }
}

/// How `cargo cell build` and `cargo cell apply` ask a Cell to apply.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// `build`: the dev Cells converge, progress goes through the terminal's messages, nothing
    /// asks. `apply`: the plan is shown and, without `yes`, confirmed.
    pub build: bool,
    pub yes: bool,
    /// Plans shown on stdout are coloured ([`crate::ui::Colours::wanted`]).
    pub colour: bool,
    /// Steps that lose data are refused without it.
    pub allow_destructive: bool,
    /// `cargo cell apply PLAN`: the saved plan, and the Cell's entry of its `cells`.
    pub saved_plan: Option<(&'a Path, Option<&'a serde_json::Value>)>,
}

/// What an apply did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Applied {
    /// The workspace uses this Cell: something was planned, applied or locked.
    pub used: bool,
    /// The lock file did not exist before: crates compiled earlier must compile again to
    /// depend on it.
    pub lock_created: bool,
}

/// What cargo-cell needs of a Cell's live side. Every command loops over a registry of
/// these; none knows a Cell by name.
#[async_trait]
pub trait LiveCell: Cell {
    /// Cells this one builds on: they are planned and applied before it (the registry's
    /// order respects it; a test checks).
    fn after(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the workspace uses this Cell: the code declares it, or its lock says it did.
    fn is_used(&self, ws: &Workspace, manifest: Option<&Manifest>) -> bool {
        manifest.is_some_and(|m| m.declares(self.name())) || ws.lock_path(self.lock_file()).exists()
    }

    /// Whether a workspace that uses this Cell runs it in Docker (an Auth Cell whose tokens
    /// come from a configured issuer does not).
    fn runs_locally(&self, _ws: &Workspace) -> bool {
        true
    }

    /// Whether it keeps `.cell/state/<cell>.json` (removed by `down --volumes`).
    fn keeps_state(&self) -> bool {
        true
    }

    /// Its container, as data. `existing` is this workspace's container found by its
    /// labels, whose secrets the data volume was initialised with (keep them).
    async fn container(
        &self,
        cx: &Context<'_>,
        existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError>;

    /// Work before the container starts (an image to build).
    async fn prepare(&self, _cx: &Context<'_>, _spec: &ContainerSpec) -> Result<(), CellError> {
        Ok(())
    }

    /// What the progress line says while it waits: `waiting for Redis to answer PING`.
    fn waiting_for(&self) -> &'static str;

    /// The endpoint of a running container: `spec` when it was just started from it, else
    /// from the container and the state file; `None` when a secret it needs is lost.
    fn endpoint(
        &self,
        ws: &Workspace,
        running: &RunningCell,
        spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint>;

    /// One readiness check: the service answers its own protocol at `endpoint` (a TCP
    /// connect succeeds long before that).
    async fn probe(&self, endpoint: &Endpoint) -> Result<(), BoxError>;

    /// Once ready: what a restart lost (settings), put back as the lock says.
    async fn after_up(&self, _cx: &Context<'_>, _endpoint: &Endpoint) -> Result<(), CellError> {
        Ok(())
    }

    /// What the code asks of this Cell, against its lock and the live Cell; `None` when the
    /// workspace does not use it.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError>;

    /// Applies what the code asks and writes the lock.
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError>;

    /// The Cell's own subcommands (`cargo cell auth token`).
    fn commands(&self) -> Vec<clap::Command> {
        Vec::new()
    }

    /// Runs one of [`LiveCell::commands`]. `load` finds the workspace, for the commands that
    /// need one.
    async fn run_command(
        &self,
        _name: &str,
        _matches: &clap::ArgMatches,
        _load: &(dyn Fn() -> Result<Workspace, CellError> + Send + Sync),
        _ui: &Ui,
    ) -> Result<ExitCode, CellError> {
        Ok(ExitCode::SUCCESS)
    }
}

/// The readiness timeout: `CELL_READY_TIMEOUT` seconds when set and valid, else 90 s. The one
/// policy for every Cell.
pub fn ready_timeout() -> Duration {
    std::env::var(READY_TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(READY_TIMEOUT)
}

/// How long a Cell gets to become ready, unless `CELL_READY_TIMEOUT` says otherwise.
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// Environment variable overriding [`READY_TIMEOUT`], in seconds.
pub const READY_TIMEOUT_ENV: &str = "CELL_READY_TIMEOUT";

/// A Cell that did not become ready: the one error shape for every Cell.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum ReadyError {
    #[error("the {cell} Cell did not become ready within {seconds} s")]
    #[diagnostic(
        code(cell::unhealthy),
        help(
            "its last log lines:\n{logs}\n\n`cargo cell logs {cell}` shows more. If the image is not a {cell} image \
             following the official image's contract, choose another with {image_env}; if it is only slow, raise \
             CELL_READY_TIMEOUT (seconds, default 90); if the data volume is from another password or version, \
             `cargo cell reset {cell}` starts afresh (the dev data is lost)"
        )
    )]
    Unhealthy {
        cell: String,
        seconds: u64,
        logs: String,
        /// The variable that chooses the image (`CELL_POSTGRES_IMAGE`).
        image_env: String,
        /// The last probe's error.
        #[source]
        source: Option<BoxError>,
    },
}

/// The one backoff every wait on a Cell uses: from 100 ms, growing by half, to 500 ms
/// between tries, for as long as the caller's deadline allows.
pub fn backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_factor(1.5)
        .with_max_delay(Duration::from_millis(500))
        .without_max_times()
}

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Waits until `probe` succeeds, with [`backoff`] between tries, each try bounded by
/// [`PROBE_TIMEOUT`] and the time left; gives up early when the container has exited.
pub async fn wait_ready(
    cell: &dyn LiveCell,
    cx: &Context<'_>,
    spec: &ContainerSpec,
    running: &RunningCell,
    endpoint: &Endpoint,
) -> Result<(), CellError> {
    use backon::Retryable;

    /// Why a try failed: worth another, or not.
    enum NotReady {
        Yet,
        Exited,
    }

    let engine = cx.engine().await?;
    let timeout = ready_timeout();
    let deadline = Instant::now() + timeout;
    let last_error: Mutex<Option<BoxError>> = Mutex::new(None);
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let attempt = || async {
        let n = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.min(PROBE_TIMEOUT), cell.probe(endpoint)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e),
            Err(_) => {}
        }
        // A container that exited will not become ready: say so now, not after the timeout.
        if n.is_multiple_of(10)
            && let Ok(Some(c)) = engine.find_cell(&cx.ws.id, cell.name()).await
            && c.host_port == 0
        {
            return Err(NotReady::Exited);
        }
        Err(NotReady::Yet)
    };
    let retried = attempt
        .retry(backoff())
        .when(|e| matches!(e, NotReady::Yet));
    if let Ok(Ok(())) = tokio::time::timeout(timeout, retried).await {
        return Ok(());
    }
    Err(CellError::new(ReadyError::Unhealthy {
        cell: cell.name().into(),
        seconds: timeout.as_secs(),
        logs: engine.logs_tail(&running.container_id, 20).await,
        image_env: spec.image_env.clone(),
        source: last_error.into_inner().unwrap_or_else(|p| p.into_inner()),
    }))
}

/// Finds or starts `cell`'s container and waits until it is ready; writes its state file.
/// Use [`Context::up`], which does this once per command.
pub async fn up(cx: &Context<'_>, cell: &dyn LiveCell) -> Result<Endpoint, CellError> {
    let engine = cx.engine().await?;
    let existing = engine.find_cell(&cx.ws.id, cell.name()).await?;
    let spec = cell.container(cx, existing.as_ref()).await?;
    cell.prepare(cx, &spec).await?;
    let task = cx.ui.task(cell.name(), &format!("starting {}", spec.image));
    let running = match engine.ensure_running(&cx.ws.id, &spec, cx.ui).await {
        Ok(r) => r,
        Err(e) => {
            task.fail("cannot start");
            return Err(e.into());
        }
    };
    let Some(endpoint) = cell.endpoint(cx.ws, &running, Some(&spec)) else {
        task.fail("no endpoint");
        return Err(DockerError::NotRunning {
            cell: cell.name().into(),
            name: running.container_name.clone(),
            state: "running, but its endpoint is unknown".into(),
            logs: String::new(),
        }
        .into());
    };
    task.set_message(cell.waiting_for());
    if let Err(e) = wait_ready(cell, cx, &spec, &running, &endpoint).await {
        task.fail("not ready");
        return Err(e);
    }
    task.finish(format!(
        "ready on 127.0.0.1:{} ({}container {})",
        running.host_port,
        if running.created { "new " } else { "" },
        short_id(&running.container_id)
    ));
    cell.after_up(cx, &endpoint).await?;
    save_state(cx.ws, cell, &endpoint)?;
    Ok(endpoint)
}

/// The running Cell as Docker sees it now, without starting anything; its state file is
/// rewritten when stale. `None` when it does not run (or its endpoint cannot be known).
pub async fn current(cx: &Context<'_>, cell: &dyn LiveCell) -> Result<Option<Endpoint>, CellError> {
    let engine = cx.engine().await?;
    let Some(running) = engine.find_cell(&cx.ws.id, cell.name()).await? else {
        return Ok(None);
    };
    if running.host_port == 0 {
        return Ok(None);
    }
    let Some(endpoint) = cell.endpoint(cx.ws, &running, None) else {
        return Ok(None);
    };
    save_state(cx.ws, cell, &endpoint)?;
    Ok(Some(endpoint))
}

fn save_state(ws: &Workspace, cell: &dyn LiveCell, endpoint: &Endpoint) -> Result<(), CellError> {
    if let Some(bytes) = &endpoint.state {
        crate::state::write_bytes(ws, &format!("{}.json", cell.name()), bytes)?;
    }
    Ok(())
}

/// A new secret of `len` letters and digits, for a password or admin secret a Cell's data
/// volume is initialised with.
pub fn random_secret(len: usize) -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The first 12 characters of a container id, as Docker shows them.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

impl From<DockerError> for CellError {
    fn from(e: DockerError) -> Self {
        let failure = if e.is_unreachable() {
            crate::Failure::DockerUnreachable
        } else {
            crate::Failure::Other
        };
        CellError::of_kind(failure, e)
    }
}
