//! Code generation for `#[Postgres::table]`. Cannot fail: problems found against the lock
//! come in as [`Mismatch`]es and are emitted as spanned `compile_error!`s *beside* the
//! generated API, so one mistake gives one message, not a cascade of missing methods.

use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ItemStruct;
use syn::spanned::Spanned;

use crate::check::Mismatch;
use crate::ident::quote as q;
use crate::parse::ParsedTable;
use crate::schema::Table;

/// What the expansion knows of the lock.
pub enum LockView<'a> {
    /// No lock file: expand from the declaration alone (stub mode; also phase 1).
    Absent,
    /// The lock file, and this table's entry in it (already checked by the caller).
    Present {
        path: &'a Path,
        table: Option<&'a Table>,
        mismatches: Vec<Mismatch>,
    },
}

pub fn expand(item: &ItemStruct, parsed: &ParsedTable, lock: LockView<'_>) -> TokenStream {
    generate(item, parsed, lock, false)
}

/// For a table with errors (already reported): the same API with bodies that never run, so
/// the errors are the user's only messages, not a cascade of missing methods.
pub fn expand_placeholder(item: &ItemStruct, parsed: &ParsedTable) -> TokenStream {
    // Without fields or with generics there is no API to stand in for: the struct alone.
    if parsed.field_idents.is_empty() || !item.generics.params.is_empty() {
        return quote!(#item);
    }
    generate(item, parsed, LockView::Absent, true)
}

fn generate(
    item: &ItemStruct,
    parsed: &ParsedTable,
    lock: LockView<'_>,
    placeholder: bool,
) -> TokenStream {
    // The encrypted fields, by index. A table with any has its data keys in the process
    // before any statement.
    let encrypted: Vec<usize> = (0..parsed.decl.columns.len())
        .filter(|&i| parsed.decl.columns[i].encrypted)
        .collect();
    // Those with an index are stored beside their blind index (`<field>_bidx`) and found
    // by it.
    let blind: Vec<usize> = encrypted
        .iter()
        .copied()
        .filter(|&i| parsed.decl.columns[i].index.is_some())
        .collect();
    let prepare = if encrypted.is_empty() {
        quote!()
    } else {
        let table = &parsed.decl.name;
        let names = encrypted.iter().map(|&i| &parsed.decl.columns[i].name);
        let indexed = blind.iter().map(|&i| &parsed.decl.columns[i].name);
        quote!(::cell_runtime::__private::encrypted::prepare(#table, &[#(#names),*], &[#(#indexed),*]).await?;)
    };
    let body = |real: TokenStream| {
        if placeholder {
            quote!({ ::core::unreachable!("this table has compile errors") })
        } else {
            quote!({ #prepare #real })
        }
    };
    let decl = &parsed.decl;
    let ident = &item.ident;
    let rt = quote!(::cell_runtime);
    let p = quote!(::cell_runtime::__private);

    let table = &decl.name;
    let columns: Vec<&str> = decl.columns.iter().map(|c| c.name.as_str()).collect();
    let fields = &parsed.field_idents;
    let select_list = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
    let qt = q(table);

    let column_consts = fields.iter().zip(&columns).map(|(f, c)| {
        let name = format_ident!(
            "COLUMN_{}",
            f.to_string().trim_start_matches("r#").to_uppercase()
        );
        let doc = format!("The column `{table}.{c}`.");
        quote!(#[doc = #doc] pub const #name: &'static str = #c;)
    });

    // What a write stores: every field's column, then the blind indexes.
    let sidecars: Vec<String> = blind
        .iter()
        .map(|&i| crate::declare::blind_index_column(columns[i]))
        .collect();
    let write_columns: Vec<&str> = columns
        .iter()
        .copied()
        .chain(sidecars.iter().map(String::as_str))
        .collect();
    let write_list = write_columns
        .iter()
        .map(|c| q(c))
        .collect::<Vec<_>>()
        .join(", ");
    let placeholders = (1..=write_columns.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let insert_head = insert_sql_head(&qt, &write_list, &placeholders);
    let insert_sql = format!("{insert_head} RETURNING {select_list}");

    let pk_index = decl.columns.iter().position(|c| c.primary_key).unwrap_or(0);
    let pk_ty = &parsed.field_types[pk_index];
    let pk_col = q(columns[pk_index]);
    let pk_param = param_type(pk_ty);
    let pk_field = &fields[pk_index];

    // How a value of field `i` is bound: enum fields go through `enum_column`, so a field
    // whose type does not derive `Postgres::Enum` gives one error, at its type.
    let bind = |i: usize, value: TokenStream| -> TokenStream {
        match &parsed.field_enums[i] {
            Some(_) => {
                let ty = &parsed.field_types[i];
                let ops = quote_spanned!(ty.span()=> #p::enum_column::<#ty>());
                quote!((#ops.param)(#value))
            }
            None => value,
        }
    };
    // A finder's key arrives as a reference (`&str`, `&T`); non-enum keys are bound as `&key`
    // (`&T: ToSql` whenever `T: ToSql`, and `&str` is not `Sized`).
    let bind_key = |i: usize, key: &dyn quote::ToTokens| -> TokenStream {
        match &parsed.field_enums[i] {
            Some(_) => bind(i, quote!(#key)),
            None => quote!(&#key),
        }
    };
    // Encrypted field `i` of the row `owner`, sealed for its table, column and row as it is
    // sent.
    let sealed = |i: usize, owner: TokenStream| {
        let (f, column) = (&fields[i], columns[i]);
        quote!(#p::encrypted::Sealed::new(#table, #column, #p::security::RowKey::row_key(#owner).to_string(), &#owner.#f))
    };
    // The blind index of encrypted field `i` of the row `owner`.
    let blind_index = |i: usize, owner: TokenStream| {
        let (f, column) = (&fields[i], columns[i]);
        quote!(#p::encrypted::BlindIndex::new(#table, #column, #p::encrypted::EncryptedValue::plaintext(&#owner.#f)))
    };
    let self_binds: Vec<TokenStream> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if encrypted.contains(&i) {
                let value = sealed(i, quote!(self));
                quote!(&#value)
            } else {
                bind(i, quote!(&self.#f))
            }
        })
        .collect();
    // A write's binds: the fields', then the blind indexes'.
    let write_binds: Vec<TokenStream> = self_binds
        .iter()
        .cloned()
        .chain(blind.iter().map(|&i| {
            let value = blind_index(i, quote!(self));
            quote!(&#value)
        }))
        .collect();
    let reads = (0..columns.len()).map(|i| match &parsed.field_enums[i] {
        _ if encrypted.contains(&i) => {
            let column = columns[i];
            quote!(#p::encrypted::open(row, #i, #table, #column, &{
                use #p::security::{KeyJson as _, KeyUnrecordable as _};
                let key: #pk_ty = row.try_get(#pk_index)?;
                (&#p::security::Key(&key)).key_json().to_string()
            })?)
        }
        Some(_) => {
            let ty = &parsed.field_types[i];
            let ops = quote_spanned!(ty.span()=> #p::enum_column::<#ty>());
            quote!((#ops.get)(row, #i)?)
        }
        None => {
            let index = syn::Index::from(i);
            quote!(row.try_get(#index)?)
        }
    });

    // A read's rows, recorded first when the struct is protected health information
    // (`#[Security::hipaa]`); `rows` iterates the `Option<Self>` or `Vec<Self>` read.
    let audited = |read: TokenStream, rows: TokenStream, conn: &syn::Ident| -> TokenStream {
        let record = cell_core::macros::audited_read(table, rows, conn);
        quote! {
            let __cell_rows = #read;
            #record
            ::core::result::Result::Ok(__cell_rows)
        }
    };
    let read_one = |sql: &str, binds: TokenStream, conn: &syn::Ident| {
        audited(
            quote! {
                match #rt::Executor::query_opt(#conn, #sql, &[#binds]).await? {
                    ::core::option::Option::Some(row) => ::core::option::Option::Some(<Self as #p::FromRow>::from_row(&row)?),
                    ::core::option::Option::None => ::core::option::Option::None,
                }
            },
            quote!(__cell_rows.as_slice()),
            conn,
        )
    };
    let read_many = |sql: &str, binds: TokenStream, conn: &syn::Ident| {
        audited(
            quote! {
                #rt::Executor::query(#conn, #sql, &[#binds]).await?.iter().map(<Self as #p::FromRow>::from_row).collect::<::core::result::Result<::std::vec::Vec<Self>, #rt::Error>>()?
            },
            quote!(&__cell_rows),
            conn,
        )
    };
    let db = format_ident!("db");

    let others: Vec<usize> = (0..columns.len()).filter(|&i| i != pk_index).collect();
    let update = if others.is_empty() {
        quote!()
    } else {
        let sets = others
            .iter()
            .map(|&i| columns[i])
            .chain(sidecars.iter().map(String::as_str))
            .enumerate()
            .map(|(n, c)| format!("{} = ${}", q(c), n + 2))
            .collect::<Vec<_>>();
        let sql = format!(
            "UPDATE {qt} SET {} WHERE {pk_col} = $1 RETURNING {select_list}",
            sets.join(", ")
        );
        let pk_bind = &self_binds[pk_index];
        let other_binds = others
            .iter()
            .map(|&i| &self_binds[i])
            .chain(&write_binds[columns.len()..]);
        let b = body(quote! {
            match #rt::Executor::query_opt(db, #sql, &[#pk_bind #(, #other_binds)*]).await? {
                ::core::option::Option::Some(row) => <Self as #p::FromRow>::from_row(&row).map(::core::option::Option::Some),
                ::core::option::Option::None => ::core::result::Result::Ok(::core::option::Option::None),
            }
        });
        quote! {
            /// Writes every field of this row, found by its primary key, and returns the row as
            /// stored (`RETURNING`). `Ok(None)` when no row has that key.
            pub async fn update(&self, db: &impl #rt::Executor) -> ::core::result::Result<::core::option::Option<Self>, #rt::Error> #b
        }
    };

    let mut find_by_names = std::collections::HashSet::new();
    let find_by: Vec<TokenStream> = decl.columns.iter().enumerate().filter(|(_, c)| c.index.is_some() || c.primary_key).map(|(i, c)| {
        let f = &fields[i];
        let method = format_ident!("find_by_{}", f.to_string().trim_start_matches("r#"));
        find_by_names.insert(method.to_string());
        let ty = param_type(&parsed.field_types[i]);
        let key = format_ident!("value");
        // An encrypted field is found by its blind index.
        let (by, value) = match blind.iter().position(|&b| b == i) {
            Some(n) => {
                let column = columns[i];
                let plaintext = if is_string(&parsed.field_types[i]) {
                    quote!(::core::option::Option::Some(#key.as_bytes()))
                } else {
                    quote!(#p::encrypted::EncryptedValue::plaintext(#key))
                };
                (sidecars[n].as_str(), quote!(&#p::encrypted::BlindIndex::new(#table, #column, #plaintext)))
            }
            None => (c.name.as_str(), bind_key(i, &key)),
        };
        let sql = format!("SELECT {select_list} FROM {qt} WHERE {} = $1", q(by));
        let unique = c.primary_key || c.index.is_some_and(|ix| ix.unique);
        if unique {
            let doc = format!("The row whose `{}` is `value`, if any.", c.name);
            let b = body(read_one(&sql, quote!(#value), &db));
            quote! {
                #[doc = #doc]
                pub async fn #method(db: &impl #rt::Executor, value: #ty) -> ::core::result::Result<::core::option::Option<Self>, #rt::Error> #b
            }
        } else {
            let doc = format!("Every row whose `{}` is `value`, in primary key order.", c.name);
            let sql = format!("{sql} ORDER BY {pk_col}");
            let b = body(read_many(&sql, quote!(#value), &db));
            quote! {
                #[doc = #doc]
                pub async fn #method(db: &impl #rt::Executor, value: #ty) -> ::core::result::Result<::std::vec::Vec<Self>, #rt::Error> #b
            }
        }
    }).collect();

    // Table-level indexes: `find_by_<a>_and_<b>` (one method per list of columns).
    let find_by_table = decl.indexes.iter().filter_map(|ix| {
        let idx: Vec<usize> = ix
            .columns
            .iter()
            .map(|c| decl.columns.iter().position(|d| &d.name == c))
            .collect::<Option<_>>()?;
        // (An index naming a column twice is reported; it gets no finder.)
        if (1..idx.len()).any(|n| idx[..n].contains(&idx[n])) {
            return None;
        }
        let names: Vec<String> = idx
            .iter()
            .map(|&i| fields[i].to_string().trim_start_matches("r#").to_string())
            .collect();
        let method = format_ident!("find_by_{}", names.join("_and_"));
        if !find_by_names.insert(method.to_string()) {
            return None;
        }
        let conn = if names.iter().any(|n| n == "db") { format_ident!("connection") } else { format_ident!("db") };
        let params = idx.iter().map(|&i| {
            let f = &fields[i];
            let ty = param_type(&parsed.field_types[i]);
            quote!(#f: #ty)
        });
        let binds = idx.iter().map(|&i| {
            bind_key(i, &fields[i])
        });
        let cond = ix
            .columns
            .iter()
            .enumerate()
            .map(|(n, c)| format!("{} = ${}", q(c), n + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!("SELECT {select_list} FROM {qt} WHERE {cond}");
        let cols = ix.columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
        if ix.unique {
            let doc = format!("The row with these {cols}, if any (a unique index).");
            let b = body(read_one(&sql, quote!(#(#binds),*), &conn));
            Some(quote! {
                #[doc = #doc]
                pub async fn #method(#conn: &impl #rt::Executor, #(#params),*) -> ::core::result::Result<::core::option::Option<Self>, #rt::Error> #b
            })
        } else {
            let doc = format!("Every row with these {cols}, in primary key order.");
            let sql = format!("{sql} ORDER BY {pk_col}");
            let b = body(read_many(&sql, quote!(#(#binds),*), &conn));
            Some(quote! {
                #[doc = #doc]
                pub async fn #method(#conn: &impl #rt::Executor, #(#params),*) -> ::core::result::Result<::std::vec::Vec<Self>, #rt::Error> #b
            })
        }
    });

    // Upserts: on the primary key, and on each unique index (`upsert_on_<cols>`).
    let upserts: Vec<TokenStream> = std::iter::once((format_ident!("upsert"), vec![pk_index]))
        .chain(
            upsert_targets(parsed)
                .into_iter()
                .map(|(m, cols)| (format_ident!("{}", m), cols)),
        )
        .map(|(method, target)| {
            let sql = upsert_sql(&insert_head, &write_columns, &target, pk_index, &select_list);
            let b = body(quote! {
                let row = #rt::Executor::query_one(db, #sql, &[#(#write_binds),*]).await?;
                <Self as #p::FromRow>::from_row(&row)
            });
            let doc = if method == "upsert" {
                format!("Inserts this row, or when a row has its primary key (`{}`), writes every other field over it; returns the row as stored (`RETURNING`).", columns[pk_index])
            } else {
                let cols = target.iter().map(|&i| format!("`{}`", columns[i])).collect::<Vec<_>>().join(", ");
                format!("Inserts this row, or when a row has the same {cols} (a unique index), writes the other fields over it, keeping that row's primary key; returns the row as stored (`RETURNING`).")
            };
            quote! {
                #[doc = #doc]
                pub async fn #method(&self, db: &impl #rt::Executor) -> ::core::result::Result<Self, #rt::Error> #b
            }
        })
        .collect();

    // insert_many: binary COPY, twice as fast as INSERT ... SELECT FROM UNNEST in
    // BENCHMARKS.md (section 11), and it takes array columns, which UNNEST flattens.
    let copy_sql = format!("COPY {qt} ({write_list}) FROM STDIN BINARY");
    let types_sql = format!("SELECT {write_list} FROM {qt} LIMIT 0");
    let row_binds = fields
        .iter()
        .enumerate()
        .map(|(i, f)| bind(i, quote!(&row.#f)));
    let b_insert_many = if encrypted.is_empty() {
        body(quote! {
            fn values<'r>(row: &'r #ident, out: &mut ::std::vec::Vec<&'r (dyn #p::ToSql + ::core::marker::Sync)>) {
                out.extend_from_slice(&[#(#row_binds),*]);
            }
            #rt::Executor::copy_in(db, #types_sql, #copy_sql, rows, values).await
        })
    } else {
        // Each row beside its sealed fields, which the COPY then reads.
        let sealed_fields = encrypted.iter().map(|&i| {
            let (f, ty) = (&fields[i], &parsed.field_types[i]);
            quote!(#f: #p::encrypted::Sealed<'a, #ty>)
        });
        let sealed_values = encrypted.iter().map(|&i| {
            let (f, value) = (&fields[i], sealed(i, quote!(row)));
            quote!(#f: #value)
        });
        let index_name = |i: usize| format_ident!("__cell_bidx_{}", i);
        let index_fields = blind.iter().map(|&i| {
            let f = index_name(i);
            quote!(#f: #p::encrypted::BlindIndex<'a>)
        });
        let index_values = blind.iter().map(|&i| {
            let (f, value) = (index_name(i), blind_index(i, quote!(row)));
            quote!(#f: #value)
        });
        let binds = (0..columns.len())
            .map(|i| {
                let f = &fields[i];
                if encrypted.contains(&i) {
                    quote!(&r.#f)
                } else {
                    bind(i, quote!(&r.row.#f))
                }
            })
            .chain(blind.iter().map(|&i| {
                let f = index_name(i);
                quote!(&r.#f)
            }));
        body(quote! {
            struct __CellSealedRow<'a> {
                row: &'a #ident,
                #(#sealed_fields,)*
                #(#index_fields,)*
            }
            let sealed: ::std::vec::Vec<__CellSealedRow<'_>> = rows
                .iter()
                .map(|row| __CellSealedRow { row, #(#sealed_values,)* #(#index_values,)* })
                .collect();
            let values: #p::CopyValues<__CellSealedRow<'_>> = |r, out| {
                out.extend_from_slice(&[#(#binds),*]);
            };
            #rt::Executor::copy_in(db, #types_sql, #copy_sql, &sealed, values).await
        })
    };

    // Typed columns, and update_where / delete_where.
    let columns_ident = format_ident!("{}Columns", ident);
    let vis = &item.vis;
    // Encrypted columns have no typed column: the database cannot compare ciphertexts, and a
    // `Set` would write the value unencrypted.
    let in_clear = |i: &usize| !encrypted.contains(i);
    let column_fields = (0..columns.len())
        .filter(in_clear)
        .map(|i| ((&fields[i], &parsed.field_types[i]), &columns[i]))
        .map(|((f, ty), c)| {
            let doc = format!("The column `{table}.{c}`.");
            quote!(#[doc = #doc] pub #f: #rt::Column<#ident, #ty>)
        });
    let column_values = (0..columns.len())
        .filter(in_clear)
        .map(|i| (&fields[i], &columns[i]))
        .map(|(f, c)| {
            let quoted = q(c);
            quote!(#f: #rt::Column::new(#quoted))
        });
    let columns_doc = format!(
        "The columns of `{table}`, for the filters of `{ident}::update_where` and `{ident}::delete_where`: `{ident}::columns()`."
    );
    let b_delete_where = body(quote! {
        let (sql, params) = #p::filter_sql::delete(#qt, &filter, "");
        #rt::Executor::execute(db, &sql, &params).await
    });
    let b_update_where = body(quote! {
        let (sql, params) = #p::filter_sql::update(#qt, &filter, &set, ::core::option::Option::None, "");
        #rt::Executor::execute(db, &sql, &params).await
    });

    let delete_sql = format!("DELETE FROM {qt} WHERE {pk_col} = $1");
    let all_sql = format!("SELECT {select_list} FROM {qt} ORDER BY {pk_col} LIMIT $1 OFFSET $2");
    let count_sql = format!("SELECT count(*) FROM {qt}");
    let b_insert = body(quote! {
        let row = #rt::Executor::query_one(db, #insert_sql, &[#(#write_binds),*]).await?;
        <Self as #p::FromRow>::from_row(&row)
    });
    let pk_bind = &self_binds[pk_index];
    let b_delete =
        body(quote!(#rt::Executor::execute(db, #delete_sql, &[#pk_bind]).await.map(|n| n == 1)));
    let id_bind = bind_key(pk_index, &format_ident!("id"));
    let b_delete_by_id =
        body(quote!(#rt::Executor::execute(db, #delete_sql, &[#id_bind]).await.map(|n| n == 1)));
    let b_all = body(read_many(&all_sql, quote!(&limit, &offset), &db));
    let b_count = body(quote! {
        let row = #rt::Executor::query_one(db, #count_sql, &[]).await?;
        ::core::result::Result::Ok(row.try_get(0)?)
    });

    let (tracking, fingerprint, errors) = match lock {
        LockView::Absent => (quote!(), quote!(::core::option::Option::None), Vec::new()),
        LockView::Present {
            path,
            table: locked,
            mismatches,
        } => {
            let path = path.display().to_string();
            // cargo rebuilds this crate when the lock's bytes change (its mtime, precisely).
            let tracking = quote!(
                const _: &[u8] = ::core::include_bytes!(#path);
            );
            let fp = match locked {
                Some(t) => {
                    let fp = t.fingerprint(table);
                    quote!(::core::option::Option::Some(#fp))
                }
                None => quote!(::core::option::Option::None),
            };
            // An enum field's type must be the locked column's enum (the derive checks the
            // enum's labels against the lock; this ties the column to that enum).
            let mut asserts = TokenStream::new();
            if let Some(t) = locked {
                for (i, col) in decl.columns.iter().enumerate() {
                    let reported = mismatches.iter().any(|m| m.field == Some(i));
                    let (Some(_), Some(live), false) =
                        (&parsed.field_enums[i], t.columns.get(&col.name), reported)
                    else {
                        continue;
                    };
                    let base = live.sql_type.trim_end_matches("[]");
                    let ty = &parsed.field_types[i];
                    let message = format!(
                        "column `{table}.{}` has the enum type `{base}` in the lock, but field `{}` holds another Postgres enum\n\nhelp: use the enum whose Postgres name is `{base}`, or {}",
                        col.name,
                        col.name,
                        crate::check::HELP_BUILD
                    );
                    asserts.extend(quote_spanned!(ty.span()=>
                        const _: () = ::core::assert!(#p::str_eq(<#ty as #p::EnumColumn>::ENUM_NAME, #base), #message);
                    ));
                }
            }
            (quote!(#tracking #asserts), fp, mismatches)
        }
    };
    let errors = errors.iter().map(|m| {
        let span = m
            .field
            .map_or(parsed.struct_ident.span(), |i| fields[i].span());
        compile_error(span, &format!("{}\n\nhelp: {}", m.message, m.help))
    });

    // Reading rows and registering the table only exist for a valid table.
    let support = if placeholder {
        quote!()
    } else {
        quote! {
            const _: () = {
                #tracking
                #p::inventory::submit! {
                    #p::TableInfo { table: #table, fingerprint: #fingerprint }
                }
                impl #p::FromRow for #ident {
                    fn from_row(row: &#p::Row) -> ::core::result::Result<Self, #rt::Error> {
                        ::core::result::Result::Ok(Self { #(#fields: #reads,)* })
                    }
                }
                impl #p::security::Table for #ident {
                    const TABLE: &'static str = #table;
                }
                                impl #p::security::RowKey for #ident {
                    fn row_key(&self) -> #rt::serde_json::Value {
                        use #p::security::{KeyJson as _, KeyUnrecordable as _};
                        (&#p::security::Key(&self.#pk_field)).key_json()
                    }
                }
            };
        }
    };

    let search = decl.search.as_ref().map(|search| {
        cell_search::expand::methods(
            search,
            &cell_search::expand::Table {
                name: table,
                select_list: &select_list,
                primary_key: columns[pk_index],
                columns: columns.len(),
                placeholder,
                prepare: &prepare,
            },
        )
    });

    let table_doc = format!("The table's name, `{table}`.");
    quote! {
        #item

        #[doc = #columns_doc]
        #[allow(dead_code)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #columns_ident {
            #(#column_fields,)*
        }

        #(#errors)*

        #support

        #[allow(dead_code, unreachable_code, unused_variables)]
        impl #ident {
            #[doc = #table_doc]
            pub const TABLE: &'static str = #table;
            /// The columns, in field order.
            pub const COLUMNS: &'static [&'static str] = &[#(#columns),*];
            #(#column_consts)*

            /// Inserts this row and returns it as stored (`RETURNING`): defaults, generated
            /// values and the database's precision.
            pub async fn insert(&self, db: &impl #rt::Executor) -> ::core::result::Result<Self, #rt::Error> #b_insert

            #(#upserts)*

            /// Writes `rows` in one binary `COPY` (all or none) and returns how many. Values
            /// are written as given: column defaults do not apply, and a row whose key exists
            /// fails the whole batch (use `upsert` for those).
            pub async fn insert_many(db: &impl #rt::Executor, rows: &[Self]) -> ::core::result::Result<u64, #rt::Error> #b_insert_many

            #(#find_by)*

            #(#find_by_table)*

            #update

            /// The typed columns, for `update_where` and `delete_where` filters:
            /// `Self::columns().email.eq("a@b.c")`.
            pub const fn columns() -> #columns_ident {
                #columns_ident { #(#column_values,)* }
            }

            /// Deletes every row `filter` matches; returns how many.
            pub async fn delete_where(db: &impl #rt::Executor, filter: #rt::Filter<Self>) -> ::core::result::Result<u64, #rt::Error> #b_delete_where

            /// Sets the columns of `set` on every row `filter` matches; returns how many.
            pub async fn update_where(db: &impl #rt::Executor, filter: #rt::Filter<Self>, set: #rt::Set<Self>) -> ::core::result::Result<u64, #rt::Error> #b_update_where

            /// Deletes this row (by primary key). `Ok(false)` when it was not there.
            pub async fn delete(&self, db: &impl #rt::Executor) -> ::core::result::Result<bool, #rt::Error> #b_delete

            /// Deletes the row with this primary key. `Ok(false)` when there was none.
            pub async fn delete_by_id(db: &impl #rt::Executor, id: #pk_param) -> ::core::result::Result<bool, #rt::Error> #b_delete_by_id

            /// A page of rows in primary key order.
            pub async fn all(db: &impl #rt::Executor, limit: i64, offset: i64) -> ::core::result::Result<::std::vec::Vec<Self>, #rt::Error> #b_all

            /// The number of rows.
            pub async fn count(db: &impl #rt::Executor) -> ::core::result::Result<i64, #rt::Error> #b_count

            #search
        }
    }
}

fn insert_sql_head(qt: &str, select_list: &str, placeholders: &str) -> String {
    format!("INSERT INTO {qt} ({select_list}) VALUES ({placeholders})")
}

/// `INSERT ... ON CONFLICT (<target>) DO UPDATE SET <the others> = EXCLUDED.<...> RETURNING
/// <every column>`. The primary key is kept on a conflict over another unique index. With
/// nothing else to write, the first target column is set to itself, so RETURNING still
/// gives the stored row (`DO NOTHING` would return none).
fn upsert_sql(
    head: &str,
    columns: &[&str],
    target: &[usize],
    pk_index: usize,
    select_list: &str,
) -> String {
    let conflict = target
        .iter()
        .map(|&i| q(columns[i]))
        .collect::<Vec<_>>()
        .join(", ");
    let mut written: Vec<usize> = (0..columns.len())
        .filter(|i| !target.contains(i) && *i != pk_index)
        .collect();
    if written.is_empty() {
        written.push(target[0]);
    }
    let sets = written
        .iter()
        .map(|&i| format!("{c} = EXCLUDED.{c}", c = q(columns[i])))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{head} ON CONFLICT ({conflict}) DO UPDATE SET {sets} RETURNING {select_list}")
}

/// The unique indexes other than the primary key, as `(upsert_on_<fields>, column indexes)`:
/// a field's `#[Postgres::index(unique)]` / `#[Postgres::unique]`, then each table-level
/// unique index (one method per list of columns). The Redis Cell wraps the same methods.
///
/// None for a table with an encrypted field: a conflict over another unique index keeps
/// the stored row's primary key, but the new values were encrypted for the new row's, and
/// would never decrypt.
pub fn upsert_targets(parsed: &ParsedTable) -> Vec<(String, Vec<usize>)> {
    let decl = &parsed.decl;
    if decl.columns.iter().any(|c| c.encrypted) {
        return Vec::new();
    }
    let name = |i: usize| {
        parsed.field_idents[i]
            .to_string()
            .trim_start_matches("r#")
            .to_string()
    };
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    let mut push = |cols: Vec<usize>| {
        let method = format!(
            "upsert_on_{}",
            cols.iter()
                .map(|&i| name(i))
                .collect::<Vec<_>>()
                .join("_and_")
        );
        if !out.iter().any(|(m, _)| *m == method) {
            out.push((method, cols));
        }
    };
    for (i, c) in decl.columns.iter().enumerate() {
        if !c.primary_key && c.index.is_some_and(|ix| ix.unique) {
            push(vec![i]);
        }
    }
    for ix in decl.indexes.iter().filter(|ix| ix.unique) {
        let Some(cols) = ix
            .columns
            .iter()
            .map(|c| decl.columns.iter().position(|d| &d.name == c))
            .collect::<Option<Vec<usize>>>()
        else {
            continue;
        };
        // (An index naming a column twice is reported; the primary key alone is `upsert`.)
        if (1..cols.len()).any(|n| cols[..n].contains(&cols[n]))
            || cols.iter().all(|&i| decl.columns[i].primary_key)
        {
            continue;
        }
        push(cols);
    }
    out
}

/// Whether `ty` is `String` (a finder takes it as `&str`).
fn is_string(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p
        .path
        .segments
        .last()
        .is_some_and(|s| s.ident == "String" && s.arguments.is_empty()))
}

/// How a finder takes its key: `&str` for `String`, a reference otherwise.
fn param_type(ty: &syn::Type) -> TokenStream {
    if is_string(ty) {
        return quote!(&str);
    }
    quote!(&#ty)
}

/// `compile_error!` at `span`.
pub fn compile_error(span: Span, message: &str) -> TokenStream {
    quote_spanned!(span=> ::core::compile_error!{ #message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_table, validate};

    fn expand_str(item: TokenStream, lock: LockView<'_>) -> String {
        let mut item: ItemStruct = syn::parse2(item).unwrap();
        let parsed = parse_table(quote!(), &mut item).unwrap();
        validate(&parsed).unwrap();
        expand(&item, &parsed, lock).to_string()
    }

    fn users() -> TokenStream {
        quote! {
            struct User {
                #[Postgres::primary_key] id: Uuid,
                #[Postgres::index(unique)] email: String,
                #[Postgres::index] age: i32,
            }
        }
    }

    #[test]
    fn generates_crud_with_bind_parameters_and_quoted_identifiers() {
        let out = expand_str(users(), LockView::Absent);
        assert!(
            out.contains(
                r#"INSERT INTO \"users\" (\"id\", \"email\", \"age\") VALUES ($1, $2, $3) RETURNING \"id\", \"email\", \"age\""#
            ),
            "{out}"
        );
        assert!(out.contains("fn find_by_email"), "{out}");
        assert!(out.contains("value : & str"), "{out}");
        assert!(out.contains("fn find_by_age"), "{out}");
        assert!(
            out.contains(r#"UPDATE \"users\" SET \"email\" = $2, \"age\" = $3 WHERE \"id\" = $1 RETURNING \"id\", \"email\", \"age\""#),
            "{out}"
        );
        assert!(out.contains("COLUMN_EMAIL"), "{out}");
        assert!(
            !out.contains("include_bytes"),
            "no lock, no tracking: {out}"
        );
        assert!(
            !out.contains("Postgres :: primary_key"),
            "field attributes stripped: {out}"
        );
    }

    #[test]
    fn an_indexed_encrypted_field_is_written_and_found_by_its_blind_index() {
        let out = expand_str(
            quote! {
                struct Person {
                    #[Postgres::primary_key] id: i64,
                    #[Postgres::encrypted] #[Postgres::unique] email: String,
                    #[Postgres::unique] handle: String,
                }
            },
            LockView::Absent,
        );
        assert!(
            out.contains("prepare (\"persons\" , & [\"email\"] , & [\"email\"])"),
            "the index key is loaded too: {out}"
        );
        assert!(
            out.contains("INSERT INTO \\\"persons\\\" (\\\"id\\\", \\\"email\\\", \\\"handle\\\", \\\"email_bidx\\\") VALUES ($1, $2, $3, $4) RETURNING \\\"id\\\", \\\"email\\\", \\\"handle\\\""),
            "{out}"
        );
        assert!(
            out.contains("UPDATE \\\"persons\\\" SET \\\"email\\\" = $2, \\\"handle\\\" = $3, \\\"email_bidx\\\" = $4 WHERE"),
            "{out}"
        );
        assert!(
            out.contains("WHERE \\\"email_bidx\\\" = $1\" , & [& :: cell_runtime :: __private :: encrypted :: BlindIndex :: new (\"persons\" , \"email\" , :: core :: option :: Option :: Some (value . as_bytes ()))])"),
            "find_by_email hashes its key: {out}"
        );
        assert!(
            out.contains("COPY \\\"persons\\\" (\\\"id\\\", \\\"email\\\", \\\"handle\\\", \\\"email_bidx\\\")"),
            "{out}"
        );
        assert!(
            !out.contains("upsert_on_"),
            "a conflict over another unique index keeps the stored key, which the new ciphertexts are not bound to: {out}"
        );
        let decl = parse_table(
            quote!(),
            &mut syn::parse2(quote! {
                struct Person {
                    #[Postgres::primary_key] id: i64,
                    #[Postgres::encrypted] #[Postgres::unique] email: String,
                }
            })
            .unwrap(),
        )
        .unwrap()
        .decl;
        let table = decl.to_table();
        assert_eq!(table.columns["email_bidx"].sql_type, "bytea");
        assert_eq!(table.indexes["persons_email_key"].columns, ["email_bidx"]);
    }

    #[test]
    fn encrypted_fields_are_sealed_on_write_opened_on_read_and_have_no_typed_column() {
        let out = expand_str(
            quote! {
                struct Person {
                    #[Postgres::primary_key] id: i64,
                    name: String,
                    #[Postgres::encrypted] ssn: String,
                }
            },
            LockView::Absent,
        );
        assert!(
            out.contains("encrypted :: prepare (\"persons\" , & [\"ssn\"] , & []) . await ?"),
            "every method has the data keys first: {out}"
        );
        assert!(
            out.contains("& :: cell_runtime :: __private :: encrypted :: Sealed :: new (\"persons\" , \"ssn\" , :: cell_runtime :: __private :: security :: RowKey :: row_key (self) . to_string () , & self . ssn)"),
            "{out}"
        );
        assert!(
            out.contains("encrypted :: open (row , 2usize , \"persons\" , \"ssn\""),
            "{out}"
        );
        assert!(
            out.contains("struct __CellSealedRow"),
            "COPY seals too: {out}"
        );
        let columns = &out[out.find("struct PersonColumns").unwrap()..];
        let columns = &columns[..columns.find('}').unwrap()];
        assert!(
            columns.contains("pub name") && !columns.contains("ssn"),
            "{columns}"
        );
    }

    #[test]
    fn reads_are_recorded_for_protected_health_information_and_writes_are_not() {
        let out = expand_str(users(), LockView::Absent);
        // find_by_id, find_by_email (unique), find_by_age (many) and all.
        let record = "if let :: core :: option :: Option :: Some (__cell_phi) = { use :: cell_runtime :: __private :: security :: PhiReads as _ ; < Self > :: __CELL_PHI }";
        assert_eq!(out.matches(record).count(), 4, "{out}");
        assert!(
            out.contains("phi_read :: < Self > (__cell_phi , \"users\" , __cell_rows . as_slice () , db) . await ?"),
            "{out}"
        );
        assert!(
            out.contains(
                "phi_read :: < Self > (__cell_phi , \"users\" , & __cell_rows , db) . await ?"
            ),
            "{out}"
        );
        let insert = &out[out.find("pub async fn insert (").unwrap()..];
        let insert = &insert[..insert.find("pub async fn").map_or(insert.len(), |_| {
            insert[1..].find("pub async fn").unwrap() + 1
        })];
        assert!(!insert.contains("__CELL_PHI"), "{insert}");
        assert!(
            out.contains("impl :: cell_runtime :: __private :: security :: RowKey for User"),
            "{out}"
        );
        assert!(out.contains("Key (& self . id)) . key_json ()"), "{out}");
    }

    #[test]
    fn upserts_on_the_primary_key_and_each_unique_index() {
        let mut item: ItemStruct = syn::parse2(quote! {
            struct Member {
                #[Postgres::primary_key] id: i64,
                #[Postgres::unique] email: String,
                org_id: i64,
                handle: String,
            }
        })
        .unwrap();
        let parsed =
            parse_table(quote!(indexes = [("org_id", "handle", unique)]), &mut item).unwrap();
        validate(&parsed).unwrap();
        let out = expand(&item, &parsed, LockView::Absent).to_string();
        let head = r#"INSERT INTO \"members\" (\"id\", \"email\", \"org_id\", \"handle\") VALUES ($1, $2, $3, $4)"#;
        let returning = r#"RETURNING \"id\", \"email\", \"org_id\", \"handle\""#;
        for (method, conflict, sets) in [
            (
                "upsert",
                r#"\"id\""#,
                r#"\"email\" = EXCLUDED.\"email\", \"org_id\" = EXCLUDED.\"org_id\", \"handle\" = EXCLUDED.\"handle\""#,
            ),
            // The primary key of the row already there is kept.
            (
                "upsert_on_email",
                r#"\"email\""#,
                r#"\"org_id\" = EXCLUDED.\"org_id\", \"handle\" = EXCLUDED.\"handle\""#,
            ),
            (
                "upsert_on_org_id_and_handle",
                r#"\"org_id\", \"handle\""#,
                r#"\"email\" = EXCLUDED.\"email\""#,
            ),
        ] {
            assert!(
                out.contains(&format!("pub async fn {method} (& self , db : & impl :: cell_runtime :: Executor) -> :: core :: result :: Result < Self , :: cell_runtime :: Error >")),
                "{method}: {out}"
            );
            let sql = format!("{head} ON CONFLICT ({conflict}) DO UPDATE SET {sets} {returning}");
            assert!(out.contains(&sql), "{sql}: {out}");
        }
        assert_eq!(
            upsert_targets(&parsed),
            vec![
                ("upsert_on_email".to_string(), vec![1]),
                ("upsert_on_org_id_and_handle".to_string(), vec![2, 3]),
            ]
        );
    }

    #[test]
    fn an_upsert_with_nothing_else_to_write_still_returns_the_row() {
        let out = expand_str(
            quote! {
                struct Flag { #[Postgres::primary_key] name: String }
            },
            LockView::Absent,
        );
        assert!(
            out.contains(r#"ON CONFLICT (\"name\") DO UPDATE SET \"name\" = EXCLUDED.\"name\" RETURNING \"name\""#),
            "{out}"
        );
    }

    #[test]
    fn insert_many_copies_in_binary_with_the_columns_types() {
        let out = expand_str(users(), LockView::Absent);
        assert!(
            out.contains("pub async fn insert_many (db : & impl :: cell_runtime :: Executor , rows : & [Self]) -> :: core :: result :: Result < u64 , :: cell_runtime :: Error >"),
            "{out}"
        );
        assert!(
            out.contains(r#""SELECT \"id\", \"email\", \"age\" FROM \"users\" LIMIT 0" , "COPY \"users\" (\"id\", \"email\", \"age\") FROM STDIN BINARY""#),
            "{out}"
        );
        assert!(
            out.contains("out . extend_from_slice (& [& row . id , & row . email , & row . age])"),
            "{out}"
        );
    }

    #[test]
    fn typed_columns_and_filtered_writes() {
        let out = expand_str(users(), LockView::Absent);
        assert!(
            out.contains("struct UserColumns { # [doc = \"The column `users.id`.\"] pub id : :: cell_runtime :: Column < User , Uuid > ,"),
            "{out}"
        );
        assert!(
            out.contains(r#"email : :: cell_runtime :: Column :: new ("\"email\"")"#),
            "{out}"
        );
        assert!(
            out.contains("pub async fn delete_where (db : & impl :: cell_runtime :: Executor , filter : :: cell_runtime :: Filter < Self >) -> :: core :: result :: Result < u64"),
            "{out}"
        );
        assert!(
            out.contains("pub async fn update_where (db : & impl :: cell_runtime :: Executor , filter : :: cell_runtime :: Filter < Self > , set : :: cell_runtime :: Set < Self >) -> :: core :: result :: Result < u64"),
            "{out}"
        );
    }

    #[test]
    fn tracks_the_lock_and_embeds_its_fingerprint() {
        let mut item: ItemStruct = syn::parse2(users()).unwrap();
        let parsed = parse_table(quote!(), &mut item).unwrap();
        let table = parsed.decl.to_table();
        let out = expand(
            &item,
            &parsed,
            LockView::Present {
                path: Path::new("/ws/.cell/postgres.lock.json"),
                table: Some(&table),
                mismatches: vec![],
            },
        )
        .to_string();
        assert!(
            out.contains(r#"include_bytes ! ("/ws/.cell/postgres.lock.json")"#),
            "{out}"
        );
        assert!(out.contains(&table.fingerprint("users")), "{out}");
    }

    #[test]
    fn placeholders_never_panic() {
        for item in [
            quote!(
                struct T(i64);
            ),
            quote!(
                struct T {}
            ),
            quote!(
                struct T<X> {
                    #[Postgres::primary_key]
                    id: X,
                }
            ),
            quote!(
                struct T {
                    id: u32,
                }
            ),
        ] {
            let mut item: ItemStruct = syn::parse2(item).unwrap();
            let (parsed, errors) = crate::parse::parse_table_lenient(quote!(), &mut item);
            // Some of these items are wrong on purpose: their errors are not this test's point.
            let _ = errors.finish();
            let out = expand_placeholder(&item, &parsed).to_string();
            assert!(out.contains("struct T"), "{out}");
        }
    }

    #[test]
    fn mismatches_become_compile_errors_beside_the_api() {
        let mut item: ItemStruct = syn::parse2(users()).unwrap();
        let parsed = parse_table(quote!(), &mut item).unwrap();
        let m = Mismatch {
            field: Some(2),
            message: "column `users.age` does not exist".into(),
            help: "run it".into(),
        };
        let out = expand(
            &item,
            &parsed,
            LockView::Present {
                path: Path::new("/l"),
                table: None,
                mismatches: vec![m],
            },
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("fn insert"), "{out}");
    }

    #[test]
    fn enum_fields_bind_and_read_through_enum_column() {
        let out = expand_str(
            quote! {
                struct Order {
                    #[Postgres::primary_key] id: i64,
                    #[Postgres::index] status: Option<OrderStatus>,
                }
            },
            LockView::Absent,
        );
        assert!(
            out.contains("(:: cell_runtime :: __private :: enum_column :: < Option < OrderStatus > > () . param) (& self . status)"),
            "{out}"
        );
        assert!(
            out.contains("(:: cell_runtime :: __private :: enum_column :: < Option < OrderStatus > > () . get) (row , 1usize) ?"),
            "{out}"
        );
        // The finder takes `&Option<OrderStatus>` and binds it the same way.
        assert!(out.contains("value : & Option < OrderStatus >"), "{out}");
        assert!(out.contains("() . param) (value)"), "{out}");
    }

    #[test]
    fn table_level_indexes_get_finders() {
        let mut item: ItemStruct = syn::parse2(quote! {
            struct Order {
                #[Postgres::primary_key] id: i64,
                org_id: i64,
                email: String,
                created_at: i64,
            }
        })
        .unwrap();
        let parsed = parse_table(
            quote!(
                indexes = [
                    ("org_id", "email", unique = true),
                    ("created_at", descending = true)
                ]
            ),
            &mut item,
        )
        .unwrap();
        validate(&parsed).unwrap();
        let out = expand(&item, &parsed, LockView::Absent).to_string();
        assert!(
            out.contains("fn find_by_org_id_and_email (db : & impl :: cell_runtime :: Executor , org_id : & i64 , email : & str) -> :: core :: result :: Result < :: core :: option :: Option < Self >"),
            "{out}"
        );
        assert!(
            out.contains(r#"FROM \"orders\" WHERE \"org_id\" = $1 AND \"email\" = $2""#),
            "{out}"
        );
        assert!(
            out.contains("fn find_by_created_at (db : & impl :: cell_runtime :: Executor , created_at : & i64) -> :: core :: result :: Result < :: std :: vec :: Vec < Self >"),
            "{out}"
        );
    }

    #[test]
    fn a_locked_enum_column_is_tied_to_the_enum() {
        let mut item: ItemStruct = syn::parse2(quote! {
            struct Order {
                #[Postgres::primary_key] id: i64,
                status: Vec<OrderStatus>,
            }
        })
        .unwrap();
        let parsed = parse_table(quote!(), &mut item).unwrap();
        let mut table = parsed.decl.to_table();
        table.columns.get_mut("status").unwrap().sql_type = "order_status[]".into();
        let out = expand(
            &item,
            &parsed,
            LockView::Present {
                path: Path::new("/l"),
                table: Some(&table),
                mismatches: vec![],
            },
        )
        .to_string();
        assert!(
            out.contains("str_eq (< Vec < OrderStatus > as :: cell_runtime :: __private :: EnumColumn > :: ENUM_NAME , \"order_status\")"),
            "{out}"
        );
    }
}
