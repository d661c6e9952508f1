//! The methods `#[Search::index]` adds to a `#[Postgres::table]` struct's `impl`:
//! `search` and `search_highlighted`. The SQL is [`SearchDecl::query_sql`]; rows are read
//! by the table's own `FromRow`, then the rank (and the snippet).

use proc_macro2::TokenStream;
use quote::quote;

use crate::decl::SearchDecl;

/// What the table's expansion tells the search methods.
pub struct Table<'a> {
    pub name: &'a str,
    /// The table's columns, quoted and comma-separated, in field order (what `FromRow`
    /// reads).
    pub select_list: &'a str,
    pub primary_key: &'a str,
    /// How many columns `FromRow` reads: the rank comes after them.
    pub columns: usize,
    /// For a table with compile errors: bodies that never run.
    pub placeholder: bool,
    /// What runs before the query (a table with encrypted fields loads its data keys).
    pub prepare: &'a TokenStream,
}

pub fn methods(decl: &SearchDecl, table: &Table<'_>) -> TokenStream {
    let rt = quote!(::cell_runtime);
    let p = quote!(::cell_runtime::__private);
    let rank_at = table.columns;
    let body = |sql: String, highlight: bool| {
        if table.placeholder {
            quote!({ ::core::unreachable!("this table has compile errors") })
        } else {
            let record = cell_core::macros::audited_read(
                table.name,
                quote!(__cell_hits.iter().map(|h| &h.row)),
                &quote::format_ident!("db"),
            );
            let prepare = table.prepare;
            quote!({
                #prepare
                let __cell_hits = #rt::Executor::query(db, #sql, &[&query, &limit, &offset])
                    .await?
                    .iter()
                    .map(|row| #p::search_hit::<Self>(row, #rank_at, #highlight))
                    .collect::<::core::result::Result<::std::vec::Vec<#rt::search::Hit<Self>>, #rt::Error>>()?;
                #record
                ::core::result::Result::Ok(__cell_hits)
            })
        }
    };
    let plain = body(
        decl.query_sql(table.name, table.select_list, table.primary_key, false),
        false,
    );
    let highlighted = body(
        decl.query_sql(table.name, table.select_list, table.primary_key, true),
        true,
    );
    let fields = decl
        .fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let fuzzy = if decl.fuzzy {
        " With `fuzzy = true`, a query no row matches in full text finds the rows whose fields hold a word close to it (a typo)."
    } else {
        ""
    };
    let doc = format!(
        "The rows whose {fields} match `query`, best first ({} full-text search, ranked by `ts_rank_cd`; ties in primary key order). `query` is web search syntax: words, `\"a phrase\"`, `-excluded`, `or`.{fuzzy} A page of `limit` rows from `offset`.",
        decl.language
    );
    let doc_highlighted = format!(
        "As [`Self::search`], each hit with a snippet of {fields} around the matches, the matched words between `<b>` and `</b>` (`ts_headline`)."
    );
    quote! {
        #[doc = #doc]
        pub async fn search(db: &impl #rt::Executor, query: &str, limit: i64, offset: i64) -> ::core::result::Result<::std::vec::Vec<#rt::search::Hit<Self>>, #rt::Error> #plain

        #[doc = #doc_highlighted]
        pub async fn search_highlighted(db: &impl #rt::Executor, query: &str, limit: i64, offset: i64) -> ::core::result::Result<::std::vec::Vec<#rt::search::Hit<Self>>, #rt::Error> #highlighted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decl::Weight;

    #[test]
    fn both_methods_bind_the_query_and_read_the_rank_after_the_columns() {
        let decl = SearchDecl {
            fields: vec!["name".into()],
            weights: vec![Weight::A],
            language: "english".into(),
            fuzzy: false,
        };
        let out = methods(
            &decl,
            &Table {
                name: "products",
                select_list: "\"id\", \"name\"",
                primary_key: "id",
                columns: 2,
                placeholder: false,
                prepare: &quote!(),
            },
        )
        .to_string();
        assert!(out.contains("pub async fn search ("), "{out}");
        assert!(out.contains("pub async fn search_highlighted"), "{out}");
        assert!(
            out.contains("search_hit :: < Self > (row , 2usize , false)"),
            "{out}"
        );
        assert!(
            out.contains("search_hit :: < Self > (row , 2usize , true)"),
            "{out}"
        );
        assert!(out.contains("& [& query , & limit , & offset]"), "{out}");
        assert_eq!(
            out.matches("phi_read :: < Self > (__cell_phi , \"products\" , __cell_hits . iter () . map (| h | & h . row) , db) . await ?").count(),
            2,
            "hits of a #[Security::hipaa] table are recorded: {out}"
        );
    }
}
