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

pub mod cache;
mod dev_state;
#[doc(hidden)]
pub mod encrypted;
mod error;
mod executor;
pub mod filter;
pub mod gdpr;
mod postgres;
mod postgres_types;
mod query;
mod transaction;

#[cfg(feature = "audit")]
pub mod audit;
#[cfg(feature = "auth")]
pub mod auth;
#[cfg(feature = "ratelimit")]
pub mod ratelimit;
pub mod search;
pub mod telemetry;

pub use error::Error;
pub use executor::Executor;
pub use filter::{Column, Filter, Set};
pub use postgres::PostgresConnection;
pub use transaction::{Isolation, Transaction, TransactionOptions};

pub use query::Query;

/// A statement checked at build time: `query!("SELECT ... WHERE id = $1", id)` is a
/// [`Query`] whose rows are an anonymous struct with one field per column, typed as Postgres
/// described the statement during `cargo cell build` (`Option<T>` where a column may be
/// NULL), from `.cell/postgres.queries.lock.json`, with no database at compile time. See
/// `docs/queries.md`.
pub use cell_stub_macros::query;

/// As [`query!`], with rows of your own struct: `query_as!(OrgCount, "SELECT ...", args..)`.
/// Every column must be a field of that type, of exactly the locked type.
pub use cell_stub_macros::query_as;

/// `#[service]`: fills a struct of Cell connections with `Self::connect().await?`.
pub use cell_stub_macros::service;

/// The Postgres Cell's attributes.
///
/// - `#[Postgres::table]` / `#[Postgres::table(name = "users")]` on a struct with named
///   fields. The default name is the struct's name in snake_case and plural (`User` →
///   `users`, `Category` → `categories`). Table-level indexes:
///   `indexes = [("email", unique = true), ("org_id", "created_at"), ("created_at", descending = true)]`:
///   each a tuple of column names and options (`unique = true` or `unique`;
///   `descending = true` for every column, or `descending = ["created_at"]` for some); a
///   bare `"column"` is a one-column index.
/// - On the struct (above or below `#[Postgres::table]`): `#[Postgres::check("price >= 0")]`
///   (a CHECK constraint), `#[Postgres::renamed_from("old_table")]`.
/// - On fields: `#[Postgres::primary_key]` (exactly one), `#[Postgres::index]`,
///   `#[Postgres::index(unique)]` (or `#[Postgres::unique]`), `#[Postgres::default("NOW()")]`,
///   `#[Postgres::foreign_key(ref = "organizations.id", on_delete = "cascade")]`,
///   `#[Postgres::varchar(255)]` (a `String` as `character varying(255)`),
///   `#[Postgres::check("quantity > 0")]`, `#[Postgres::renamed_from("old_column")]`.
/// - `#[derive(Postgres::Enum)]` on a fieldless enum (which must also derive `Debug`) makes
///   it a Postgres enum type, usable as a field type (also in `Option` and `Vec`). The type's
///   name is the enum's name in snake_case (`OrderStatus` → `order_status`), each label its
///   variant's name in snake_case (`InTransit` → `in_transit`); `#[postgres(name = "...")]`
///   on the enum or on a variant overrides them.
///
/// Field types: `bool`, `i16`, `i32`, `i64`, `f32`, `f64`, `String` (text), `Uuid`,
/// `DateTime<Utc>` (timestamptz), `NaiveDateTime`, `NaiveDate`, `NaiveTime`, `Decimal`
/// (numeric), `serde_json::Value` (jsonb), `Vec<u8>` (bytea), `Vec<T>` arrays of those,
/// `Option<T>` for NULL, and `#[derive(Postgres::Enum)]` enums.
///
/// `#[Postgres::query("SELECT ... WHERE org_id = $1")]` on an async function signature
/// (`async fn by_org(db: &impl Executor, org: i64) -> Result<Vec<Row>, Error>;`) makes the
/// function run that checked statement (see [`query!`] and `docs/queries.md`).
///
/// Generated for each table: `insert`, `find_by_<pk>`, `find_by_<field>` per indexed field
/// (`Option<Self>` when unique, `Vec<Self>` otherwise), `find_by_<a>_and_<b>` per table-level
/// index, `update`, `delete`, `delete_by_id`, `all(limit, offset)`, `count`, `upsert`,
/// `upsert_on_<fields>` per unique index, `insert_many` (binary COPY), `update_where` and
/// `delete_where` with typed filters from `columns()` (see [`filter`]), and the constants
/// `TABLE`, `COLUMNS`, `COLUMN_<FIELD>`.
#[allow(non_snake_case)]
pub mod Postgres {
    pub use cell_stub_macros::PostgresEnum as Enum;
    pub use cell_stub_macros::postgres_check as check;
    pub use cell_stub_macros::postgres_default as default;
    pub use cell_stub_macros::postgres_foreign_key as foreign_key;
    pub use cell_stub_macros::postgres_index as index;
    pub use cell_stub_macros::postgres_primary_key as primary_key;
    pub use cell_stub_macros::postgres_query as query;
    pub use cell_stub_macros::postgres_renamed_from as renamed_from;
    pub use cell_stub_macros::postgres_table as table;
    pub use cell_stub_macros::postgres_transaction as transaction;
    pub use cell_stub_macros::postgres_unique as unique;
    pub use cell_stub_macros::postgres_varchar as varchar;
}

/// The Auth Cell's attributes (feature `auth`; `axum` adds the extractor).
///
/// - `#[Auth::require(role = "admin")]`, `#[Auth::require(any = ["admin", "support"])]`:
///   the caller must hold one of the roles (403 otherwise, 401 without a valid token).
/// - `#[Auth::protected]`: any authenticated caller.
///
/// On a function or method taking an `AuthContext` (by value or reference) and returning
/// `Result<T, E>` with `E: From<AuthError>`. The guard runs before the body; with
/// `.cell/auth.lock.json` it is a bit test.
#[cfg(feature = "auth")]
#[allow(non_snake_case)]
pub mod Auth {
    pub use crate::auth::{AuthContext, AuthError, Verifier, dev_token};
    pub use cell_stub_macros::auth_protected as protected;
    pub use cell_stub_macros::auth_require as require;
}

/// The Auth Cell's attributes, where the `auth` feature is off: each is a compile error that
/// names the feature to turn on (`cell-runtime = { ..., features = ["auth"] }`).
#[cfg(not(feature = "auth"))]
#[allow(non_snake_case)]
pub mod Auth {
    pub use cell_stub_macros::auth_protected_without_feature as protected;
    pub use cell_stub_macros::auth_require_without_feature as require;
}

/// The vision's spelling of [`Postgres::transaction`]: `#[Database::transaction(isolation =
/// "serializable")]`.
#[allow(non_snake_case)]
pub mod Database {
    pub use cell_stub_macros::postgres_transaction as transaction;
}

/// The Redis Cell's attributes on a `#[Postgres::table]` struct.
///
/// - `#[Redis::cache(ttl = "1h")]` beside `#[Postgres::table]` (either order): the generated
///   `find_by_<pk>` reads through Redis, and `update`, `delete`, `delete_by_id` invalidate
///   after the database commits. Signatures do not change.
/// - `#[Redis::cache_key]` on a unique field: `find_by_<field>` is cached too; changing the
///   field through `update` invalidates the old and the new key.
///
/// See [`cache`] for the degradation guarantee and the stale window.
/// `#[RateLimit::per_user(100)]` (per minute unless `per = "1s" | "1h" | ...`),
/// `per_ip(...)`, `per_key(key = "arg.field", ...)` and `global(...)` on an async handler,
/// with `burst = N` (default: the limit) and `fail = "open" | "closed"` (default `"open"`).
/// The limit is GCRA in the Redis Cell, shared by every replica; over it the function
/// returns [`RateLimited`](crate::ratelimit::RateLimited) (429 with `Retry-After`,
/// `RateLimit-Policy` and `RateLimit`). See docs/ratelimit.md. Needs the `ratelimit`
/// feature.
#[cfg(feature = "ratelimit")]
#[allow(non_snake_case)]
pub mod RateLimit {
    pub use crate::ratelimit::{RateLimited, Stats, stats};
    pub use cell_stub_macros::ratelimit_global as global;
    pub use cell_stub_macros::ratelimit_per_ip as per_ip;
    pub use cell_stub_macros::ratelimit_per_key as per_key;
    pub use cell_stub_macros::ratelimit_per_user as per_user;
}

/// Without the `ratelimit` feature, each `#[RateLimit::...]` is an error naming the
/// feature.
#[cfg(not(feature = "ratelimit"))]
#[allow(non_snake_case)]
pub mod RateLimit {
    pub use cell_stub_macros::ratelimit_global_without_feature as global;
    pub use cell_stub_macros::ratelimit_per_ip_without_feature as per_ip;
    pub use cell_stub_macros::ratelimit_per_key_without_feature as per_key;
    pub use cell_stub_macros::ratelimit_per_user_without_feature as per_user;
}

/// `#[Security::pii(fields = ["email", "ssn"])]` on a struct (or `#[Security::pii]` on the
/// struct and on each personal field; alone on a struct that is personal as a whole, such as
/// `struct Email(String)`). Its `Debug` prints `[redacted]` for them (a `derive(Debug)` is
/// replaced), and naming such an argument in `#[Telemetry::span(fields = [...])]`, in metric
/// `labels` or among an audit's clear-text arguments is a compile error. `Serialize` is not
/// changed.
///
/// `#[Security::hipaa(protected_health_info = true)]` next to it on a `#[Postgres::table]`
/// struct (`event = "phi_read"`, `retention = "6y"` unless written): every read of its rows
/// through the table's methods is an audit record, written before the rows are returned.
/// Needs the `audit` feature. See docs/security.md.
#[allow(non_snake_case)]
pub mod Security {
    pub use cell_stub_macros::security_gdpr as gdpr;
    #[cfg(feature = "audit")]
    pub use cell_stub_macros::security_hipaa as hipaa;
    #[cfg(not(feature = "audit"))]
    pub use cell_stub_macros::security_hipaa_without_feature as hipaa;
    pub use cell_stub_macros::security_pii as pii;
}

/// `#[Audit::log(event = "user_deleted", sensitive_fields = ["email"], retention = "7y")]`
/// on an async function returning `Result<T, E>` (`E: From<Error>`): every call is a record
/// of the hash-chained, append-only trail in the Postgres Cell: event, actor (from an
/// `AuthContext` argument), the other arguments (sensitive ones as keyed hashes), outcome,
/// time and trace id. With a `&Transaction` argument the record is in that transaction. See
/// docs/audit.md. Needs the `audit` feature.
#[cfg(feature = "audit")]
#[allow(non_snake_case)]
pub mod Audit {
    pub use crate::audit::acting_as;
    pub use cell_stub_macros::audit_log as log;
}

/// Without the `audit` feature, `#[Audit::log]` is an error naming the feature.
#[cfg(not(feature = "audit"))]
#[allow(non_snake_case)]
pub mod Audit {
    pub use cell_stub_macros::audit_log_without_feature as log;
}

#[allow(non_snake_case)]
pub mod Redis {
    pub use cell_stub_macros::redis_cache as cache;
    pub use cell_stub_macros::redis_cache_key as cache_key;
}

/// The Search Cell's attribute on a `#[Postgres::table]` struct (either order).
///
/// - `#[Search::index(fields = ["name", "description"], language = "english", weights = ["A", "B"])]`:
///   a stored generated `tsvector` column `search_vector` over the fields, with a GIN index,
///   and the generated `Product::search(&db, "query", limit, offset)` and
///   `Product::search_highlighted(...)`, returning [`search::Hit`]s ranked by `ts_rank_cd`.
///   `query` is web search syntax (`"a phrase"`, `-excluded`, `or`). `language` defaults to
///   `english`; `weights` to `A`, `B`, `C`, then `D`.
/// - `fuzzy = true` adds a `pg_trgm` trigram index per field: a query no row matches in
///   full text finds the rows holding a word close to it (a typo). The plan creates the
///   extension, and refuses with help where the server does not have it.
///
/// See `docs/search.md`.
#[allow(non_snake_case)]
pub mod Search {
    pub use crate::search::Hit;
    pub use cell_stub_macros::search_index as index;
}

/// `#[Cache::memoize(ttl = "5m", tags = ["user:{id}"], stale_while_revalidate = "1h")]` on
/// an async function: its result is cached in the Redis Cell under the function's path and
/// arguments (which must implement `serde::Serialize`; the result `Serialize` and
/// `Deserialize`; for a `Result`, only `Ok` is cached). Concurrent misses of one key run the
/// body once per process; with `stale_while_revalidate`, an expired value is served while
/// one background refresh runs. Drop tagged entries with [`cache::invalidate_tag`].
#[allow(non_snake_case)]
pub mod Cache {
    pub use cell_stub_macros::cache_memoize as memoize;
}

/// `#[Performance::cache(...)]`: the same as `#[Cache::memoize(...)]`.
#[allow(non_snake_case)]
pub mod Performance {
    pub use cell_stub_macros::performance_cache as cache;
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
/// serves the metrics for the Telemetry Cell's Prometheus to scrape; `telemetry::otlp`
/// (feature `otlp`, part of `telemetry`) exports the spans over OTLP/HTTP when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, as a `tracing_subscriber` layer or with
/// `telemetry::otlp::init_from_env()`.
#[allow(non_snake_case)]
pub mod Telemetry {
    pub use cell_stub_macros::telemetry_metrics as metrics;
    pub use cell_stub_macros::telemetry_span as span;
    pub use cell_stub_macros::telemetry_traces as traces;
}

/// What an application needs in scope: the attribute namespaces, connections, and the value
/// types the Cells map.
pub mod prelude {
    pub use crate::Auth;
    #[cfg(feature = "ratelimit")]
    pub use crate::ratelimit::RateLimited;
    pub use crate::{
        Audit, Cache, Database, Error, Executor, Filter, Performance, Postgres, PostgresConnection,
        RateLimit, Redis, Search, Security, Telemetry, service,
    };
    #[cfg(feature = "auth")]
    pub use crate::{auth::AuthContext, auth::AuthError};
    pub use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    pub use rust_decimal::Decimal;
    pub use uuid::Uuid;
}

pub use chrono;
pub use rust_decimal;
pub use serde_json;
pub use uuid;

/// Used by generated code only; not a stable API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "audit")]
    pub use crate::audit;

    /// What the checks of `#[Security::pii]` data resolve: `<T>::__CELL_PII` is the struct's
    /// inherent list when it has one, else this trait's empty default.
    pub mod security {
        pub trait PiiFields {
            const __CELL_PII: &'static [&'static str] = &[];
        }

        impl<T: ?Sized> PiiFields for T {}

        /// What a table's reads resolve: `<T>::__CELL_PHI` is `Some` for a struct with
        /// `#[Security::hipaa(protected_health_info = true)]` (its inherent const), else this
        /// trait's `None`, and the read's record is compiled out.
        pub trait PhiReads {
            const __CELL_PHI: Option<&'static PhiRead> = None;
        }

        impl<T: ?Sized> PhiReads for T {}

        /// A struct whose reads are audited.
        #[derive(Debug)]
        pub struct PhiRead {
            /// The audit event (`phi_read` unless named).
            pub event: &'static str,
            /// `{crate}::{module}::{Struct}`, as the audit lock names it.
            pub subject: &'static str,
            /// The protected fields (its `#[Security::pii]` fields).
            pub fields: &'static [&'static str],
        }

        /// A row's primary key, as its read's record holds it. Every `#[Postgres::table]`
        /// implements it.
        #[diagnostic::on_unimplemented(
            message = "`{Self}` is not a #[Postgres::table]: #[Security::hipaa] audits the reads of a table's rows",
            label = "not a table",
            note = "put `#[Postgres::table(name = \"...\")]` on it (reads then go through its methods, each on record), or remove #[Security::hipaa]"
        )]
        pub trait RowKey {
            fn row_key(&self) -> serde_json::Value;
        }

        /// A table's name. Every `#[Postgres::table]` implements it.
        #[diagnostic::on_unimplemented(
            message = "`{Self}` is not a #[Postgres::table]: #[Security::gdpr] forgets a data subject's row and the rows that reference it",
            label = "not a table, so no subject key",
            note = "put `#[Postgres::table(name = \"...\")]` on it (its primary key identifies the subject), or remove #[Security::gdpr]"
        )]
        pub trait Table {
            const TABLE: &'static str;
        }

        /// A key wrapped for [`KeyJson`] (keys that serialise) and, one autoref later,
        /// [`KeyUnrecordable`] (the rest, recorded as `null`).
        pub struct Key<'a, T: ?Sized>(pub &'a T);

        pub trait KeyJson {
            fn key_json(&self) -> serde_json::Value;
        }

        impl<T: serde::Serialize + ?Sized> KeyJson for Key<'_, T> {
            fn key_json(&self) -> serde_json::Value {
                serde_json::to_value(self.0).unwrap_or(serde_json::Value::Null)
            }
        }

        pub trait KeyUnrecordable {
            fn key_json(&self) -> serde_json::Value;
        }

        impl<T: ?Sized> KeyUnrecordable for &Key<'_, T> {
            fn key_json(&self) -> serde_json::Value {
                serde_json::Value::Null
            }
        }

        /// The record of a read of `rows` through `db` (see [`crate::audit::phi_read`]).
        pub async fn phi_read<'r, T: RowKey + 'r>(
            read: &'static PhiRead,
            table: &'static str,
            rows: impl IntoIterator<Item = &'r T>,
            db: &impl crate::Executor,
        ) -> Result<(), crate::Error> {
            let keys: Vec<serde_json::Value> = rows.into_iter().map(RowKey::row_key).collect();
            #[cfg(feature = "audit")]
            {
                crate::audit::phi_read(read, table, keys, db).await
            }
            // `#[Security::hipaa]` needs the feature, so no struct gets here without it.
            #[cfg(not(feature = "audit"))]
            {
                let _ = (table, keys, db);
                Err(crate::Error::Audit {
                    message: format!(
                        "{} is protected health information, but cell-runtime was built without the `audit` feature",
                        read.subject
                    ),
                    help: "enable cell-runtime's `audit` feature".into(),
                })
            }
        }
    }
    #[cfg(feature = "auth")]
    pub use crate::auth::__private as auth;
    pub use crate::cache::private as cache;
    pub use crate::encrypted;
    pub use crate::executor::CopyValues;
    pub use crate::filter::sql as filter_sql;
    pub use crate::postgres_types::{
        EnumColumn, EnumOps, PostgresEnum, enum_accepts, enum_column, enum_from_sql, enum_to_sql,
        str_eq, unknown_label,
    };
    pub use crate::query::{Query, column};
    #[cfg(feature = "ratelimit")]
    pub use crate::ratelimit::__private as ratelimit;
    pub use crate::search::hit as search_hit;
    pub use bytes::BytesMut;
    pub use inventory;
    pub use tokio_postgres::Row;
    pub use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

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

/// The Postgres Cell's attribute reference (`docs/postgres.md`): its examples are doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/postgres.md")]
pub struct PostgresReference;

/// The Redis Cell's attribute reference (`docs/redis.md`): its examples are doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/redis.md")]
pub struct RedisReference;

/// The Auth Cell's attribute reference (`docs/auth.md`): its examples are doctests, built
/// with the `axum` feature (cell-runtime's dev-dependency on itself turns it on).
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../../docs/auth.md")]
pub struct AuthReference;

/// The RateLimit Cell's attribute reference (`docs/ratelimit.md`): its examples are
/// doctests, built with the `ratelimit` and `axum` features (the dev-dependency on itself).
#[cfg(all(doctest, feature = "ratelimit", feature = "axum"))]
#[doc = include_str!("../../docs/ratelimit.md")]
pub struct RateLimitReference;

/// Security (`docs/security.md`): its example of `#[Security::pii]` is a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../docs/security.md")]
pub struct SecurityReference;

/// The Audit Cell's attribute reference (`docs/audit.md`): its examples are doctests, built
/// with the `audit` and `auth` features (the dev-dependency on itself).
#[cfg(all(doctest, feature = "audit", feature = "auth"))]
#[doc = include_str!("../../docs/audit.md")]
pub struct AuditReference;

/// The Search Cell's attribute reference (`docs/search.md`): its examples are doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/search.md")]
pub struct SearchReference;

/// The Telemetry Cell's attribute reference (`docs/telemetry.md`): its examples are
/// doctests, built with the `telemetry` feature (turned on by the dev-dependency on itself).
#[cfg(all(doctest, feature = "telemetry"))]
#[doc = include_str!("../../docs/telemetry.md")]
pub struct TelemetryReference;
