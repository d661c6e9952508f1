//! `#[derive(Postgres::Enum)]`: a fieldless Rust enum is a Postgres enum type.
//!
//! Parse (keeping spans) → validate → expand, like the table macro. The Postgres name is the
//! enum's name in snake_case (`OrderStatus` → `order_status`) unless
//! `#[postgres(name = "...")]` on the enum says otherwise; each label is the variant's name
//! in snake_case (`InTransit` → `in_transit`) unless `#[postgres(name = "...")]` on the
//! variant says otherwise.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr};

use crate::declare::EnumDecl;
use crate::ident;
use crate::parse::{Errors, error, error_spanned};

/// The derive's helper attribute.
pub const HELPER: &str = "postgres";

const HELPER_HELP: &str = "write `#[postgres(name = \"...\")]`: on the enum it names the Postgres type, on a variant its label";

/// A parsed enum with the spans of what it came from.
#[derive(Debug)]
pub struct ParsedEnum {
    pub decl: EnumDecl,
    pub ident: syn::Ident,
    /// Per label, in order.
    pub variants: Vec<syn::Ident>,
    /// Per label: where it came from (the variant, or its `name = "..."`).
    pub label_spans: Vec<Span>,
    /// The `name = "..."` on the enum, if any.
    pub name_span: Option<Span>,
    /// Whether the impls can be generated (a non-generic enum whose variants have no fields).
    pub generable: bool,
}

fn helper_name(attrs: &[Attribute], errors: &mut Errors) -> Option<LitStr> {
    let mut found: Option<LitStr> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(HELPER)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                if found.is_some() {
                    return Err(error(
                        lit.span(),
                        "`name` is given twice",
                        "keep one `name = \"...\"`",
                    ));
                }
                found = Some(lit);
                Ok(())
            } else {
                Err(cell_core::macros::unknown_key(
                    &meta.path,
                    "postgres(...)",
                    HELPER_HELP,
                ))
            }
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    found
}

/// Reads the enum; every mistake is collected.
pub fn parse_enum(input: &DeriveInput) -> (ParsedEnum, Errors) {
    let mut errors = Errors::default();
    let rust_name = input.ident.to_string();
    let name_lit = helper_name(&input.attrs, &mut errors);
    let name = match &name_lit {
        Some(lit) => lit.value(),
        None => ident::snake_case(&rust_name),
    };
    let mut parsed = ParsedEnum {
        decl: EnumDecl {
            rust_name,
            name,
            variants: Vec::new(),
        },
        ident: input.ident.clone(),
        variants: Vec::new(),
        label_spans: Vec::new(),
        name_span: name_lit.as_ref().map(LitStr::span),
        generable: input.generics.params.is_empty(),
    };
    if !input.generics.params.is_empty() {
        errors.push(error_spanned(
            &input.generics,
            "#[derive(Postgres::Enum)] does not support generic enums",
            "a Postgres enum is a fixed list of labels: remove the generic parameters",
        ));
    }
    let Data::Enum(data) = &input.data else {
        parsed.generable = false;
        errors.error(
            input.ident.span(),
            "#[derive(Postgres::Enum)] goes on an enum whose variants have no fields",
            "write `#[derive(Postgres::Enum)] enum OrderStatus { Pending, Shipped }`",
        );
        return (parsed, errors);
    };
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            parsed.generable = false;
            errors.push(error_spanned(
                &variant.fields,
                &format!(
                    "variant `{}` has fields, but a Postgres enum value is only a label",
                    variant.ident
                ),
                "remove the fields, or store this data in columns of a table",
            ));
        }
        let label_lit = helper_name(&variant.attrs, &mut errors);
        let (label, span) = match &label_lit {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                ident::snake_case(&variant.ident.to_string()),
                variant.ident.span(),
            ),
        };
        parsed.decl.variants.push(label);
        parsed.variants.push(variant.ident.clone());
        parsed.label_spans.push(span);
    }
    if data.variants.is_empty() {
        errors.error(
            input.ident.span(),
            &format!("enum `{}` has no variants", input.ident),
            "a Postgres enum needs at least one label: add a variant",
        );
    }
    (parsed, errors)
}

/// Rules over the whole enum.
pub fn validate(parsed: &ParsedEnum) -> Result<(), syn::Error> {
    let mut errors = Errors::default();
    let decl = &parsed.decl;
    if !ident::is_plain(&decl.name) {
        errors.error(
            parsed.name_span.unwrap_or(parsed.ident.span()),
            &format!("`{}` is not a valid Postgres type name", decl.name),
            "use lower-case letters, digits and `_`, starting with a letter or `_`, at most 63 bytes; \
             set it with `#[postgres(name = \"...\")]`",
        );
    }
    for (i, label) in decl.variants.iter().enumerate() {
        let span = parsed.label_spans[i];
        if label.is_empty() || label.len() > ident::MAX_IDENT_LEN {
            errors.error(
                span,
                &format!("`{label}` is not a valid enum label"),
                "Postgres labels are 1 to 63 bytes long",
            );
        } else if let Some(first) = decl.variants[..i].iter().position(|l| l == label) {
            errors.error(
                span,
                &format!(
                    "variants `{}` and `{}` both have the label `{label}`",
                    parsed.variants[first], parsed.variants[i]
                ),
                "give one of them another label with `#[postgres(name = \"...\")]`",
            );
        }
    }
    errors.finish()
}

/// The trait impls: `PostgresEnum`, `ToSql` and `FromSql`. With `placeholder`, the same
/// impls with bodies that never run (the enum has errors, reported beside them), so that
/// tables using it do not add errors of their own.
pub fn expand(parsed: &ParsedEnum, tracking: TokenStream, placeholder: bool) -> TokenStream {
    if !parsed.generable {
        return quote!();
    }
    let p = quote!(::cell_runtime::__private);
    let ident = &parsed.ident;
    let name = &parsed.decl.name;
    let rust = parsed.decl.rust_name.as_str();
    let labels = &parsed.decl.variants;
    let variants = &parsed.variants;
    let (to_sql, from_sql) = if placeholder {
        (
            quote!(::core::unreachable!("this enum has compile errors")),
            quote!(::core::unreachable!("this enum has compile errors")),
        )
    } else {
        (
            quote! {
                let label = match self { #(Self::#variants => #labels,)* };
                #p::enum_to_sql(label, out)
            },
            quote! {
                match #p::enum_from_sql(raw)? {
                    #(#labels => ::core::result::Result::Ok(Self::#variants),)*
                    other => ::core::result::Result::Err(#p::unknown_label(#rust, #name, other)),
                }
            },
        )
    };
    let labels_const = if placeholder {
        quote!(&[])
    } else {
        quote!(&[#(#labels),*])
    };
    quote! {
        const _: () = {
            #tracking
            impl #p::PostgresEnum for #ident {
                const NAME: &'static str = #name;
                const LABELS: &'static [&'static str] = #labels_const;
            }
            #[allow(unreachable_code)]
            impl #p::ToSql for #ident {
                fn to_sql(
                    &self,
                    _ty: &#p::Type,
                    out: &mut #p::BytesMut,
                ) -> ::core::result::Result<#p::IsNull, ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Sync + ::core::marker::Send>> {
                    #to_sql
                }
                fn accepts(ty: &#p::Type) -> bool {
                    #p::enum_accepts(ty, #name)
                }
                #p::to_sql_checked!();
            }
            #[allow(unreachable_code)]
            impl<'a> #p::FromSql<'a> for #ident {
                fn from_sql(
                    _ty: &#p::Type,
                    raw: &'a [u8],
                ) -> ::core::result::Result<Self, ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Sync + ::core::marker::Send>> {
                    #from_sql
                }
                fn accepts(ty: &#p::Type) -> bool {
                    #p::enum_accepts(ty, #name)
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(item: TokenStream) -> Result<ParsedEnum, String> {
        let input: DeriveInput = syn::parse2(item).unwrap();
        let (parsed, errors) = parse_enum(&input);
        errors.finish().map_err(|e| e.to_string())?;
        validate(&parsed).map_err(|e| e.to_string())?;
        Ok(parsed)
    }

    #[test]
    fn names_and_labels_default_to_snake_case() {
        let p = parse(quote!(
            enum OrderStatus {
                Pending,
                InTransit,
                Delivered,
            }
        ))
        .unwrap();
        assert_eq!(p.decl.rust_name, "OrderStatus");
        assert_eq!(p.decl.name, "order_status");
        assert_eq!(p.decl.variants, vec!["pending", "in_transit", "delivered"]);
    }

    #[test]
    fn helper_attributes_rename() {
        let p = parse(quote!(
            #[derive(Debug)]
            #[postgres(name = "mood")]
            enum Feeling {
                #[postgres(name = "ok")]
                Fine,
                Sad = 5,
            }
        ))
        .unwrap();
        assert_eq!(p.decl.name, "mood");
        assert_eq!(p.decl.variants, vec!["ok", "sad"]);
    }

    #[test]
    fn reports_every_mistake() {
        let err = parse(quote!(
            #[postgres(nme = "x")]
            enum E {
                A(i32),
                #[postgres(name = "a")]
                B,
            }
        ))
        .unwrap_err();
        assert!(err.contains("unknown key `nme`"), "{err}");
        // (syn joins the messages of combined errors; the ui tests check each.)
        let err = parse(quote!(
            enum E {
                #[postgres(name = "a")]
                B,
                A,
            }
        ))
        .unwrap_err();
        assert!(err.contains("both have the label `a`"), "{err}");
        let err = parse(quote!(
            #[postgres(name = "Bad Name")]
            enum E {
                A,
            }
        ))
        .unwrap_err();
        assert!(err.contains("not a valid Postgres type name"), "{err}");
        let err = parse(quote!(
            enum E {}
        ))
        .unwrap_err();
        assert!(err.contains("has no variants"), "{err}");
        let err = parse(quote!(
            struct E;
        ))
        .unwrap_err();
        assert!(err.contains("goes on an enum"), "{err}");
    }

    #[test]
    fn expands_to_the_three_impls() {
        let p = parse(quote!(
            enum OrderStatus {
                Pending,
                InTransit,
            }
        ))
        .unwrap();
        let out = expand(&p, quote!(), false).to_string();
        assert!(
            out.contains("impl :: cell_runtime :: __private :: PostgresEnum for OrderStatus"),
            "{out}"
        );
        assert!(
            out.contains("const NAME : & 'static str = \"order_status\""),
            "{out}"
        );
        assert!(out.contains("Self :: InTransit => \"in_transit\""), "{out}");
        assert!(
            out.contains("\"in_transit\" => :: core :: result :: Result :: Ok (Self :: InTransit)"),
            "{out}"
        );
        assert!(out.contains("FromSql < 'a > for OrderStatus"), "{out}");
        let placeholder = expand(&p, quote!(), true).to_string();
        assert!(placeholder.contains("unreachable"), "{placeholder}");
    }
}
