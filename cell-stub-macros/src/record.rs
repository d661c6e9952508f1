//! Phase 1 for the built-in Cells' macros: `cell_core::record`, with this crate as the source.

pub use cell_core::record::is_recording;

/// Records one item (see `cell_core::record::record`).
pub fn record(cell: &str, kind: &str, name: &str, value: &serde_json::Value) -> Result<(), String> {
    cell_core::record::record(env!("CARGO_PKG_NAME"), cell, kind, name, value)
}
