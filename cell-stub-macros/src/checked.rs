//! The phases of an attribute whose expansion is checked against its Cell's lock (RateLimit,
//! Audit): recorded in phase 1 and expanded from the declaration alone; elsewhere expanded
//! and, when the lock exists, compared with it (a difference is a compile error at the
//! attribute, the crate then tracks the lock); `--without <cell>` expands from the
//! declaration alone, never the lock.

use std::path::Path;

use cell_core::lockfile::LockFile;
use cell_core::macros::{Phase, compile_error, lock_error_message, read_lock, track_disabled};
use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::record;

/// What one attribute declares, for [`expand`].
pub struct Declared<'a> {
    pub cell: &'a str,
    pub lock_file: &'a str,
    /// The fragment's kind (`limit`, `audit`) and name (`[A-Za-z0-9_:.-]`).
    pub kind: &'a str,
    pub name: &'a str,
    pub value: serde_json::Value,
    /// For the message when recording fails: `rate limit`, `audit`.
    pub what: &'a str,
}

/// The expansion in the current phase. `expand` gets the lock's path when the expansion was
/// checked against it (so the crate tracks it); `check` compares the declaration with it.
pub fn expand<L: LockFile + Send + Sync + 'static>(
    d: Declared<'_>,
    expand: impl Fn(Option<&Path>) -> TokenStream,
    check: impl Fn(&L, &Path) -> Result<(), String>,
) -> TokenStream {
    let lock_path = match Phase::of(d.cell, d.lock_file, record::is_recording()) {
        Phase::Record => {
            let out = expand(None);
            if let Err(e) = record::record(d.cell, d.kind, d.name, &d.value) {
                let err = compile_error(
                    Span::call_site(),
                    &format!("cargo-cell could not record this {}: {e}", d.what),
                );
                return quote!(#out #err);
            }
            return out;
        }
        Phase::Disabled | Phase::Expand(None) => None,
        Phase::Expand(Some(path)) => Some(path),
    };
    let track = track_disabled();
    let Some(lock_path) = lock_path else {
        let out = expand(None);
        return quote!(#out #track);
    };
    match read_lock::<L>(&lock_path) {
        Ok(None) => {
            let out = expand(None);
            quote!(#out #track)
        }
        Ok(Some(lock)) => {
            let out = expand(Some(&lock_path));
            match check(&lock, &lock_path) {
                Ok(()) => quote!(#out #track),
                Err(message) => {
                    let err = compile_error(Span::call_site(), &message);
                    quote!(#out #err #track)
                }
            }
        }
        // An unusable lock says to regenerate it; one from a newer cargo-cell, to update.
        Err(e) => {
            let err = compile_error(Span::call_site(), &lock_error_message(&e));
            let out = expand(None);
            quote!(#out #err #track)
        }
    }
}
