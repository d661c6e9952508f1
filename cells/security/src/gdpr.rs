//! `#[Security::gdpr(right_to_be_forgotten = true)]` on the `#[Postgres::table]` struct of
//! data subjects (its primary key identifies a subject): it generates
//! `forget(&db, &subject)`, which removes the subject's row and every row that belongs to
//! it through foreign keys, in one transaction, and says what it removed.
//!
//! Which tables hold the subject's rows is read from the database's foreign keys when
//! `forget` runs (the applied schema, which the lock records), so a table added later that
//! references the subject is covered without touching this attribute.

use cell_core::macros::Errors;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemStruct, Lit};

const USAGE: &str = "write `#[Security::gdpr(right_to_be_forgotten = true)]` on the `#[Postgres::table]` struct whose rows are the data subjects";

/// The attribute's arguments, validated (`right_to_be_forgotten = true`, the only form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gdpr;

pub fn parse(args: TokenStream, item: &ItemStruct) -> syn::Result<Gdpr> {
    let mut errors = Errors::default();
    let mut forgotten = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("right_to_be_forgotten") {
            let value: Expr = meta.value()?.parse()?;
            match &value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => forgotten = Some((b.value, b.span())),
                other => errors.error(
                    other.span(),
                    "`right_to_be_forgotten` is `true` or `false`",
                    USAGE,
                ),
            }
        } else {
            errors.push(cell_core::macros::unknown_key(
                &meta.path,
                "Security::gdpr",
                "the key is `right_to_be_forgotten`",
            ));
            if meta.input.peek(syn::Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(cell_core::macros::error(e.span(), &e.to_string(), USAGE));
    }
    match forgotten {
        Some((true, _)) => {}
        Some((false, span)) => errors.error(
            span,
            "`right_to_be_forgotten = false` generates nothing",
            "remove #[Security::gdpr], or write `right_to_be_forgotten = true` to get `forget(&db, &subject)`",
        ),
        None => errors.error(
            Span::call_site(),
            "#[Security::gdpr] needs `right_to_be_forgotten = true`",
            USAGE,
        ),
    }
    if let Some(param) = item.generics.params.first() {
        errors.error(
            param.span(),
            "#[Security::gdpr] goes on a table struct without generics",
            "a `#[Postgres::table]` struct has no generic parameters: remove them",
        );
    }
    errors.finish()?;
    Ok(Gdpr)
}

/// The struct unchanged, with `forget`, and the check (spanned at the attribute) that it
/// is a table, whose primary key is the subject's.
pub fn expand(item: &ItemStruct, _gdpr: &Gdpr) -> TokenStream {
    let ident = &item.ident;
    let p = quote!(::cell_runtime::__private);
    let rt = quote!(::cell_runtime);
    let table = quote_spanned!(Span::call_site()=> <#ident as #p::security::Table>::TABLE);
    quote! {
        #item

        impl #ident {
            /// Forgets the data subject whose primary key is `subject`
            /// (`#[Security::gdpr(right_to_be_forgotten = true)]`): deletes its row and every
            /// row referencing it through foreign keys, transitively, in one transaction, and
            /// says how many rows of each table went.
            pub async fn forget(
                db: &#rt::PostgresConnection,
                subject: &(dyn #p::ToSql + ::core::marker::Sync),
            ) -> ::core::result::Result<#rt::gdpr::Forgotten, #rt::Error> {
                #rt::gdpr::forget(db, #table, subject).await
            }
        }
    }
}
