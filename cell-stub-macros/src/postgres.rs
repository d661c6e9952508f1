//! `#[Postgres::table]`: record in phase 1, else expand against `.cell/postgres.lock.json`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemStruct;

use cell_postgres::check;
use cell_postgres::expand::{LockView, compile_error, expand, expand_placeholder};
use cell_postgres::parse::{parse_table_lenient, validate};
use cell_postgres::{CELL_NAME, LOCK_FILE};

use crate::{locks, record};

pub fn table(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item: ItemStruct = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = compile_error(
                Span::call_site(),
                "#[Postgres::table] goes on a struct with named fields\n\nhelp: write `#[Postgres::table] struct User { #[Postgres::primary_key] id: Uuid, ... }`",
            );
            return quote!(#err #input);
        }
    };
    let (parsed, errors) = parse_table_lenient(args, &mut item);
    let checked = errors.finish().and_then(|()| validate(&parsed));
    if let Err(e) = checked {
        // The struct keeps an API with bodies that never run, so this error is the only one.
        let err = e.to_compile_error();
        let out = expand_placeholder(&item, &parsed);
        return quote!(#out #err);
    }

    if record::is_recording() {
        let value = serde_json::to_value(&parsed.decl).expect("declarations serialise");
        if let Err(e) = record::record(CELL_NAME, "table", &parsed.decl.name, &value) {
            let err = compile_error(
                Span::call_site(),
                &format!("cargo-cell could not record this table: {e}"),
            );
            return quote!(#item #err);
        }
        return expand(&item, &parsed, LockView::Absent);
    }

    let track = locks::track_disabled();
    let out = expand_against_lock(item, parsed);
    quote!(#out #track)
}

fn expand_against_lock(item: ItemStruct, parsed: cell_postgres::parse::ParsedTable) -> TokenStream {
    if locks::disabled(CELL_NAME) {
        return expand(&item, &parsed, LockView::Absent);
    }
    let Some(path) = locks::lock_path(LOCK_FILE) else {
        return expand(&item, &parsed, LockView::Absent);
    };
    match locks::read(&path) {
        Ok(None) => expand(&item, &parsed, LockView::Absent),
        Ok(Some(lock)) => {
            let table = lock.tables.get(&parsed.decl.name);
            let mismatches = check::against_lock(&parsed.decl, table);
            expand(
                &item,
                &parsed,
                LockView::Present {
                    path: &path,
                    table,
                    mismatches,
                },
            )
        }
        Err(e) => {
            let err = compile_error(
                parsed.struct_ident.span(),
                &if e.contains("lock format version") {
                    // LockError::TooNew: the lock is fine, the tool is old.
                    format!(
                        "{e}\n\nhelp: update cargo-cell and cell-runtime to the version that wrote this lock; do not rewrite the lock with this one"
                    )
                } else {
                    format!(
                        "{e}\n\nhelp: regenerate it with `cargo cell build`, or restore it from version control"
                    )
                },
            );
            let out = expand(&item, &parsed, LockView::Absent);
            quote!(#out #err)
        }
    }
}

pub fn misplaced_field_attribute(name: &str, item: TokenStream) -> TokenStream {
    let err = compile_error(
        Span::call_site(),
        &format!(
            "#[Postgres::{name}] belongs on a field of a #[Postgres::table] struct\n\nhelp: put #[Postgres::table] on the struct, above its other attributes"
        ),
    );
    quote!(#err #item)
}
