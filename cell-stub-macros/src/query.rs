//! `query!` and `query_as!`: record the statement in phase 1; expand against
//! `.cell/postgres.queries.lock.json` in every phase (a query has no expansion without it:
//! its types are what Postgres said).

use proc_macro2::TokenStream;

use cell_postgres::CELL_NAME;
use cell_postgres::queries::expand::{QueriesView, QueryInput, expand};
use cell_postgres::queries::{QUERIES_LOCK_FILE, QueriesLock, QueryDecl};

use crate::record;

pub fn query(tokens: TokenStream, with_type: bool) -> TokenStream {
    let input = match QueryInput::parse(tokens, with_type) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let recording = record::is_recording();
    if recording {
        let decl = QueryDecl {
            hash: input.hash(),
            sql: input.sql.value(),
            site: site(),
            form: input.form().to_string(),
        };
        let value = serde_json::to_value(&decl).expect("declarations serialise");
        if let Err(e) = record::record(CELL_NAME, "query", &decl.hash, &value) {
            return cell_core::macros::compile_error(
                input.sql.span(),
                &format!("cargo-cell could not record this query: {e}"),
            );
        }
    }
    let Some(path) = cell_core::macros::lock_path(QUERIES_LOCK_FILE) else {
        return expand(&input, QueriesView::Absent, recording);
    };
    match cell_core::macros::read_lock::<QueriesLock>(&path) {
        Ok(None) => expand(&input, QueriesView::Absent, recording),
        Ok(Some(lock)) => expand(
            &input,
            QueriesView::Present {
                path: &path,
                lock: &lock,
            },
            recording,
        ),
        Err(e) => cell_core::macros::error(
            input.sql.span(),
            &e.to_string(),
            "run `cargo cell build` to write the lock again (or restore it from version control)",
        )
        .to_compile_error(),
    }
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
