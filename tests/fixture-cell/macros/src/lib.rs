//! The fixture Cell's attribute, a proc-macro crate of its own outside cell-stub-macros:
//! `#[Kv::entry(key = "greeting", value = "hello")]` (with `use cell_fixture_macros as Kv;`).
//!
//! It parses with the Cell's library, chooses the phase with `cell_core::macros`, records
//! into this crate's own folder of the compilation unit, and always emits the item
//! unchanged. It never panics and never touches the network (rust-analyzer runs it too); a
//! mistake is the item plus spanned `compile_error!`s.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;

use cell_core::macros::{Phase, compile_error, lock_error_message, read_lock, track_disabled};
use cell_fixture::lock::Lock;
use cell_fixture::section::ENTRY_KIND;
use cell_fixture::{CELL_NAME, LOCK_FILE};

/// Declares one key of the Kv Cell: `cargo cell build` sets it in the Cell's server and
/// writes it to `.cell/kv.lock.json`. On a `const` or `fn` item, which is left unchanged.
#[proc_macro_attribute]
pub fn entry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into()).into()
}

fn expand(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let entry = match cell_fixture::parse::entry(args, &item) {
        Ok(entry) => entry,
        Err(e) => {
            let errors = e.to_compile_error();
            return quote!(#item #errors);
        }
    };
    let recording = cell_core::record::is_recording();
    let extra = match Phase::of(CELL_NAME, LOCK_FILE, recording) {
        Phase::Record => {
            let decl = entry.decl();
            let json = match serde_json::to_value(&decl) {
                Ok(json) => json,
                Err(e) => return with_error(item, entry.key.span(), &e.to_string()),
            };
            if let Err(e) = cell_core::record::record(
                env!("CARGO_PKG_NAME"),
                CELL_NAME,
                ENTRY_KIND,
                &decl.key,
                &json,
            ) {
                return with_error(item, entry.key.span(), &e);
            }
            TokenStream2::new()
        }
        // Outside the record step the crate tracks CELL_DISABLED, so turning the Cell off or
        // on again recompiles it.
        Phase::Disabled => track_disabled(),
        // Nothing generated depends on the lock: it is only read so that a lock this build
        // cannot use is reported where the code is built.
        Phase::Expand(path) => {
            if let Some(path) = path
                && let Err(e) = read_lock::<Lock>(&path)
            {
                return with_error(item, Span::call_site(), &lock_error_message(&e));
            }
            track_disabled()
        }
    };
    quote!(#item #extra)
}

/// The item unchanged, and one `compile_error!` at `span`.
fn with_error(item: TokenStream2, span: Span, message: &str) -> TokenStream2 {
    let error = compile_error(span, message);
    quote!(#item #error)
}
