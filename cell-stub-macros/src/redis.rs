//! The Redis Cell's attributes: `#[Redis::cache]` and `#[Redis::cache_key]` (read by
//! `#[Postgres::table]`, whichever order they are written in) and `#[Cache::memoize]` /
//! `#[Performance::cache]`. Recorded in phase 1 as `redis.<kind>.<name>.json` fragments.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{ItemFn, ItemStruct};

use cell_core::macros::compile_error;
use cell_postgres::parse::{parse_table_lenient, validate};
use cell_redis::CELL_NAME;
use cell_redis::expand::{
    cached_table, check_keys, defer_to_table, memoize as expand_memoize, memoize_decl, table_decl,
};
use cell_redis::parse::{is_postgres_table, parse_memoize, take_table_cache};

use crate::record;

/// `cargo cell build --without redis` (or `[workspace.metadata.cell] disabled = ["redis"]`):
/// outside the record step, caches expand to nothing (finders read Postgres, memoized
/// functions run), so the program needs no Redis. Recording is unaffected. (The phase
/// without its lock path: no Redis expansion reads the Redis lock.)
fn disabled() -> bool {
    !record::is_recording() && cell_core::macros::disabled(CELL_NAME)
}

/// The package declaring the cache: the `{app}` of its keys.
fn app() -> String {
    std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "app".into())
}

fn record_value(kind: &str, name: &str, value: serde_json::Value) -> TokenStream {
    if !record::is_recording() {
        return quote!();
    }
    match record::record(CELL_NAME, kind, name, &value) {
        Ok(()) => quote!(),
        Err(e) => compile_error(
            Span::call_site(),
            &format!("cargo-cell could not record this cache: {e}"),
        ),
    }
}

/// `#[Postgres::table]` with the struct's Redis attributes: strips them, lets the table
/// expand, then makes its finders read through the cache.
pub fn table(
    args: TokenStream,
    input: TokenStream,
    table: fn(TokenStream, TokenStream) -> TokenStream,
) -> TokenStream {
    let Ok(mut item) = syn::parse2::<ItemStruct>(input.clone()) else {
        return table(args, input);
    };
    let cache = match take_table_cache(&mut item) {
        Ok(None) => return table(args, input),
        // The table's expansion tracks CELL_DISABLED, so switching recompiles the crate.
        Ok(Some(_)) if disabled() => return table(args, item.into_token_stream()),
        Ok(Some(cache)) => cache,
        Err(e) => {
            let out = table(args, item.into_token_stream());
            let err = e.to_compile_error();
            return quote!(#out #err);
        }
    };
    let out = table(args.clone(), item.to_token_stream());
    // The table's own errors are reported by its expansion: then there is nothing to cache.
    let mut copy = item.clone();
    let (parsed, errors) = parse_table_lenient(args, &mut copy);
    if errors.finish().and_then(|()| validate(&parsed)).is_err() {
        return out;
    }
    if let Err(e) = check_keys(&parsed, &cache) {
        let err = e.to_compile_error();
        return quote!(#out #err);
    }
    let app = app();
    let decl = table_decl(&parsed, &cache, &app);
    let recorded = record_value(
        "cache",
        &decl.table,
        serde_json::to_value(&decl).expect("declarations serialise"),
    );
    let out = cached_table(out, &copy, &parsed, &cache, &app);
    quote!(#out #recorded)
}

/// `#[Redis::cache]` expanded first (written above `#[Postgres::table]`).
pub fn cache(args: TokenStream, input: TokenStream) -> TokenStream {
    match syn::parse2::<ItemStruct>(input.clone()) {
        Ok(item) if item.attrs.iter().any(is_postgres_table) => defer_to_table(args, &item),
        _ => {
            let err = compile_error(
                Span::call_site(),
                "#[Redis::cache] goes on a #[Postgres::table] struct\n\nhelp: write `#[Postgres::table] #[Redis::cache(ttl = \"1h\")] struct Product { ... }`; to cache a function, use #[Cache::memoize(ttl = \"5m\")]",
            );
            quote!(#err #input)
        }
    }
}

/// `#[Redis::cache_key]` reached on its own: it belongs on a field of a cached table.
pub fn misplaced_cache_key(input: TokenStream) -> TokenStream {
    let err = compile_error(
        Span::call_site(),
        "#[Redis::cache_key] belongs on a field of a #[Postgres::table] #[Redis::cache] struct\n\nhelp: put #[Postgres::table] and #[Redis::cache(ttl = \"1h\")] on the struct",
    );
    quote!(#err #input)
}

/// `#[Cache::memoize(...)]`; `attr` is the name it was used under, for messages.
pub fn memoize(args: TokenStream, input: TokenStream, attr: &str) -> TokenStream {
    let item: ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = compile_error(
                Span::call_site(),
                &format!(
                    "#[{attr}] goes on an async function\n\nhelp: write `#[{attr}(ttl = \"5m\")] async fn get_user(id: i64) -> Result<User, Error> {{ ... }}`"
                ),
            );
            return quote!(#err #input);
        }
    };
    let memo = match parse_memoize(args, &item, attr) {
        Ok(memo) => memo,
        Err(e) => {
            // The function stays as written: the error is the only message.
            let err = e.to_compile_error();
            return quote!(#item #err);
        }
    };
    if disabled() {
        // No tracking const here (methods are expanded too, as for telemetry): after
        // switching, `cargo clean -p <crate>` recompiles what used it.
        return item.into_token_stream();
    }
    let app = app();
    let decl = memoize_decl(&item, &memo, &app);
    let recorded = record_value(
        "memoize",
        &item.sig.ident.to_string(),
        serde_json::to_value(&decl).expect("declarations serialise"),
    );
    let out = expand_memoize(&item, &memo, &app);
    quote!(#out #recorded)
}
