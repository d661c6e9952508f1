//! The Redis Cell, cargo-cell's side: container, password and state, readiness (PING),
//! settings applied with `CONFIG SET`, plan, lock. The pure parts (declarations, lock, plan)
//! live in `cell-redis`.
//!
//! Redis is started when the manifest has Redis items or a Redis lock exists; with a lock it
//! starts at once, beside recording and the Postgres Cell.

use cell_lockfile::LockFile as _;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use cell_redis::lock::Lock;
use cell_redis::plan::{self, Plan};
use cell_redis::{CELL_NAME, LOCK_FILE, cell};

use crate::docker::{CellSpec, Engine};
use crate::error::Error;
use crate::manifest::Manifest;
use crate::ui::Ui;
use crate::workspace::Workspace;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The dev Cell's connection details, in `.cell/state/redis.json` (git-ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub url: String,
    pub password: String,
    pub container_id: String,
    pub host_port: u16,
}

pub fn state_path(ws: &Workspace) -> PathBuf {
    crate::state::path(ws, CELL_NAME)
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.cell_dir().join(LOCK_FILE)
}

fn read_state(ws: &Workspace) -> Option<State> {
    crate::state::read(ws, CELL_NAME)
}

fn write_state(ws: &Workspace, state: &State) -> Result<(), Error> {
    crate::state::write(ws, CELL_NAME, state)
        .map_err(|(path, source)| Error::Write { path, source })
}

pub fn image(ws: &Workspace) -> String {
    ws.cell_image(CELL_NAME, "image", cell::IMAGE_ENV, cell::DEFAULT_IMAGE)
}

/// The settings to apply: the defaults, overridden by `[workspace.metadata.cell.redis]`.
pub fn settings(ws: &Workspace) -> BTreeMap<String, String> {
    let mut s = cell::default_settings();
    for key in cell::MANAGED_SETTINGS {
        if let Some(v) = ws.cell_setting(CELL_NAME, key) {
            s.insert(key.to_string(), v);
        }
    }
    s
}

/// Whether this workspace needs the Redis Cell.
pub fn wanted(ws: &Workspace, manifest: &Manifest) -> bool {
    !manifest.redis.is_empty() || lock_path(ws).exists()
}

/// Finds or starts the dev Cell and waits until Redis answers PING with the password.
pub async fn up(ws: &Workspace, ui: &Ui) -> Result<State, Error> {
    let engine = Engine::connect().await?;
    let password = read_state(ws).map(|s| s.password).unwrap_or_else(|| {
        rand::rng()
            .sample_iter(&rand::distr::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect()
    });
    let spec = CellSpec {
        cell: CELL_NAME.to_string(),
        image: image(ws),
        env: Vec::new(),
        cmd: Some(cell::container_cmd(&password)),
        container_port: cell::CONTAINER_PORT,
        data_path: cell::DATA_PATH.to_string(),
    };
    let running = engine.ensure_running(&ws.id, &spec, ui).await?;
    let url = cell::url(&password, running.host_port);
    let task = ui.task(CELL_NAME, "waiting for Redis to answer PING");
    let start = Instant::now();
    loop {
        let last = match tokio::time::timeout(Duration::from_secs(3), ping(&url)).await {
            Ok(Ok(())) => break,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "PING timed out".to_string(),
        };
        if start.elapsed() > READY_TIMEOUT {
            task.fail("not ready");
            let logs = engine.logs_tail(&running.container_id, 20).await;
            return Err(Error::CellUnhealthy {
                cell: CELL_NAME.into(),
                seconds: start.elapsed().as_secs(),
                logs: format!("{logs}\n(last error: {last})"),
                image_env: cell_redis::cell::IMAGE_ENV.into(),
                source: None,
            });
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    task.finish(format!("ready on 127.0.0.1:{}", running.host_port));
    // `CONFIG SET` does not survive a restart of the container: put the locked settings
    // back, so a restarted Cell is the one the lock describes.
    if let Ok(Some(lock)) = Lock::read(&lock_path(ws)) {
        let mut conn = connect(&url)
            .await
            .map_err(|e| redis_error("connecting", e))?;
        let settings: Vec<_> = lock
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        config_set(&mut conn, &settings).await?;
    }
    let state = State {
        url,
        password,
        container_id: running.container_id,
        host_port: running.host_port,
    };
    write_state(ws, &state)?;
    Ok(state)
}

async fn connect(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await
}

async fn ping(url: &str) -> redis::RedisResult<()> {
    let mut conn = connect(url).await?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(|_| ())
}

fn redis_error(what: &str, source: redis::RedisError) -> Error {
    Error::Redis {
        what: what.to_string(),
        source,
    }
}

/// Starts the Cell now when a lock says the workspace has one, to overlap with recording.
pub fn start_early(
    ws: &Workspace,
    ui: &Ui,
) -> Option<tokio::task::JoinHandle<Result<State, Error>>> {
    lock_path(ws).exists().then(|| {
        let (ws, ui) = (ws.clone(), ui.clone());
        tokio::spawn(async move { up(&ws, &ui).await })
    })
}

/// What `plan` or `apply` found.
pub struct Converged {
    pub plan: Plan,
}

/// Plans against the previous lock and the live settings; with `apply`, sets the settings
/// and writes the lock. `None` when the workspace has no Redis Cell.
pub async fn converge(
    ws: &Workspace,
    manifest: &Manifest,
    early: Option<tokio::task::JoinHandle<Result<State, Error>>>,
    apply: bool,
    ui: &Ui,
) -> Result<Option<Converged>, Error> {
    if !wanted(ws, manifest) {
        if let Some(t) = early {
            t.abort();
        }
        return Ok(None);
    }
    let state = match early {
        Some(t) => t.await.expect("redis up task")?,
        None => up(ws, ui).await?,
    };
    let mut conn = connect(&state.url)
        .await
        .map_err(|e| redis_error("connecting", e))?;
    let desired = Lock::desired(
        &manifest.redis.tables,
        &manifest.redis.functions,
        settings(ws),
    );
    let mut live = BTreeMap::new();
    for name in desired.settings.keys() {
        let pair: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query_async(&mut conn)
            .await
            .map_err(|e| redis_error("reading its settings", e))?;
        if let [_, value] = pair.as_slice() {
            live.insert(name.clone(), value.clone());
        }
    }
    let path = lock_path(ws);
    let previous = Lock::read(&path).map_err(|e| Error::RedisLock {
        path: path.clone(),
        source: e,
    })?;
    let plan = plan::diff(previous.as_ref(), &desired, &live);
    if apply {
        config_set(&mut conn, &plan.settings().collect::<Vec<_>>()).await?;
        if plan.is_empty() {
            ui.info("redis: no changes");
        } else {
            ui.info(&format!(
                "redis: applied {}\n{}",
                plan.summary(),
                plan.render().trim_end()
            ));
        }
        if desired.is_empty() {
            // No caches left: without a lock the next build does not start the Cell.
            if path.exists() {
                std::fs::remove_file(&path).map_err(|source| Error::Write { path, source })?;
            }
        } else if cell_lockfile::write_if_changed(&path, &desired.to_bytes()).map_err(|source| {
            Error::Write {
                path: path.clone(),
                source,
            }
        })? {
            ui.info(&format!("redis: wrote {}", path.display()));
        }
    }
    Ok(Some(Converged { plan }))
}

/// `cargo cell plan`'s Redis section; returns whether there are changes.
pub fn print_plan(converged: &Option<Converged>) -> bool {
    let Some(c) = converged else { return false };
    if c.plan.is_empty() {
        println!("redis: No changes. The caches match the code.");
        false
    } else {
        println!("redis: {}", c.plan.summary());
        print!("{}", c.plan.render());
        true
    }
}

/// The Redis Cell as Docker sees it now, without starting anything (the port is read from
/// the engine, and the state file rewritten when stale). `None` when it does not run.
pub async fn refresh(ws: &Workspace, engine: &Engine) -> Result<Option<State>, Error> {
    let Some(running) = engine.find_cell(&ws.id, CELL_NAME).await? else {
        return Ok(None);
    };
    let Some(password) = read_state(ws)
        .map(|s| s.password)
        .filter(|_| running.host_port != 0)
    else {
        return Ok(None);
    };
    let state = State {
        url: cell::url(&password, running.host_port),
        password,
        container_id: running.container_id.clone(),
        host_port: running.host_port,
    };
    write_state(ws, &state)?;
    Ok(Some(state))
}

/// Whether Redis answers an authenticated PING at `url` within `timeout`.
pub async fn is_ready(url: &str, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, ping(url)).await, Ok(Ok(())))
}

/// Code against the committed Redis lock, without any Cell: what `cargo cell check` reports.
pub fn check(ws: &Workspace, manifest: &Manifest) -> Result<Plan, Error> {
    let path = lock_path(ws);
    let previous = Lock::read(&path).map_err(|e| Error::RedisLock {
        path: path.clone(),
        source: e,
    })?;
    if manifest.redis.is_empty() && previous.is_none() {
        return Ok(Plan::default());
    }
    let desired = Lock::desired(
        &manifest.redis.tables,
        &manifest.redis.functions,
        settings(ws),
    );
    // The settings the lock holds stand for the live ones: only the code is compared.
    let live = previous
        .as_ref()
        .map(|l| l.settings.clone())
        .unwrap_or_default();
    Ok(plan::diff(previous.as_ref(), &desired, &live))
}

/// `CONFIG SET` of each setting (they do not survive a restart of the server).
async fn config_set(
    conn: &mut redis::aio::MultiplexedConnection,
    settings: &[(&str, &str)],
) -> Result<(), Error> {
    for (name, value) in settings {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query_async::<()>(conn)
            .await
            .map_err(|e| redis_error(&format!("CONFIG SET {name} {value}"), e))?;
    }
    Ok(())
}
