//! `#[Audit::log(...)]`: parse with cell-audit, record in phase 1, else expand from the
//! declaration, checked against `.cell/audit.lock.json` when there is one: an audit that
//! differs from the lock, or that it does not list, is a compile error at the attribute
//! telling to review it with `cargo cell plan` and lock it with `cargo cell build` (as the
//! RateLimit Cell's limits do).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

use cell_audit::expand::{check_against_lock, declaration, expand};
use cell_audit::lock::Lock;
use cell_audit::parse::{parse_args, parse_fn};
use cell_audit::{CELL_NAME, LOCK_FILE};
use cell_auth::rule::function_path;
use cell_core::macros::{Phase, compile_error, lock_error_message, read_lock, track_disabled};

use crate::record;

pub fn log(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = compile_error(
                Span::call_site(),
                "#[Audit::log] goes on an async function\n\nhelp: write `#[Audit::log(event = \"user_deleted\", retention = \"7y\")] async fn delete_user(tx: &Transaction, ...) -> Result<T, E> { ... }`",
            );
            return quote!(#err #input);
        }
    };
    let parsed = match parse_args(args).and_then(|a| parse_fn(a, &item)) {
        Ok(p) => p,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#item #err);
        }
    };
    let crate_name = std::env::var("CARGO_CRATE_NAME").unwrap_or_else(|_| "crate".into());
    let file = proc_macro::Span::call_site().file();
    let function = function_path(&crate_name, &file, &item.sig.ident.to_string());
    let decl = declaration(&function, &parsed);
    let lock_path = match Phase::of(CELL_NAME, LOCK_FILE, record::is_recording()) {
        Phase::Record => {
            let value = serde_json::to_value(&decl).expect("audits serialise");
            let name = decl.name().replace("::", "-");
            if let Err(e) = record::record(CELL_NAME, "audit", &name, &value) {
                let err = compile_error(
                    Span::call_site(),
                    &format!("cargo-cell could not record this audit: {e}"),
                );
                return quote!(#item #err);
            }
            return expand(item, &decl, &parsed, None);
        }
        // `--without audit`: from the declaration alone, never the lock.
        Phase::Disabled | Phase::Expand(None) => None,
        Phase::Expand(Some(path)) => Some(path),
    };
    let track = track_disabled();
    let Some(lock_path) = lock_path else {
        let out = expand(item, &decl, &parsed, None);
        return quote!(#out #track);
    };
    match read_lock::<Lock>(&lock_path) {
        Ok(None) => {
            let out = expand(item, &decl, &parsed, None);
            quote!(#out #track)
        }
        Ok(Some(lock)) => {
            let out = expand(item, &decl, &parsed, Some(&lock_path));
            match check_against_lock(&decl, &lock, &lock_path) {
                Ok(()) => quote!(#out #track),
                Err(message) => {
                    let err = compile_error(Span::call_site(), &message);
                    quote!(#out #err #track)
                }
            }
        }
        Err(e) => {
            let err = compile_error(Span::call_site(), &lock_error_message(&e));
            let out = expand(item, &decl, &parsed, None);
            quote!(#out #err #track)
        }
    }
}
