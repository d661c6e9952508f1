//! `#[Security::pii(...)]` on a struct: which fields are personal data, every error spanned
//! at the user's code.

use cell_core::macros::Errors;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, ItemStruct};

const USAGE: &str = "write `#[Security::pii(fields = [\"email\"])]` on the struct, or `#[Security::pii]` on the struct and on each personal field";

/// Which parts of the struct are personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pii {
    /// These fields (by name, or by index for a tuple struct).
    Fields(Vec<String>),
    /// The value as a whole: nothing of it is printed.
    Whole,
}

/// Whether `attr` is `#[Security::pii]` (any path ending in `Security::pii`).
pub fn is_pii(attr: &Attribute) -> bool {
    let segs: Vec<_> = attr.path().segments.iter().collect();
    let n = segs.len();
    n >= 2 && segs[n - 2].ident == "Security" && segs[n - 1].ident == "pii"
}

/// The struct's personal fields; removes the field markers from `item`.
pub fn parse(args: TokenStream, item: &mut ItemStruct) -> syn::Result<Pii> {
    let mut errors = Errors::default();
    let mut listed: Option<Vec<(String, Span)>> = None;
    if !args.is_empty() {
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("fields") {
                let list: syn::ExprArray = meta.value()?.parse()?;
                let mut names = Vec::new();
                for e in &list.elems {
                    match e {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(l),
                            ..
                        }) => names.push((l.value(), l.span())),
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                format!("a personal field is named by a string\n\nhelp: {USAGE}"),
                            ));
                        }
                    }
                }
                listed = Some(names);
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown argument of #[Security::pii]\n\nhelp: {USAGE}"
                )))
            }
        });
        syn::parse::Parser::parse2(parser, args)?;
    }
    let names: Vec<String> = match &item.fields {
        Fields::Named(f) => f
            .named
            .iter()
            .map(|f| f.ident.as_ref().expect("named").to_string())
            .collect(),
        Fields::Unnamed(f) => (0..f.unnamed.len()).map(|i| i.to_string()).collect(),
        Fields::Unit => Vec::new(),
    };
    let mut marked = Vec::new();
    for (i, field) in item.fields.iter_mut().enumerate() {
        let before = field.attrs.len();
        field.attrs.retain(|a| !is_pii(a));
        if field.attrs.len() != before {
            marked.push((names[i].clone(), field.span()));
        }
    }
    let pii = match (listed, marked.is_empty()) {
        (Some(list), true) => {
            for (name, span) in &list {
                if !names.contains(name) {
                    errors.error(
                        *span,
                        &format!("`{name}` is not a field of `{}`", item.ident),
                        &format!(
                            "the fields are {}",
                            names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
            Pii::Fields(list.into_iter().map(|(n, _)| n).collect())
        }
        (Some(_), false) => {
            errors.error(
                marked[0].1,
                "personal fields are marked on the fields and listed in `fields = [...]`",
                "choose one: the list, or a `#[Security::pii]` on each field",
            );
            Pii::Whole
        }
        (None, false) => Pii::Fields(marked.into_iter().map(|(n, _)| n).collect()),
        (None, true) => Pii::Whole,
    };
    errors.finish()?;
    Ok(pii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn run(args: TokenStream, s: TokenStream) -> syn::Result<(Pii, ItemStruct)> {
        let mut item: ItemStruct = syn::parse2(s).unwrap();
        parse(args, &mut item).map(|p| (p, item))
    }

    #[test]
    fn fields_are_listed_marked_or_the_whole_value() {
        let (p, _) = run(
            quote!(fields = ["email"]),
            quote!(
                struct U {
                    id: i64,
                    email: String,
                }
            ),
        )
        .unwrap();
        assert_eq!(p, Pii::Fields(vec!["email".into()]));
        let (p, item) = run(
            quote!(),
            quote!(
                struct U {
                    id: i64,
                    #[Security::pii]
                    email: String,
                }
            ),
        )
        .unwrap();
        assert_eq!(p, Pii::Fields(vec!["email".into()]));
        assert!(
            item.fields.iter().all(|f| f.attrs.is_empty()),
            "markers removed"
        );
        let (p, _) = run(
            quote!(),
            quote!(
                struct Email(String);
            ),
        )
        .unwrap();
        assert_eq!(p, Pii::Whole);
        let e = run(
            quote!(fields = ["emial"]),
            quote!(
                struct U {
                    email: String,
                }
            ),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("`emial` is not a field of `U`"),
            "{e}"
        );
        assert!(
            run(
                quote!(colour = "red"),
                quote!(
                    struct U;
                )
            )
            .is_err()
        );
    }
}
