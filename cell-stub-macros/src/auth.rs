//! `#[Auth::require(...)]` and `#[Auth::protected]`: record in phase 1, else expand against
//! `.cell/auth.lock.json` (a bit test) or, without a lock, by role name.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

use cell_auth::expand::{Locked, check_against_lock, expand};
use cell_auth::lock::Lock;
use cell_auth::parse::{Kind, parse_fn, parse_rule};
use cell_auth::rule::{GuardDecl, function_path};
use cell_auth::{CELL_NAME, LOCK_FILE};
use cell_core::macros::{Phase, compile_error, lock_error_message, read_lock};

use crate::record;

pub fn guard(kind: Kind, args: TokenStream, input: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = compile_error(
                Span::call_site(),
                &format!(
                    "{} goes on a function or method that takes an `AuthContext`\n\nhelp: write `{} async fn handler(ctx: AuthContext) -> Result<Json<T>, AuthError> {{ ... }}`",
                    kind.attribute(),
                    kind.attribute()
                ),
            );
            return quote!(#err #input);
        }
    };
    let parsed = parse_rule(kind, args).and_then(|rule| parse_fn(kind, rule, &item));
    let parsed = match parsed {
        Ok(p) => p,
        // The function stays as written: this error is the only one.
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#item #err);
        }
    };
    let crate_name = std::env::var("CARGO_CRATE_NAME").unwrap_or_else(|_| "crate".into());
    let file = proc_macro::Span::call_site().file();
    let path = function_path(&crate_name, &file, &item.sig.ident.to_string());

    let phase = Phase::of(CELL_NAME, LOCK_FILE, record::is_recording());
    let lock_path = match phase {
        Phase::Record => {
            let decl = GuardDecl {
                path: path.clone(),
                rule: parsed.rule.clone(),
            };
            let value = serde_json::to_value(&decl).expect("guards serialise");
            if let Err(e) = record::record(CELL_NAME, "guard", &path.replace("::", "-"), &value) {
                let err = compile_error(
                    Span::call_site(),
                    &format!("cargo-cell could not record this guard: {e}"),
                );
                return quote!(#item #err);
            }
            return expand(item, &parsed, None);
        }
        // `--without auth`: the guards still run, by role name, without the lock (there may
        // be none, and no dev token service). Never unguarded.
        Phase::Disabled | Phase::Expand(None) => return expand(item, &parsed, None),
        Phase::Expand(Some(lock_path)) => lock_path,
    };
    match read_lock::<Lock>(&lock_path) {
        Ok(None) => expand(item, &parsed, None),
        Ok(Some(lock)) => {
            let locked = Locked {
                path: &lock_path,
                lock: &lock,
            };
            match check_against_lock(&path, &parsed.rule, locked) {
                Ok(()) => expand(item, &parsed, Some(locked)),
                Err(message) => {
                    let err = compile_error(item.sig.ident.span(), &message);
                    let out = expand(item, &parsed, Some(locked));
                    quote!(#out #err)
                }
            }
        }
        // An unusable lock says to regenerate it; one from a newer cargo-cell, to update.
        Err(e) => {
            let err = compile_error(item.sig.ident.span(), &lock_error_message(&e));
            let out = expand(item, &parsed, None);
            quote!(#out #err)
        }
    }
}
