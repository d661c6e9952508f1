//! [`RateLimitCell`]: what the RateLimit Cell tells cargo-cell without a live service: its
//! name, lock, manifest section and `cargo cell check` (the limits against the lock).

use std::path::{Path, PathBuf};

use cell_core::lockfile::LockFile as _;
use cell_core::{Cell, CellError, Checked, LockState, Manifest, Section, Workspace};

use crate::declare::LimitDecl;
use crate::error::RateLimitCellError;
use crate::lock::Lock;
use crate::plan::{RateLimitPlan, diff};
use crate::section::RateLimitSection;
use crate::{CELL_NAME, LOCK_FILE};

/// The RateLimit Cell: limits declared on handlers, kept in the Redis Cell.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimitCell;

/// The limits the manifest records (none without a RateLimit section).
pub fn limits(manifest: &Manifest) -> &[LimitDecl] {
    manifest
        .section::<RateLimitSection>(CELL_NAME)
        .map(|s| s.limits.as_slice())
        .unwrap_or(&[])
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.lock_path(LOCK_FILE)
}

pub fn read_lock(path: &Path) -> Result<Option<Lock>, RateLimitCellError> {
    Lock::read(path).map_err(|source| RateLimitCellError::Lock {
        path: path.to_path_buf(),
        source,
    })
}

/// The plan against the committed lock; `None` when the workspace declares no limit and
/// has no lock (then `cargo cell plan` says nothing about rate limits).
pub fn cell_plan(
    ws: &Workspace,
    limits: &[LimitDecl],
) -> Result<Option<RateLimitPlan>, RateLimitCellError> {
    let path = lock_path(ws);
    if limits.is_empty() && !path.exists() {
        return Ok(None);
    }
    let lock = read_lock(&path)?;
    Ok(Some(RateLimitPlan {
        plan: diff(lock.as_ref(), limits),
        desired: Lock::desired(limits),
    }))
}

impl Cell for RateLimitCell {
    fn name(&self) -> &'static str {
        CELL_NAME
    }

    fn lock_file(&self) -> &'static str {
        LOCK_FILE
    }

    /// The limits live in the Redis Cell: the runtime reads its URL.
    fn url_env(&self) -> &'static str {
        "CELL_RATELIMIT_REDIS_URL"
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(RateLimitSection::default())
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        Ok(Box::new(RateLimitSection::read(manifest)?))
    }

    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.limits.len(), "limits"))
    }

    /// One problem when the limits differ from the lock; nothing when they agree.
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let mut checked = Checked::default();
        if let Some(p) = cell_plan(ws, limits(manifest))?
            && !p.plan.is_empty()
        {
            checked.problems.push(format!(
                "rate limits differ from .cell/ratelimit.lock.json: {}",
                p.plan.summary()
            ));
        }
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_core::lockfile::write_if_changed;

    fn manifest(limits: &[serde_json::Value]) -> Manifest {
        let mut m = Manifest::new([&RateLimitCell as &dyn Cell]);
        for v in limits {
            m.add(
                cell_core::manifest::Fragment {
                    cell: "ratelimit".into(),
                    kind: "limit".into(),
                    value: v.clone(),
                },
                "app",
            )
            .unwrap();
        }
        m
    }

    fn limit(n: u64) -> serde_json::Value {
        serde_json::json!({"function": "app::f", "scope": "user", "limit": n, "per_secs": 60, "burst": n, "fail": "open"})
    }

    #[test]
    fn check_compares_the_code_with_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let none = RateLimitCell.check_offline(&ws, &manifest(&[])).unwrap();
        assert!(none.problems.is_empty() && none.agreed.is_none());
        assert!(cell_plan(&ws, &[]).unwrap().is_none());

        let m = manifest(&[limit(100)]);
        assert_eq!(
            RateLimitCell.check_offline(&ws, &m).unwrap().problems,
            ["rate limits differ from .cell/ratelimit.lock.json: 1 limit change"]
        );
        write_if_changed(&lock_path(&ws), &Lock::desired(limits(&m)).to_bytes()).unwrap();
        assert!(
            RateLimitCell
                .check_offline(&ws, &m)
                .unwrap()
                .problems
                .is_empty()
        );
        assert_eq!(
            RateLimitCell.lock_state(&lock_path(&ws)),
            LockState::present(1, "limits")
        );
        let raised = manifest(&[limit(200)]);
        assert_eq!(
            RateLimitCell.check_offline(&ws, &raised).unwrap().problems,
            [
                "rate limits differ from .cell/ratelimit.lock.json: 1 limit change (1 loosened: needs review)"
            ]
        );
        // Removed from the code: the lock still says it, and the plan flags it.
        let gone = cell_plan(&ws, &[]).unwrap().unwrap();
        assert_eq!(gone.plan.loosened().count(), 1);
    }
}
