//! `#[RateLimit::per_user(..)]`, `per_ip`, `per_key`, `global`: parse with cell-ratelimit,
//! record in phase 1, else expand from the declaration, checked against
//! `.cell/ratelimit.lock.json` when there is one: a limit that differs from the lock, or
//! that it does not list, is a compile error at the attribute telling to review it with
//! `cargo cell plan` and lock it with `cargo cell build` (as the Auth Cell's guards do).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

use cell_auth::rule::function_path;
use cell_core::macros::compile_error;
use cell_ratelimit::declare::Scope;
use cell_ratelimit::expand::{check_against_lock, declaration, expand};
use cell_ratelimit::lock::Lock;
use cell_ratelimit::parse::{parse_args, parse_fn};
use cell_ratelimit::{CELL_NAME, LOCK_FILE};

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
    let name = decl.name().replace("::", "-").replace('/', ".");
    crate::checked::expand::<Lock>(
        crate::checked::Declared {
            cell: CELL_NAME,
            lock_file: LOCK_FILE,
            kind: "limit",
            name: &name,
            value: serde_json::to_value(&decl).expect("declarations serialise"),
            what: "rate limit",
        },
        |lock| expand(item.clone(), &decl, &parsed, lock),
        |lock, path| check_against_lock(&decl, lock, path),
    )
}
