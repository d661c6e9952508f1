//! [`KvCell`]: what the Kv Cell tells cargo-cell without a live server: its name, lock,
//! endpoint variable, manifest section, lock state, and `cargo cell check`. The live side is
//! in [`crate::live_cell`] (feature `live`).

use std::path::Path;

use cell_core::lockfile::LockFile as _;
use cell_core::{Cell, CellError, CellPlan as _, Checked, LockState, Manifest, Section, Workspace};

use crate::error::KvError;
use crate::lock::Lock;
use crate::plan::KvPlan;
use crate::section::KvSection;
use crate::{CELL_NAME, LOCK_FILE, URL_ENV};

/// The Kv Cell: keys declared in code, set in a Redis-protocol server in Docker.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvCell;

/// The Kv section of `manifest` (empty when it has none).
pub fn section(manifest: &Manifest) -> &KvSection {
    static EMPTY: KvSection = KvSection {
        entries: Vec::new(),
    };
    manifest.section::<KvSection>(CELL_NAME).unwrap_or(&EMPTY)
}

/// The committed lock at `path`; `None` when there is none.
pub fn read_lock(path: &Path) -> Result<Option<Lock>, KvError> {
    Lock::read(path).map_err(|source| KvError::Lock {
        path: path.to_path_buf(),
        source,
    })
}

/// The code's keys against the committed lock; `None` when the workspace declares no key
/// and has no lock.
pub fn plan_against_lock(ws: &Workspace, section: &KvSection) -> Result<Option<KvPlan>, KvError> {
    let previous = read_lock(&ws.lock_path(LOCK_FILE))?;
    if section.is_empty() && previous.is_none() {
        return Ok(None);
    }
    Ok(Some(KvPlan::new(
        previous.as_ref(),
        &Lock::desired(&section.entries),
    )))
}

impl Cell for KvCell {
    fn name(&self) -> &'static str {
        CELL_NAME
    }

    fn lock_file(&self) -> &'static str {
        LOCK_FILE
    }

    fn url_env(&self) -> &'static str {
        URL_ENV
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(KvSection::default())
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        Ok(Box::new(KvSection::read(manifest)?))
    }

    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.keys.len(), "keys"))
    }

    /// The plan against the lock alone: its problems, or `kv: code and lock agree (N keys)`.
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let Some(plan) = plan_against_lock(ws, section(manifest))? else {
            return Ok(Checked::default());
        };
        let mut checked = Checked::default();
        if plan.is_empty() {
            let n = section(manifest).entries.len();
            checked.agreed = Some(format!(
                "kv: code and lock agree ({n} key{})",
                if n == 1 { "" } else { "s" }
            ));
        } else {
            checked.problems = plan.problems();
        }
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::EntryDecl;
    use cell_core::manifest::Fragment;
    use miette::Diagnostic as _;

    fn manifest(entries: &[(&str, &str)]) -> Manifest {
        let mut m = Manifest::new([&KvCell as &dyn Cell]);
        for (key, value) in entries {
            m.add(
                Fragment {
                    cell: "kv".into(),
                    kind: "entry".into(),
                    value: serde_json::json!({"key": key, "value": value}),
                },
                "kv-app",
            )
            .unwrap();
        }
        m
    }

    #[test]
    fn names() {
        assert_eq!(
            (KvCell.name(), KvCell.lock_file(), KvCell.url_env()),
            ("kv", "kv.lock.json", "CELL_KV_URL")
        );
    }

    #[test]
    fn check_compares_the_code_with_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let path = ws.lock_path(LOCK_FILE);
        let none = KvCell.check_offline(&ws, &manifest(&[])).unwrap();
        assert!(none.problems.is_empty() && none.agreed.is_none());
        assert_eq!(KvCell.lock_state(&path), LockState::Absent);

        let m = manifest(&[("greeting", "hello")]);
        assert_eq!(
            KvCell.check_offline(&ws, &m).unwrap().problems,
            ["the keys differ from .cell/kv.lock.json: 1 change"]
        );

        let lock = Lock::desired(&[EntryDecl::new("greeting", "hello")]);
        cell_core::lockfile::write_if_changed(&path, &lock.to_bytes()).unwrap();
        let agreed = KvCell.check_offline(&ws, &m).unwrap();
        assert!(agreed.problems.is_empty(), "{:?}", agreed.problems);
        assert_eq!(
            agreed.agreed.as_deref(),
            Some("kv: code and lock agree (1 key)")
        );
        assert_eq!(KvCell.lock_state(&path), LockState::present(1, "keys"));
        assert_eq!(KvCell.lock_state(&path).to_string(), "locked (1 key)");

        let changed = manifest(&[("greeting", "hi")]);
        assert_eq!(
            KvCell.check_offline(&ws, &changed).unwrap().problems,
            ["the keys differ from .cell/kv.lock.json: 1 change"]
        );
    }

    #[test]
    fn an_unreadable_lock_is_a_kv_lock_error() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let path = ws.lock_path(LOCK_FILE);
        cell_core::lockfile::write_if_changed(&path, br#"{"version": 99}"#).unwrap();
        let e = KvCell.check_offline(&ws, &manifest(&[])).unwrap_err();
        assert_eq!(e.code().unwrap().to_string(), "cell::kv::lock");
        assert_eq!(KvCell.lock_state(&path), LockState::TooNew);
        cell_core::lockfile::write_if_changed(&path, b"{").unwrap();
        assert_eq!(KvCell.lock_state(&path), LockState::Invalid);
    }
}
