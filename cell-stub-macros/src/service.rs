//! `#[service]`: the seed's auto-injection. Every field is a Cell connection
//! (`PostgresConnection`, ...) and `Self::connect().await?` fills them all.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Fields, ItemStruct};

pub fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return syn::Error::new(
            args.span(),
            "#[service] takes no arguments\n\nhelp: write `#[service]`",
        )
        .to_compile_error();
    }
    let item: ItemStruct = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[service] goes on a struct whose fields are Cell connections\n\nhelp: write `#[service] struct App { db: PostgresConnection }`",
            )
            .to_compile_error();
            return quote!(#err #input);
        }
    };
    let Fields::Named(fields) = &item.fields else {
        let err = syn::Error::new(item.ident.span(), "#[service] needs named fields\n\nhelp: write `#[service] struct App { db: PostgresConnection }`")
            .to_compile_error();
        return quote!(#item #err);
    };
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let inits = fields.named.iter().map(|f| {
        let name = &f.ident;
        let ty = &f.ty;
        quote_spanned!(ty.span()=> #name: <#ty as ::cell_runtime::__private::Connect>::connect().await?)
    });
    quote! {
        #item

        impl #impl_generics #ident #ty_generics #where_clause {
            /// Connects every field to its Cell (dev state, or `CELL_*_URL` in deployment).
            pub async fn connect() -> ::core::result::Result<Self, ::cell_runtime::Error> {
                ::core::result::Result::Ok(Self { #(#inits,)* })
            }
        }
    }
}
