//! [`AuditCell`]: what the Audit Cell tells cargo-cell without a live service: its name,
//! lock, manifest section and `cargo cell check` (the audited functions against the lock).

use std::path::{Path, PathBuf};

use cell_core::lockfile::LockFile as _;
use cell_core::{Cell, CellError, Checked, LockState, Manifest, Section, Workspace};

use crate::declare::AuditDecl;
use crate::error::AuditCellError;
use crate::lock::Lock;
use crate::plan::{AuditPlan, diff};
use crate::section::AuditSection;
use crate::{CELL_NAME, LOCK_FILE};

/// The Audit Cell: audited functions, their records kept in the Postgres Cell.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditCell;

/// The audits the manifest records (none without an Audit section).
pub fn audits(manifest: &Manifest) -> &[AuditDecl] {
    manifest
        .section::<AuditSection>(CELL_NAME)
        .map(|s| s.audits.as_slice())
        .unwrap_or(&[])
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.lock_path(LOCK_FILE)
}

pub fn read_lock(path: &Path) -> Result<Option<Lock>, AuditCellError> {
    Lock::read(path).map_err(|source| AuditCellError::Lock {
        path: path.to_path_buf(),
        source,
    })
}

/// The plan against the committed lock; `None` when the workspace audits nothing and has no
/// lock (then `cargo cell plan` says nothing about audits).
pub fn cell_plan(
    ws: &Workspace,
    audits: &[AuditDecl],
) -> Result<Option<AuditPlan>, AuditCellError> {
    let path = lock_path(ws);
    if audits.is_empty() && !path.exists() {
        return Ok(None);
    }
    let lock = read_lock(&path)?;
    Ok(Some(AuditPlan {
        plan: diff(lock.as_ref(), audits),
        desired: Lock::desired(audits),
    }))
}

impl Cell for AuditCell {
    fn name(&self) -> &'static str {
        CELL_NAME
    }

    fn lock_file(&self) -> &'static str {
        LOCK_FILE
    }

    /// The records live in the Postgres Cell: the runtime writes them through its pool.
    fn url_env(&self) -> &'static str {
        "CELL_AUDIT_POSTGRES_URL"
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(AuditSection::default())
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        Ok(Box::new(AuditSection::read(manifest)?))
    }

    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.audits.len(), "audits"))
    }

    /// One problem when the audits differ from the lock; nothing when they agree.
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let mut checked = Checked::default();
        if let Some(p) = cell_plan(ws, audits(manifest))?
            && !p.plan.is_empty()
        {
            checked.problems.push(format!(
                "audits differ from .cell/audit.lock.json: {}",
                p.plan.summary()
            ));
        }
        Ok(checked)
    }
}
