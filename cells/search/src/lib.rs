//! The Search Cell: `#[Search::index(fields = ["name", "description"], language = "english",
//! weights = ["A", "B"], fuzzy = true)]` on a `#[Postgres::table]` struct.
//!
//! Data flows through one type per stage:
//! attributes ([`parse`], read by `#[Postgres::table]`) → [`SearchDecl`] (part of the
//! table's declaration, recorded in the manifest) → schema objects (a generated `tsvector`
//! column, its GIN index, trigram indexes for `fuzzy`: added to the table by the Postgres
//! Cell, so the schema engine plans them with its safety rules) → expansion ([`expand`]:
//! `search` and `search_highlighted`, ranked by `ts_rank_cd`).
//!
//! The Cell has no container, no lock and no plan of its own: everything it declares lives
//! in the Postgres Cell's schema and `postgres.lock.json`. Splitting it into a second plan
//! would split one transaction's DDL across two Cells. Everything here is pure and
//! unit-tested without a database.

pub mod decl;

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;

pub use decl::{LANGUAGES, SearchDecl, Weight};

/// The Cell's name, for messages.
pub const CELL_NAME: &str = "search";

/// The attribute namespace.
pub const NAMESPACE: &str = "Search";

/// The generated column holding the document's `tsvector`.
pub const VECTOR_COLUMN: &str = "search_vector";

/// The Postgres extension `fuzzy = true` needs.
pub const TRIGRAM_EXTENSION: &str = "pg_trgm";
