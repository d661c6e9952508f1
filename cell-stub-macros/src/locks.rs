//! Finding and reading the workspace's lock files from inside rustc.
//!
//! The workspace root is the nearest ancestor of `CARGO_MANIFEST_DIR` whose Cargo.toml has a
//! `[workspace]` table (else the crate's own folder): the same root `cargo metadata` gives
//! cargo-cell, which writes the locks there. A lock is read once per rustc process and file
//! version (path + modification time), so a long-lived rust-analyzer sees new locks.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cell_postgres::lock::Lock;

type Enums = BTreeMap<String, Vec<String>>;

/// One version of a lock file, read and parsed once: its tables and its enum types.
struct Cached {
    mtime: Option<SystemTime>,
    lock: Arc<Lock>,
    enums: Result<Arc<Enums>, String>,
}
static CACHE: Mutex<Option<HashMap<PathBuf, Cached>>> = Mutex::new(None);

pub fn workspace_root() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    for candidate in dir.ancestors() {
        let manifest = candidate.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && text.lines().any(|l| l.trim() == "[workspace]")
        {
            return Some(candidate.to_path_buf());
        }
    }
    Some(dir)
}

/// Environment variable naming Cells to build without their real expansion (comma-separated),
/// set by `cargo cell --without CELL` and `[workspace.metadata.cell] disabled = [...]`.
pub const DISABLED_ENV: &str = "CELL_DISABLED";

/// Whether `cell` is disabled: its attributes expand from the declaration alone.
pub fn disabled(cell: &str) -> bool {
    std::env::var(DISABLED_ENV)
        .is_ok_and(|v| v.split(',').any(|c| c.trim().eq_ignore_ascii_case(cell)))
}

/// Makes rustc track [`DISABLED_ENV`] for the crate this is emitted into, so changing it
/// recompiles the crate (a macro's own `std::env::var` is not tracked).
pub fn track_disabled() -> proc_macro2::TokenStream {
    quote::quote! {
        const _: ::core::option::Option<&str> = ::core::option_env!("CELL_DISABLED");
    }
}

/// The path of a lock file of this workspace (it may not exist).
pub fn lock_path(file: &str) -> Option<PathBuf> {
    workspace_root().map(|root| root.join(".cell").join(file))
}

/// The lock at `path`: `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<Arc<Lock>>, String> {
    Ok(cached(path)?.map(|(lock, _)| lock))
}

/// The enum types of the Postgres lock at `path` (its `enums` object; empty when it has none).
///
/// Parsed beside [`read`], from the same bytes, because `Lock` carries tables only: this is
/// the same file's `enums` key, the lock's side of `Schema::enums`.
pub fn read_postgres_enums(path: &Path) -> Result<Arc<Enums>, String> {
    match cached(path)? {
        Some((_, enums)) => enums,
        None => Err(format!("cannot read {}: it does not exist", path.display())),
    }
}

/// The file at `path` read once per version (path + modification time) and parsed both
/// ways; `None` when there is none.
#[allow(clippy::type_complexity)]
fn cached(path: &Path) -> Result<Option<(Arc<Lock>, Result<Arc<Enums>, String>)>, String> {
    let mtime = match std::fs::metadata(path) {
        Ok(m) => m.modified().ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(c) = cache.get(path)
        && c.mtime == mtime
        && mtime.is_some()
    {
        return Ok(Some((c.lock.clone(), c.enums.clone())));
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let lock = Arc::new(Lock::parse(&bytes, path).map_err(|e| e.to_string())?);
    #[derive(serde::Deserialize)]
    struct EnumsOnly {
        #[serde(default)]
        enums: Enums,
    }
    let enums = serde_json::from_slice::<EnumsOnly>(&bytes)
        .map(|e| Arc::new(e.enums))
        .map_err(|e| format!("{} is not a valid lock file: {e}", path.display()));
    cache.insert(
        path.to_path_buf(),
        Cached {
            mtime,
            lock: lock.clone(),
            enums: enums.clone(),
        },
    );
    Ok(Some((lock, enums)))
}
