//! The Cells' lifecycle: `up`, `down`, `status`, `logs`, `reset`, and `run`/`test` (cargo with
//! the Cells' endpoints in the environment).
//!
//! Every command loops over the registry of Cells. Ports and container ids are read from
//! Docker every time: they change when the engine or a container restarts, so nothing here
//! trusts a cached value, and the state file the runtime reads is rewritten whenever it is
//! stale.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use serde::Serialize;

use cell_core::live::{Timings, current};
use cell_core::prompt::{self, Answer};
use cell_core::ui::Ui;
use cell_core::{Context, Endpoint, LiveCell, LockState, Target};

use crate::cli::{
    CargoArgs, DownArgs, GlobalArgs, LogsArgs, ResetArgs, RunArgs, StatusArgs, StatusFormat, UpArgs,
};
use crate::error::Error;
use crate::phase1::record_blocking;
use crate::record;
use crate::registry::{self, cells};
use crate::selection::{DISABLED_ENV, disabled, enabled};
use crate::toolchain::cargo;
use crate::workspace::Workspace;

/// The Cells a workspace uses: those with a lock or a container, or, in a workspace that has
/// neither yet, those its code declares (recorded); minus the disabled ones.
async fn used_cells(cx: &Context<'_>, g: &GlobalArgs) -> Result<Vec<&'static dyn LiveCell>, Error> {
    let ws = cx.ws;
    let engine = cx.engine().await?;
    let cells: Vec<&'static dyn LiveCell> = enabled(ws, g)
        .into_iter()
        .filter(|c| c.runs_locally(ws))
        .collect();
    let mut used = Vec::new();
    for &cell in &cells {
        if cell.is_used(ws, None) || engine.find_cell(&ws.id, cell.name()).await?.is_some() {
            used.push(cell);
        }
    }
    if used.is_empty() {
        // A workspace that was never built: ask the code (phase 1, a `cargo check`).
        let recording = record_blocking(ws, &CargoArgs::default(), cx.ui).await?;
        used = cells
            .into_iter()
            .filter(|c| c.is_used(ws, Some(&recording.manifest)))
            .collect();
    }
    Ok(used)
}

fn named(cells: &[String]) -> Vec<&'static dyn LiveCell> {
    // clap has checked the names.
    cells.iter().filter_map(|c| registry::find(c)).collect()
}

/// Brings `cells` up side by side; returns their endpoints in the same order.
async fn up_all(
    cx: &Context<'_>,
    cells: &[&'static dyn LiveCell],
) -> Result<Vec<(&'static dyn LiveCell, Endpoint)>, Error> {
    let starts = cells
        .iter()
        .map(|&cell| async move { cx.up(cell).await.map(|e| (cell, e)) });
    Ok(futures_util::future::try_join_all(starts).await?)
}

pub async fn up(ws: &Workspace, args: UpArgs, g: &GlobalArgs, ui: &Ui) -> Result<ExitCode, Error> {
    if g.offline {
        return Err(Error::Offline { command: "up" });
    }
    let t = Timings::default();
    let cx = Context::new(ws, ui, Target::Dev, &t);
    let cells = if args.cells.is_empty() {
        used_cells(&cx, g).await?
    } else {
        named(&args.cells)
    };
    for (cell, endpoint) in up_all(&cx, &cells).await? {
        // What `run` and `test` set (the Postgres Cell's is the application's role), else the
        // endpoint's own URL.
        let url = endpoint
            .env
            .iter()
            .find(|(k, _)| k == cell.url_env())
            .map_or(&endpoint.url, |(_, v)| v);
        println!("{}: {}={}", cell.name(), cell.url_env(), cell.redact(url));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn down(ws: &Workspace, args: DownArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let cx = Context::new(ws, ui, Target::Dev, &t);
    let removed = cx
        .engine()
        .await?
        .remove_cells(&ws.id, &args.cells, args.volumes)
        .await?;
    if args.volumes {
        let cells = if args.cells.is_empty() {
            cells().to_vec()
        } else {
            named(&args.cells)
        };
        for cell in cells.iter().filter(|c| c.keeps_state()) {
            let _ = std::fs::remove_file(cell_core::state::path(ws, cell.name()));
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
    let t = Timings::default();
    let cx = Context::new(ws, ui, Target::Dev, &t);
    if !g.offline {
        cx.engine().await?;
    }
    let mut cells = Vec::new();
    for &cell in registry::cells() {
        let lock_path = ws.lock_path(cell.lock_file());
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
            lock: cell.lock_state(&lock_path),
            lock_path,
            disabled: off.iter().any(|d| d == cell.name()),
        };
        if !g.offline
            && let Some(found) = cx.engine().await?.find_cell(&ws.id, cell.name()).await?
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
                if let Some(endpoint) = current(&cx, cell).await? {
                    let probe = tokio::time::timeout(Duration::from_secs(3), cell.probe(&endpoint));
                    st.health = Some(if matches!(probe.await, Ok(Ok(()))) {
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
        StatusFormat::Json => {
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
        StatusFormat::Text => print!("{}", render_status(&cells)),
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

pub async fn logs(ws: &Workspace, args: LogsArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let cx = Context::new(ws, ui, Target::Dev, &t);
    let engine = cx.engine().await?;
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

/// Removes the Cell's container and data volume, after asking. The caller re-creates it
/// (with the schema).
pub async fn reset_data(ws: &Workspace, args: &ResetArgs, ui: &Ui) -> Result<bool, Error> {
    let question = format!(
        "This drops every row of the {} Cell's dev data and creates it again. Continue?",
        args.cell
    );
    match prompt::confirm(&question, args.yes)
        .map_err(|source| cell_core::CoreError::Prompt { source })?
    {
        Answer::Yes => {}
        Answer::No => {
            ui.info("nothing was changed");
            return Ok(false);
        }
        Answer::NoTerminal => {
            return Err(Error::ConfirmationNeeded {
                cell: args.cell.clone(),
            });
        }
    }
    let t = Timings::default();
    let cx = Context::new(ws, ui, Target::Dev, &t);
    let removed = cx
        .engine()
        .await?
        .remove_cells(&ws.id, std::slice::from_ref(&args.cell), true)
        .await?;
    if registry::find(&args.cell).is_some_and(|c| c.keeps_state()) {
        let _ = std::fs::remove_file(cell_core::state::path(ws, &args.cell));
    }
    for r in removed {
        ui.info(&format!("removed {r}"));
    }
    Ok(true)
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
        let t = Timings::default();
        let cx = Context::new(ws, ui, Target::Dev, &t);
        let cells = used_cells(&cx, g).await?;
        for (cell, endpoint) in up_all(&cx, &cells).await? {
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
    Ok(crate::exit::of_child(status))
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
}
