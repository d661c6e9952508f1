//! `#[Security::hipaa(protected_health_info = true)]` on a `#[Postgres::table]` struct whose
//! `#[Security::pii]` fields are protected health information: every read of its rows
//! through the table's API (`find_by_*`, `all`, search) is an audit record, written before
//! the rows reach the caller.
//!
//! The record is an audit like `#[Audit::log]`'s, declared in the manifest and locked in
//! `.cell/audit.lock.json` under the struct's path, so `cargo cell plan` shows it added and
//! flags its removal `LOOSENED: needs review`. What the expansion adds is one inherent const,
//! `__CELL_PHI`, that the table's read methods find through a blanket trait whose default is
//! `None` (so tables without it pay nothing), and two compile-time checks: the struct has
//! personal fields, and it is a table.

use cell_audit::declare::{AuditDecl, retention_days};
use cell_audit::parse::valid_event;
use cell_core::macros::Errors;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemStruct, Lit};

const USAGE: &str = "write `#[Security::hipaa(protected_health_info = true)]` next to `#[Security::pii(fields = [...])]` on a `#[Postgres::table]` struct";

/// The event of a read unless the attribute names one.
pub const DEFAULT_EVENT: &str = "phi_read";

/// How long read records are kept unless the attribute says: six years, what HIPAA asks of
/// its documentation (45 CFR 164.316(b)(2)).
pub const DEFAULT_RETENTION: &str = "6y";

/// The attribute's arguments, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hipaa {
    pub event: String,
    pub retention: String,
}

impl Hipaa {
    /// The audit of the reads of `subject` (`{crate}::{module}::{Struct}`): what a record's
    /// arguments are, as the plan and the lock show them.
    pub fn declaration(&self, subject: &str) -> AuditDecl {
        AuditDecl {
            function: subject.to_string(),
            event: self.event.clone(),
            args: ["table", "fields", "keys"].map(String::from).to_vec(),
            sensitive: Vec::new(),
            retention: self.retention.clone(),
        }
    }
}

fn string(expr: &Expr) -> Option<syn::LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        _ => None,
    }
}

/// The attribute's arguments; `item` only for its generics (a generic struct is refused).
pub fn parse(args: TokenStream, item: &ItemStruct) -> syn::Result<Hipaa> {
    let mut errors = Errors::default();
    let mut phi = None;
    let mut event = DEFAULT_EVENT.to_string();
    let mut retention = DEFAULT_RETENTION.to_string();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.get_ident().map(|i| i.to_string());
        match key.as_deref() {
            Some("protected_health_info") => {
                let value: Expr = meta.value()?.parse()?;
                match &value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Bool(b), ..
                    }) => phi = Some((b.value, b.span())),
                    other => errors.error(
                        other.span(),
                        "`protected_health_info` is `true` or `false`",
                        USAGE,
                    ),
                }
            }
            Some("event") => {
                let value: Expr = meta.value()?.parse()?;
                match string(&value) {
                    Some(s) if valid_event(&s.value()) => event = s.value(),
                    Some(s) => errors.error(
                        s.span(),
                        &format!("`{}` is not an event name", s.value()),
                        "an event name is lowercase letters, digits, `_`, `.` and `-`, such as `\"patient_read\"`",
                    ),
                    None => errors.error(
                        value.span(),
                        "`event` is a string such as `\"patient_read\"`",
                        USAGE,
                    ),
                }
            }
            Some("retention") => {
                let value: Expr = meta.value()?.parse()?;
                match string(&value) {
                    Some(s) => match retention_days(&s.value()) {
                        Ok(_) => retention = s.value(),
                        Err(message) => {
                            let (m, help) = message
                                .split_once("\n\nhelp: ")
                                .unwrap_or((&message, USAGE));
                            errors.error(s.span(), m, help)
                        }
                    },
                    None => errors.error(
                        value.span(),
                        "`retention` is a string such as `\"6y\"`",
                        USAGE,
                    ),
                }
            }
            _ => {
                errors.push(cell_core::macros::unknown_key(
                    &meta.path,
                    "Security::hipaa",
                    "the keys are `protected_health_info`, `event` and `retention`",
                ));
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
            }
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(cell_core::macros::error(e.span(), &e.to_string(), USAGE));
    }
    match phi {
        Some((true, _)) => {}
        Some((false, span)) => errors.error(
            span,
            "`protected_health_info = false` audits nothing",
            "remove #[Security::hipaa] to stop auditing reads (the plan flags it for review), or write `protected_health_info = true`",
        ),
        None => errors.error(
            Span::call_site(),
            "#[Security::hipaa] needs `protected_health_info = true`",
            USAGE,
        ),
    }
    if let Some(param) = item.generics.params.first() {
        errors.error(
            param.span(),
            "#[Security::hipaa] goes on a table struct without generics",
            "a `#[Postgres::table]` struct has no generic parameters: remove them",
        );
    }
    errors.finish()?;
    Ok(Hipaa { event, retention })
}

/// The struct unchanged, with its `__CELL_PHI` and the checks that it has personal fields
/// and is a table (both spanned at the attribute). `track` ties the crate to the audit lock.
pub fn expand(item: &ItemStruct, hipaa: &Hipaa, subject: &str, track: TokenStream) -> TokenStream {
    let ident = &item.ident;
    let event = &hipaa.event;
    let security = quote!(::cell_runtime::__private::security);
    let no_pii = format!(
        "`{ident}` has no personal fields: #[Security::hipaa] audits the reads of its #[Security::pii] fields\n\nhelp: mark the protected health information with `#[Security::pii(fields = [\"diagnosis\"])]` on `{ident}`"
    );
    let span = Span::call_site();
    let checks = quote_spanned! {span=>
        const _: () = {
            use #security::PiiFields as _;
            if <#ident>::__CELL_PII.is_empty() {
                ::core::panic!(#no_pii);
            }
        };
        const _: fn() = || {
            fn audited_reads<T: #security::RowKey>() {}
            audited_reads::<#ident>();
        };
    };
    quote! {
        #item

        impl #ident {
            /// The reads of this table's rows are audited (`#[Security::hipaa]`).
            #[doc(hidden)]
            pub const __CELL_PHI: ::core::option::Option<&'static #security::PhiRead> =
                ::core::option::Option::Some(&#security::PhiRead {
                    event: #event,
                    subject: #subject,
                    fields: {
                        use #security::PiiFields as _;
                        <#ident>::__CELL_PII
                    },
                });
        }

        #checks
        #track
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> ItemStruct {
        syn::parse_quote!(
            struct Patient {
                id: i64,
                diagnosis: String,
            }
        )
    }

    #[test]
    fn defaults_and_the_declaration() {
        let h = parse(quote!(protected_health_info = true), &item()).unwrap();
        assert_eq!(
            h,
            Hipaa {
                event: "phi_read".into(),
                retention: "6y".into()
            }
        );
        let d = h.declaration("app::Patient");
        assert_eq!(
            d.describe(),
            "event phi_read, args table fields keys, kept 6y"
        );
        let h = parse(
            quote!(
                protected_health_info = true,
                event = "chart_read",
                retention = "10y"
            ),
            &item(),
        )
        .unwrap();
        assert_eq!(
            (h.event.as_str(), h.retention.as_str()),
            ("chart_read", "10y")
        );
    }

    #[test]
    fn every_mistake_is_reported() {
        let e = |args: TokenStream| parse(args, &item()).unwrap_err().to_string();
        assert!(e(quote!()).starts_with("#[Security::hipaa] needs `protected_health_info = true`"));
        assert!(
            e(quote!(protected_health_info = false))
                .starts_with("`protected_health_info = false` audits nothing")
        );
        assert!(
            e(quote!(protected_health_info = true, event = "Bad Name"))
                .starts_with("`Bad Name` is not an event name")
        );
        assert!(e(quote!(protected_health_info = true, retention = "soon")).contains("retention"));
        assert!(
            e(quote!(protected_health_info = true, colour = "red"))
                .starts_with("unknown key `colour` in #[Security::hipaa]")
        );
        let generic: ItemStruct = syn::parse_quote!(
            struct P<T> {
                id: T,
            }
        );
        assert!(parse(quote!(protected_health_info = true), &generic).is_err());
    }

    #[test]
    fn the_const_names_the_event_and_the_subject() {
        let h = parse(quote!(protected_health_info = true), &item()).unwrap();
        let out = expand(&item(), &h, "app::Patient", quote!()).to_string();
        assert!(
            out.contains("event : \"phi_read\" , subject : \"app::Patient\""),
            "{out}"
        );
        assert!(
            out.contains("< Patient > :: __CELL_PII . is_empty ()"),
            "{out}"
        );
        assert!(out.contains("audited_reads :: < Patient >"), "{out}");
    }
}
