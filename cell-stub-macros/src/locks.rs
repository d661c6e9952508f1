//! The Postgres lock as the macros read it; the rest of the shared macro support (workspace
//! root, `--without`, the cached read) is `cell_core::macros`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cell_core::lockfile::LockError;
use cell_postgres::lock::Lock;

pub use cell_core::macros::{disabled, lock_path, track_disabled};

/// The Postgres lock at `path`: `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<Arc<Lock>>, LockError> {
    cell_core::macros::read_lock::<Lock>(path)
}

/// The enum types of the Postgres lock at `path` (empty when it has none, or no lock).
pub fn read_postgres_enums(path: &Path) -> Result<Arc<BTreeMap<String, Vec<String>>>, LockError> {
    Ok(read(path)?
        .map(|lock| Arc::new(lock.enums.clone()))
        .unwrap_or_default())
}
