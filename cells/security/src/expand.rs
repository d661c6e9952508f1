//! The struct with its personal data redacted from `Debug`, and the list the other Cells'
//! macros check against. It cannot fail: [`crate::parse`] validated everything.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Fields, ItemStruct, Meta, Token};

use crate::parse::Pii;

/// `derive(Debug)` removed from the struct's derives (this one replaces it).
fn without_derived_debug(item: &mut ItemStruct) {
    for attr in &mut item.attrs {
        if !attr.path().is_ident("derive") {
            continue;
        }
        if let Ok(list) = attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        {
            let kept: Vec<&syn::Path> = list
                .iter()
                .filter(|p| p.segments.last().is_none_or(|s| s.ident != "Debug"))
                .collect();
            if kept.len() != list.len() {
                attr.meta = syn::parse_quote!(derive(#(#kept),*));
            }
        }
    }
    item.attrs.retain(
        |a| !matches!(&a.meta, Meta::List(l) if l.path.is_ident("derive") && l.tokens.is_empty()),
    );
}

pub fn expand(mut item: ItemStruct, pii: &Pii) -> TokenStream {
    without_derived_debug(&mut item);
    let ident = &item.ident;
    let name = ident.to_string();
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let redacted = |field: &str| match pii {
        Pii::Whole => true,
        Pii::Fields(f) => f.iter().any(|n| n == field),
    };
    let body = match (&item.fields, pii) {
        (_, Pii::Whole) => quote!(f.write_str(::core::concat!(#name, "([redacted])"))),
        (Fields::Named(fields), _) => {
            let each = fields.named.iter().map(|f| {
                let id = f.ident.as_ref().expect("named");
                let key = id.to_string();
                if redacted(&key) {
                    quote!(.field(#key, &::core::format_args!("[redacted]")))
                } else {
                    quote!(.field(#key, &self.#id))
                }
            });
            quote!(f.debug_struct(#name) #(#each)* .finish())
        }
        (Fields::Unnamed(fields), _) => {
            let each = (0..fields.unnamed.len()).map(|i| {
                let index = syn::Index::from(i);
                if redacted(&i.to_string()) {
                    quote!(.field(&::core::format_args!("[redacted]")))
                } else {
                    quote!(.field(&self.#index))
                }
            });
            quote!(f.debug_tuple(#name) #(#each)* .finish())
        }
        (Fields::Unit, _) => quote!(f.write_str(#name)),
    };
    let list: Vec<String> = match pii {
        Pii::Whole => vec!["*".into()],
        Pii::Fields(f) => f.clone(),
    };
    // Bounds for the fields printed: a generic struct is Debug when they are.
    let bounds = item.fields.iter().enumerate().filter_map(|(i, f)| {
        let key = f.ident.as_ref().map_or(i.to_string(), |id| id.to_string());
        let ty = &f.ty;
        (!redacted(&key) && !item.generics.params.is_empty())
            .then(|| quote!(#ty: ::core::fmt::Debug))
    });
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    predicates.extend(bounds);
    // The redacted fields are touched, as a derived Debug reads every field: a field read
    // only by `Debug` does not become "never read".
    let touched = item.fields.iter().enumerate().filter_map(|(i, f)| {
        let key = f.ident.as_ref().map_or(i.to_string(), |id| id.to_string());
        let member = match &f.ident {
            Some(id) => quote!(#id),
            None => {
                let index = syn::Index::from(i);
                quote!(#index)
            }
        };
        redacted(&key).then(|| quote!(let _ = &self.#member;))
    });
    quote! {
        #item

        impl #impl_generics ::core::fmt::Debug for #ident #ty_generics where #(#predicates),* {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #(#touched)*
                #body
            }
        }

        impl #impl_generics #ident #ty_generics #where_clause {
            /// The personal fields (`*`: the whole value), as `#[Security::pii]` marked them.
            #[doc(hidden)]
            pub const __CELL_PII: &'static [&'static str] = &[#(#list),*];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn run(args: TokenStream, s: TokenStream) -> String {
        let mut item: ItemStruct = syn::parse2(s).unwrap();
        let pii = crate::parse::parse(args, &mut item).unwrap();
        expand(item, &pii).to_string()
    }

    #[test]
    fn debug_redacts_and_the_list_names_the_fields() {
        let out = run(
            quote!(fields = ["email"]),
            quote!(
                #[derive(Debug, Clone)]
                struct User {
                    id: i64,
                    email: String,
                }
            ),
        );
        assert!(out.contains("# [derive (Clone)]"), "{out}");
        assert!(out.contains(". field (\"id\" , & self . id)"), "{out}");
        assert!(
            out.contains(". field (\"email\" , & :: core :: format_args ! (\"[redacted]\"))"),
            "{out}"
        );
        assert!(
            out.contains("__CELL_PII : & 'static [& 'static str] = & [\"email\"]"),
            "{out}"
        );
        let whole = run(
            quote!(),
            quote!(
                #[derive(Debug)]
                struct Email(String);
            ),
        );
        assert!(!whole.contains("derive"), "{whole}");
        assert!(
            whole.contains("concat ! (\"Email\" , \"([redacted])\")"),
            "{whole}"
        );
        assert!(whole.contains("= & [\"*\"]"), "{whole}");
    }
}
