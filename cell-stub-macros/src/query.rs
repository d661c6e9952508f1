//! `query!`, `query_as!` and `#[Postgres::query]`: record the statement in phase 1; expand
//! against `.cell/postgres.queries.lock.json` in every phase (a query has no expansion
//! without it: its types are what Postgres said).

use proc_macro2::TokenStream;

use cell_core::lockfile::LockError;
use cell_postgres::CELL_NAME;
use cell_postgres::queries::expand::{QueriesView, QueryFn, QueryInput, expand, expand_fn};
use cell_postgres::queries::{QUERIES_LOCK_FILE, QueriesLock, QueryDecl};

use crate::record;

pub fn query(tokens: TokenStream, with_type: bool) -> TokenStream {
    let input = match QueryInput::parse(tokens, with_type) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let recording = record::is_recording();
    if let Err(err) = record_query(&input.sql, input.form(), recording) {
        return err;
    }
    with_lock(&input.sql, |view| expand(&input, view, recording))
}

/// `#[Postgres::query("SQL")] async fn name(db: &impl Executor, ..) -> Result<.., E>;`
pub fn query_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    let f = match QueryFn::parse(args, item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let err = e.to_compile_error();
            return quote::quote!(#item #err);
        }
    };
    let recording = record::is_recording();
    if let Err(err) = record_query(&f.sql, &f.form(), recording) {
        return err;
    }
    with_lock(&f.sql, |view| expand_fn(&f, view, recording))
}

fn record_query(sql: &syn::LitStr, form: &str, recording: bool) -> Result<(), TokenStream> {
    if !recording {
        return Ok(());
    }
    let text = sql.value();
    let decl = QueryDecl {
        hash: cell_postgres::queries::statement_hash(&text),
        sql: text,
        site: site(),
        form: form.to_string(),
    };
    let value = serde_json::to_value(&decl).expect("declarations serialise");
    record::record(CELL_NAME, "query", &decl.hash, &value).map_err(|e| {
        cell_core::macros::compile_error(
            sql.span(),
            &format!("cargo-cell could not record this query: {e}"),
        )
    })
}

/// Runs `expand` with what the workspace's queries lock holds.
fn with_lock(
    sql: &syn::LitStr,
    expand: impl FnOnce(QueriesView<'_>) -> TokenStream,
) -> TokenStream {
    let Some(path) = cell_core::macros::lock_path(QUERIES_LOCK_FILE) else {
        return expand(QueriesView::Absent);
    };
    match cell_core::macros::read_lock::<QueriesLock>(&path) {
        Ok(None) => expand(QueriesView::Absent),
        Ok(Some(lock)) => expand(QueriesView::Present {
            path: &path,
            lock: &lock,
        }),
        Err(e) => lock_error(sql, &e),
    }
}

fn lock_error(sql: &syn::LitStr, e: &LockError) -> TokenStream {
    cell_core::macros::error(
        sql.span(),
        &e.to_string(),
        "run `cargo cell build` to write the lock again (or restore it from version control)",
    )
    .to_compile_error()
}

/// `src/lib.rs:12`: where the macro is called, as rustc names the file.
fn site() -> String {
    let span = proc_macro::Span::call_site();
    let file = span
        .local_file()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| span.file());
    format!("{file}:{}", span.line())
}
