//! The runtime of cargo-cell applications.
//!
//! ```ignore
//! use cell_runtime::prelude::*;
//!
//! #[Postgres::table(name = "users")]
//! struct User {
//!     #[Postgres::primary_key] id: Uuid,
//!     #[Postgres::index(unique)] email: String,
//! }
//!
//! #[service]
//! struct App { db: PostgresConnection }
//! ```
//!
//! An application depends on this crate only. The attribute namespaces (`Postgres::...`)
//! are modules re-exporting the proc-macro attributes; the generated code calls back into
//! [`__private`] by absolute path.

mod error;
mod postgres;
pub mod telemetry;

pub use error::Error;
pub use postgres::PostgresConnection;

/// `#[service]`: fills a struct of Cell connections with `Self::connect().await?`.
pub use cell_stub_macros::service;

/// The Postgres Cell's attributes.
///
/// - `#[Postgres::table]` / `#[Postgres::table(name = "users")]` on a struct with named
///   fields. The default name is the struct's name in snake_case and plural (`User` →
///   `users`, `Category` → `categories`).
/// - On fields: `#[Postgres::primary_key]` (exactly one), `#[Postgres::index]`,
///   `#[Postgres::index(unique)]` (or `#[Postgres::unique]`), `#[Postgres::default("NOW()")]`,
///   `#[Postgres::foreign_key(ref = "organizations.id", on_delete = "cascade")]`.
///
/// Generated for each table: `insert`, `find_by_<pk>`, `find_by_<field>` per indexed field
/// (`Option<Self>` when unique, `Vec<Self>` otherwise), `update`, `delete`, `delete_by_id`,
/// `all(limit, offset)`, `count`, and the constants `TABLE`, `COLUMNS`, `COLUMN_<FIELD>`.
#[allow(non_snake_case)]
pub mod Postgres {
    pub use cell_stub_macros::postgres_default as default;
    pub use cell_stub_macros::postgres_foreign_key as foreign_key;
    pub use cell_stub_macros::postgres_index as index;
    pub use cell_stub_macros::postgres_primary_key as primary_key;
    pub use cell_stub_macros::postgres_table as table;
    pub use cell_stub_macros::postgres_unique as unique;
}

/// The Telemetry Cell's attributes, on sync and async functions; a function may carry any of
/// them (read together, in any order).
///
/// - `#[Telemetry::span]` / `#[Telemetry::span(name = "checkout_flow", fields = [tier])]`: a
///   `tracing` span (level INFO) around the call; it follows an async function's future across
///   awaits. Only the arguments `fields` names are recorded. The default name is the
///   function's path (`crate::module::function`).
/// - `#[Telemetry::metrics(counter = "checkouts_total", histogram = "checkout_seconds",
///   labels = [tier])]`: a counter incremented per call and a histogram of the call's
///   duration in seconds, through the `metrics` facade, labelled with the named arguments'
///   values (`ToString`). Names follow Prometheus rules, checked at compile time.
/// - `#[Telemetry::traces(sampled = "0.1")]`: only that share of calls gets a span.
///
/// With the feature `telemetry-off` (or `[workspace.metadata.cell] disabled = ["telemetry"]`)
/// they expand to the function unchanged. `telemetry::serve_metrics` (feature `telemetry`)
/// serves the metrics for the Telemetry Cell's Prometheus to scrape.
#[allow(non_snake_case)]
pub mod Telemetry {
    pub use cell_stub_macros::telemetry_metrics as metrics;
    pub use cell_stub_macros::telemetry_span as span;
    pub use cell_stub_macros::telemetry_traces as traces;
}

/// What an application needs in scope: the attribute namespaces, connections, and the value
/// types the Cells map.
pub mod prelude {
    pub use crate::{Error, Postgres, PostgresConnection, Telemetry, service};
    pub use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    pub use uuid::Uuid;
}

pub use chrono;
pub use serde_json;
pub use uuid;

/// Used by generated code only; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use tokio_postgres::Row;

    /// What `#[Telemetry::...]` expansions call.
    pub mod telemetry {
        pub use crate::telemetry::{Timer, sample};
        pub use metrics;
        pub use tracing;
    }

    /// A table the program was compiled against, with the fingerprint of its locked shape
    /// (`None` when it was compiled without a lock).
    pub struct TableInfo {
        pub table: &'static str,
        pub fingerprint: Option<&'static str>,
    }
    inventory::collect!(TableInfo);

    pub trait FromRow: Sized {
        fn from_row(row: &Row) -> Result<Self, crate::Error>;
    }

    /// A field type `#[service]` can fill.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a Cell connection, so #[service] cannot fill it",
        label = "not a Cell connection",
        note = "every field of a #[service] struct is a connection such as `PostgresConnection`; keep other state in another struct"
    )]
    pub trait Connect: Sized {
        fn connect() -> impl core::future::Future<Output = Result<Self, crate::Error>> + Send;
    }
}
