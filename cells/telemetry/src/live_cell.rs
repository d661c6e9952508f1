//! The Telemetry Cell's live side: a Prometheus container that scrapes the running
//! application.
//!
//! `apply` (run by `cargo cell build` / `apply` on the dev target) writes
//! `.cell/telemetry.lock.json` (every metric and span the code declares), brings the
//! Prometheus container up, writes its scrape configuration from the lock into the container
//! and reloads it. A container started again has the image's own configuration: `after_up`
//! writes the lock's whenever a lock exists. The application runs on the host; from the
//! container's bridge network the host is the bridge gateway, so a loopback or wildcard
//! `metrics` address is scraped at the gateway's IP (the application must listen on an
//! address the bridge reaches, such as `0.0.0.0:9464`).

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use cell_core::docker::RunningCell;
use cell_core::live::{BoxError, ContainerSpec};
use cell_core::{
    Applied, ApplyOptions, CellError, CellPlan, Context, CoreError, Endpoint, LiveCell, Manifest,
    Workspace,
};

use crate::cell_impl::{METRICS_ADDR_ENV, TelemetryCell, URL_ENV};
use crate::error::fail;
use crate::lock::{Lock, LockFile as _, Plan};
use crate::{CELL_NAME, LOCK_FILE, scrape};

/// The port Prometheus listens on inside the container.
pub const CONTAINER_PORT: u16 = 9090;

/// How to get a Prometheus image where nothing can be pulled, for the image-unavailable help.
pub const IMAGE_HINT: &str = "build `cargo-cell/prometheus:2` with `scripts/build-prometheus-image` and choose it with \
     CELL_PROMETHEUS_IMAGE=cargo-cell/prometheus:2";

/// How long one exchange with Prometheus's HTTP API may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The Prometheus container: the official image's command with the lifecycle API on (for
/// `/-/reload`), its data in the Cell's volume.
pub fn container_spec(ws: &Workspace) -> ContainerSpec {
    ContainerSpec {
        cell: CELL_NAME.to_string(),
        image: ws.cell_image(CELL_NAME, "image", scrape::IMAGE_ENV, scrape::DEFAULT_IMAGE),
        env: vec![],
        cmd: Some(vec![
            format!("--config.file={}", scrape::CONFIG_PATH),
            format!("--storage.tsdb.path={}", scrape::DATA_PATH),
            "--web.enable-lifecycle".into(),
        ]),
        container_port: CONTAINER_PORT,
        data_path: scrape::DATA_PATH.to_string(),
        image_env: scrape::IMAGE_ENV.to_string(),
        image_hint: IMAGE_HINT.to_string(),
    }
}

/// Prometheus's URL on the host, and the variables `run` and `test` set: the URL, and where
/// the application serves /metrics when the workspace says.
pub fn endpoint_of(ws: &Workspace, running: &RunningCell) -> Endpoint {
    let url = format!("http://127.0.0.1:{}", running.host_port);
    let mut env = vec![(URL_ENV.to_string(), url.clone())];
    if let Some(addr) = TelemetryCell::metrics_addr(ws) {
        env.push((METRICS_ADDR_ENV.to_string(), addr));
    }
    Endpoint {
        url,
        port: running.host_port,
        container_id: running.container_id.clone(),
        env,
        // Prometheus has no secret, and its port is read from Docker.
        state: None,
    }
}

/// The scrape target: the configured `metrics` address as the container reaches it.
pub fn target(ws: &Workspace, gateway: Option<&str>) -> Result<String, CellError> {
    let addr =
        TelemetryCell::metrics_addr(ws).unwrap_or_else(|| scrape::DEFAULT_METRICS_ADDR.to_string());
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

/// `[workspace.metadata.cell.telemetry] scrape_interval`, checked.
pub fn scrape_interval(ws: &Workspace) -> Result<String, CellError> {
    let interval = ws
        .cell_setting(CELL_NAME, "scrape_interval")
        .unwrap_or_else(|| scrape::DEFAULT_SCRAPE_INTERVAL.to_string());
    scrape::check_interval(&interval).map_err(|m| {
        fail(
            format!("[workspace.metadata.cell.telemetry] scrape_interval: {m}"),
            "write it like scrape_interval = \"15s\"",
        )
    })?;
    Ok(interval)
}

/// One HTTP client for Prometheus on 127.0.0.1: no proxy (a loopback address is never
/// proxied), no kept connections (each exchange stands alone, as the probe's tries do), each
/// exchange bounded.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(HTTP_TIMEOUT)
            .build()
            .expect("an HTTP client without TLS settings builds")
    })
}

fn api_url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

/// Whether Prometheus on 127.0.0.1:`port` says it is ready: `GET /-/ready` answers 200.
pub async fn ready(port: u16) -> Result<(), BoxError> {
    let response = client().get(api_url(port, "/-/ready")).send().await?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!("GET /-/ready answered HTTP {status}").into()),
    }
}

/// `POST /-/reload`: Prometheus reads its configuration file again.
pub async fn reload(port: u16) -> Result<(), CellError> {
    match client().post(api_url(port, "/-/reload")).send().await {
        Ok(response) if response.status().as_u16() == 200 => Ok(()),
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Err(fail(
                format!(
                    "Prometheus refused the scrape configuration (HTTP {status}): {}",
                    body.trim()
                ),
                "this is a bug in cargo-cell's configuration; see `docker logs` of the container",
            ))
        }
        Err(e) => Err(fail(
            format!("cannot reload Prometheus: {}", describe(&e)),
            "check that the container runs (`cargo cell status`)",
        )),
    }
}

/// A client error in the words the old hand-written client used: `timed out`, or the I/O
/// error under it (`Connection refused (os error 111)`); else its chain of causes (reqwest's
/// own message names only the URL).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_string();
    }
    let mut chain = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io.to_string();
        }
        chain.push(c.to_string());
        cause = c.source();
    }
    chain.join(": ")
}

/// Writes the scrape configuration for `lock` into the running container and reloads it.
async fn write_config(cx: &Context<'_>, endpoint: &Endpoint, lock: &Lock) -> Result<(), CellError> {
    let interval = scrape_interval(cx.ws)?;
    let engine = cx.engine().await?;
    let gateway = engine.gateway(&endpoint.container_id).await?;
    let target = target(cx.ws, gateway.as_deref())?;
    let names: Vec<String> = lock.metrics.iter().map(|m| m.name.clone()).collect();
    let config = scrape::config(std::slice::from_ref(&target), &interval, &names);
    engine
        .copy_into(
            &endpoint.container_id,
            scrape::CONFIG_DIR,
            &[cell_core::docker::File {
                name: scrape::CONFIG_FILE,
                mode: 0o644,
                bytes: config.as_bytes(),
            }],
        )
        .await?;
    reload(endpoint.port).await?;
    cx.ui
        .verbose(&format!("telemetry: scraping {target} every {interval}"));
    Ok(())
}

#[async_trait]
impl LiveCell for TelemetryCell {
    /// No state file: Prometheus has no secret, and its port is read from Docker.
    fn keeps_state(&self) -> bool {
        false
    }

    async fn container(
        &self,
        cx: &Context<'_>,
        _existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        Ok(container_spec(cx.ws))
    }

    fn waiting_for(&self) -> &'static str {
        "waiting for Prometheus to be ready"
    }

    fn endpoint(
        &self,
        ws: &Workspace,
        running: &RunningCell,
        _spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        Some(endpoint_of(ws, running))
    }

    async fn probe(&self, endpoint: &Endpoint) -> Result<(), BoxError> {
        ready(endpoint.port).await
    }

    /// A container (re)started has the image's own configuration: when the workspace has a
    /// lock, scrape the application as it says.
    async fn after_up(&self, cx: &Context<'_>, endpoint: &Endpoint) -> Result<(), CellError> {
        if let Some(lock) = Lock::read(&cx.ws.lock_path(LOCK_FILE))? {
            write_config(cx, endpoint, &lock).await?;
        }
        Ok(())
    }

    /// The code's metrics and spans against the lock, on any target (it needs no container);
    /// `None` when the workspace neither declares any nor has a lock.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        if !self.is_used(cx.ws, Some(manifest)) {
            return Ok(None);
        }
        Ok(Some(Box::new(TelemetryCell::plan_of(
            cx.ws,
            TelemetryCell::decls(manifest),
        )?)))
    }

    /// On the dev target: the plan's steps as messages, the lock written, Prometheus up and
    /// scraping as the lock says. Elsewhere nothing (a deployment's Prometheus is not ours).
    ///
    /// `lock_created` is always false: no expansion reads this lock (the macros expand from
    /// the declaration alone), so a new lock needs no recompilation, as before.
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        _how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        let used = self.is_used(cx.ws, Some(manifest));
        if !used || cx.target != cell_core::Target::Dev {
            return Ok(Applied {
                used,
                lock_created: false,
            });
        }
        let path = cx.ws.lock_path(LOCK_FILE);
        let old = Lock::read(&path)?.unwrap_or_default();
        let lock = TelemetryCell::desired(TelemetryCell::decls(manifest))?;
        let plan = Plan::between(&old, &lock);
        if !plan.is_empty() {
            for line in plan.render().lines().skip(1) {
                cx.ui.info(line.trim_start());
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| CoreError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let written =
            cell_core::lockfile::write_if_changed(&path, &lock.to_bytes()).map_err(|source| {
                CoreError::Write {
                    path: path.clone(),
                    source,
                }
            })?;
        // Brought up by this call, `after_up` scrapes as the lock just written says; brought
        // up earlier in this command, it did so for the lock as it was then.
        let was_up = cx.is_up(self);
        let endpoint = cx.up(self).await?;
        if was_up && written {
            write_config(cx, &endpoint, &lock).await?;
        }
        Ok(Applied {
            used: true,
            lock_created: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ws(config: serde_json::Value) -> Workspace {
        let mut ws = Workspace::bare(std::path::Path::new("/nonexistent/shop"));
        ws.config = config;
        ws
    }

    fn running(port: u16) -> RunningCell {
        RunningCell {
            cell: "telemetry".into(),
            container_id: "abc123".into(),
            container_name: "cell-shop-x-telemetry".into(),
            image: "prom/prometheus:latest".into(),
            host_port: port,
            env: vec![],
            created: true,
        }
    }

    /// Bug (a): the image-unavailable help named `CELL_TELEMETRY_IMAGE` (made from the Cell's
    /// name), which nothing reads, and `scripts/build-images`, which builds no Prometheus.
    #[test]
    fn the_image_help_names_the_variable_read_and_the_script_that_builds_prometheus() {
        let spec = container_spec(&ws(serde_json::Value::Null));
        assert_eq!(spec.image_env, scrape::IMAGE_ENV);
        assert_eq!(spec.image_env, "CELL_PROMETHEUS_IMAGE");
        assert_ne!(spec.image_env, "CELL_TELEMETRY_IMAGE");
        assert!(
            spec.image_hint.contains("`scripts/build-prometheus-image`"),
            "{}",
            spec.image_hint
        );
        assert!(
            !spec.image_hint.contains("scripts/build-images"),
            "{}",
            spec.image_hint
        );
        // The variable named is the one that chooses the image.
        assert_eq!(
            spec.image,
            ws(serde_json::Value::Null).cell_image(
                "telemetry",
                "image",
                "CELL_PROMETHEUS_IMAGE",
                "prom/prometheus:latest"
            )
        );
    }

    #[test]
    fn the_container_is_the_old_one() {
        let spec = container_spec(&ws(serde_json::Value::Null));
        assert_eq!(spec.cell, "telemetry");
        assert_eq!(spec.container_port, 9090);
        assert_eq!(spec.data_path, "/prometheus");
        assert!(spec.env.is_empty());
        assert_eq!(
            spec.cmd.as_deref().unwrap(),
            [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--web.enable-lifecycle",
            ]
        );
        if std::env::var_os(scrape::IMAGE_ENV).is_none() {
            let configured =
                container_spec(&ws(serde_json::json!({"telemetry": {"image": "x/prom:1"}})));
            assert_eq!(configured.image, "x/prom:1");
            assert_eq!(spec.image, "prom/prometheus:latest");
        }
    }

    #[test]
    fn endpoint_env_has_the_url_and_the_metrics_address_when_set() {
        let e = endpoint_of(&ws(serde_json::Value::Null), &running(4242));
        assert_eq!(e.url, "http://127.0.0.1:4242");
        assert_eq!(e.port, 4242);
        assert_eq!(e.container_id, "abc123");
        assert_eq!(e.env, [("CELL_PROMETHEUS_URL".to_string(), e.url.clone())]);
        assert!(e.state.is_none());
        let e = endpoint_of(
            &ws(serde_json::json!({"telemetry": {"metrics": "0.0.0.0:9999"}})),
            &running(4242),
        );
        assert_eq!(
            e.env[1],
            ("CELL_METRICS_ADDR".to_string(), "0.0.0.0:9999".to_string())
        );
        assert!(!TelemetryCell.keeps_state());
    }

    #[test]
    fn targets_reach_the_host_through_the_gateway() {
        let plain = ws(serde_json::Value::Null);
        assert_eq!(
            target(&plain, Some("172.17.0.1")).unwrap(),
            "172.17.0.1:9464"
        );
        assert_eq!(target(&plain, None).unwrap(), "127.0.0.1:9464");
        let remote = ws(serde_json::json!({"telemetry": {"metrics": "10.1.2.3:9000"}}));
        assert_eq!(
            target(&remote, Some("172.17.0.1")).unwrap(),
            "10.1.2.3:9000"
        );
        let wildcard = ws(serde_json::json!({"telemetry": {"metrics": "0.0.0.0:9000"}}));
        assert_eq!(
            target(&wildcard, Some("172.17.0.1")).unwrap(),
            "172.17.0.1:9000"
        );
        let bad = ws(serde_json::json!({"telemetry": {"metrics": "nohost"}}));
        let err = target(&bad, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[workspace.metadata.cell.telemetry] metrics = \"nohost\" is not host:port"
        );
    }

    #[test]
    fn scrape_intervals_are_checked() {
        assert_eq!(
            scrape_interval(&ws(serde_json::Value::Null)).unwrap(),
            "15s"
        );
        let err = scrape_interval(&ws(
            serde_json::json!({"telemetry": {"scrape_interval": "1 s"}}),
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("[workspace.metadata.cell.telemetry] scrape_interval: `1 s` is not a Prometheus duration"),
            "{err}"
        );
    }

    /// A one-request HTTP server on 127.0.0.1 answering `status` with `body`; returns its
    /// port and the request line it received.
    async fn serve_once(
        status: &'static str,
        body: &'static str,
    ) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(reply.as_bytes()).await.unwrap();
            request.lines().next().unwrap_or_default().to_string()
        });
        (port, task)
    }

    #[tokio::test]
    async fn ready_is_get_ready_answering_200() {
        let (port, server) = serve_once("200 OK", "Prometheus Server is Ready.\n").await;
        ready(port).await.unwrap();
        assert_eq!(server.await.unwrap(), "GET /-/ready HTTP/1.1");

        let (port, server) = serve_once("503 Service Unavailable", "not yet").await;
        let err = ready(port).await.unwrap_err();
        assert_eq!(err.to_string(), "GET /-/ready answered HTTP 503");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn reload_posts_and_keeps_its_messages() {
        let (port, server) = serve_once("200 OK", "").await;
        reload(port).await.unwrap();
        assert_eq!(server.await.unwrap(), "POST /-/reload HTTP/1.1");

        let (port, server) = serve_once("500 Internal Server Error", "  bad config \n").await;
        let err = reload(port).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Prometheus refused the scrape configuration (HTTP 500): bad config"
        );
        assert_eq!(
            miette::Diagnostic::help(&err).unwrap().to_string(),
            "this is a bug in cargo-cell's configuration; see `docker logs` of the container"
        );
        server.await.unwrap();

        // Nothing listens: a port just freed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = reload(port).await.unwrap_err();
        assert!(
            err.to_string().starts_with("cannot reload Prometheus: "),
            "{err}"
        );
        // As the old client said it: the I/O error alone, not reqwest's URL and layers.
        assert!(!err.to_string().contains("error sending request"), "{err}");
        #[cfg(target_os = "linux")]
        assert_eq!(
            err.to_string(),
            "cannot reload Prometheus: Connection refused (os error 111)"
        );
        assert_eq!(
            miette::Diagnostic::help(&err).unwrap().to_string(),
            "check that the container runs (`cargo cell status`)"
        );
    }
}
