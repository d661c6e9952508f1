//! The Security Cell's attributes. `#[Security::pii]` needs nothing but the struct.
//! `#[Security::hipaa]` is an audit of reads: recorded with the Audit Cell in phase 1, else
//! expanded and checked against `.cell/audit.lock.json` as `#[Audit::log]` is.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemStruct;

use cell_audit::expand::check_against_lock;
use cell_audit::lock::Lock;
use cell_audit::{CELL_NAME, LOCK_FILE};
use cell_auth::rule::function_path;
use cell_core::macros::compile_error;

fn the_struct(input: TokenStream, message: &str) -> Result<ItemStruct, TokenStream> {
    syn::parse2(input.clone()).map_err(|_| {
        let err = compile_error(Span::call_site(), message);
        quote!(#err #input)
    })
}

pub fn pii(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item = match the_struct(
        input,
        "#[Security::pii] goes on a struct (and on its personal fields)\n\nhelp: write `#[Security::pii(fields = [\"email\"])] struct User { ... }`, or put it on a struct whose value is personal as a whole, such as `struct Email(String)`",
    ) {
        Ok(item) => item,
        Err(out) => return out,
    };
    match cell_security::parse::parse(args, &mut item) {
        Ok(pii) => cell_security::expand::expand(item, &pii),
        Err(e) => {
            let err = e.to_compile_error();
            quote!(#item #err)
        }
    }
}

pub fn hipaa(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = match the_struct(
        input,
        "#[Security::hipaa] goes on a #[Postgres::table] struct\n\nhelp: write `#[Security::hipaa(protected_health_info = true)]` next to `#[Security::pii(fields = [...])]` on the table's struct",
    ) {
        Ok(item) => item,
        Err(out) => return out,
    };
    let hipaa = match cell_security::hipaa::parse(args, &item) {
        Ok(h) => h,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#item #err);
        }
    };
    let crate_name = std::env::var("CARGO_CRATE_NAME").unwrap_or_else(|_| "crate".into());
    let file = proc_macro::Span::call_site().file();
    let subject = function_path(&crate_name, &file, &item.ident.to_string());
    let decl = hipaa.declaration(&subject);
    let name = decl.name().replace("::", "-");
    crate::checked::expand::<Lock>(
        crate::checked::Declared {
            cell: CELL_NAME,
            lock_file: LOCK_FILE,
            kind: "audit",
            name: &name,
            value: serde_json::to_value(&decl).expect("declarations serialise"),
            what: "audit of reads",
        },
        |lock| {
            let track = lock.map(|path| {
                let path = path.display().to_string();
                quote!(
                    const _: &[u8] = ::core::include_bytes!(#path);
                )
            });
            cell_security::hipaa::expand(&item, &hipaa, &subject, quote!(#track))
        },
        |lock, path| check_against_lock(&decl, lock, path),
    )
}
