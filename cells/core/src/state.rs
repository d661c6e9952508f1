//! `.cell/state/<cell>.json`: each dev Cell's local endpoint and secrets. Git-ignored:
//! writing a state also writes `.cell/.gitignore`, so it is never committed with the locks
//! beside it. The folder is 0700 and every file in it 0600, created so: the temporary file
//! a write goes through is never readable by others either.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::workspace::Workspace;

/// `.cell/state/`.
pub fn dir(ws: &Workspace) -> PathBuf {
    ws.cell_dir().join("state")
}

pub fn path(ws: &Workspace, cell: &str) -> PathBuf {
    dir(ws).join(format!("{cell}.json"))
}

/// The Cell's state, if there is a readable one.
pub fn read<T: DeserializeOwned>(ws: &Workspace, cell: &str) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path(ws, cell)).ok()?).ok()
}

/// Writes the Cell's state (only when its bytes change). On failure, the file that could
/// not be written.
pub fn write<T: Serialize>(
    ws: &Workspace,
    cell: &str,
    state: &T,
) -> Result<(), (PathBuf, std::io::Error)> {
    let bytes = serde_json::to_vec_pretty(state).expect("state serialises");
    write_bytes(ws, &format!("{cell}.json"), &bytes)
}

/// Writes `.cell/state/<file>` privately (see the module doc), only when its bytes change.
pub fn write_bytes(
    ws: &Workspace,
    file: &str,
    bytes: &[u8],
) -> Result<(), (PathBuf, std::io::Error)> {
    let ignore = ws.cell_dir().join(".gitignore");
    crate::lockfile::write_if_changed(
        &ignore,
        b"# Written by cargo-cell: local state of the dev Cells, with secrets.\n/state/\n",
    )
    .map_err(|e| (ignore, e))?;
    let dir = dir(ws);
    private_dir(&dir).map_err(|e| (dir.clone(), e))?;
    let path = dir.join(file);
    write_private(&path, bytes).map_err(|e| (path, e))
}

/// Creates `dir` (and its parents) and makes it 0700.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        // A folder made by an older cargo-cell has the default mode.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Writes `path` through a temporary file that is 0600 from its creation, then renames it.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) && is_private(path) {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        // `mode` is masked by the umask only towards fewer bits; a leftover temporary file
        // keeps its old mode, so set it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn is_private(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn state_is_private_and_ignored() {
        let root = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(root.path());
        write(&ws, "postgres", &serde_json::json!({"password": "secret"})).unwrap();
        assert_eq!(mode(&dir(&ws)), 0o700);
        assert_eq!(mode(&path(&ws, "postgres")), 0o600);
        let ignore = std::fs::read_to_string(ws.cell_dir().join(".gitignore")).unwrap();
        assert!(ignore.contains("/state/"));
        let back: serde_json::Value = read(&ws, "postgres").unwrap();
        assert_eq!(back["password"], "secret");
    }

    #[test]
    fn an_old_world_readable_state_is_made_private() {
        let root = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(root.path());
        std::fs::create_dir_all(dir(&ws)).unwrap();
        std::fs::set_permissions(dir(&ws), std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = path(&ws, "redis");
        std::fs::write(&file, b"{}").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        // The same bytes: only the modes change.
        write_bytes(&ws, "redis.json", b"{}").unwrap();
        assert_eq!(mode(&dir(&ws)), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
}
