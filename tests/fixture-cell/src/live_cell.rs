//! The Kv Cell's live side ([`LiveCell`]): a Redis-protocol server as data, readiness (a
//! PING), the locked keys put back after a restart lost them, plan (against the lock) and
//! apply (`SET` / `DEL`, then the lock).
//!
//! The server has no password: it is published on 127.0.0.1 only, and the fixture keeps no
//! secret, so it keeps no state file either (its endpoint is known from Docker alone).

use std::path::Path;

use async_trait::async_trait;
use cell_core::docker::RunningCell;
use cell_core::live::{BoxError, ContainerSpec};
use cell_core::lockfile::LockFile as _;
use cell_core::plan::Action;
use cell_core::ui::Ui;
use cell_core::{
    Applied, ApplyOptions, CellError, CellPlan, Context, CoreError, Endpoint, LiveCell, Manifest,
    Workspace,
};
use redis::aio::MultiplexedConnection;

use crate::cell_impl::{plan_against_lock, read_lock, section};
use crate::error::KvError;
use crate::lock::Lock;
use crate::plan::KvPlan;
use crate::{CELL_NAME, DEFAULT_IMAGE, IMAGE_ENV, KvCell, LOCK_FILE};

/// The key of `[workspace.metadata.cell.kv]` that chooses the image.
const IMAGE_KEY: &str = "image";
/// How to get an image where nothing can be pulled.
pub const IMAGE_HINT: &str = "build the local test images with `scripts/build-images`, then set CELL_KV_IMAGE=cargo-cell/redis:7";
pub const CONTAINER_PORT: u16 = 6379;
pub const DATA_PATH: &str = "/data";

/// The image: `CELL_KV_IMAGE`, else `[workspace.metadata.cell.kv] image`, else `redis:7`.
pub fn image(ws: &Workspace) -> String {
    ws.cell_image(CELL_NAME, IMAGE_KEY, IMAGE_ENV, DEFAULT_IMAGE)
}

/// The container: `redis-server` options as its command (the image's entrypoint adds
/// `redis-server`), keys persisted in the data volume.
pub fn spec(ws: &Workspace) -> ContainerSpec {
    ContainerSpec {
        cell: CELL_NAME.to_string(),
        image: image(ws),
        env: Vec::new(),
        cmd: Some(
            ["--dir", DATA_PATH, "--appendonly", "yes"]
                .map(String::from)
                .to_vec(),
        ),
        container_port: CONTAINER_PORT,
        data_path: DATA_PATH.to_string(),
        image_env: IMAGE_ENV.to_string(),
        image_hint: IMAGE_HINT.to_string(),
    }
}

/// The URL a client on this machine uses.
pub fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

fn server_error(what: impl Into<String>, source: redis::RedisError) -> CellError {
    KvError::Server {
        what: what.into(),
        source,
    }
    .into()
}

async fn connect(url: &str) -> Result<MultiplexedConnection, CellError> {
    redis::Client::open(url)
        .map_err(|e| server_error("connecting", e))?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| server_error("connecting", e))
}

/// Sets and deletes what `plan` changes, in its order.
async fn run(conn: &mut MultiplexedConnection, plan: &KvPlan) -> Result<(), CellError> {
    for c in &plan.changes {
        match (c.action, &c.to) {
            (Action::Delete, _) | (_, None) => redis::cmd("DEL")
                .arg(&c.key)
                .query_async::<()>(conn)
                .await
                .map_err(|e| server_error(format!("DEL {}", c.key), e))?,
            (_, Some(value)) => redis::cmd("SET")
                .arg(&c.key)
                .arg(value)
                .query_async::<()>(conn)
                .await
                .map_err(|e| server_error(format!("SET {}", c.key), e))?,
        }
    }
    Ok(())
}

/// Says what was applied, and writes the lock at `path` (only when its bytes change), or
/// removes it when the code has no key left (so the next build does not start the Cell).
fn record(ui: &Ui, path: &Path, desired: &Lock, plan: &KvPlan) -> Result<(), CellError> {
    if plan.is_empty() {
        ui.info("kv: no changes");
    } else {
        let text = plan.render(&cell_core::plan::Render {
            style: &cell_core::plan::Plain,
            with_sql: false,
        });
        // `kv: 1 change\n  ~ ...`: the first line becomes `kv: applied 1 change`.
        ui.info(&format!(
            "kv: applied {}",
            text.trim_end().trim_start_matches("kv: ")
        ));
    }
    let write_error = |source| CoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    if desired.is_empty() {
        if path.exists() {
            std::fs::remove_file(path).map_err(write_error)?;
        }
    } else if cell_core::lockfile::write_if_changed(path, &desired.to_bytes())
        .map_err(write_error)?
    {
        ui.info(&format!("kv: wrote {}", path.display()));
    }
    Ok(())
}

#[async_trait]
impl LiveCell for KvCell {
    /// No secret, no state file: `down --volumes` has none to remove.
    fn keeps_state(&self) -> bool {
        false
    }

    async fn container(
        &self,
        cx: &Context<'_>,
        _existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        Ok(spec(cx.ws))
    }

    fn waiting_for(&self) -> &'static str {
        "waiting for Kv to answer PING"
    }

    /// Known from the container alone (no password).
    fn endpoint(
        &self,
        _ws: &Workspace,
        running: &RunningCell,
        _spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        Some(Endpoint::single(self, url(running.host_port), running))
    }

    async fn probe(&self, endpoint: &Endpoint) -> Result<(), BoxError> {
        let mut conn = redis::Client::open(endpoint.url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    /// A new data volume (after `down --volumes` or `reset`) lost the keys: the locked ones
    /// are put back where missing (`SET NX`), so the live Cell is the one the lock
    /// describes. An unreadable lock is left to plan and apply to report.
    async fn after_up(&self, cx: &Context<'_>, endpoint: &Endpoint) -> Result<(), CellError> {
        if let Ok(Some(lock)) = Lock::read(&cx.ws.lock_path(LOCK_FILE)) {
            let mut conn = connect(&endpoint.url).await?;
            for (key, value) in &lock.keys {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .query_async::<Option<String>>(&mut conn)
                    .await
                    .map_err(|e| server_error(format!("SET {key} NX"), e))?;
            }
        }
        Ok(())
    }

    /// Only on the dev target, for a workspace that uses the Cell: the keys against the
    /// lock. The server is started (once per command) so `plan` fails early when it cannot.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        if cx.up_if_used_in_dev(self, manifest).await?.is_none() {
            return Ok(None);
        }
        let plan = plan_against_lock(cx.ws, section(manifest))?.unwrap_or_default();
        Ok(Some(Box::new(plan)))
    }

    /// Only on the dev target: sets and deletes the keys, then writes the lock, without
    /// asking (a dev fixture). A saved plan's entry is not used: it is planned afresh.
    /// `lock_created` is `false`: no expansion depends on the lock's contents.
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        _how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        let Some(endpoint) = cx.up_if_used_in_dev(self, manifest).await? else {
            return Ok(Applied::default());
        };
        let path = cx.ws.lock_path(LOCK_FILE);
        let previous = read_lock(&path)?;
        let desired = Lock::desired(&section(manifest).entries);
        let plan = KvPlan::new(previous.as_ref(), &desired);
        let mut conn = connect(&endpoint.url).await?;
        run(&mut conn, &plan).await?;
        record(cx.ui, &path, &desired, &plan)?;
        Ok(Applied {
            used: true,
            lock_created: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::EntryDecl;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    fn running(port: u16) -> RunningCell {
        RunningCell {
            cell: "kv".into(),
            container_id: "0123456789abcdef".into(),
            container_name: "cell-ws-x-kv".into(),
            image: "redis:7".into(),
            host_port: port,
            env: Vec::new(),
            created: true,
        }
    }

    #[test]
    fn the_container_is_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::bare(dir.path());
        let s = spec(&ws);
        assert_eq!(
            (s.cell.as_str(), s.container_port, s.data_path.as_str()),
            ("kv", 6379, "/data")
        );
        assert_eq!(s.image_env, "CELL_KV_IMAGE");
        assert!(s.image_hint.contains("scripts/build-images"));
        // The variable wins over the setting, which wins over the default; the tests set
        // the variable, so only the setting's precedence is checked here.
        ws.config = serde_json::json!({"kv": {"image": "my/kv:1"}});
        if std::env::var_os(IMAGE_ENV).is_none() {
            assert_eq!(image(&ws), "my/kv:1");
            assert_eq!(image(&Workspace::bare(dir.path())), "redis:7");
        }
    }

    #[test]
    fn the_endpoint_is_known_from_the_container() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let e = KvCell.endpoint(&ws, &running(6390), None).unwrap();
        assert_eq!(e.url, "redis://127.0.0.1:6390/");
        assert_eq!(
            e.env,
            [(
                "CELL_KV_URL".to_string(),
                "redis://127.0.0.1:6390/".to_string()
            )]
        );
        assert!(e.state.is_none() && !KvCell.keeps_state());
    }

    #[test]
    fn apply_says_what_it_did_and_writes_or_removes_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let path = ws.lock_path(LOCK_FILE);
        let lines = Lines::default();
        let ui = Ui::plain(lines.clone(), false, false);

        let desired = Lock::desired(&[EntryDecl::new("greeting", "hello")]);
        let plan = KvPlan::new(None, &desired);
        record(&ui, &path, &desired, &plan).unwrap();
        assert_eq!(
            lines.take(),
            format!(
                "kv: applied 1 change\n  + key greeting = \"hello\"\nkv: wrote {}\n",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), desired.to_bytes());

        record(&ui, &path, &desired, &KvPlan::new(Some(&desired), &desired)).unwrap();
        assert_eq!(lines.take(), "kv: no changes\n");

        let gone = Lock::desired(&[]);
        record(&ui, &path, &gone, &KvPlan::new(Some(&desired), &gone)).unwrap();
        assert!(!path.exists());
    }
}
