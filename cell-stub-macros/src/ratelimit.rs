//! `#[RateLimit::per_user(..)]`, `per_ip`, `per_key`, `global`: parse with cell-ratelimit,
//! record in phase 1, and expand from the declaration alone (the check reads nothing from
//! the lock; `cargo cell plan` compares the lock with the code).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

use cell_auth::rule::function_path;
use cell_core::macros::{Phase, compile_error, track_disabled};
use cell_ratelimit::declare::Scope;
use cell_ratelimit::expand::{declaration, expand};
use cell_ratelimit::parse::{parse_args, parse_fn};
use cell_ratelimit::{CELL_NAME, LOCK_FILE};

use crate::record;

pub fn limit(scope: Scope, args: TokenStream, input: TokenStream) -> TokenStream {
    let attr = format!("#[RateLimit::{}]", scope.attribute());
    let item: ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = compile_error(
                Span::call_site(),
                &format!(
                    "{attr} goes on an async function\n\nhelp: write `{attr} async fn handler(...) -> Result<T, E> {{ ... }}` where `E: From<RateLimited>`"
                ),
            );
            return quote!(#err #input);
        }
    };
    let parsed = match parse_args(scope, args).and_then(|a| parse_fn(scope, a, &item)) {
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
    if let Phase::Record = Phase::of(CELL_NAME, LOCK_FILE, record::is_recording()) {
        let value = serde_json::to_value(&decl).expect("limits serialise");
        let name = decl.name().replace("::", "-").replace('/', ".");
        if let Err(e) = record::record(CELL_NAME, "limit", &name, &value) {
            let err = compile_error(
                Span::call_site(),
                &format!("cargo-cell could not record this rate limit: {e}"),
            );
            return quote!(#item #err);
        }
        return expand(item, &decl, &parsed);
    }
    let out = expand(item, &decl, &parsed);
    let track = track_disabled();
    quote!(#out #track)
}
