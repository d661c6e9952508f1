//! The Postgres Cell, cargo-cell's side: container, password and state, readiness, plan,
//! apply, lock. The Cell's pure parts (schema, diff, SQL) live in `cell-postgres`.

use cell_lockfile::LockFile as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{NoTls, Socket};

use cell_postgres::cell;
use cell_postgres::declare::{self, Desired, EnumDecl, TableDecl};
use cell_postgres::lock::Lock;
use cell_postgres::plan::{self, Plan};
use cell_postgres::schema::Schema;
use cell_postgres::{CELL_NAME, LOCK_FILE, live, safety};

use crate::docker::{CellSpec, Engine, RunningCell};
use crate::error::Error;
use crate::ui::Ui;
use crate::workspace::Workspace;

/// How long a Cell gets to become ready, unless `CELL_READY_TIMEOUT` (seconds) says otherwise.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// Environment variable overriding [`READY_TIMEOUT`], in seconds.
pub const READY_TIMEOUT_ENV: &str = "CELL_READY_TIMEOUT";

/// The readiness timeout: `CELL_READY_TIMEOUT` seconds when set and valid, else 90 s.
pub fn ready_timeout() -> Duration {
    std::env::var(READY_TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(READY_TIMEOUT)
}

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
    crate::state::path(ws, CELL_NAME)
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.cell_dir().join(LOCK_FILE)
}

pub fn read_state(ws: &Workspace) -> Option<State> {
    crate::state::read(ws, CELL_NAME)
}

fn write_state(ws: &Workspace, state: &State) -> Result<(), Error> {
    crate::state::write(ws, CELL_NAME, state)
        .map_err(|(path, source)| Error::Write { path, source })
}

pub fn image(ws: &Workspace) -> String {
    ws.cell_image(CELL_NAME, "image", cell::IMAGE_ENV, cell::DEFAULT_IMAGE)
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
    // One progress line for the whole start: container, then readiness.
    let task = ui.task(CELL_NAME, &format!("starting {}", spec.image));
    let running = match engine.ensure_running(&ws.id, &spec, ui).await {
        Ok(r) => r,
        Err(e) => {
            task.fail("cannot start");
            return Err(e.into());
        }
    };
    let url = cell::url(cell::USER, &password, running.host_port, cell::DATABASE);
    task.set_message("waiting for Postgres to accept connections");
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
    let state = State::of(password, &running);
    write_state(ws, &state)?;
    Ok(state)
}

impl State {
    /// The state of a running container whose superuser has `password`.
    fn of(password: String, running: &RunningCell) -> State {
        State {
            url: cell::url(cell::USER, &password, running.host_port, cell::DATABASE),
            user: cell::USER.into(),
            password,
            database: cell::DATABASE.into(),
            container_id: running.container_id.clone(),
            host_port: running.host_port,
        }
    }
}

/// The dev Cell as Docker sees it now, without starting anything: its port is read from the
/// engine (never from the state file, since it changes when the engine or container restarts),
/// and the state file is rewritten when it is stale. `None` when there is no running container.
pub async fn refresh(ws: &Workspace, engine: &Engine) -> Result<Option<State>, Error> {
    let Some(running) = engine.find_cell(&ws.id, CELL_NAME).await? else {
        return Ok(None);
    };
    if running.host_port == 0 {
        return Ok(None);
    }
    let Some(password) = running
        .env_var("POSTGRES_PASSWORD")
        .map(str::to_string)
        .or_else(|| read_state(ws).map(|s| s.password))
    else {
        return Ok(None);
    };
    let state = State::of(password, &running);
    write_state(ws, &state)?;
    Ok(Some(state))
}

/// Whether Postgres answers a real login and query at `url` within `within`.
pub async fn is_ready(url: &str, within: Duration) -> bool {
    matches!(
        tokio::time::timeout(within, async {
            let client = connect(url).await.ok()?;
            client.simple_query("SELECT 1").await.ok()
        })
        .await,
        Ok(Some(_))
    )
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
    let timeout = ready_timeout();
    while start.elapsed() < timeout {
        attempt += 1;
        let left = timeout.saturating_sub(start.elapsed());
        match tokio::time::timeout(left.min(Duration::from_secs(3)), connect(url)).await {
            Ok(Ok(client)) => {
                if client.simple_query("SELECT 1").await.is_ok() {
                    return Ok(());
                }
            }
            Ok(Err(e)) => last_error = Some(e),
            Err(_) => {}
        }
        // A container that exited will not become ready: say so now, not after the timeout.
        if attempt.is_multiple_of(10)
            && let Ok(Some(c)) = engine.find_cell(&ws.id, CELL_NAME).await
            && c.host_port == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100 + 50 * u64::from(attempt.min(8)))).await;
    }
    Err(Error::CellUnhealthy {
        cell: CELL_NAME.into(),
        seconds: timeout.as_secs(),
        logs: engine.logs_tail(&running.container_id, 20).await,
        image_env: cell::IMAGE_ENV.into(),
        source: last_error,
    })
}

/// A client of the dev Cell at `url` (127.0.0.1, no TLS).
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    connect_with(url, NoTls).await
}

/// A client of the server at `url`, encrypting as its `sslmode` asks (see
/// `cell_postgres::tls`).
pub async fn connect_with<T>(
    url: &str,
    tls: T,
) -> Result<tokio_postgres::Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = tokio_postgres::connect(url, tls).await?;
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

/// What applying the code's declarations would do, and what the data says about it.
pub struct Planned {
    pub desired: Desired,
    pub live: Schema,
    pub plan: Plan,
    /// What changed in the database outside cargo-cell since the lock was written.
    pub drift: Plan,
    /// Rows counted for the plan's risky steps, by step index.
    pub counts: BTreeMap<usize, i64>,
    pub previous_lock: Option<Lock>,
    /// The declared schema's fingerprint, before Postgres normalised its defaults.
    pub declared_fingerprint: String,
}

impl Planned {
    /// Notes shown beside the steps: the counted rows.
    pub fn notes(&self) -> BTreeMap<usize, String> {
        self.counts
            .iter()
            .filter_map(|(&i, &n)| safety::note(&self.plan.steps[i], n).map(|note| (i, note)))
            .collect()
    }

    pub fn refusals(&self, allow_destructive: bool) -> Vec<safety::Refusal> {
        safety::judge(&self.plan, &self.counts, allow_destructive)
    }

    /// The declared tables, for the lock.
    pub fn declared(&self) -> Vec<String> {
        self.desired.schema.tables.keys().cloned().collect()
    }
}

/// Tables at least this large (Postgres' estimate) get online steps: indexes built
/// concurrently, foreign keys validated after the transaction.
const ONLINE_ROWS_DEFAULT: i64 = 1_000_000;

fn online_rows_threshold() -> i64 {
    std::env::var("CELL_ONLINE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ONLINE_ROWS_DEFAULT)
}

/// The declarations with every enum column pointed at its Postgres enum type.
pub fn resolve_enums(decls: &[TableDecl], enums: &[EnumDecl]) -> Result<Vec<TableDecl>, Error> {
    let mut decls = decls.to_vec();
    declare::resolve_enums(&mut decls, enums).map_err(|unresolved| Error::UnresolvedEnums {
        details: unresolved.iter().map(|u| format!("\n  {u}")).collect(),
        help: unresolved
            .iter()
            .map(|u| u.help())
            .collect::<Vec<_>>()
            .join("\n"),
    })?;
    Ok(decls)
}

pub async fn plan(
    ws: &Workspace,
    client: &mut tokio_postgres::Client,
    decls: &[TableDecl],
    enums: &[EnumDecl],
) -> Result<Planned, Error> {
    let decls = &resolve_enums(decls, enums)?[..];
    let previous_lock = Lock::read(&lock_path(ws))?;
    let previous = previous_lock.as_ref().map(Lock::schema).unwrap_or_default();
    let mut desired = declare::desired(decls, enums);
    let declared_fingerprint = desired.schema.fingerprint();
    live::normalize_defaults(client, &mut desired.schema).await.map_err(|source| Error::ApplyFailed {
        what: "a declared default is not a valid SQL expression for its column".into(),
        help: "check every #[Postgres::default(\"...\")]: it must be an SQL expression of the column's type, like \"NOW()\" or \"0\"".into(),
        source,
    })?;
    let tables: Vec<String> = desired
        .schema
        .tables
        .keys()
        .chain(previous.tables.keys())
        .chain(desired.renames.tables.values())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let enum_names: Vec<String> = desired
        .schema
        .enums
        .keys()
        .chain(previous.enums.keys())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let live_schema = live::introspect(&*client, &tables, &enum_names)
        .await
        .map_err(pg_error)?;
    check_references(decls, &desired.schema, client).await?;
    let mut plan = plan::diff(&desired, &live_schema, &previous);
    let touched: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| s.table())
        .filter(|t| live_schema.tables.contains_key(*t))
        .map(str::to_string)
        .collect();
    if !touched.is_empty() {
        let rows = live::row_estimates(&*client, &touched)
            .await
            .map_err(pg_error)?;
        safety::prefer_online(&mut plan, &rows, online_rows_threshold());
    }
    let counts = live::count_rows(&*client, &plan, &live_schema).await;
    let drift = match &previous_lock {
        Some(_) => cell_postgres::diff::drift(&previous, &live_schema),
        None => Plan::default(),
    };
    Ok(Planned {
        desired,
        live: live_schema,
        plan,
        drift,
        counts,
        previous_lock,
        declared_fingerprint,
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
                    let live = live::introspect(client, std::slice::from_ref(&fk.table), &[])
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

/// Refuses the plan when a step loses data that was not allowed, or when the data makes
/// a step impossible; every refusal says how many rows and what to do.
pub fn check_safety(planned: &Planned, allow_destructive: bool) -> Result<(), Error> {
    let refusals = planned.refusals(allow_destructive);
    if refusals.is_empty() {
        return Ok(());
    }
    let mut steps = String::new();
    let mut help = Vec::new();
    for r in &refusals {
        steps.push_str(&format!("\n  {}", r.message));
        help.push(format!(
            "{}: {}",
            r.message.split(':').next().unwrap_or(""),
            r.help
        ));
    }
    let overridable_only = refusals.iter().all(|r| r.overridable);
    Err(Error::PlanRefused {
        steps,
        help: if overridable_only {
            "review them with `cargo cell plan`; if losing that data is intended, run again with --allow-destructive".into()
        } else {
            help.join("\n")
        },
    })
}

/// Waits for any other apply on this database to finish, then holds the schema lock until
/// [`unlock`] (or until the connection closes, when this process dies).
pub async fn lock(client: &tokio_postgres::Client, target: &str) -> Result<(), Error> {
    let wait = std::env::var("CELL_APPLY_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(300));
    live::ApplyLock::acquire(client, wait)
        .await
        .map_err(|e| match e {
            live::LockError::Busy(busy) => Error::ApplyLockBusy {
                target: target.to_string(),
                pid: busy
                    .pid
                    .map_or_else(|| "unknown".to_string(), |p| p.to_string()),
                seconds: busy.waited.as_secs(),
            },
            live::LockError::Postgres(source) => pg_error(source),
        })
}

pub async fn unlock(client: &tokio_postgres::Client) -> Result<(), Error> {
    live::ApplyLock::release(client).await.map_err(pg_error)
}

/// A stable hash of a plan's steps, for the history table.
pub fn plan_hash(plan: &Plan) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(&plan.steps).expect("steps serialise");
    Sha256::digest(&bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn apply(client: &mut tokio_postgres::Client, plan: &Plan) -> Result<(), Error> {
    let options = live::ApplyOptions {
        lock_timeout: Duration::from_secs(
            std::env::var("CELL_LOCK_TIMEOUT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10),
        ),
        plan_hash: plan_hash(plan),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        step_delay: std::env::var("CELL_TEST_STEP_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis),
    };
    live::apply(client, plan, &options).await.map_err(|e| Error::ApplyFailed {
        what: match &e.step {
            Some((i, sql)) => format!("step {} `{}`", i + 1, sql.lines().next().unwrap_or_default()),
            None => "the transaction".into(),
        },
        help: "existing rows may violate the change (NOT NULL, UNIQUE, FOREIGN KEY, CHECK), or a table lock was not granted within CELL_LOCK_TIMEOUT seconds: fix the data or the declaration, then run again".into(),
        source: e.source,
    })
}

/// Writes the live schema of the declared tables and enums to the lock, with the declared
/// schema's fingerprint. Returns (written, existed before).
pub async fn write_lock(
    ws: &Workspace,
    client: &tokio_postgres::Client,
    planned: &Planned,
) -> Result<(bool, bool), Error> {
    let tables: Vec<String> = planned.desired.schema.tables.keys().cloned().collect();
    let enums: Vec<String> = planned.desired.schema.enums.keys().cloned().collect();
    let live_schema = live::introspect(client, &tables, &enums)
        .await
        .map_err(pg_error)?;
    let mut lock = Lock::from_schema(live_schema);
    lock.declared = Some(planned.declared_fingerprint.clone());
    let path = lock_path(ws);
    let existed = path.exists();
    let written = cell_lockfile::write_if_changed(&path, &lock.to_bytes())
        .map_err(|source| Error::Write { path, source })?;
    Ok((written, existed))
}
