//! From the attributes to declarations, keeping spans: `#[Redis::cache(ttl = "1h")]` and
//! `#[Redis::cache_key]` on a `#[Postgres::table]` struct, and `#[Cache::memoize(...)]` on an
//! async function. Every mistake is collected, so a user sees all of them at once.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ItemFn, ItemStruct, LitStr, Meta, Pat};

use cell_core::macros::Errors;
use cell_postgres::parse::{error, error_spanned, namespaced_name};

use crate::{duration, template};

/// The attribute namespaces.
pub const REDIS: &str = "Redis";

/// `#[Redis::cache(...)]` read from a table struct.
#[derive(Debug, Clone)]
pub struct TableCache {
    pub ttl_secs: u64,
    /// The `#[Redis::cache_key]` fields, in field order.
    pub key_fields: Vec<syn::Ident>,
    pub span: Span,
}

/// Whether `attr` is `Redis::<name>` (also `cell_runtime::Redis::<name>`).
pub fn is_redis(attr: &Attribute, name: &str) -> bool {
    namespaced_name(attr, REDIS).is_some_and(|n| n == name)
}

/// Whether `attr` is `#[Postgres::table]`.
pub fn is_postgres_table(attr: &Attribute) -> bool {
    namespaced_name(attr, "Postgres").is_some_and(|n| n == "table")
}

/// Reads and removes `#[Redis::cache]` from `item` and `#[Redis::cache_key]` from its fields.
/// `Ok(None)` when the struct has neither. On error the attributes are removed all the same,
/// so the table's own expansion goes on and the error is the only message.
pub fn take_table_cache(item: &mut ItemStruct) -> Result<Option<TableCache>, syn::Error> {
    let mut errors = Errors::default();
    let mut cache_attrs = Vec::new();
    item.attrs.retain(|a| {
        if is_redis(a, "cache") {
            cache_attrs.push(a.clone());
            false
        } else {
            true
        }
    });
    let mut key_attrs = Vec::new();
    for field in item.fields.iter_mut() {
        let mut found = None;
        field.attrs.retain(|a| {
            if is_redis(a, "cache_key") {
                found = Some(a.clone());
                false
            } else {
                true
            }
        });
        if let (Some(attr), Some(ident)) = (found, field.ident.clone()) {
            key_attrs.push((attr, ident));
        }
    }
    if cache_attrs.is_empty() && key_attrs.is_empty() {
        return Ok(None);
    }
    let mut ttl = None;
    match cache_attrs.as_slice() {
        [] => {
            for (attr, _) in &key_attrs {
                errors.push(error_spanned(
                    attr,
                    "#[Redis::cache_key] needs #[Redis::cache] on the struct",
                    "add `#[Redis::cache(ttl = \"1h\")]` beside #[Postgres::table]",
                ));
            }
        }
        [first, rest @ ..] => {
            for extra in rest {
                errors.push(error_spanned(
                    extra,
                    "#[Redis::cache] is given twice",
                    "keep one `#[Redis::cache(ttl = \"...\")]`",
                ));
            }
            match parse_cache_args(first) {
                Ok(t) => ttl = Some(t),
                Err(e) => errors.push(e),
            }
        }
    }
    for (attr, _) in &key_attrs {
        if !matches!(attr.meta, Meta::Path(_)) {
            errors.push(error_spanned(
                &attr.meta,
                "#[Redis::cache_key] takes no arguments",
                "write `#[Redis::cache_key]` on a unique field",
            ));
        }
    }
    errors.finish()?;
    Ok(Some(TableCache {
        ttl_secs: ttl.expect("checked"),
        key_fields: key_attrs.into_iter().map(|(_, i)| i).collect(),
        span: cache_attrs[0].span(),
    }))
}

fn parse_cache_args(attr: &Attribute) -> Result<u64, syn::Error> {
    let mut ttl = None;
    if let Meta::List(_) = attr.meta {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("ttl") {
                let lit: LitStr = meta.value()?.parse()?;
                ttl = Some(parse_duration(&lit)?);
                Ok(())
            } else {
                Err(cell_core::macros::unknown_key(
                    &meta.path,
                    "Redis::cache",
                    "the only key is `ttl`: write `#[Redis::cache(ttl = \"1h\")]`",
                ))
            }
        })?;
    }
    ttl.ok_or_else(|| {
        error_spanned(
            attr,
            "#[Redis::cache] needs a time to live",
            "write `#[Redis::cache(ttl = \"1h\")]`",
        )
    })
}

fn parse_duration(lit: &LitStr) -> Result<u64, syn::Error> {
    duration::parse(&lit.value()).map_err(|e| error(lit.span(), &e, duration::HELP))
}

/// `#[Cache::memoize(...)]` read from an async function.
#[derive(Debug, Clone)]
pub struct Memoize {
    pub ttl_secs: u64,
    pub stale_secs: Option<u64>,
    /// Templates as written, with their parts.
    pub tags: Vec<(String, Vec<template::Part>)>,
    /// The arguments (receiver excluded), in order.
    pub args: Vec<Arg>,
    pub has_receiver: bool,
}

#[derive(Debug, Clone)]
pub struct Arg {
    pub ident: syn::Ident,
    pub ty: syn::Type,
}

/// Parses the attribute's arguments against the function; `attr` is how the user named it
/// (`Cache::memoize`), for messages.
pub fn parse_memoize(args: TokenStream, item: &ItemFn, attr: &str) -> Result<Memoize, syn::Error> {
    let mut errors = Errors::default();
    if item.sig.asyncness.is_none() {
        errors.push(error(
            item.sig.fn_token.span(),
            &format!("#[{attr}] goes on an async function"),
            "make it `async fn`: the cache is read and written asynchronously",
        ));
    }
    let mut fn_args = Vec::new();
    let mut has_receiver = false;
    for input in &item.sig.inputs {
        match input {
            FnArg::Receiver(_) => has_receiver = true,
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                    if let syn::Type::Reference(r) = &*pt.ty
                        && r.mutability.is_some()
                    {
                        errors.push(error_spanned(
                            &pt.ty,
                            &format!("#[{attr}] cannot memoize a function that takes `&mut`"),
                            "a memoized call may not run at all: take the argument by value or by `&`",
                        ));
                    }
                    fn_args.push(Arg {
                        ident: pi.ident.clone(),
                        ty: (*pt.ty).clone(),
                    });
                }
                other => errors.push(error_spanned(
                    other,
                    &format!("#[{attr}] needs a plain name for each argument"),
                    "the cache key is built from the arguments by name: write `id: i64`, not a pattern",
                )),
            },
        }
    }
    let names: Vec<String> = fn_args.iter().map(|a| a.ident.to_string()).collect();

    let mut ttl = None;
    let mut ttl_given = false;
    let mut stale = None;
    let mut tags = Vec::new();
    let mut args_span = Span::call_site();
    let parser = syn::meta::parser(|meta| -> syn::Result<()> {
        args_span = meta.path.span();
        if meta.path.is_ident("ttl") {
            ttl_given = true;
            let lit: LitStr = meta.value()?.parse()?;
            match parse_duration(&lit) {
                Ok(t) => ttl = Some(t),
                Err(e) => errors.push(e),
            }
        } else if meta.path.is_ident("stale_while_revalidate") {
            let lit: LitStr = meta.value()?.parse()?;
            match parse_duration(&lit) {
                Ok(t) => stale = Some(t),
                Err(e) => errors.push(e),
            }
        } else if meta.path.is_ident("tags") {
            let content;
            let value = meta.value()?;
            syn::bracketed!(content in value);
            let lits =
                content.parse_terminated(<LitStr as syn::parse::Parse>::parse, syn::Token![,])?;
            for lit in lits {
                match template::parse(&lit.value(), &names) {
                    Ok(parts) => tags.push((lit.value(), parts)),
                    Err(e) => errors.push(error(lit.span(), &e, template::HELP)),
                }
            }
        } else {
            return Err(cell_core::macros::unknown_key(
                &meta.path,
                attr,
                "supported keys: `ttl = \"5m\"`, `tags = [\"user:{id}\"]`, `stale_while_revalidate = \"1h\"`",
            ));
        }
        Ok(())
    });
    let empty = args.is_empty();
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }
    if !ttl_given {
        errors.push(error(
            if empty {
                item.sig.ident.span()
            } else {
                args_span
            },
            &format!("#[{attr}] needs a time to live"),
            &format!("write `#[{attr}(ttl = \"5m\")]`"),
        ));
    }
    if stale.is_some() && has_receiver {
        errors.push(error(
            item.sig.ident.span(),
            "`stale_while_revalidate` cannot refresh a method in the background",
            "the background refresh runs after the call returns, so it cannot borrow `self`: memoize a free function, or drop `stale_while_revalidate`",
        ));
    }
    errors.finish()?;
    Ok(Memoize {
        ttl_secs: ttl.unwrap_or(0),
        stale_secs: stale,
        tags,
        args: fn_args,
        has_receiver,
    })
}
