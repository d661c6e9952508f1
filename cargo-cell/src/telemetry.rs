//! The Telemetry Cell: a Prometheus container that scrapes the running application.
//!
//! `converge` (run by `cargo cell build` / `apply`) writes `.cell/telemetry.lock.json` (every
//! metric and span the code declares), brings the Prometheus container up, and writes its
//! scrape configuration from the manifest, then reloads it. The application runs on the host;
//! from the container's bridge network the host is the bridge gateway, so a loopback or
//! wildcard `metrics` address is scraped at the gateway's IP (the application must listen on
//! an address the bridge reaches, such as `0.0.0.0:9464`).

use cell_lockfile::LockFile as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use cell_telemetry::declare::FnDecl;
use cell_telemetry::lock::{Lock, Plan};
use cell_telemetry::{CELL_NAME, LOCK_FILE, scrape};

use crate::docker::{CellSpec, Engine, RunningCell};
use crate::error::Error;
use crate::ui::Ui;
use crate::workspace::Workspace;

pub const CONTAINER_PORT: u16 = 9090;
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.cell_dir().join(LOCK_FILE)
}

/// Whether this workspace has the Cell: declarations now, or a lock from before, unless
/// `[workspace.metadata.cell] disabled = ["telemetry"]` turns it off.
pub fn wanted(ws: &Workspace, decls: &[FnDecl]) -> bool {
    let disabled = ws.config["disabled"]
        .as_array()
        .is_some_and(|list| list.iter().any(|v| v.as_str() == Some(CELL_NAME)));
    !disabled && (!decls.is_empty() || lock_path(ws).exists())
}

fn image(ws: &Workspace) -> String {
    ws.cell_image(CELL_NAME, "image", scrape::IMAGE_ENV, scrape::DEFAULT_IMAGE)
}

fn fail(message: impl Into<String>, help: impl Into<String>) -> Error {
    Error::Telemetry {
        message: message.into(),
        help: help.into(),
    }
}

/// The lock the code calls for.
pub fn desired(decls: &[FnDecl]) -> Result<Lock, Error> {
    Lock::from_decls(decls).map_err(|c| {
        fail(
            c.to_string(),
            "one metric name has one type and one set of labels: rename one of them, or give both the same labels",
        )
    })
}

/// `cargo cell plan`'s telemetry section: metrics and spans added, removed and changed since
/// the lock.
pub fn plan(ws: &Workspace, decls: &[FnDecl]) -> Result<Plan, Error> {
    let old = Lock::read(&lock_path(ws))?.unwrap_or_default();
    Ok(Plan::between(&old, &desired(decls)?))
}

/// Writes the lock, brings Prometheus up and points it at the application.
pub async fn converge(ws: &Workspace, decls: &[FnDecl], ui: &Ui) -> Result<(), Error> {
    if !wanted(ws, decls) {
        return Ok(());
    }
    let path = lock_path(ws);
    let old = Lock::read(&path)?.unwrap_or_default();
    let lock = desired(decls)?;
    let plan = Plan::between(&old, &lock);
    if !plan.is_empty() {
        for line in plan.render().lines().skip(1) {
            ui.info(line.trim_start());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    cell_lockfile::write_if_changed(&path, &lock.to_bytes()).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;

    let engine = Engine::connect().await?;
    let running = up(ws, &engine, ui).await?;
    write_config(ws, &engine, &running, &lock, ui).await
}

/// The Prometheus container, running and ready.
pub async fn up(ws: &Workspace, engine: &Engine, ui: &Ui) -> Result<RunningCell, Error> {
    let spec = CellSpec {
        cell: CELL_NAME.to_string(),
        image: image(ws),
        env: vec![],
        cmd: Some(vec![
            format!("--config.file={}", scrape::CONFIG_PATH),
            format!("--storage.tsdb.path={}", scrape::DATA_PATH),
            "--web.enable-lifecycle".into(),
        ]),
        container_port: CONTAINER_PORT,
        data_path: scrape::DATA_PATH.to_string(),
    };
    let running = engine.ensure_running(&ws.id, &spec, ui).await?;
    let task = ui.task(CELL_NAME, "waiting for Prometheus to be ready");
    let start = Instant::now();
    loop {
        match http(running.host_port, "GET", "/-/ready").await {
            Ok((200, _)) => break,
            _ if start.elapsed() > READY_TIMEOUT => {
                task.fail("not ready");
                return Err(fail(
                    format!(
                        "Prometheus (container {}) is not ready after {}s",
                        running.container_name,
                        READY_TIMEOUT.as_secs()
                    ),
                    format!(
                        "see `docker logs {}`; last lines:\n{}",
                        running.container_name,
                        engine.logs_tail(&running.container_id, 10).await
                    ),
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    task.finish(format!(
        "Prometheus ready on http://127.0.0.1:{}",
        running.host_port
    ));
    Ok(running)
}

/// The scrape target: the configured `metrics` address as the container reaches it.
fn target(ws: &Workspace, gateway: Option<&str>) -> Result<String, Error> {
    let addr = ws
        .cell_setting(CELL_NAME, "metrics")
        .unwrap_or_else(|| scrape::DEFAULT_METRICS_ADDR.to_string());
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(fail(
            format!("[workspace.metadata.cell.telemetry] metrics = \"{addr}\" is not host:port"),
            "write it like metrics = \"127.0.0.1:9464\"",
        ));
    };
    let local = matches!(
        host,
        "127.0.0.1" | "localhost" | "0.0.0.0" | "[::1]" | "[::]"
    );
    Ok(match (local, gateway) {
        (true, Some(gw)) => format!("{gw}:{port}"),
        _ => addr.clone(),
    })
}

async fn write_config(
    ws: &Workspace,
    engine: &Engine,
    running: &RunningCell,
    lock: &Lock,
    ui: &Ui,
) -> Result<(), Error> {
    let interval = ws
        .cell_setting(CELL_NAME, "scrape_interval")
        .unwrap_or_else(|| scrape::DEFAULT_SCRAPE_INTERVAL.to_string());
    scrape::check_interval(&interval).map_err(|m| {
        fail(
            format!("[workspace.metadata.cell.telemetry] scrape_interval: {m}"),
            "write it like scrape_interval = \"15s\"",
        )
    })?;
    let gateway = engine.gateway(&running.container_id).await?;
    let target = target(ws, gateway.as_deref())?;
    let names: Vec<String> = lock.metrics.iter().map(|m| m.name.clone()).collect();
    let config = scrape::config(std::slice::from_ref(&target), &interval, &names);
    let script = format!("printf '%s' \"$1\" > {}", scrape::CONFIG_PATH);
    let out = engine
        .exec(&running.container_id, &["sh", "-c", &script, "sh", &config])
        .await?;
    if out.exit_code != Some(0) {
        return Err(fail(
            format!(
                "cannot write the scrape configuration into {}: {}",
                running.container_name,
                out.output.trim()
            ),
            "the image must have `sh` and a writable /etc/prometheus (the official prom/prometheus image does)",
        ));
    }
    match http(running.host_port, "POST", "/-/reload").await {
        Ok((200, _)) => {}
        Ok((status, body)) => {
            return Err(fail(
                format!(
                    "Prometheus refused the scrape configuration (HTTP {status}): {}",
                    body.trim()
                ),
                "this is a bug in cargo-cell's configuration; see `docker logs` of the container",
            ));
        }
        Err(e) => {
            return Err(fail(
                format!("cannot reload Prometheus: {e}"),
                "check that the container runs (`cargo cell status`)",
            ));
        }
    }
    ui.verbose(&format!("telemetry: scraping {target} every {interval}"));
    Ok(())
}

/// A minimal HTTP/1.0 exchange with Prometheus on 127.0.0.1: (status, body).
pub async fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(
            format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("timed out")))
}

/// The variable `cargo cell run` / `test` put Prometheus's URL in.
pub const URL_ENV: &str = "CELL_PROMETHEUS_URL";

/// `cargo cell up telemetry`: Prometheus running and ready and, when the workspace has a
/// lock, scraping the application as the lock says (a new container starts with the
/// image's own configuration).
pub async fn up_configured(ws: &Workspace, engine: &Engine, ui: &Ui) -> Result<RunningCell, Error> {
    let running = up(ws, engine, ui).await?;
    if let Some(lock) = Lock::read(&lock_path(ws))? {
        write_config(ws, engine, &running, &lock, ui).await?;
    }
    Ok(running)
}

/// Whether Prometheus on 127.0.0.1:`port` says it is ready.
pub async fn is_ready(port: u16) -> bool {
    matches!(http(port, "GET", "/-/ready").await, Ok((200, _)))
}

/// The runtime's `CELL_METRICS_ADDR` (where the application serves /metrics) when the
/// workspace configures it, so the program listens where Prometheus scrapes.
pub fn metrics_addr(ws: &Workspace) -> Option<String> {
    ws.cell_setting(CELL_NAME, "metrics")
}
