//! What every Cell shares, so that cargo-cell knows no Cell by name.
//!
//! - [`cell::Cell`]: a Cell's name, lock, endpoint variable, manifest section and offline
//!   check; [`live::LiveCell`] (feature `live`): its container as data, readiness, plan,
//!   apply, subcommands. cargo-cell keeps a registry of them and every command loops over it.
//! - [`manifest::Manifest`]: the recorded attributes, a map from Cell name to section.
//! - [`plan::CellPlan`]: one face for every Cell's plan.
//! - [`sql`]: identifiers and literals in SQL text.
//! - [`lockfile`]: the committed `.cell/<cell>.lock.json` files' shared life cycle.
//! - [`macros`] (feature `macros`): the error collector, `compile_error!`, the phase, the
//!   lock read once per rustc process.

#[cfg(feature = "cell")]
pub mod cell;
#[cfg(feature = "cell")]
pub mod error;
pub mod lockfile;
#[cfg(feature = "cell")]
pub mod manifest;
pub mod plan;
pub mod sql;
pub mod workspace;

#[cfg(feature = "macros")]
pub mod macros;
#[cfg(feature = "macros")]
pub mod record;

#[cfg(feature = "live")]
pub mod docker;
#[cfg(feature = "live")]
pub mod live;
#[cfg(feature = "live")]
pub mod prompt;
#[cfg(feature = "live")]
pub mod state;
#[cfg(feature = "live")]
pub mod ui;

/// `name` with every character but ASCII letters and digits as `_`, lowercased: the start
/// of a suggested name (a metric's, a column's) when the one written is not valid.
pub fn snake_chars(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// What an expansion that waits for its Cell says in the record step (a checked query
/// before Postgres described it). The record step knows a compilation that failed only with
/// these errors: the Cells apply, then it records again. Keep the words.
pub const PENDING_MARKER: &str = "cargo-cell: not described yet";

/// Environment variable naming Cells built without their real expansion (comma-separated),
/// set by `cargo cell --without CELL` and `[workspace.metadata.cell] disabled = [...]`.
pub const DISABLED_ENV: &str = "CELL_DISABLED";

#[cfg(feature = "cell")]
pub use cell::{Cell, Checked, LockState, Section};
#[cfg(feature = "cell")]
pub use error::{CellError, CoreError, Failure};
#[cfg(feature = "live")]
pub use live::{Applied, ApplyOptions, Context, Endpoint, LiveCell, Target};
#[cfg(feature = "cell")]
pub use manifest::Manifest;
pub use plan::CellPlan;
pub use workspace::Workspace;
