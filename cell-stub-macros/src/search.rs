//! `#[Search::index(...)]`: read by `#[Postgres::table]` (see `cell_search`). Reached as a
//! macro, it was written above the table attribute: it moves itself below it, so the order
//! the user wrote them in does not matter.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::postgres::with_table_attribute;

const PLACEMENT: &str = "#[Search::index] goes on a #[Postgres::table] struct\n\nhelp: write `#[Postgres::table] #[Search::index(fields = [\"name\", \"description\"])] struct Product { ... }`";

pub fn index(args: TokenStream, item: TokenStream) -> TokenStream {
    let (mut parsed, table_at) = match with_table_attribute(item, PLACEMENT) {
        Ok(found) => found,
        Err(out) => return out,
    };
    // The table attribute's path with `Search::index` for `Postgres::table`: the namespaces
    // sit side by side (`cell_runtime::Search`, or both imported from the prelude).
    let mut path = parsed.attrs[table_at].path().clone();
    let n = path.segments.len();
    path.segments[n - 1].ident = syn::Ident::new("index", Span::call_site());
    path.segments[n - 2].ident = syn::Ident::new(cell_search::NAMESPACE, Span::call_site());
    let attr: syn::Attribute = syn::parse_quote!(#[#path(#args)]);
    parsed.attrs.insert(table_at + 1, attr);
    quote!(#parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::ItemStruct;

    #[test]
    fn above_the_table_it_moves_below_it() {
        let out = index(
            quote!(fields = ["name"]),
            quote!(
                #[derive(Debug)]
                #[cell_runtime::Postgres::table(name = "products")]
                struct Product {}
            ),
        );
        let item: ItemStruct = syn::parse2(out).unwrap();
        let order: Vec<String> = item.attrs.iter().map(|a| quote!(#a).to_string()).collect();
        assert_eq!(
            order,
            [
                "# [derive (Debug)]",
                "# [cell_runtime :: Postgres :: table (name = \"products\")]",
                "# [cell_runtime :: Search :: index (fields = [\"name\"])]",
            ]
        );
    }

    #[test]
    fn without_a_table_it_is_an_error_that_keeps_the_item() {
        let out = index(
            quote!(fields = ["name"]),
            quote!(
                struct S {}
            ),
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("struct S"), "{out}");
    }
}
