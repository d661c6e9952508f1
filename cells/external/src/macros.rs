//! For an external Cell's proc-macro crate (feature `macros`): what to emit after the item
//! once the attribute is parsed. In `cargo cell build`'s record step the declaration is
//! recorded into the macro crate's own folder of the compilation unit (beside the built-in
//! Cells' fragments, never clearing them); everywhere else the crate tracks `--without`
//! (`CELL_DISABLED`), so switching it recompiles. Never panics, never touches the network.

use proc_macro2::{Span, TokenStream};
use serde::Serialize;

use cell_core::macros::{Phase, compile_error, track_disabled};

/// The tokens to put after the item: nothing while recording (or a `compile_error!` at
/// `span` when recording failed), else what tracks `--without`. `source` is the macro
/// crate's package name (`env!("CARGO_PKG_NAME")`), `kind` and `name` name the fragment
/// (`<cell>.<kind>.<name>.json`; keep `name` to `[A-Za-z0-9_:.-]`).
pub fn declare(
    source: &str,
    cell: &str,
    kind: &str,
    name: &str,
    value: &impl Serialize,
    span: Span,
) -> TokenStream {
    let lock_file = format!("{cell}.lock.json");
    match Phase::of(cell, &lock_file, cell_core::record::is_recording()) {
        Phase::Record => {
            let json = match serde_json::to_value(value) {
                Ok(json) => json,
                Err(e) => return compile_error(span, &format!("cannot record this {kind}: {e}")),
            };
            match cell_core::record::record(source, cell, kind, name, &json) {
                Ok(()) => TokenStream::new(),
                Err(e) => compile_error(
                    span,
                    &format!("cargo-cell could not record this {kind}: {e}"),
                ),
            }
        }
        Phase::Disabled | Phase::Expand(_) => track_disabled(),
    }
}
