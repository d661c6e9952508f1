//! `#[Audit::log(...)]`: parse with cell-audit, record in phase 1, else expand from the
//! declaration, checked against `.cell/audit.lock.json` when there is one: an audit that
//! differs from the lock, or that it does not list, is a compile error at the attribute
//! telling to review it with `cargo cell plan` and lock it with `cargo cell build` (as the
//! RateLimit Cell's limits do).

use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

use cell_audit::declare::AuditDecl;
use cell_audit::expand::{check_against_lock, declaration, expand};
use cell_audit::lock::Lock;
use cell_audit::parse::{parse_args, parse_fn};
use cell_audit::{CELL_NAME, LOCK_FILE};
use cell_auth::rule::function_path;
use cell_core::macros::compile_error;

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
    declared(
        &item.sig.ident.to_string(),
        "audit",
        |function| declaration(function, &parsed),
        |decl, _, lock| expand(item.clone(), decl, &parsed, lock),
    )
}

/// The expansion of an audit declared on the item named `ident` (a function, or a struct
/// whose reads are audited), named `{crate}::{module}::{ident}` in the lock: recorded in
/// phase 1, else checked against `.cell/audit.lock.json`. `expand` gets the declaration, the
/// item's path and the lock it was checked against.
pub fn declared(
    ident: &str,
    what: &str,
    declaration: impl FnOnce(&str) -> AuditDecl,
    expand: impl Fn(&AuditDecl, &str, Option<&Path>) -> TokenStream,
) -> TokenStream {
    let crate_name = std::env::var("CARGO_CRATE_NAME").unwrap_or_else(|_| "crate".into());
    let file = proc_macro::Span::call_site().file();
    let path = function_path(&crate_name, &file, ident);
    let decl = declaration(&path);
    let name = decl.name().replace("::", "-");
    crate::checked::expand::<Lock>(
        crate::checked::Declared {
            cell: CELL_NAME,
            lock_file: LOCK_FILE,
            kind: "audit",
            name: &name,
            value: serde_json::to_value(&decl).expect("declarations serialise"),
            what,
        },
        |lock| expand(&decl, &path, lock),
        |lock, path| check_against_lock(&decl, lock, path),
    )
}
