//! `#[Postgres::transaction(isolation = "serializable", attempts = 10)]` on an async fn (also
//! spelled `#[Database::transaction]`): the body runs in one transaction, retried on
//! serialization failures and deadlocks. Parse and expand are separate and plain, so both are
//! unit-tested without rustc.
//!
//! The expansion is `db.transaction_with(options, |tx| async move { body })`, with the
//! connection parameter shadowed by the transaction inside the body, and every other
//! parameter cloned per attempt (the body may run more than once).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, ItemFn, Lit, Meta, Pat, Type};

use cell_core::macros::{Errors, error, error_spanned, unknown_key};

const ATTRIBUTE: &str = "Postgres::transaction";
const KEYS: &str = "#[Postgres::transaction] takes `isolation = \"read committed\" | \"repeatable read\" | \"serializable\"`, `attempts = N` and `connection = \"parameter\"`";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

/// What the attribute asked for.
#[derive(Debug)]
pub struct TransactionAttr {
    pub isolation: Isolation,
    pub attempts: u32,
    /// The parameter holding the connection, when named.
    pub connection: Option<String>,
}

pub fn parse_args(args: TokenStream) -> Result<TransactionAttr, syn::Error> {
    let mut attr = TransactionAttr {
        isolation: Isolation::ReadCommitted,
        attempts: 10,
        connection: None,
    };
    let metas = syn::parse::Parser::parse2(
        syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
        args,
    )?;
    let mut errors = Errors::default();
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            errors.push(error_spanned(&meta, "expected `key = value`", KEYS));
            continue;
        };
        let key = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match (key.as_str(), &nv.value) {
            (
                "isolation",
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }),
            ) => match s.value().to_lowercase().replace(['_', '-'], " ").as_str() {
                "read committed" => attr.isolation = Isolation::ReadCommitted,
                "repeatable read" => attr.isolation = Isolation::RepeatableRead,
                "serializable" => attr.isolation = Isolation::Serializable,
                other => errors.push(error(
                    s.span(),
                    &format!("unknown isolation level `{other}`"),
                    "use \"read committed\" (Postgres's default), \"repeatable read\" or \"serializable\"; Postgres runs \"read uncommitted\" as read committed",
                )),
            },
            (
                "attempts",
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }),
            ) => match n.base10_parse::<u32>() {
                Ok(n) if n >= 1 => attr.attempts = n,
                _ => errors.push(error(
                    n.span(),
                    "`attempts` must be a whole number of at least 1",
                    "it counts the first run: `attempts = 1` never retries",
                )),
            },
            (
                "connection",
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }),
            ) => attr.connection = Some(s.value()),
            ("isolation" | "connection", v) => {
                errors.push(error_spanned(v, &format!("`{key}` takes a string"), KEYS))
            }
            ("attempts", v) => errors.push(error_spanned(v, "`attempts` takes a number", KEYS)),
            _ => errors.push(unknown_key(&nv.path, ATTRIBUTE, KEYS)),
        }
    }
    errors.finish()?;
    Ok(attr)
}

/// The parameter that holds the connection: the one named by `connection = "..."`, else the
/// first whose type is a reference to `PostgresConnection`, else one named `db`.
fn connection_param<'a>(
    item: &'a ItemFn,
    attr: &TransactionAttr,
) -> Result<&'a syn::Ident, syn::Error> {
    let typed: Vec<(&syn::Ident, &Type)> = item
        .sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) => Some((&pi.ident, &*pt.ty)),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let help = "take the connection as a parameter, e.g. `db: &PostgresConnection`, or name it with `connection = \"...\"`; inside the body that name is the transaction";
    if let Some(name) = &attr.connection {
        return typed
            .iter()
            .find(|(i, _)| *i == name.as_str())
            .map(|(i, _)| *i)
            .ok_or_else(|| {
                error(
                    item.sig.ident.span(),
                    &format!("`{}` has no parameter `{name}`", item.sig.ident),
                    help,
                )
            });
    }
    let is_connection = |ty: &Type| match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) => p
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "PostgresConnection"),
            _ => false,
        },
        _ => false,
    };
    typed
        .iter()
        .find(|(_, ty)| is_connection(ty))
        .or_else(|| typed.iter().find(|(i, _)| *i == "db"))
        .map(|(i, _)| *i)
        .ok_or_else(|| {
            error(
                item.sig.ident.span(),
                &format!(
                    "#[Postgres::transaction] cannot find the connection of `{}`",
                    item.sig.ident
                ),
                help,
            )
        })
}

pub fn expand(attr: &TransactionAttr, item: &ItemFn) -> Result<TokenStream, syn::Error> {
    let mut errors = Errors::default();
    if item.sig.asyncness.is_none() {
        errors.error(
            item.sig.fn_token.span(),
            "#[Postgres::transaction] goes on an `async fn`",
            "make the function `async`: its body awaits the database",
        );
    }
    if matches!(item.sig.output, syn::ReturnType::Default) {
        errors.error(
            item.sig.ident.span(),
            "a #[Postgres::transaction] function returns a `Result`",
            "return `Result<T, E>` where `E: From<cell_runtime::Error>` (such as `cell_runtime::Error` or `anyhow::Error`): `Ok` commits, `Err` rolls back",
        );
    }
    let conn = match connection_param(item, attr) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    errors.finish()?;
    let conn = conn.expect("checked");

    // Every other parameter is cloned for each attempt: the body owns its copy, and a retry
    // starts from the values the function was called with.
    let mut clones = Vec::new();
    for input in &item.sig.inputs {
        if let FnArg::Typed(pt) = input
            && let Pat::Ident(pi) = &*pt.pat
            && pi.ident != *conn
        {
            let name = &pi.ident;
            let ty = &pt.ty;
            clones.push(
                quote_spanned!(ty.span()=> let #name: #ty = ::core::clone::Clone::clone(&#name);),
            );
        } else if let FnArg::Typed(pt) = input
            && !matches!(&*pt.pat, Pat::Ident(_))
        {
            return Err(error_spanned(
                &pt.pat,
                "#[Postgres::transaction] needs every parameter to have a plain name",
                "bind the parameter to a name and destructure it in the body: the body may run more than once, so each attempt gets its own copy",
            ));
        }
    }

    let isolation = match attr.isolation {
        Isolation::ReadCommitted => quote!(ReadCommitted),
        Isolation::RepeatableRead => quote!(RepeatableRead),
        Isolation::Serializable => quote!(Serializable),
    };
    let attempts = attr.attempts;
    let rt = quote!(::cell_runtime);
    let output = match &item.sig.output {
        syn::ReturnType::Type(_, ty) => ty,
        syn::ReturnType::Default => unreachable!("checked"),
    };
    let block = &item.block;
    let tx = format_ident!("__cell_tx");
    let mut out = item.clone();
    out.block = syn::parse2(quote!({
        #rt::PostgresConnection::transaction_with(
            #conn,
            #rt::TransactionOptions {
                isolation: #rt::Isolation::#isolation,
                attempts: #attempts,
            },
            |#tx: #rt::Transaction| {
                #(#clones)*
                async move {
                    let #conn = &#tx;
                    let __cell_result: #output = async move #block.await;
                    __cell_result
                }
            },
        )
        .await
    }))
    .expect("generated block parses");
    Ok(quote!(#out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: TokenStream, item: TokenStream) -> Result<String, String> {
        let attr = parse_args(args).map_err(|e| e.to_string())?;
        let item: ItemFn = syn::parse2(item).unwrap();
        expand(&attr, &item)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn runs_the_body_in_a_retried_transaction_with_params_cloned_per_attempt() {
        let out = expand_str(
            quote!(isolation = "serializable"),
            quote! {
                async fn transfer(db: &PostgresConnection, from: i64, to: i64, cents: i64) -> Result<(), Error> {
                    Account::debit(db, from, cents).await?;
                    Account::credit(db, to, cents).await
                }
            },
        )
        .unwrap();
        assert!(
            out.contains(":: cell_runtime :: PostgresConnection :: transaction_with (db ,"),
            "{out}"
        );
        assert!(out.contains("Isolation :: Serializable"), "{out}");
        assert!(out.contains("attempts : 10u32"), "{out}");
        assert!(
            out.contains("let from : i64 = :: core :: clone :: Clone :: clone (& from) ;"),
            "{out}"
        );
        assert!(out.contains("let db = & __cell_tx ;"), "{out}");
        assert!(
            !out.contains("let db : "),
            "the connection is not cloned: {out}"
        );
    }

    #[test]
    fn the_vision_spelling_and_names() {
        let attr = parse_args(quote!(
            isolation = "REPEATABLE_READ",
            attempts = 3,
            connection = "pool"
        ))
        .unwrap();
        assert_eq!(attr.isolation, Isolation::RepeatableRead);
        assert_eq!(attr.attempts, 3);
        let item: ItemFn = syn::parse2(quote!(
            async fn f(pool: &Pg) -> Result<(), E> {
                Ok(())
            }
        ))
        .unwrap();
        let out = expand(&attr, &item).unwrap().to_string();
        assert!(out.contains("transaction_with (pool ,"), "{out}");
    }

    #[test]
    fn mistakes_say_what_to_do() {
        for (args, item, expected) in [
            (
                quote!(isolation = "snapshot"),
                quote!(
                    async fn f(db: &PostgresConnection) -> R {
                        x
                    }
                ),
                "unknown isolation level `snapshot`",
            ),
            (
                quote!(attempts = 0),
                quote!(
                    async fn f(db: &PostgresConnection) -> R {
                        x
                    }
                ),
                "at least 1",
            ),
            (
                quote!(retries = 2),
                quote!(
                    async fn f(db: &PostgresConnection) -> R {
                        x
                    }
                ),
                "unknown key `retries`",
            ),
            (
                quote!(),
                quote!(
                    fn f(db: &PostgresConnection) -> R {
                        x
                    }
                ),
                "goes on an `async fn`",
            ),
            (
                quote!(),
                quote!(
                    async fn f(db: &PostgresConnection) {
                        x
                    }
                ),
                "returns a `Result`",
            ),
            (
                quote!(),
                quote!(
                    async fn f(pool: &Pool) -> R {
                        x
                    }
                ),
                "cannot find the connection of `f`",
            ),
            (
                quote!(connection = "conn"),
                quote!(
                    async fn f(db: &Pool) -> R {
                        x
                    }
                ),
                "has no parameter `conn`",
            ),
            (
                quote!(),
                quote!(
                    async fn f(db: &PostgresConnection, (a, b): (i64, i64)) -> R {
                        x
                    }
                ),
                "plain name",
            ),
        ] {
            let err = expand_str(args, item).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
