//! The Security Cell's attributes. `#[Security::pii]` needs nothing but the struct.
//! `#[Security::hipaa]` is an audit of reads, declared as `#[Audit::log]`'s are
//! ([`crate::audit::declared`]). `#[Security::gdpr]` adds `forget`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemStruct;

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

pub fn gdpr(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = match the_struct(
        input,
        "#[Security::gdpr] goes on a #[Postgres::table] struct\n\nhelp: write `#[Security::gdpr(right_to_be_forgotten = true)]` on the table whose rows are the data subjects",
    ) {
        Ok(item) => item,
        Err(out) => return out,
    };
    match cell_security::gdpr::parse(args, &item) {
        Ok(gdpr) => cell_security::gdpr::expand(&item, &gdpr),
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
    crate::audit::declared(
        &item.ident.to_string(),
        "audit of reads",
        |subject| hipaa.declaration(subject),
        |_, subject, lock| {
            let track = lock.map(|path| {
                let path = path.display().to_string();
                quote!(
                    const _: &[u8] = ::core::include_bytes!(#path);
                )
            });
            cell_security::hipaa::expand(&item, &hipaa, subject, quote!(#track))
        },
    )
}
