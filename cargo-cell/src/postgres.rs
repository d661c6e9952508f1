//! The Postgres Cell, cargo-cell's side: container, password and state, readiness, plan,
//! apply, lock. The Cell's pure parts (schema, diff, SQL) live in `cell-postgres`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio_postgres::NoTls;

use cell_postgres::cell;
use cell_postgres::declare::{TableDecl, desired_schema};
use cell_postgres::lock::{self, Lock};
use cell_postgres::plan::{self, Plan};
use cell_postgres::schema::Schema;
use cell_postgres::{CELL_NAME, LOCK_FILE, live};

use crate::docker::{CellSpec, Engine, RunningCell};
use crate::error::Error;
use crate::ui::Ui;
use crate::workspace::Workspace;

const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// The dev Cell's connection details, in `.cell/state/postgres.json` (git-ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub url: String,
    pub user: String,
    pub password: String,
    pub database: String,
    pub container_id: String,
    pub host_port: u16,
}

pub fn state_path(ws: &Workspace) -> PathBuf {
    ws.cell_dir()
        .join("state")
        .join(format!("{CELL_NAME}.json"))
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.cell_dir().join(LOCK_FILE)
}

pub fn read_state(ws: &Workspace) -> Option<State> {
    serde_json::from_slice(&std::fs::read(state_path(ws)).ok()?).ok()
}

fn write_state(ws: &Workspace, state: &State) -> Result<(), Error> {
    let gitignore = ws.cell_dir().join(".gitignore");
    let write = |path: PathBuf, bytes: Vec<u8>| {
        lock::write_if_changed(&path, &bytes).map_err(|source| Error::Write { path, source })
    };
    // The state holds a password: it must never be committed with the locks beside it.
    write(
        gitignore,
        b"# Written by cargo-cell: local state of the dev Cells, with secrets.\n/state/\n".to_vec(),
    )?;
    write(
        state_path(ws),
        serde_json::to_vec_pretty(state).expect("state serialises"),
    )?;
    Ok(())
}

pub fn image(ws: &Workspace) -> String {
    std::env::var(cell::IMAGE_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| ws.cell_setting(CELL_NAME, "image"))
        .unwrap_or_else(|| cell::DEFAULT_IMAGE.to_string())
}

/// The container of the dev Cell, as data.
pub fn spec(ws: &Workspace, password: &str) -> CellSpec {
    CellSpec {
        cell: CELL_NAME.to_string(),
        image: image(ws),
        env: cell::container_env(password),
        cmd: None,
        container_port: cell::CONTAINER_PORT,
        data_path: cell::DATA_PATH.to_string(),
    }
}

fn random_password() -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Finds or starts the dev Cell and waits until Postgres itself answers.
pub async fn up(ws: &Workspace, engine: &Engine, ui: &Ui) -> Result<State, Error> {
    // The password a data volume was initialised with cannot change: prefer the one the
    // existing container runs with, then the state file, and only then a new one.
    let existing = engine.find_cell(&ws.id, CELL_NAME).await?;
    let password = existing
        .as_ref()
        .and_then(|c| c.env_var("POSTGRES_PASSWORD").map(str::to_string))
        .or_else(|| read_state(ws).map(|s| s.password))
        .unwrap_or_else(random_password);
    let spec = spec(ws, &password);
    let running = engine.ensure_running(&ws.id, &spec, ui).await?;
    let url = cell::url(cell::USER, &password, running.host_port, cell::DATABASE);
    let task = ui.task(CELL_NAME, "waiting for Postgres to accept connections");
    if let Err(e) = wait_ready(&url, engine, ws, &running).await {
        task.fail("not ready");
        return Err(e);
    }
    task.finish(format!(
        "ready on 127.0.0.1:{} ({}{})",
        running.host_port,
        if running.created {
            "new container "
        } else {
            "container "
        },
        short(&running.container_id)
    ));
    let state = State {
        url,
        user: cell::USER.into(),
        password,
        database: cell::DATABASE.into(),
        container_id: running.container_id.clone(),
        host_port: running.host_port,
    };
    write_state(ws, &state)?;
    Ok(state)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Ready means a real login succeeds and answers a query; a TCP connect to the published
/// port succeeds as soon as docker-proxy listens, long before Postgres does.
async fn wait_ready(
    url: &str,
    engine: &Engine,
    ws: &Workspace,
    running: &RunningCell,
) -> Result<(), Error> {
    let start = Instant::now();
    let mut last_error = None;
    let mut attempt = 0u32;
    while start.elapsed() < READY_TIMEOUT {
        attempt += 1;
        match tokio::time::timeout(Duration::from_secs(3), connect(url)).await {
            Ok(Ok(client)) => {
                if client.simple_query("SELECT 1").await.is_ok() {
                    return Ok(());
                }
            }
            Ok(Err(e)) => last_error = Some(e),
            Err(_) => {}
        }
        // A container that exited will not become ready: say so now, not after the timeout.
        if attempt % 10 == 0
            && let Ok(Some(c)) = engine.find_cell(&ws.id, CELL_NAME).await
            && c.host_port == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100 + 50 * u64::from(attempt.min(8)))).await;
    }
    Err(Error::CellUnhealthy {
        cell: CELL_NAME.into(),
        seconds: start.elapsed().as_secs(),
        logs: engine.logs_tail(&running.container_id, 20).await,
        source: last_error,
    })
}

pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn pg_error(source: tokio_postgres::Error) -> Error {
    Error::Postgres {
        cell: CELL_NAME.into(),
        source,
    }
}

/// What applying the code's declarations would do.
pub struct Planned {
    pub plan: Plan,
    /// The declared tables, for the lock.
    pub declared: Vec<String>,
    pub previous_lock: Option<Lock>,
}

pub async fn plan(
    ws: &Workspace,
    client: &mut tokio_postgres::Client,
    decls: &[TableDecl],
) -> Result<Planned, Error> {
    let previous_lock = Lock::read(&lock_path(ws))?;
    let managed: BTreeSet<String> = previous_lock
        .iter()
        .flat_map(|l| l.tables.keys().cloned())
        .collect();
    let mut desired = desired_schema(decls);
    live::normalize_defaults(client, &mut desired).await.map_err(|source| Error::ApplyFailed {
        what: "a declared default is not a valid SQL expression for its column".into(),
        help: "check every #[Postgres::default(\"...\")]: it must be an SQL expression of the column's type, like \"NOW()\" or \"0\"".into(),
        source,
    })?;
    let names: Vec<String> = desired
        .tables
        .keys()
        .chain(managed.iter())
        .cloned()
        .collect();
    let live_schema = live::introspect(&*client, &names).await.map_err(pg_error)?;
    check_references(decls, &desired, client).await?;
    let plan = plan::diff(&desired, &live_schema, &managed);
    Ok(Planned {
        plan,
        declared: desired.tables.keys().cloned().collect(),
        previous_lock,
    })
}

/// A foreign key must point at a declared table, or at one that exists in the database.
async fn check_references(
    decls: &[TableDecl],
    desired: &Schema,
    client: &tokio_postgres::Client,
) -> Result<(), Error> {
    for d in decls {
        for c in &d.columns {
            let Some(fk) = &c.foreign_key else { continue };
            let target = format!("{}.{}", fk.table, fk.column);
            let has_column = match desired.tables.get(&fk.table) {
                Some(t) => t.columns.contains_key(&fk.column),
                None => {
                    let live = live::introspect(client, std::slice::from_ref(&fk.table))
                        .await
                        .map_err(pg_error)?;
                    match live.tables.get(&fk.table) {
                        Some(t) => t.columns.contains_key(&fk.column),
                        None => {
                            return Err(Error::MissingReference {
                                table: d.name.clone(),
                                column: c.name.clone(),
                                target,
                                why: "no struct declares and the database does not have".into(),
                            });
                        }
                    }
                }
            };
            if !has_column {
                return Err(Error::MissingReference {
                    table: d.name.clone(),
                    column: c.name.clone(),
                    target,
                    why: format!("is not a column of `{}`", fk.table),
                });
            }
        }
    }
    Ok(())
}

/// Refuses destructive steps unless allowed.
pub fn check_safety(plan: &Plan, allow_destructive: bool) -> Result<(), Error> {
    let steps: Vec<String> = plan
        .unsafe_steps()
        .map(|s| format!("  {}", s.describe()))
        .collect();
    if steps.is_empty() || allow_destructive {
        Ok(())
    } else {
        Err(Error::DestructiveRefused {
            steps: steps.join("\n"),
        })
    }
}

pub async fn apply(client: &mut tokio_postgres::Client, plan: &Plan) -> Result<(), Error> {
    live::apply(client, plan).await.map_err(|e| Error::ApplyFailed {
        what: match &e.step {
            Some((i, sql)) => format!("step {} `{}`", i + 1, sql.lines().next().unwrap_or_default()),
            None => "the transaction".into(),
        },
        help: "existing rows may violate the change (NOT NULL, UNIQUE, FOREIGN KEY): fix the data or the declaration, then run `cargo cell build` again".into(),
        source: e.source,
    })
}

/// Writes the live schema of the declared tables to the lock. Returns (written, existed before).
pub async fn write_lock(
    ws: &Workspace,
    client: &tokio_postgres::Client,
    declared: &[String],
) -> Result<(bool, bool), Error> {
    let live_schema = live::introspect(client, declared).await.map_err(pg_error)?;
    let lock = Lock::from_schema(live_schema);
    let path = lock_path(ws);
    let existed = path.exists();
    let written = lock::write_if_changed(&path, &lock.to_bytes())
        .map_err(|source| Error::Write { path, source })?;
    Ok((written, existed))
}
