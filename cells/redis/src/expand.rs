//! Code generation. Cannot fail: every check happened in [`crate::parse`] or [`check_keys`].
//!
//! - [`cached_table`] rewrites a `#[Postgres::table]` expansion: the generated
//!   `find_by_<pk>` and `find_by_<cache_key>` read through Redis, and `update`, `delete`,
//!   `delete_by_id`, `upsert`, `upsert_on_<fields>`, `update_where` and `delete_where`
//!   invalidate after the database has committed (the keys of every row they touched, before
//!   and after the write). The database versions are kept as private `__cell_db_*` methods, so
//!   the SQL stays the Postgres Cell's and every signature stays the same: no call site
//!   changes. `update_where` and `delete_where` run their own statement, which returns the
//!   touched rows' keys (`RETURNING`). `insert_many` only adds rows, and misses are not
//!   cached, so it is not wrapped.
//! - [`memoize`] wraps an async function's body in a read-through cache keyed by the
//!   function's path and arguments.
//!
//! Generated code reaches the runtime through `::cell_runtime::__private::cache`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{ImplItem, Item, ItemFn, ItemStruct};

use cell_postgres::ident::quote as q;
use cell_postgres::parse::{ParsedTable, error};

use crate::declare::{MemoizeDecl, TableCacheDecl};
use crate::key;
use crate::parse::{Memoize, TableCache};
use crate::template::Part;

fn private() -> TokenStream {
    quote!(::cell_runtime::__private::cache)
}

/// `compile_error!` at `span`.
pub use cell_core::macros::compile_error;

/// The cached finders must exist and be unique: `#[Redis::cache_key]` goes on a field with
/// a unique index.
pub fn check_keys(parsed: &ParsedTable, cache: &TableCache) -> Result<(), syn::Error> {
    let mut errors = cell_core::macros::Errors::default();
    for f in &cache.key_fields {
        let Some(i) = parsed.field_idents.iter().position(|x| x == f) else {
            continue;
        };
        let c = &parsed.decl.columns[i];
        if c.primary_key {
            errors.push(error(
                f.span(),
                "the primary key is always a cache key",
                "remove #[Redis::cache_key] from the primary key",
            ));
        } else if !c.index.is_some_and(|ix| ix.unique) {
            errors.push(error(
                f.span(),
                &format!("#[Redis::cache_key] needs a unique field, and `{}` is not unique", c.name),
                "add `#[Postgres::unique]` (a cached `find_by_` returns one row), or remove #[Redis::cache_key]",
            ));
        }
    }
    errors.finish()
}

/// The declaration recorded in the manifest for a cached table.
pub fn table_decl(parsed: &ParsedTable, cache: &TableCache, app: &str) -> TableCacheDecl {
    let pk = parsed
        .decl
        .primary_key()
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let mut keys = vec![pk];
    keys.extend(cache.key_fields.iter().map(field_name));
    TableCacheDecl {
        table: parsed.decl.name.clone(),
        rust_name: parsed.decl.rust_name.clone(),
        app: app.to_string(),
        namespace: key::table_namespace(
            app,
            &parsed.decl.name,
            &key::table_fingerprint(&parsed.decl),
        ),
        ttl_secs: cache.ttl_secs,
        keys,
    }
}

fn field_name(i: &syn::Ident) -> String {
    i.to_string().trim_start_matches("r#").to_string()
}

/// Rewrites the table's expansion `out` (see the module's docs). `out` is returned unchanged
/// when it does not have the shape the Postgres Cell generates (then it carries errors).
pub fn cached_table(
    out: TokenStream,
    item: &ItemStruct,
    parsed: &ParsedTable,
    cache: &TableCache,
    app: &str,
) -> TokenStream {
    let Ok(mut file) = syn::parse2::<syn::File>(out.clone()) else {
        return out;
    };
    let ident = &item.ident;
    if let Some(c) = parsed.decl.columns.iter().find(|c| c.encrypted) {
        let err = cell_core::macros::compile_error(
            proc_macro2::Span::call_site(),
            &format!(
                "`{ident}` has an encrypted field (`{}`): it is not cached in Redis\n\nhelp: remove #[Redis::cache] from `{ident}`: the cache would keep the decrypted row outside the database",
                c.name
            ),
        );
        return quote!(#out #err);
    }
    let decl = table_decl(parsed, cache, app);
    let p = private();
    let rt = quote!(::cell_runtime);
    let ns = &decl.namespace;
    let ttl = decl.ttl_secs;

    let pk_index = parsed
        .decl
        .columns
        .iter()
        .position(|c| c.primary_key)
        .unwrap_or(0);
    let pk_field = &parsed.field_idents[pk_index];
    let pk_name = field_name(pk_field);
    let key_fields: Vec<(usize, &syn::Ident)> = cache
        .key_fields
        .iter()
        .filter_map(|f| {
            parsed
                .field_idents
                .iter()
                .position(|x| x == f)
                .map(|i| (i, f))
        })
        .collect();

    // The methods to wrap, by name: finders read through, writes invalidate.
    let finders: Vec<(String, String)> =
        std::iter::once((format!("find_by_{pk_name}"), pk_name.clone()))
            .chain(
                key_fields
                    .iter()
                    .map(|(_, f)| (format!("find_by_{}", field_name(f)), field_name(f))),
            )
            .collect();
    let writes = ["update", "delete", "delete_by_id", "upsert"];
    let upsert_targets = cell_postgres::expand::upsert_targets(parsed);
    let filtered = ["update_where", "delete_where"];
    let qt = q(&parsed.decl.name);
    let key_columns: Vec<String> = std::iter::once(pk_index)
        .chain(key_fields.iter().map(|(i, _)| *i))
        .map(|i| q(&parsed.decl.columns[i].name))
        .collect();
    let qualified = |alias: &str| {
        key_columns
            .iter()
            .map(|c| format!("\"{alias}\".{c}"))
            .collect::<Vec<_>>()
    };
    let returning_keys = key_columns.join(", ");
    let returning_new_old = [qualified("__new"), qualified("__old")].concat().join(", ");
    let group = key_columns.len();
    let pk_quoted = &key_columns[0];

    let mut wrappers = Vec::new();
    let mut found = Vec::new();
    for it in &mut file.items {
        let Item::Impl(imp) = it else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        for member in &mut imp.items {
            let ImplItem::Fn(f) = member else { continue };
            let name = f.sig.ident.to_string();
            let finder = finders.iter().find(|(m, _)| *m == name);
            let upsert_on = upsert_targets.iter().find(|(m, _)| *m == name);
            if finder.is_none()
                && upsert_on.is_none()
                && !writes.contains(&name.as_str())
                && !filtered.contains(&name.as_str())
            {
                continue;
            }
            found.push(name.clone());
            let db_name = format_ident!("__cell_db_{}", name);
            let mut wrapper = f.clone();
            f.sig.ident = db_name.clone();
            f.vis = syn::Visibility::Inherited;
            f.attrs.retain(|a| !a.path().is_ident("doc"));
            let call_args: Vec<TokenStream> = f
                .sig
                .inputs
                .iter()
                .filter_map(|a| match a {
                    syn::FnArg::Typed(pt) => match &*pt.pat {
                        syn::Pat::Ident(pi) => {
                            let i = &pi.ident;
                            Some(quote!(#i))
                        }
                        _ => None,
                    },
                    syn::FnArg::Receiver(_) => None,
                })
                .collect();
            let has_self = f.sig.receiver().is_some();
            let db_call = if has_self {
                quote!(self.#db_name(#(#call_args),*))
            } else {
                quote!(Self::#db_name(#(#call_args),*))
            };
            let body = if name == "delete_where" {
                // The deleted rows' keys come back from the DELETE itself.
                quote!({
                    let (sql, params) = ::cell_runtime::__private::filter_sql::delete(#qt, &filter, #returning_keys);
                    let rows = #rt::Executor::query(db, &sql, &params).await?;
                    let mut __cell_keys = ::std::vec::Vec::new();
                    for row in &rows {
                        Self::__cell_row_keys(row, 0, &mut __cell_keys)?;
                    }
                    #rt::Executor::invalidate_after_commit(db, __cell_keys).await;
                    ::core::result::Result::Ok(rows.len() as u64)
                })
            } else if name == "update_where" {
                // Joined to itself as it was, the UPDATE returns each row's keys before and after.
                quote!({
                    let (sql, params) = ::cell_runtime::__private::filter_sql::update(#qt, &filter, &set, ::core::option::Option::Some(#pk_quoted), #returning_new_old);
                    let rows = #rt::Executor::query(db, &sql, &params).await?;
                    let mut __cell_keys = ::std::vec::Vec::new();
                    for row in &rows {
                        Self::__cell_row_keys(row, 0, &mut __cell_keys)?;
                        Self::__cell_row_keys(row, #group, &mut __cell_keys)?;
                    }
                    #rt::Executor::invalidate_after_commit(db, __cell_keys).await;
                    ::core::result::Result::Ok(rows.len() as u64)
                })
            } else if let Some((_, target)) = upsert_on {
                // The row that conflicts may have another primary key and other cache keys:
                // its keys before, and the stored row's after.
                let cond = target
                    .iter()
                    .enumerate()
                    .map(|(n, &i)| format!("{} = ${}", q(&parsed.decl.columns[i].name), n + 1))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let sql = format!("SELECT {returning_keys} FROM {qt} WHERE {cond}");
                let binds = target.iter().map(|&i| {
                    let f = &parsed.field_idents[i];
                    quote!(&self.#f)
                });
                quote!({
                    let mut __cell_keys = ::std::vec::Vec::new();
                    for row in #rt::Executor::query(db, #sql, &[#(#binds),*]).await? {
                        Self::__cell_row_keys(&row, 0, &mut __cell_keys)?;
                    }
                    let __cell_done = #db_call.await?;
                    __cell_keys.extend(__cell_done.__cell_own_keys());
                    #rt::Executor::invalidate_after_commit(db, __cell_keys).await;
                    ::core::result::Result::Ok(__cell_done)
                })
            } else if let Some((_, field)) = finder {
                let value = call_args.last().cloned().unwrap_or_default();
                quote!({
                    let __cell_key = #p::entry_key(#ns, #field, &#value);
                    #p::read_through(db, __cell_key, #ttl, #db_call).await
                })
            } else {
                let (stored, own) = match name.as_str() {
                    "delete_by_id" => {
                        let id = call_args.last().cloned().unwrap_or_default();
                        (
                            quote!(Self::__cell_stored_keys(db, #p::entry_key(#ns, #pk_name, &#id), &#id).await?),
                            quote!(),
                        )
                    }
                    _ => (
                        quote!(Self::__cell_stored_keys(db, #p::entry_key(#ns, #pk_name, &self.#pk_field), &self.#pk_field).await?),
                        quote!(__cell_keys.extend(self.__cell_own_keys());),
                    ),
                };
                quote!({
                    let mut __cell_keys = #stored;
                    let __cell_done = #db_call.await?;
                    #own
                    #rt::Executor::invalidate_after_commit(db, __cell_keys).await;
                    ::core::result::Result::Ok(__cell_done)
                })
            };
            wrapper.block = syn::parse2(body).expect("generated block parses");
            wrappers.push(wrapper);
        }
    }
    let missing: Vec<&String> = finders
        .iter()
        .map(|(m, _)| m)
        .filter(|m| !found.contains(m))
        .collect();
    if !missing.is_empty() {
        // A table with errors gets placeholders without them: those errors are the message.
        return out;
    }

    // Keys of a row as stored now, and of `self`.
    let pk_key = quote!(pk_key);
    let stored = if key_fields.is_empty() {
        quote!({
            let _ = (db, pk);
            ::core::result::Result::Ok(::std::vec![#pk_key])
        })
    } else {
        let cols: Vec<String> = key_fields
            .iter()
            .map(|(i, _)| q(&parsed.decl.columns[*i].name))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1",
            cols.join(", "),
            q(&parsed.decl.name),
            q(&parsed.decl.columns[pk_index].name)
        );
        let reads = key_fields.iter().enumerate().map(|(n, (i, f))| {
            let ty = &parsed.field_types[*i];
            let name = field_name(f);
            quote!({
                let v: #ty = row.try_get(#n)?;
                keys.push(#p::entry_key(#ns, #name, &v));
            })
        });
        quote!({
            let mut keys = ::std::vec![#pk_key];
            if let ::core::option::Option::Some(row) = #rt::Executor::query_opt(db, #sql, &[pk]).await? {
                #(#reads)*
            }
            ::core::result::Result::Ok(keys)
        })
    };
    let own_keys = std::iter::once((pk_field, pk_name.clone()))
        .chain(key_fields.iter().map(|(_, f)| (*f, field_name(f))))
        .map(|(f, name)| quote!(#p::entry_key(#ns, #name, &self.#f)));

    let group_reads = std::iter::once((pk_index, pk_field))
        .chain(key_fields.iter().copied())
        .enumerate()
        .map(|(n, (i, f))| {
            let ty = &parsed.field_types[i];
            let name = field_name(f);
            quote!({
                let v: #ty = row.try_get(at + #n)?;
                keys.push(#p::entry_key(#ns, #name, &v));
            })
        });
    let fields = &parsed.field_idents;
    let types = &parsed.field_types;
    let serde_path =
        format!("{}::serde", quote!(::cell_runtime::__private::cache)).replace(' ', "");
    let doc = format!(
        "Read through the Redis Cell (`{ns}`, ttl {}); writes invalidate after commit.",
        crate::duration::format(ttl)
    );
    let no_phi = format!(
        "`{ident}` is protected health information (#[Security::hipaa]): it is not cached in Redis\n\nhelp: remove #[Redis::cache] from `{ident}`: a cache hit would be a read the audit trail never sees, and a copy of the data outside the database"
    );
    let generated = quote! {
        const _: () = {
            use ::cell_runtime::__private::security::PhiReads as _;
            if <#ident>::__CELL_PHI.is_some() {
                ::core::panic!(#no_phi);
            }
        };
        const _: () = {
            #[derive(#p::serde::Serialize)]
            #[serde(crate = #serde_path)]
            struct __CellRowRef<'a> { #(#fields: &'a #types,)* }
            #[derive(#p::serde::Deserialize)]
            #[serde(crate = #serde_path)]
            struct __CellRow { #(#fields: #types,)* }
            impl #p::CachedRow for #ident {
                fn encode(&self) -> ::std::vec::Vec<u8> {
                    #p::encode(&__CellRowRef { #(#fields: &self.#fields,)* })
                }
                fn decode(bytes: &[u8]) -> ::core::option::Option<Self> {
                    let row: __CellRow = #p::decode(bytes)?;
                    ::core::option::Option::Some(Self { #(#fields: row.#fields,)* })
                }
            }
        };

        #[allow(dead_code)]
        impl #ident {
            #(#[doc = #doc] #wrappers)*

            async fn __cell_stored_keys(
                db: &impl #rt::Executor,
                pk_key: ::std::string::String,
                pk: &(dyn #p::ToSql + ::core::marker::Sync),
            ) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, #rt::Error> #stored


            /// The keys of the primary key and cache keys read from `row`, from column `at`.
            fn __cell_row_keys(
                row: &::cell_runtime::__private::Row,
                at: usize,
                keys: &mut ::std::vec::Vec<::std::string::String>,
            ) -> ::core::result::Result<(), #rt::Error> {
                #(#group_reads)*
                ::core::result::Result::Ok(())
            }

            fn __cell_own_keys(&self) -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![#(#own_keys),*]
            }
        }
    };
    let items = &file.items;
    let attrs = &file.attrs;
    quote!(#(#attrs)* #(#items)* #generated)
}

/// The declaration recorded in the manifest for a memoized function.
pub fn memoize_decl(item: &ItemFn, memo: &Memoize, app: &str) -> MemoizeDecl {
    MemoizeDecl {
        function: format!("{app}::{}", item.sig.ident),
        app: app.to_string(),
        namespace: key::memo_namespace(app, &memo_fingerprint(item)),
        ttl_secs: memo.ttl_secs,
        stale_while_revalidate_secs: memo.stale_secs,
        tags: memo.tags.iter().map(|(t, _)| t.clone()).collect(),
    }
}

/// The function's name, argument types and return type: a changed signature is a new
/// namespace, so an old-shaped value is never decoded.
fn memo_fingerprint(item: &ItemFn) -> String {
    let sig = &item.sig;
    let mut parts = vec![sig.ident.to_string()];
    for input in &sig.inputs {
        parts.push(match input {
            syn::FnArg::Receiver(r) => quote!(#r).to_string(),
            syn::FnArg::Typed(pt) => {
                let ty = &pt.ty;
                quote!(#ty).to_string()
            }
        });
    }
    let out = &sig.output;
    parts.push(quote!(#out).to_string());
    key::fingerprint(parts.iter().map(String::as_str))
}

/// Whether the function returns a `Result` (only `Ok` values are cached).
fn returns_result(item: &ItemFn) -> bool {
    match &item.sig.output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
            _ => false,
        },
        syn::ReturnType::Default => false,
    }
}

/// The memoized function.
pub fn memoize(item: &ItemFn, memo: &Memoize, app: &str) -> TokenStream {
    let decl = memoize_decl(item, memo, app);
    let p = private();
    let ns = &decl.namespace;
    let ttl = memo.ttl_secs;
    let stale = memo.stale_secs.unwrap_or(0);
    let name = item.sig.ident.to_string();
    let attrs = &item.attrs;
    let vis = &item.vis;
    let sig = &item.sig;
    let block = &item.block;
    let ret = match &sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    let args: Vec<&syn::Ident> = memo.args.iter().map(|a| &a.ident).collect();
    let tags = memo.tags.iter().map(|(_, parts)| {
        let mut fmt = String::new();
        let mut values = Vec::new();
        for part in parts {
            match part {
                Part::Text(t) => fmt.push_str(&t.replace('{', "{{").replace('}', "}}")),
                Part::Arg(path) => {
                    fmt.push_str("{}");
                    let first = format_ident!("{}", path[0]);
                    let rest = path[1..].iter().map(|f| format_ident!("{}", f));
                    values.push(quote!(#first #(.#rest)*));
                }
            }
        }
        quote!(::std::format!(#fmt #(, #values)*))
    });
    let (entry, encode) = if returns_result(item) {
        (quote!(memoize), quote!(encode_ok))
    } else {
        (quote!(memoize_value), quote!(encode_value))
    };
    let refresh = if memo.stale_secs.is_some() {
        let owned = memo.args.iter().map(|a| {
            let i = &a.ident;
            match &a.ty {
                syn::Type::Reference(_) => quote!(let #i = ::std::borrow::ToOwned::to_owned(#i);),
                _ => quote!(let #i = ::core::clone::Clone::clone(&#i);),
            }
        });
        let reborrow = memo.args.iter().filter_map(|a| match &a.ty {
            syn::Type::Reference(r) => {
                let i = &a.ident;
                let elem = &r.elem;
                Some(quote!(let #i: &#elem = ::core::borrow::Borrow::borrow(&#i);))
            }
            _ => None,
        });
        let clones = args
            .iter()
            .map(|i| quote!(let #i = ::core::clone::Clone::clone(&#i);));
        quote! {
            ::core::option::Option::Some({
                #(#owned)*
                let __cell_refresh: #p::Refresh = ::std::sync::Arc::new(move || {
                    #(#clones)*
                    ::std::boxed::Box::pin(async move {
                        #(#reborrow)*
                        let __cell_out = #p::typed::<#ret, _>(async move #block).await;
                        #p::#encode(&__cell_out)
                    })
                });
                __cell_refresh
            })
        }
    } else {
        quote!(::core::option::Option::None)
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            static __CELL_MEMO: #p::Memo = #p::Memo {
                namespace: #ns,
                function: ::core::concat!(::core::module_path!(), "::", #name),
                ttl_secs: #ttl,
                stale_secs: #stale,
            };
            let __cell_key = #p::memo_key(&__CELL_MEMO, &(#(&#args,)*));
            let __cell_tags: ::std::vec::Vec<::std::string::String> = ::std::vec![#(#tags),*];
            let __cell_refresh = #refresh;
            #p::#entry(&__CELL_MEMO, __cell_key, __cell_tags, #p::typed::<#ret, _>(async move #block), __cell_refresh).await
        }
    }
}

/// `#[Redis::cache]` expanded before `#[Postgres::table]` (written above it): hand the
/// struct to the table attribute with `#[Redis::cache]` below it, so the table reads both,
/// whichever order they were written in.
pub fn defer_to_table(args: TokenStream, item: &ItemStruct) -> TokenStream {
    let mut item = item.clone();
    let at = item
        .attrs
        .iter()
        .position(crate::parse::is_postgres_table)
        .map_or(0, |i| i + 1);
    let attr: syn::Attribute = syn::parse_quote!(#[::cell_runtime::Redis::cache(#args)]);
    item.attrs.insert(at, attr);
    quote!(#item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_memoize, take_table_cache};
    use cell_postgres::expand::{LockView, expand};
    use cell_postgres::parse::parse_table;

    fn products() -> ItemStruct {
        syn::parse_quote! {
            #[Redis::cache(ttl = "1h")]
            struct Product {
                #[Postgres::primary_key] id: i64,
                #[Postgres::unique] #[Redis::cache_key] sku: String,
                price: i32,
            }
        }
    }

    fn expand_products() -> String {
        let mut item = products();
        let cache = take_table_cache(&mut item).unwrap().unwrap();
        let mut copy = item.clone();
        let parsed = parse_table(quote!(), &mut copy).unwrap();
        check_keys(&parsed, &cache).unwrap();
        let out = expand(&copy, &parsed, LockView::Absent);
        cached_table(out, &copy, &parsed, &cache, "shop").to_string()
    }

    #[test]
    fn reads_the_cache_attributes_and_strips_them() {
        let mut item = products();
        let cache = take_table_cache(&mut item).unwrap().unwrap();
        assert_eq!(cache.ttl_secs, 3600);
        assert_eq!(cache.key_fields, ["sku"]);
        let text = quote!(#item).to_string();
        assert!(!text.contains("Redis"), "{text}");
        assert!(text.contains("Postgres :: unique"), "{text}");
    }

    #[test]
    fn bad_ttl_and_orphan_keys_are_errors() {
        let mut item: ItemStruct = syn::parse_quote! {
            #[Redis::cache(ttl = "1hour")] struct P { #[Postgres::primary_key] id: i64 }
        };
        let e = take_table_cache(&mut item).unwrap_err().to_string();
        assert!(
            e.contains("`hour` is not a duration unit (did you mean `h`?)"),
            "{e}"
        );
        assert!(!quote!(#item).to_string().contains("Redis"));
        let mut item: ItemStruct = syn::parse_quote! {
            struct P { #[Postgres::primary_key] id: i64, #[Redis::cache_key] x: String }
        };
        let e = take_table_cache(&mut item).unwrap_err().to_string();
        assert!(e.contains("needs #[Redis::cache] on the struct"), "{e}");
        let mut item: ItemStruct = syn::parse_quote! { #[Redis::cache] struct P { id: i64 } };
        assert!(
            take_table_cache(&mut item)
                .unwrap_err()
                .to_string()
                .contains("needs a time to live")
        );
        let mut item: ItemStruct = syn::parse_quote! { struct P { id: i64 } };
        assert!(take_table_cache(&mut item).unwrap().is_none());
    }

    #[test]
    fn cache_key_must_be_unique() {
        let mut item: ItemStruct = syn::parse_quote! {
            #[Redis::cache(ttl = "1h")]
            struct P { #[Postgres::primary_key] id: i64, #[Postgres::index] #[Redis::cache_key] x: String }
        };
        let cache = take_table_cache(&mut item).unwrap().unwrap();
        let parsed = parse_table(quote!(), &mut item).unwrap();
        let e = check_keys(&parsed, &cache).unwrap_err().to_string();
        assert!(
            e.contains("needs a unique field, and `x` is not unique"),
            "{e}"
        );
    }

    #[test]
    fn finders_read_through_and_writes_invalidate() {
        let out = expand_products();
        assert!(out.contains("async fn __cell_db_find_by_id"), "{out}");
        assert!(out.contains("async fn __cell_db_find_by_sku"), "{out}");
        assert!(out.contains("async fn __cell_db_update"), "{out}");
        assert!(out.contains("pub async fn find_by_id"), "{out}");
        assert!(out.contains("read_through"), "{out}");
        assert!(out.contains("invalidate"), "{out}");
        assert!(
            out.contains(r#"SELECT \"sku\" FROM \"products\" WHERE \"id\" = $1"#),
            "{out}"
        );
        assert!(out.contains("cell:shop:t:products:"), "{out}");
        // `find_by_sku` keeps its public signature.
        assert!(
            out.contains(
                "pub async fn find_by_sku (db : & impl :: cell_runtime :: Executor , value : & str)"
            ),
            "{out}"
        );
        assert_eq!(out.matches("pub async fn find_by_id").count(), 1, "{out}");
        assert!(out.contains("3600u64"), "{out}");
    }

    #[test]
    fn batch_writes_invalidate_the_keys_of_every_row_they_touch() {
        let out = expand_products();
        for m in ["upsert", "upsert_on_sku", "update_where", "delete_where"] {
            assert!(
                out.contains(&format!("async fn __cell_db_{m} (")),
                "{m}: {out}"
            );
            assert!(out.contains(&format!("pub async fn {m} (")), "{m}: {out}");
        }
        // Misses are not cached, so new rows need no invalidation.
        assert!(!out.contains("__cell_db_insert_many"), "{out}");
        // The row an upsert on a unique index meets: its keys before the write.
        assert!(
            out.contains(r#"SELECT \"id\", \"sku\" FROM \"products\" WHERE \"sku\" = $1"#),
            "{out}"
        );
        // DELETE returns the deleted rows' keys; UPDATE, joined to itself, before and after.
        assert!(
            out.contains(r#"filter_sql :: delete ("\"products\"" , & filter , "\"id\", \"sku\"")"#),
            "{out}"
        );
        assert!(out.contains(r#"Some ("\"id\"") , "\"__new\".\"id\", \"__new\".\"sku\", \"__old\".\"id\", \"__old\".\"sku\"")"#), "{out}");
    }

    #[test]
    fn memoize_keys_by_path_and_arguments() {
        let item: ItemFn = syn::parse_quote! {
            async fn get_user(id: i64, name: &str) -> Result<String, Error> { Ok(format!("{id}{name}")) }
        };
        let memo = parse_memoize(
            quote!(
                ttl = "5m",
                tags = ["user:{id}"],
                stale_while_revalidate = "1h"
            ),
            &item,
            "Cache::memoize",
        )
        .unwrap();
        assert_eq!((memo.ttl_secs, memo.stale_secs), (300, Some(3600)));
        let out = memoize(&item, &memo, "shop").to_string();
        assert!(out.contains("module_path"), "{out}");
        assert!(out.contains(r#"format ! ("user:{}" , id)"#), "{out}");
        assert!(out.contains("ToOwned :: to_owned (name)"), "{out}");
        assert!(out.contains(":: memoize (& __CELL_MEMO"), "{out}");
        let decl = memoize_decl(&item, &memo, "shop");
        assert_eq!(decl.function, "shop::get_user");
        assert!(decl.namespace.starts_with("cell:shop:m:"));
    }

    #[test]
    fn memoize_errors_are_collected() {
        let item: ItemFn = syn::parse_quote! { fn f(id: i64) -> i64 { id } };
        let e = parse_memoize(
            quote!(ttl = "1hour", tags = ["user:{user_id}"]),
            &item,
            "Cache::memoize",
        )
        .unwrap_err();
        let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].contains("goes on an async function"), "{all:?}");
        assert!(all[1].contains("`hour` is not a duration unit"), "{all:?}");
        assert!(
            all[2].contains("`user_id`, which is not an argument"),
            "{all:?}"
        );
    }

    #[test]
    fn a_changed_signature_is_a_new_namespace() {
        let memo = |item: &ItemFn| {
            let m = parse_memoize(quote!(ttl = "5m"), item, "Cache::memoize").unwrap();
            memoize_decl(item, &m, "a").namespace
        };
        let a: ItemFn = syn::parse_quote! { async fn f(id: i64) -> i32 { 1 } };
        let b: ItemFn = syn::parse_quote! { async fn f(id: i64) -> i64 { 1 } };
        assert_ne!(memo(&a), memo(&b));
    }

    #[test]
    fn cache_above_table_hands_over_to_the_table() {
        let item: ItemStruct = syn::parse_quote! {
            #[derive(Debug)] #[Postgres::table(name = "p")] #[serde(x)] struct P { id: i64 }
        };
        let out = defer_to_table(quote!(ttl = "1h"), &item).to_string();
        let table = out.find("Postgres :: table").unwrap();
        let cache = out.find("Redis :: cache (ttl = \"1h\")").unwrap();
        assert!(table < cache && cache < out.find("serde").unwrap(), "{out}");
    }
}
