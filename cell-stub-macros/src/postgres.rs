//! `#[Postgres::table]` and `#[derive(Postgres::Enum)]`: record in phase 1, else expand
//! against `.cell/postgres.lock.json`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemStruct;

use cell_postgres::check;
use cell_postgres::enums;
use cell_postgres::expand::{LockView, compile_error, expand, expand_placeholder};
use cell_postgres::parse::{NAMESPACE, namespaced_name, parse_table_lenient, validate};
use cell_postgres::{CELL_NAME, LOCK_FILE};

use cell_core::lockfile::LockError;

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
            let mismatches = check::against_lock(
                &parsed.decl,
                check::Locked {
                    tables: &lock.tables,
                    enums: &lock.enums,
                },
            );
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
        Err(e) => lock_error(
            &parsed.struct_ident,
            &e,
            expand(&item, &parsed, LockView::Absent),
        ),
    }
}

/// `out` with an error about an unreadable lock at `ident`.
fn lock_error(ident: &syn::Ident, e: &LockError, out: TokenStream) -> TokenStream {
    let err = compile_error(ident.span(), &cell_core::macros::lock_error_message(e));
    quote!(#out #err)
}

/// A struct attribute reached as a macro was written above `#[Postgres::table]`: the struct
/// and where its table attribute is, or (no struct, no table attribute) the item with the
/// `placement` error.
pub fn with_table_attribute(
    item: TokenStream,
    placement: &str,
) -> Result<(ItemStruct, usize), TokenStream> {
    let misplaced = |item: &TokenStream| {
        let err = compile_error(Span::call_site(), placement);
        quote!(#err #item)
    };
    let parsed: ItemStruct = syn::parse2(item.clone()).map_err(|_| misplaced(&item))?;
    let table_at = parsed
        .attrs
        .iter()
        .position(|a| namespaced_name(a, NAMESPACE).as_deref() == Some("table"))
        .ok_or_else(|| misplaced(&item))?;
    Ok((parsed, table_at))
}

/// `#[Postgres::check]` / `#[Postgres::renamed_from]` reached as a macro: it was written on
/// the struct above `#[Postgres::table]` (which reads the ones below it). It moves itself
/// below, so the order the user wrote them in does not matter.
pub fn struct_attribute(name: &str, args: TokenStream, item: TokenStream) -> TokenStream {
    let placement = format!(
        "#[Postgres::{name}] belongs on a #[Postgres::table] struct or on one of its fields\n\nhelp: put #[Postgres::table] on the struct"
    );
    let (mut parsed, table_at) = match with_table_attribute(item, &placement) {
        Ok(found) => found,
        Err(out) => return out,
    };
    // The same path as the table attribute's, with this attribute's name.
    let mut path = parsed.attrs[table_at].path().clone();
    path.segments.last_mut().expect("namespaced path").ident =
        syn::Ident::new(name, Span::call_site());
    let attr: syn::Attribute = syn::parse_quote!(#[#path(#args)]);
    // After the table attribute and the Postgres attributes already moved there, in order.
    let mut at = table_at + 1;
    while at < parsed.attrs.len() && namespaced_name(&parsed.attrs[at], NAMESPACE).is_some() {
        at += 1;
    }
    parsed.attrs.insert(at, attr);
    quote!(#parsed)
}

/// `#[derive(Postgres::Enum)]`.
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let (parsed, errors) = enums::parse_enum(&input);
    if let Err(e) = errors.finish().and_then(|()| enums::validate(&parsed)) {
        let err = e.to_compile_error();
        let out = enums::expand(&parsed, quote!(), true);
        return quote!(#out #err);
    }

    if record::is_recording() {
        let value = serde_json::to_value(&parsed.decl).expect("declarations serialise");
        if let Err(e) = record::record(CELL_NAME, "enum", &parsed.decl.name, &value) {
            let err = compile_error(
                Span::call_site(),
                &format!("cargo-cell could not record this enum: {e}"),
            );
            let out = enums::expand(&parsed, quote!(), false);
            return quote!(#out #err);
        }
        return enums::expand(&parsed, quote!(), false);
    }

    let Some(path) = locks::lock_path(LOCK_FILE) else {
        return enums::expand(&parsed, quote!(), false);
    };
    if !path.exists() {
        return enums::expand(&parsed, quote!(), false);
    }
    let text = path.display().to_string();
    // cargo rebuilds this crate when the lock's bytes change (its mtime, precisely).
    let tracking = quote!(
        const _: &[u8] = ::core::include_bytes!(#text);
    );
    let out = enums::expand(&parsed, tracking, false);
    match locks::read_postgres_enums(&path) {
        Ok(locked) => match check::enum_against_lock(&parsed.decl, locked.get(&parsed.decl.name)) {
            None => out,
            Some(m) => {
                let err = compile_error(
                    parsed.ident.span(),
                    &format!("{}\n\nhelp: {}", m.message, m.help),
                );
                quote!(#out #err)
            }
        },
        Err(e) => lock_error(&parsed.ident, &e, out),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_attributes_above_the_table_move_below_it_in_order() {
        // `#[Postgres::check("a")] #[Postgres::check("b")] #[Postgres::table] #[derive(Debug)]`:
        // rustc runs `check("a")` first, with the rest of the item.
        let first = struct_attribute(
            "check",
            quote!("a"),
            quote!(
                #[Postgres::check("b")]
                #[x::Postgres::table]
                #[derive(Debug)]
                struct S {}
            ),
        );
        let second: ItemStruct = syn::parse2(first).unwrap();
        let order: Vec<String> = second
            .attrs
            .iter()
            .map(|a| quote!(#a).to_string())
            .collect();
        assert_eq!(
            order,
            [
                "# [Postgres :: check (\"b\")]",
                "# [x :: Postgres :: table]",
                "# [x :: Postgres :: check (\"a\")]",
                "# [derive (Debug)]",
            ]
        );
        // Then `check("b")` runs and lands after `check("a")`.
        let mut rest = second.clone();
        rest.attrs.remove(0);
        let third: ItemStruct =
            syn::parse2(struct_attribute("check", quote!("b"), quote!(#rest))).unwrap();
        let order: Vec<String> = third.attrs.iter().map(|a| quote!(#a).to_string()).collect();
        assert_eq!(
            order,
            [
                "# [x :: Postgres :: table]",
                "# [x :: Postgres :: check (\"a\")]",
                "# [x :: Postgres :: check (\"b\")]",
                "# [derive (Debug)]",
            ]
        );
    }

    #[test]
    fn without_a_table_it_is_an_error() {
        let out = struct_attribute(
            "renamed_from",
            quote!("x"),
            quote!(
                struct S {}
            ),
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("struct S"), "{out}");
    }
}
