//! [`RedisCell`]: what the Redis Cell tells cargo-cell without a live Redis: its name, lock,
//! endpoint variable, manifest section, and `cargo cell check` (the code against the lock).
//! The live side is in [`crate::live_cell`] (feature `live`).

use std::collections::BTreeMap;
use std::path::Path;

use cell_core::lockfile::LockFile as _;
use cell_core::{Cell, CellError, Checked, LockState, Manifest, Section, Workspace};

use crate::error::RedisCellError;
use crate::lock::Lock;
use crate::plan::{self, Plan};
use crate::section::RedisSection;
use crate::{CELL_NAME, LOCK_FILE, cell};

/// The Redis Cell: caches declared on tables and functions, served by a Redis in Docker.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisCell;

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

/// The Redis section of `manifest` (empty when it has none).
pub fn section(manifest: &Manifest) -> &RedisSection {
    static EMPTY: RedisSection = RedisSection {
        tables: Vec::new(),
        functions: Vec::new(),
    };
    manifest
        .section::<RedisSection>(CELL_NAME)
        .unwrap_or(&EMPTY)
}

/// The committed lock at `path`; `None` when there is none.
pub fn read_lock(path: &Path) -> Result<Option<Lock>, RedisCellError> {
    Lock::read(path).map_err(|source| RedisCellError::Lock {
        path: path.to_path_buf(),
        source,
    })
}

/// The lock the code and the workspace's settings ask for.
pub fn desired(ws: &Workspace, section: &RedisSection) -> Lock {
    Lock::desired(&section.tables, &section.functions, settings(ws))
}

/// The code against the committed lock, without any Cell; empty when the workspace has no
/// caches and no lock.
pub fn check(ws: &Workspace, section: &RedisSection) -> Result<Plan, RedisCellError> {
    let previous = read_lock(&ws.lock_path(LOCK_FILE))?;
    if section.is_empty() && previous.is_none() {
        return Ok(Plan::default());
    }
    let desired = desired(ws, section);
    // The settings the lock holds stand for the live ones: only the code is compared.
    let live = previous
        .as_ref()
        .map(|l| l.settings.clone())
        .unwrap_or_default();
    Ok(plan::diff(previous.as_ref(), &desired, &live))
}

impl Cell for RedisCell {
    fn name(&self) -> &'static str {
        CELL_NAME
    }

    fn lock_file(&self) -> &'static str {
        LOCK_FILE
    }

    fn url_env(&self) -> &'static str {
        cell::URL_ENV
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(RedisSection::default())
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        Ok(Box::new(RedisSection::read(manifest)?))
    }

    /// Counts the locked caches, tables and functions alike.
    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.tables.len() + l.functions.len(), "caches"))
    }

    /// One problem when the code's caches differ from the lock; Redis never prints a line
    /// when they agree (`agreed` is `None`).
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let plan = check(ws, section(manifest))?;
        let mut checked = Checked::default();
        if !plan.is_empty() {
            checked.problems.push(format!(
                "caches differ from .cell/redis.lock.json: {}",
                plan.summary()
            ));
        }
        Ok(checked)
    }

    fn redact(&self, text: &str) -> String {
        cell::redact(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miette::Diagnostic as _;

    fn manifest(items: &[(&str, serde_json::Value)]) -> Manifest {
        let mut m = Manifest::new([&RedisCell as &dyn Cell]);
        for (kind, value) in items {
            m.add(
                cell_core::manifest::Fragment {
                    cell: "redis".into(),
                    kind: kind.to_string(),
                    value: value.clone(),
                },
                "shop",
            )
            .unwrap();
        }
        m
    }

    fn memo() -> (&'static str, serde_json::Value) {
        (
            "memoize",
            serde_json::json!({
                "function": "shop::get_user", "app": "shop", "namespace": "cell:shop:m:00",
                "ttl_secs": 300
            }),
        )
    }

    #[test]
    fn names_and_redaction() {
        let c = RedisCell;
        assert_eq!(
            (c.name(), c.lock_file(), c.url_env()),
            ("redis", "redis.lock.json", "CELL_REDIS_URL")
        );
        assert_eq!(
            c.redact("redis://:pw@127.0.0.1:6390/"),
            "redis://:***@127.0.0.1:6390/"
        );
    }

    #[test]
    fn workspace_settings_override_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::bare(dir.path());
        assert_eq!(settings(&ws), cell::default_settings());
        ws.config = serde_json::json!({"redis": {"maxmemory": "64mb", "appendonly": "yes"}});
        assert_eq!(
            settings(&ws),
            BTreeMap::from([
                ("maxmemory".to_string(), "64mb".to_string()),
                ("maxmemory-policy".to_string(), "allkeys-lru".to_string()),
            ])
        );
    }

    #[test]
    fn check_compares_the_code_with_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        // Nothing declared, nothing locked: nothing to say.
        let none = RedisCell.check_offline(&ws, &manifest(&[])).unwrap();
        assert!(none.problems.is_empty() && none.agreed.is_none());
        assert_eq!(
            RedisCell.lock_state(&ws.lock_path(LOCK_FILE)),
            LockState::Absent
        );

        // Declared, not locked: the additions (settings compare with the lock's, none).
        let m = manifest(&[memo()]);
        let checked = RedisCell.check_offline(&ws, &m).unwrap();
        assert_eq!(
            checked.problems,
            ["caches differ from .cell/redis.lock.json: 2 changes"]
        );

        // Locked as declared: they agree, and Redis prints no line of its own.
        let lock = desired(&ws, section(&m));
        cell_core::lockfile::write_if_changed(&ws.lock_path(LOCK_FILE), &lock.to_bytes()).unwrap();
        let checked = RedisCell.check_offline(&ws, &m).unwrap();
        assert!(checked.problems.is_empty(), "{:?}", checked.problems);
        assert!(checked.agreed.is_none());
        assert_eq!(
            RedisCell.lock_state(&ws.lock_path(LOCK_FILE)),
            LockState::present(1, "caches")
        );

        // The code dropped its cache: the lock still has it.
        let checked = RedisCell.check_offline(&ws, &manifest(&[])).unwrap();
        assert_eq!(
            checked.problems,
            ["caches differ from .cell/redis.lock.json: 1 change"]
        );
    }

    #[test]
    fn an_unreadable_lock_is_a_redis_lock_error() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let path = ws.lock_path(LOCK_FILE);
        cell_core::lockfile::write_if_changed(&path, br#"{"version": 99}"#).unwrap();
        let e = RedisCell.check_offline(&ws, &manifest(&[])).unwrap_err();
        assert_eq!(e.code().unwrap().to_string(), "cell::redis::lock");
        assert!(
            e.to_string().starts_with("cannot use the Redis lock "),
            "{e}"
        );
        assert_eq!(RedisCell.lock_state(&path), LockState::TooNew);
        cell_core::lockfile::write_if_changed(&path, b"{").unwrap();
        assert_eq!(RedisCell.lock_state(&path), LockState::Invalid);
    }
}
