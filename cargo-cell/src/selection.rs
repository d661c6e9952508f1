//! Which Cells a command works with: every registered Cell but those `--without` and
//! `[workspace.metadata.cell] disabled` turn off.

use cell_core::LiveCell;

use crate::cli::GlobalArgs;
use crate::workspace::Workspace;

/// Environment variable naming Cells built without their real expansion (comma-separated);
/// `cargo cell` sets it from `--without` and `[workspace.metadata.cell] disabled`.
pub const DISABLED_ENV: &str = cell_core::DISABLED_ENV;

/// The Cells a workspace builds without (`--without` and `[workspace.metadata.cell] disabled`).
pub fn disabled(ws: &Workspace, g: &GlobalArgs) -> Vec<String> {
    let mut out: Vec<String> = ws.disabled_cells();
    out.extend(g.without.iter().cloned());
    out.sort();
    out.dedup();
    out
}

/// The Cells a command works with: every registered Cell but those `--without` and
/// `[workspace.metadata.cell] disabled` turn off.
pub fn enabled(ws: &Workspace, g: &GlobalArgs) -> Vec<&'static dyn LiveCell> {
    let off = disabled(ws, g);
    crate::registry::cells()
        .iter()
        .copied()
        .filter(|c| !off.iter().any(|d| d == c.name()))
        .collect()
}
