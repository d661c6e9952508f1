//! The Redis Cell's live side ([`LiveCell`]): its container as data, readiness (an
//! authenticated PING), the locked settings put back after a restart, plan and apply
//! (`CONFIG SET`, then the lock).
//!
//! The password is kept in `.cell/state/redis.json` (git-ignored) beside the endpoint;
//! without a state file a new one is made, and the container is made again with it.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use cell_core::docker::RunningCell;
use cell_core::live::{BoxError, ContainerSpec};
use cell_core::lockfile::LockFile as _;
use cell_core::ui::Ui;
use cell_core::{
    Applied, ApplyOptions, CellError, CellPlan, Context, CoreError, Endpoint, LiveCell, Manifest,
    Workspace,
};
use serde::{Deserialize, Serialize};

use crate::cell_impl::{desired, read_lock, section};
use crate::cell_plan::RedisPlan;
use crate::error::RedisCellError;
use crate::lock::Lock;
use crate::plan::{self, Plan};
use crate::{CELL_NAME, LOCK_FILE, RedisCell, cell};

/// The key of `[workspace.metadata.cell.redis]` that chooses the image.
const IMAGE_KEY: &str = "image";
/// How to get the image where nothing can be pulled.
pub const IMAGE_HINT: &str = "build the local test images with `scripts/build-images`";

/// The dev Cell's connection details, in `.cell/state/redis.json` (git-ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub url: String,
    pub password: String,
    pub container_id: String,
    pub host_port: u16,
}

/// The image: `CELL_REDIS_IMAGE`, else `[workspace.metadata.cell.redis] image`, else `redis:7`.
pub fn image(ws: &Workspace) -> String {
    ws.cell_image(CELL_NAME, IMAGE_KEY, cell::IMAGE_ENV, cell::DEFAULT_IMAGE)
}

/// The password of the state file, else a new random one.
fn password(ws: &Workspace) -> String {
    cell_core::state::read::<State>(ws, CELL_NAME)
        .map(|s| s.password)
        .unwrap_or_else(|| cell_core::live::random_secret(32))
}

/// The container of a workspace whose password is `password`.
pub fn spec(ws: &Workspace, password: &str) -> ContainerSpec {
    ContainerSpec {
        cell: CELL_NAME.to_string(),
        image: image(ws),
        env: Vec::new(),
        cmd: Some(cell::container_cmd(password)),
        container_port: cell::CONTAINER_PORT,
        data_path: cell::DATA_PATH.to_string(),
        image_env: cell::IMAGE_ENV.to_string(),
        image_hint: IMAGE_HINT.to_string(),
    }
}

/// The `--requirepass` of a container's command.
fn spec_password(spec: &ContainerSpec) -> Option<&str> {
    let cmd = spec.cmd.as_deref()?;
    let at = cmd.iter().position(|a| a == "--requirepass")?;
    cmd.get(at + 1).map(String::as_str)
}

/// The endpoint of the container `running`, whose password is `password`.
pub fn endpoint(running: &RunningCell, password: String) -> Endpoint {
    let url = cell::url(&password, running.host_port);
    let state = State {
        url: url.clone(),
        password,
        container_id: running.container_id.clone(),
        host_port: running.host_port,
    };
    Endpoint::single(&RedisCell, url, running).with_state(&state)
}

fn redis_error(what: &str, source: redis::RedisError) -> CellError {
    RedisCellError::Redis {
        what: what.to_string(),
        source,
    }
    .into()
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

/// `CONFIG SET` of each setting (they do not survive a restart of the server).
async fn config_set(
    conn: &mut redis::aio::MultiplexedConnection,
    settings: &[(&str, &str)],
) -> Result<(), CellError> {
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

/// Plans against the previous lock and the live settings of the Cell at `endpoint`; with
/// `apply`, sets the settings and writes the lock (removes it when no cache is left).
async fn converge(
    cx: &Context<'_>,
    manifest: &Manifest,
    endpoint: &Endpoint,
    apply: bool,
) -> Result<RedisPlan, CellError> {
    let ws = cx.ws;
    let mut conn = connect(&endpoint.url)
        .await
        .map_err(|e| redis_error("connecting", e))?;
    let desired = desired(ws, section(manifest));
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
    let path = ws.lock_path(LOCK_FILE);
    let previous = read_lock(&path)?;
    let plan = plan::diff(previous.as_ref(), &desired, &live);
    if apply {
        config_set(&mut conn, &plan.settings().collect::<Vec<_>>()).await?;
        record(cx.ui, &path, &desired, &plan)?;
    }
    Ok(RedisPlan::new(plan))
}

/// After the settings are set: says what was applied, and writes the lock at `path` (only
/// when its bytes change), or removes it when the code has no cache left.
fn record(ui: &Ui, path: &Path, desired: &Lock, plan: &Plan) -> Result<(), CellError> {
    if plan.is_empty() {
        ui.info("redis: no changes");
    } else {
        ui.info(&format!(
            "redis: applied {}\n{}",
            plan.summary(),
            plan.render().trim_end()
        ));
    }
    let write_error = |source| CoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    if desired.is_empty() {
        // No caches left: without a lock the next build does not start the Cell.
        if path.exists() {
            std::fs::remove_file(path).map_err(write_error)?;
        }
    } else if cell_core::lockfile::write_if_changed(path, &desired.to_bytes())
        .map_err(write_error)?
    {
        ui.info(&format!("redis: wrote {}", path.display()));
    }
    Ok(())
}

#[async_trait]
impl LiveCell for RedisCell {
    /// Caches are declared on `#[Postgres::table]` structs.
    fn after(&self) -> &'static [&'static str] {
        &["postgres"]
    }

    /// The password is this workspace's (from the state file), else a new one: a container
    /// of another password is then made again (Redis keeps no password in its data).
    async fn container(
        &self,
        cx: &Context<'_>,
        _existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        Ok(spec(cx.ws, &password(cx.ws)))
    }

    fn waiting_for(&self) -> &'static str {
        "waiting for Redis to answer PING"
    }

    /// With `spec`, its password; else the state file's (`None` without one).
    fn endpoint(
        &self,
        ws: &Workspace,
        running: &RunningCell,
        spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        let password = match spec {
            Some(spec) => spec_password(spec)?.to_string(),
            None => cell_core::state::read::<State>(ws, CELL_NAME)?.password,
        };
        Some(endpoint(running, password))
    }

    /// An authenticated PING.
    async fn probe(&self, endpoint: &Endpoint) -> Result<(), BoxError> {
        Ok(ping(&endpoint.url).await?)
    }

    /// `CONFIG SET` does not survive a restart of the container: the locked settings are put
    /// back, so a restarted Cell is the one the lock describes. An unreadable lock is left
    /// to plan and apply to report.
    async fn after_up(&self, cx: &Context<'_>, endpoint: &Endpoint) -> Result<(), CellError> {
        if let Ok(Some(lock)) = Lock::read(&cx.ws.lock_path(LOCK_FILE)) {
            let mut conn = connect(&endpoint.url)
                .await
                .map_err(|e| redis_error("connecting", e))?;
            let settings: Vec<_> = lock
                .settings
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            config_set(&mut conn, &settings).await?;
        }
        Ok(())
    }

    /// Only on the dev target, for a workspace that uses Redis: starts the Cell (once per
    /// command) and diffs the lock and the live settings against the code.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        let Some(endpoint) = cx.up_if_used_in_dev(self, manifest).await? else {
            return Ok(None);
        };
        let plan = converge(cx, manifest, &endpoint, false).await?;
        Ok(Some(Box::new(plan)))
    }

    /// Only on the dev target, for a workspace that uses Redis: sets the settings and writes
    /// the lock, without asking (Redis loses nothing a database would keep). A saved plan
    /// has nothing for Redis: it is planned afresh.
    ///
    /// `lock_created` is always `false`: no expansion reads the Redis lock, so a new lock
    /// needs no crate compiled again.
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        _how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        let Some(endpoint) = cx.up_if_used_in_dev(self, manifest).await? else {
            return Ok(Applied::default());
        };
        converge(cx, manifest, &endpoint, true).await?;
        Ok(Applied {
            used: true,
            lock_created: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_core::Target;
    use cell_core::live::Timings;
    use std::sync::{Arc, Mutex};

    /// A writer whose lines the test reads back.
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

    fn memo_lock(settings: BTreeMap<String, String>) -> Lock {
        let memo = crate::declare::MemoizeDecl {
            function: "shop::get_user".into(),
            app: "shop".into(),
            namespace: "cell:shop:m:00".into(),
            ttl_secs: 300,
            stale_while_revalidate_secs: None,
            tags: Vec::new(),
        };
        Lock::desired(&[], &[memo], settings)
    }

    #[test]
    fn apply_says_what_it_did_and_writes_or_removes_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let path = ws.lock_path(LOCK_FILE);
        let lines = Lines::default();
        let ui = Ui::plain(lines.clone(), false, false);

        let desired = memo_lock(cell::default_settings());
        let first = plan::diff(None, &desired, &BTreeMap::new());
        record(&ui, &path, &desired, &first).unwrap();
        assert_eq!(
            lines.take(),
            format!(
                "redis: applied 2 changes\n\
                 \x20 + memoize shop::get_user: ttl 5m, namespace cell:shop:m:00\n\
                 \x20 ~ setting maxmemory-policy: (unset) -> allkeys-lru\n\
                 redis: wrote {}\n",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), desired.to_bytes());

        // The same again: nothing applied, the lock's bytes unchanged (not rewritten).
        let again = plan::diff(Some(&desired), &desired, &cell::default_settings());
        record(&ui, &path, &desired, &again).unwrap();
        assert_eq!(lines.take(), "redis: no changes\n");

        // No cache left: the lock goes, so the next build does not start the Cell.
        let gone = Lock::desired(&[], &[], cell::default_settings());
        let drop = plan::diff(Some(&desired), &gone, &cell::default_settings());
        record(&ui, &path, &gone, &drop).unwrap();
        assert!(!path.exists());
        assert_eq!(
            lines.take(),
            "redis: applied 1 change\n\
             \x20 - memoize shop::get_user (entries under cell:shop:m:00 expire within 5m)\n"
        );
        // And with no lock to remove, nothing fails.
        record(&ui, &path, &gone, &Plan::default()).unwrap();
    }

    fn running(port: u16) -> RunningCell {
        RunningCell {
            cell: "redis".into(),
            container_id: "0123456789abcdef".into(),
            container_name: "cell-ws-x-redis".into(),
            image: "redis:7".into(),
            host_port: port,
            env: Vec::new(),
            created: true,
        }
    }

    #[test]
    fn the_container_is_data() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let s = spec(&ws, "pw");
        assert_eq!(s.cell, "redis");
        assert_eq!(s.container_port, 6379);
        assert_eq!(s.data_path, "/data");
        assert_eq!(s.image_env, "CELL_REDIS_IMAGE");
        assert_eq!(s.image_hint, IMAGE_HINT);
        assert!(s.env.is_empty());
        assert_eq!(spec_password(&s), Some("pw"));
        // The password is part of the container's identity.
        assert_ne!(s.config_hash(), spec(&ws, "other").config_hash());
    }

    #[test]
    fn the_endpoint_comes_from_the_spec_or_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let r = running(6390);
        // Not started by this command and no state file: the password is lost.
        assert!(RedisCell.endpoint(&ws, &r, None).is_none());

        let e = RedisCell
            .endpoint(&ws, &r, Some(&spec(&ws, "s3cret")))
            .unwrap();
        assert_eq!(e.url, "redis://:s3cret@127.0.0.1:6390/");
        assert_eq!(
            e.env,
            [(
                "CELL_REDIS_URL".to_string(),
                "redis://:s3cret@127.0.0.1:6390/".to_string()
            )]
        );
        assert_eq!(
            (e.port, e.container_id.as_str()),
            (6390, "0123456789abcdef")
        );
        let state = e.state.clone().unwrap();
        assert_eq!(
            String::from_utf8(state.clone()).unwrap(),
            "{\n  \"url\": \"redis://:s3cret@127.0.0.1:6390/\",\n  \"password\": \"s3cret\",\n  \"container_id\": \"0123456789abcdef\",\n  \"host_port\": 6390\n}"
        );

        // Once the state is written, a later command finds the same password, on the port
        // Docker reports now.
        cell_core::state::write_bytes(&ws, "redis.json", &state).unwrap();
        let later = RedisCell.endpoint(&ws, &running(6391), None).unwrap();
        assert_eq!(later.url, "redis://:s3cret@127.0.0.1:6391/");
    }

    #[tokio::test]
    async fn the_password_is_kept_in_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let ui = Ui::silent();
        let timings = Timings::default();
        let cx = Context::new(&ws, &ui, Target::Dev, &timings);
        let first = RedisCell.container(&cx, None).await.unwrap();
        let pw = spec_password(&first).unwrap().to_string();
        assert_eq!(pw.len(), 32);
        assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
        // No state yet: each start would make a new one.
        let again = RedisCell.container(&cx, None).await.unwrap();
        assert_ne!(spec_password(&again).unwrap(), pw);

        let e = endpoint(&running(6390), pw.clone());
        cell_core::state::write_bytes(&ws, "redis.json", e.state.as_ref().unwrap()).unwrap();
        let kept = RedisCell.container(&cx, None).await.unwrap();
        assert_eq!(spec_password(&kept), Some(pw.as_str()));
        assert_eq!(
            ContainerSpec {
                cmd: None,
                ..kept.clone()
            },
            ContainerSpec { cmd: None, ..first }
        );
    }

    #[tokio::test]
    async fn another_environment_is_neither_planned_nor_applied() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let ui = Ui::silent();
        let timings = Timings::default();
        let cx = Context::new(&ws, &ui, Target::new("prod"), &timings);
        let cells: [&dyn cell_core::Cell; 1] = [&RedisCell];
        let mut manifest = Manifest::new(cells);
        manifest
            .add(
                cell_core::manifest::Fragment {
                    cell: "redis".into(),
                    kind: "memoize".into(),
                    value: serde_json::json!({
                        "function": "a::f", "app": "a", "namespace": "cell:a:m:00",
                        "ttl_secs": 60
                    }),
                },
                "a",
            )
            .unwrap();
        assert!(RedisCell.is_used(&ws, Some(&manifest)));
        assert!(RedisCell.plan(&cx, &manifest).await.unwrap().is_none());
        let how = ApplyOptions {
            build: false,
            yes: true,
            colour: false,
            allow_destructive: false,
            saved_plan: None,
        };
        let applied = RedisCell.apply(&cx, &manifest, &how).await.unwrap();
        assert!(!applied.used && !applied.lock_created);

        // On the dev target, a workspace without caches or lock does not use Redis.
        let dev = Context::new(&ws, &ui, Target::Dev, &timings);
        let empty = Manifest::new(cells);
        assert!(!RedisCell.is_used(&ws, Some(&empty)));
        assert!(RedisCell.plan(&dev, &empty).await.unwrap().is_none());
        assert!(!RedisCell.apply(&dev, &empty, &how).await.unwrap().used);
    }

    #[test]
    fn redis_builds_on_postgres() {
        assert_eq!(RedisCell.after(), ["postgres"]);
        assert!(RedisCell.keeps_state());
        assert_eq!(RedisCell.waiting_for(), "waiting for Redis to answer PING");
    }
}
