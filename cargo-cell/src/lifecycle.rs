//! The Cells' lifecycle: `up`, `down`, `status`, `logs`, `reset`, and `run`/`test` (cargo with
//! the Cells' endpoints in the environment).
//!
//! Every command works on a list of [`Cell`]s, so a new Cell is a variant and a few match
//! arms here. Ports and container ids are read from Docker every time: they change when the
//! engine or a container restarts, so nothing here trusts a cached value, and the state file
//! the runtime reads is rewritten whenever it is stale.

use cell_lockfile::LockFile;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::cli::{CargoArgs, DownArgs, GlobalArgs};
use crate::docker::Engine;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::postgres;
use crate::record;
use crate::ui::Ui;
use crate::workspace::{Workspace, cargo};

/// Every Cell cargo-cell knows, by name (for the command line).
pub const CELL_NAMES: &[&str] = &["postgres", "redis", "auth", "telemetry"];

/// Environment variable naming Cells built without their real expansion (comma-separated);
/// `cargo cell` sets it from `--without` and `[workspace.metadata.cell] disabled`.
pub const DISABLED_ENV: &str = "CELL_DISABLED";

/// The value parser for a Cell name argument.
pub fn cell_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(CELL_NAMES)
}

/// A Cell: a service in Docker that the code declares with attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Postgres,
    Redis,
    /// The dev token service (`cargo-cell cell auth serve` in a container).
    Auth,
    /// Prometheus, scraping the application.
    Telemetry,
}

impl Cell {
    pub const ALL: &'static [Cell] = &[Cell::Postgres, Cell::Redis, Cell::Auth, Cell::Telemetry];

    pub fn name(self) -> &'static str {
        match self {
            Cell::Postgres => "postgres",
            Cell::Redis => cell_redis::CELL_NAME,
            Cell::Auth => cell_auth::CELL_NAME,
            Cell::Telemetry => cell_telemetry::CELL_NAME,
        }
    }

    pub fn parse(name: &str) -> Option<Cell> {
        Cell::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The environment variable a program reads this Cell's endpoint from (`run` and `test`
    /// set more for some Cells: see [`Endpoint::env`]).
    pub fn url_env(self) -> &'static str {
        match self {
            Cell::Postgres => "CELL_POSTGRES_URL",
            Cell::Redis => cell_redis::cell::URL_ENV,
            Cell::Auth => crate::auth::URL_ENV,
            Cell::Telemetry => crate::telemetry::URL_ENV,
        }
    }

    pub fn lock_path(self, ws: &Workspace) -> PathBuf {
        match self {
            Cell::Postgres => postgres::lock_path(ws),
            Cell::Redis => crate::redis::lock_path(ws),
            Cell::Auth => crate::auth::lock_path(ws),
            Cell::Telemetry => crate::telemetry::lock_path(ws),
        }
    }

    /// The git-ignored file holding the Cell's endpoint and secrets, for those that have one.
    pub fn state_path(self, ws: &Workspace) -> Option<PathBuf> {
        match self {
            Cell::Postgres => Some(postgres::state_path(ws)),
            Cell::Redis => Some(crate::redis::state_path(ws)),
            Cell::Auth => Some(crate::auth::state_path(ws)),
            // Prometheus has no secret, and its port is read from Docker.
            Cell::Telemetry => None,
        }
    }

    /// Starts the Cell (or finds it running) and waits until it is ready.
    pub async fn up(self, ws: &Workspace, engine: &Engine, ui: &Ui) -> Result<Endpoint, Error> {
        match self {
            Cell::Postgres => {
                let s = postgres::up(ws, engine, ui).await?;
                Ok(Endpoint::single(self, s.url, s.host_port, s.container_id))
            }
            Cell::Redis => {
                let s = crate::redis::up(ws, ui).await?;
                Ok(Endpoint::single(self, s.url, s.host_port, s.container_id))
            }
            Cell::Auth => Ok(Endpoint::auth(crate::auth::up(ws, engine, ui).await?)),
            Cell::Telemetry => {
                let running = crate::telemetry::up_configured(ws, engine, ui).await?;
                Ok(Endpoint::telemetry(ws, &running))
            }
        }
    }

    /// The running Cell as Docker sees it now (the state file is refreshed); `None` when it
    /// does not run.
    pub async fn current(self, ws: &Workspace, engine: &Engine) -> Result<Option<Endpoint>, Error> {
        Ok(match self {
            Cell::Postgres => postgres::refresh(ws, engine)
                .await?
                .map(|s| Endpoint::single(self, s.url, s.host_port, s.container_id)),
            Cell::Redis => crate::redis::refresh(ws, engine)
                .await?
                .map(|s| Endpoint::single(self, s.url, s.host_port, s.container_id)),
            Cell::Auth => crate::auth::refresh(ws, engine).await?.map(Endpoint::auth),
            Cell::Telemetry => engine
                .find_cell(&ws.id, self.name())
                .await?
                .filter(|r| r.host_port != 0)
                .map(|r| Endpoint::telemetry(ws, &r)),
        })
    }

    /// Whether the service answers its own protocol at `endpoint`.
    pub async fn is_ready(self, endpoint: &Endpoint) -> bool {
        let timeout = Duration::from_secs(3);
        match self {
            Cell::Postgres => postgres::is_ready(&endpoint.url, timeout).await,
            Cell::Redis => crate::redis::is_ready(&endpoint.url, timeout).await,
            Cell::Auth => crate::auth::is_ready(&endpoint.url, timeout).await,
            Cell::Telemetry => crate::telemetry::is_ready(endpoint.port).await,
        }
    }

    pub fn lock_state(self, ws: &Workspace) -> LockState {
        let path = self.lock_path(ws);
        match self {
            Cell::Postgres => {
                lock_state::<cell_postgres::lock::Lock>(&path, |l| (l.tables.len(), "tables"))
            }
            Cell::Redis => lock_state::<cell_redis::lock::Lock>(&path, |l| {
                (l.tables.len() + l.functions.len(), "caches")
            }),
            Cell::Auth => {
                lock_state::<cell_auth::lock::Lock>(&path, |l| (l.guards.len(), "guards"))
            }
            Cell::Telemetry => {
                lock_state::<cell_telemetry::lock::Lock>(&path, |l| (l.metrics.len(), "metrics"))
            }
        }
    }

    /// Whether the recorded code declares anything of this Cell.
    pub fn is_declared(self, manifest: &Manifest) -> bool {
        match self {
            Cell::Postgres => !manifest.postgres.is_empty(),
            Cell::Redis => !manifest.redis.is_empty(),
            Cell::Auth => !manifest.auth.is_empty(),
            Cell::Telemetry => !manifest.telemetry.is_empty(),
        }
    }

    /// Whether a workspace that uses this Cell runs it in Docker (an Auth Cell whose tokens
    /// come from a configured issuer does not).
    pub fn runs_locally(self, ws: &Workspace) -> bool {
        !(self == Cell::Auth && crate::auth::external_issuer(ws))
    }

    pub fn redact(self, url: &str) -> String {
        match self {
            Cell::Postgres => cell_postgres::cell::redact(url),
            Cell::Redis => cell_redis::cell::redact(url),
            // Plain HTTP endpoints without credentials.
            Cell::Auth | Cell::Telemetry => url.to_string(),
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
}

impl Endpoint {
    fn single(cell: Cell, url: String, port: u16, container_id: String) -> Endpoint {
        Endpoint {
            env: vec![(cell.url_env().to_string(), url.clone())],
            url,
            port,
            container_id,
        }
    }

    fn auth(state: cell_auth::cell::State) -> Endpoint {
        let port = state
            .url
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0);
        Endpoint {
            env: crate::auth::runtime_env(&state),
            url: state.url,
            port,
            container_id: state.container_id,
        }
    }

    fn telemetry(ws: &Workspace, running: &crate::docker::RunningCell) -> Endpoint {
        let url = format!("http://127.0.0.1:{}", running.host_port);
        let mut env = vec![(crate::telemetry::URL_ENV.to_string(), url.clone())];
        if let Some(addr) = crate::telemetry::metrics_addr(ws) {
            env.push(("CELL_METRICS_ADDR".to_string(), addr));
        }
        Endpoint {
            url,
            port: running.host_port,
            container_id: running.container_id.clone(),
            env,
        }
    }
}

/// The state of the lock at `path`, with what it counts (`(3, "tables")`).
fn lock_state<L: LockFile>(
    path: &std::path::Path,
    count: impl Fn(&L) -> (usize, &'static str),
) -> LockState {
    match L::read(path) {
        Ok(None) => LockState::Absent,
        Ok(Some(lock)) => {
            let (n, unit) = count(&lock);
            LockState::present(n, unit)
        }
        Err(cell_lockfile::LockError::TooNew { .. }) => LockState::TooNew,
        Err(_) => LockState::Invalid,
    }
}

/// What a Cell's lock file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum LockState {
    Absent,
    /// `count` of what the Cell locks (`unit`: tables, guards, metrics).
    Present {
        count: usize,
        unit: &'static str,
    },
    TooNew,
    Invalid,
}

impl LockState {
    fn present(count: usize, unit: &'static str) -> LockState {
        LockState::Present { count, unit }
    }
}

impl std::fmt::Display for LockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockState::Absent => f.write_str("no lock yet"),
            LockState::Present { count: 1, unit } => {
                write!(f, "locked (1 {})", unit.strip_suffix('s').unwrap_or(unit))
            }
            LockState::Present { count, unit } => write!(f, "locked ({count} {unit})"),
            LockState::TooNew => f.write_str("lock from a newer cargo-cell"),
            LockState::Invalid => f.write_str("lock unreadable"),
        }
    }
}

/// The Cells a workspace builds without (`--without` and `[workspace.metadata.cell] disabled`).
pub fn disabled(ws: &Workspace, g: &GlobalArgs) -> Vec<String> {
    let mut out: Vec<String> = ws.disabled_cells();
    out.extend(g.without.iter().cloned());
    out.sort();
    out.dedup();
    out
}

/// The Cells a workspace uses: those with a lock or a container, or, in a workspace that has
/// neither yet, those its code declares (recorded); minus the disabled ones.
async fn used_cells(
    ws: &Workspace,
    engine: &Engine,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<Vec<Cell>, Error> {
    let off = disabled(ws, g);
    let mut used = Vec::new();
    for &cell in Cell::ALL {
        if off.iter().any(|d| d == cell.name()) || !cell.runs_locally(ws) {
            continue;
        }
        if cell.lock_path(ws).exists() || engine.find_cell(&ws.id, cell.name()).await?.is_some() {
            used.push(cell);
        }
    }
    if used.is_empty() {
        // A workspace that was never built: ask the code (phase 1, a `cargo check`).
        let recording = {
            let (ws, ui) = (ws.clone(), ui.clone());
            tokio::task::spawn_blocking(move || record::record(&ws, &CargoArgs::default(), &ui))
                .await
                .expect("record task")?
        };
        used = Cell::ALL
            .iter()
            .copied()
            .filter(|c| {
                !off.iter().any(|d| d == c.name())
                    && c.runs_locally(ws)
                    && c.is_declared(&recording.manifest)
            })
            .collect();
    }
    Ok(used)
}

/// Connects to Docker, saying where with `-v`.
pub async fn connect(ui: &Ui) -> Result<Engine, Error> {
    let engine = Engine::connect().await?;
    ui.verbose(&format!(
        "docker: connected to {} (API {})",
        engine.host(),
        engine.api_version()
    ));
    Ok(engine)
}

fn named(cells: &[String]) -> Vec<Cell> {
    // clap has checked the names.
    cells.iter().filter_map(|c| Cell::parse(c)).collect()
}

/// Brings `cells` up side by side; returns their endpoints in the same order.
async fn up_all(
    ws: &Workspace,
    engine: &Engine,
    cells: &[Cell],
    ui: &Ui,
) -> Result<Vec<(Cell, Endpoint)>, Error> {
    let starts = cells
        .iter()
        .map(|&cell| async move { cell.up(ws, engine, ui).await.map(|e| (cell, e)) });
    futures_util::future::try_join_all(starts).await
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Only these Cells (default: those the workspace uses).
    #[arg(value_name = "CELL", value_parser = cell_parser())]
    pub cells: Vec<String>,
}

pub async fn up(ws: &Workspace, args: UpArgs, g: &GlobalArgs, ui: &Ui) -> Result<ExitCode, Error> {
    if g.offline {
        return Err(Error::Offline { command: "up" });
    }
    let engine = connect(ui).await?;
    let cells = if args.cells.is_empty() {
        used_cells(ws, &engine, g, ui).await?
    } else {
        named(&args.cells)
    };
    for (cell, endpoint) in up_all(ws, &engine, &cells, ui).await? {
        println!(
            "{}: {}={}",
            cell.name(),
            cell.url_env(),
            cell.redact(&endpoint.url)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn down(ws: &Workspace, args: DownArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let engine = connect(ui).await?;
    let removed = engine
        .remove_cells(&ws.id, &args.cells, args.volumes)
        .await?;
    if args.volumes {
        let cells = if args.cells.is_empty() {
            Cell::ALL.to_vec()
        } else {
            named(&args.cells)
        };
        for path in cells.iter().filter_map(|c| c.state_path(ws)) {
            let _ = std::fs::remove_file(path);
        }
    }
    if removed.is_empty() {
        ui.info("no Cells to remove");
    }
    for r in removed {
        ui.info(&format!("removed {r}"));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// One line of `cargo cell status`.
#[derive(Debug, Clone, Serialize)]
pub struct CellStatus {
    pub cell: &'static str,
    /// `running`, `stopped` or `absent`.
    pub state: String,
    /// `ready` (answers its protocol), `unreachable` (runs but does not answer), or null.
    pub health: Option<&'static str>,
    pub container: Option<String>,
    pub container_name: Option<String>,
    pub image: Option<String>,
    pub host: Option<&'static str>,
    pub port: Option<u16>,
    /// The endpoint variable and its value with the password hidden.
    pub env: &'static str,
    pub url: Option<String>,
    pub lock: LockState,
    pub lock_path: PathBuf,
    pub disabled: bool,
}

#[derive(Debug, Serialize)]
struct StatusReport {
    workspace: PathBuf,
    workspace_id: String,
    cells: Vec<CellStatus>,
}

pub async fn status(
    ws: &Workspace,
    args: StatusArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let off = disabled(ws, g);
    let engine = if g.offline {
        None
    } else {
        Some(connect(ui).await?)
    };
    let mut cells = Vec::new();
    for &cell in Cell::ALL {
        let mut st = CellStatus {
            cell: cell.name(),
            state: if g.offline {
                "unknown (offline)"
            } else {
                "absent"
            }
            .into(),
            health: None,
            container: None,
            container_name: None,
            image: None,
            host: None,
            port: None,
            env: cell.url_env(),
            url: None,
            lock: cell.lock_state(ws),
            lock_path: cell.lock_path(ws),
            disabled: off.iter().any(|d| d == cell.name()),
        };
        if let Some(engine) = &engine
            && let Some(found) = engine.find_cell(&ws.id, cell.name()).await?
        {
            st.container = Some(found.container_id.clone());
            st.container_name = Some(found.container_name.clone());
            st.image = Some(found.image.clone());
            if found.host_port == 0 {
                st.state = "stopped".into();
            } else {
                st.state = "running".into();
                st.host = Some("127.0.0.1");
                st.port = Some(found.host_port);
                if let Some(endpoint) = cell.current(ws, engine).await? {
                    st.health = Some(if cell.is_ready(&endpoint).await {
                        "ready"
                    } else {
                        "unreachable"
                    });
                    st.url = Some(cell.redact(&endpoint.url));
                }
            }
        }
        cells.push(st);
    }
    match args.format {
        Format::Json => {
            let report = StatusReport {
                workspace: ws.root.clone(),
                workspace_id: ws.id.id.clone(),
                cells,
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("status serialises")
            );
        }
        Format::Text => print!("{}", render_status(&cells)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The text form of `status`: one aligned line per Cell.
pub fn render_status(cells: &[CellStatus]) -> String {
    let rows: Vec<[String; 6]> = cells
        .iter()
        .map(|c| {
            [
                c.cell.to_string(),
                match (c.state.as_str(), c.health) {
                    (s, Some(h)) => format!("{s}, {h}"),
                    (s, None) => s.to_string(),
                } + if c.disabled { " (disabled)" } else { "" },
                c.image.clone().unwrap_or_else(|| "-".into()),
                match (c.host, c.port) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    _ => "-".into(),
                },
                c.container
                    .as_deref()
                    .map(|id| id[..id.len().min(12)].to_string())
                    .unwrap_or_else(|| "-".into()),
                c.lock.to_string(),
            ]
        })
        .collect();
    let header = ["CELL", "STATE", "IMAGE", "ADDRESS", "CONTAINER", "LOCK"].map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The Cell.
    #[arg(value_parser = cell_parser())]
    pub cell: String,
    /// Keep printing new lines as they come.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

pub async fn logs(ws: &Workspace, args: LogsArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let engine = connect(ui).await?;
    let Some(found) = engine.find_cell(&ws.id, &args.cell).await? else {
        return Err(Error::CellAbsent { cell: args.cell });
    };
    let mut stdout = std::io::stdout().lock();
    engine
        .stream_logs(&found.container_id, args.follow, args.tail, |bytes| {
            let _ = stdout.write_all(bytes);
            let _ = stdout.flush();
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The Cell whose dev data is dropped and created again.
    #[arg(value_parser = cell_parser())]
    pub cell: String,
    /// Do not ask.
    #[arg(short, long)]
    pub yes: bool,
}

/// Asks on the terminal; refuses (never blocks) without one.
fn confirm(cell: &str, yes: bool) -> Result<bool, Error> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::ConfirmationNeeded { cell: cell.into() });
    }
    eprint!(
        "This drops every row of the {cell} Cell's dev data and creates it again. Continue? [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| Error::Prompt { source })?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// Removes the Cell's container and data volume. The caller re-creates it (with the schema).
pub async fn reset_data(ws: &Workspace, args: &ResetArgs, ui: &Ui) -> Result<bool, Error> {
    if !confirm(&args.cell, args.yes)? {
        ui.info("nothing was changed");
        return Ok(false);
    }
    let engine = connect(ui).await?;
    let removed = engine
        .remove_cells(&ws.id, std::slice::from_ref(&args.cell), true)
        .await?;
    if let Some(path) = Cell::parse(&args.cell).and_then(|c| c.state_path(ws)) {
        let _ = std::fs::remove_file(path);
    }
    for r in removed {
        ui.info(&format!("removed {r}"));
    }
    Ok(true)
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
}

/// `cargo run` or `cargo test` with every used Cell up and its endpoint in the environment.
pub async fn cargo_with_cells(
    ws: &Workspace,
    subcommand: &str,
    args: RunArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let mut cmd = Command::new(cargo());
    cmd.arg(subcommand)
        .arg("--manifest-path")
        .arg(&ws.manifest_path);
    let off = disabled(ws, g);
    if !off.is_empty() {
        cmd.env(DISABLED_ENV, off.join(","));
    }
    if !g.offline {
        let engine = connect(ui).await?;
        let cells = used_cells(ws, &engine, g, ui).await?;
        for (cell, endpoint) in up_all(ws, &engine, &cells, ui).await? {
            for (key, value) in &endpoint.env {
                ui.verbose(&format!("{key}={}", cell.redact(value)));
                cmd.env(key, value);
            }
        }
    }
    for p in &args.cargo.package {
        cmd.arg("-p").arg(p);
    }
    if args.cargo.release {
        cmd.arg("--release");
    }
    if g.quiet {
        cmd.arg("-q");
    }
    record::feature_args(&mut cmd, &args.cargo);
    cmd.args(&args.cargo.rest);
    // Not `{cmd:?}`: that would print the endpoints' passwords (shown redacted above).
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    ui.verbose(&format!("running {}", line.join(" ")));
    let status = ui
        .suspend(|| cmd.stdin(Stdio::inherit()).status())
        .map_err(|source| Error::CargoSpawn {
            cargo: cargo().display().to_string(),
            source,
        })?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(cell: &'static str, state: &str, port: Option<u16>) -> CellStatus {
        CellStatus {
            cell,
            state: state.into(),
            health: port.map(|_| "ready"),
            container: port.map(|_| "0123456789abcdef0123".into()),
            container_name: None,
            image: port.map(|_| "cargo-cell/postgres:15".into()),
            host: port.map(|_| "127.0.0.1"),
            port,
            env: "CELL_POSTGRES_URL",
            url: None,
            lock: LockState::present(2, "tables"),
            lock_path: PathBuf::from(".cell/postgres.lock.json"),
            disabled: false,
        }
    }

    #[test]
    fn every_cell_has_a_name_that_parses_back() {
        for &cell in Cell::ALL {
            assert_eq!(Cell::parse(cell.name()), Some(cell));
            assert!(CELL_NAMES.contains(&cell.name()));
            assert!(cell.url_env().starts_with("CELL_") && cell.url_env().ends_with("_URL"));
        }
        assert_eq!(Cell::ALL.len(), CELL_NAMES.len());
        assert_eq!(Cell::parse("mysql"), None);
    }

    #[test]
    fn status_text_is_aligned() {
        let text = render_status(&[
            status("postgres", "running", Some(49153)),
            status("redis", "absent", None),
        ]);
        assert_eq!(
            text,
            "CELL      STATE           IMAGE                   ADDRESS          CONTAINER     LOCK\n\
             postgres  running, ready  cargo-cell/postgres:15  127.0.0.1:49153  0123456789ab  locked (2 tables)\n\
             redis     absent          -                       -                -             locked (2 tables)\n"
        );
    }

    #[test]
    fn lock_state_counts_in_words() {
        assert_eq!(
            LockState::present(1, "tables").to_string(),
            "locked (1 table)"
        );
        assert_eq!(
            LockState::present(3, "guards").to_string(),
            "locked (3 guards)"
        );
        assert_eq!(
            LockState::present(0, "metrics").to_string(),
            "locked (0 metrics)"
        );
    }

    #[test]
    fn every_cell_has_its_own_endpoint_variable() {
        let mut envs: Vec<&str> = Cell::ALL.iter().map(|c| c.url_env()).collect();
        envs.sort();
        envs.dedup();
        assert_eq!(envs.len(), Cell::ALL.len());
    }

    #[test]
    fn lock_state_serialises_with_a_state_tag() {
        assert_eq!(
            serde_json::to_value(LockState::present(3, "guards")).unwrap(),
            serde_json::json!({"state": "present", "count": 3, "unit": "guards"})
        );
        assert_eq!(
            serde_json::to_value(LockState::TooNew).unwrap(),
            serde_json::json!({"state": "too-new"})
        );
    }
}
