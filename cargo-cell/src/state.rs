//! `.cell/state/<cell>.json`: each dev Cell's local endpoint and secrets. Git-ignored:
//! writing a state also writes `.cell/.gitignore`, so it is never committed with the locks
//! beside it.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::workspace::Workspace;

pub fn path(ws: &Workspace, cell: &str) -> PathBuf {
    ws.cell_dir().join("state").join(format!("{cell}.json"))
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
    let write = |path: PathBuf, bytes: &[u8]| {
        cell_lockfile::write_if_changed(&path, bytes)
            .map(|_| ())
            .map_err(|e| (path, e))
    };
    write(
        ws.cell_dir().join(".gitignore"),
        b"# Written by cargo-cell: local state of the dev Cells, with secrets.\n/state/\n",
    )?;
    write(
        path(ws, cell),
        &serde_json::to_vec_pretty(state).expect("state serialises"),
    )
}
