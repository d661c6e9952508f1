//! The proc-macro shim of cargo-cell. Each entry point parses and hands over to a plain
//! library (`cell-postgres`), which is unit-tested without rustc.
//!
//! One crate serves both phases. Under `cargo cell build`'s record step (which compiles with
//! `CELL_RECORD_DIR` set, in its own target directory) every Cell attribute is recorded and
//! expanded as a stub from its declaration alone. Everywhere else (phase 2, plain `cargo
//! build`, rust-analyzer) the expansion is checked against the workspace's lock files when
//! they exist, and is the same stub when they don't. Nothing here touches the network, and
//! nothing panics: every failure is a `compile_error!`.

mod audit;
mod auth;
mod checked;
mod locks;
mod postgres;
mod query;
mod ratelimit;
mod record;
mod redis;
mod search;
mod security;
mod service;
mod telemetry;

use proc_macro::TokenStream;

/// `#[Postgres::table(name = "...")]`: a struct is a table. See `cell_runtime::Postgres`.
#[proc_macro_attribute]
pub fn postgres_table(args: TokenStream, item: TokenStream) -> TokenStream {
    redis::table(args.into(), item.into(), postgres::table).into()
}

/// Field attributes are read by `#[Postgres::table]` and removed by it; reaching one of these
/// means it was used somewhere else.
macro_rules! field_attribute {
    ($($fn_name:ident => $name:literal),* $(,)?) => {$(
        #[doc = concat!("`#[Postgres::", $name, "]`: a field attribute read by `#[Postgres::table]`.")]
        #[proc_macro_attribute]
        pub fn $fn_name(_args: TokenStream, item: TokenStream) -> TokenStream {
            postgres::misplaced_field_attribute($name, item.into()).into()
        }
    )*};
}

field_attribute! {
    postgres_primary_key => "primary_key",
    postgres_index => "index",
    postgres_unique => "unique",
    postgres_default => "default",
    postgres_foreign_key => "foreign_key",
    postgres_varchar => "varchar",
}

/// `#[Postgres::check("SQL")]` on a `#[Postgres::table]` struct or one of its fields.
#[proc_macro_attribute]
pub fn postgres_check(args: TokenStream, item: TokenStream) -> TokenStream {
    postgres::struct_attribute("check", args.into(), item.into()).into()
}

/// `#[Postgres::renamed_from("old")]` on a `#[Postgres::table]` struct or one of its fields.
#[proc_macro_attribute]
pub fn postgres_renamed_from(args: TokenStream, item: TokenStream) -> TokenStream {
    postgres::struct_attribute("renamed_from", args.into(), item.into()).into()
}

/// `#[derive(Postgres::Enum)]`: a fieldless enum is a Postgres enum type. See
/// `cell_runtime::Postgres`.
#[proc_macro_derive(PostgresEnum, attributes(postgres))]
pub fn postgres_enum(item: TokenStream) -> TokenStream {
    postgres::derive_enum(item.into()).into()
}

/// `#[Postgres::transaction(isolation = "serializable")]` (or `#[Database::transaction]`) on
/// an async fn: its body runs in one transaction, retried on serialization failures and
/// deadlocks. See `cell_runtime::PostgresConnection::transaction_with`.
#[proc_macro_attribute]
pub fn postgres_transaction(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    let result = cell_postgres::transaction::parse_args(args.into()).and_then(|attr| {
        let func: syn::ItemFn = syn::parse2(item2.clone())?;
        cell_postgres::transaction::expand(&attr, &func)
    });
    match result {
        Ok(out) => out.into(),
        // The function as written beside the error, so its callers see no second error.
        Err(e) => {
            let err = e.to_compile_error();
            quote::quote!(#item2 #err).into()
        }
    }
}

/// `query!("SELECT ...", args..)`: a statement checked against what Postgres said of it
/// during `cargo cell build`. See `cell_runtime::query!`.
#[proc_macro]
pub fn query(input: TokenStream) -> TokenStream {
    query::query(input.into(), false).into()
}

/// `query_as!(Type, "SELECT ...", args..)`: rows as your own struct. See
/// `cell_runtime::query_as!`.
#[proc_macro]
pub fn query_as(input: TokenStream) -> TokenStream {
    query::query(input.into(), true).into()
}

/// `#[Postgres::query("SELECT ...")]` on an async function signature: the function runs
/// the checked statement. See `cell_runtime::Postgres`.
#[proc_macro_attribute]
pub fn postgres_query(args: TokenStream, item: TokenStream) -> TokenStream {
    query::query_fn(args.into(), item.into()).into()
}

/// `#[service]`: a struct whose fields are Cell connections gets `Self::connect().await?`.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(args.into(), item.into()).into()
}

/// `#[Auth::require(role = "admin")]` / `#[Auth::require(any = [...])]`: the caller must hold
/// one of the roles. See `cell_runtime::Auth`.
#[proc_macro_attribute]
pub fn auth_require(args: TokenStream, item: TokenStream) -> TokenStream {
    auth::guard(cell_auth::parse::Kind::Require, args.into(), item.into()).into()
}

/// `#[Auth::protected]`: any authenticated caller. See `cell_runtime::Auth`.
#[proc_macro_attribute]
pub fn auth_protected(args: TokenStream, item: TokenStream) -> TokenStream {
    auth::guard(cell_auth::parse::Kind::Protected, args.into(), item.into()).into()
}

/// `#[Auth::require]` where cell-runtime's `auth` feature is off: the namespace always
/// exists, and says which feature to turn on. The item is kept as written.
#[proc_macro_attribute]
pub fn auth_require_without_feature(_args: TokenStream, item: TokenStream) -> TokenStream {
    without_feature("Auth::require", "auth", item)
}

/// `#[Auth::protected]` where cell-runtime's `auth` feature is off.
#[proc_macro_attribute]
pub fn auth_protected_without_feature(_args: TokenStream, item: TokenStream) -> TokenStream {
    without_feature("Auth::protected", "auth", item)
}

fn without_feature(attribute: &str, feature: &str, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let err = cell_core::macros::feature_off(attribute, feature);
    quote::quote!(#item #err).into()
}

/// `#[Search::index(fields = [...], ...)]` on a `#[Postgres::table]` struct. See
/// `cell_runtime::Search`.
#[proc_macro_attribute]
pub fn search_index(args: TokenStream, item: TokenStream) -> TokenStream {
    search::index(args.into(), item.into()).into()
}

/// `#[Redis::cache(ttl = "1h")]` on a `#[Postgres::table]` struct. See `cell_runtime::Redis`.
#[proc_macro_attribute]
pub fn redis_cache(args: TokenStream, item: TokenStream) -> TokenStream {
    redis::cache(args.into(), item.into()).into()
}

/// `#[Redis::cache_key]`: a field attribute read by `#[Postgres::table]`.
#[proc_macro_attribute]
pub fn redis_cache_key(_args: TokenStream, item: TokenStream) -> TokenStream {
    redis::misplaced_cache_key(item.into()).into()
}

/// `#[Cache::memoize(ttl = "5m", tags = ["user:{id}"], stale_while_revalidate = "1h")]`.
#[proc_macro_attribute]
pub fn cache_memoize(args: TokenStream, item: TokenStream) -> TokenStream {
    redis::memoize(args.into(), item.into(), "Cache::memoize").into()
}

/// `#[Performance::cache(...)]`: the seed's name for `#[Cache::memoize(...)]`.
#[proc_macro_attribute]
pub fn performance_cache(args: TokenStream, item: TokenStream) -> TokenStream {
    redis::memoize(args.into(), item.into(), "Performance::cache").into()
}

/// `#[Telemetry::span(name = "...", fields = [...])]`: a `tracing` span around a function.
#[proc_macro_attribute]
pub fn telemetry_span(args: TokenStream, item: TokenStream) -> TokenStream {
    telemetry::expand("span", args.into(), item.into()).into()
}

/// `#[Telemetry::metrics(counter = "..._total", histogram = "..._seconds", labels = [...])]`.
#[proc_macro_attribute]
pub fn telemetry_metrics(args: TokenStream, item: TokenStream) -> TokenStream {
    telemetry::expand("metrics", args.into(), item.into()).into()
}

/// `#[Telemetry::traces(sampled = "0.1")]`: the share of calls that get a span.
#[proc_macro_attribute]
pub fn telemetry_traces(args: TokenStream, item: TokenStream) -> TokenStream {
    telemetry::expand("traces", args.into(), item.into()).into()
}

/// `#[RateLimit::per_user(100, per = "1m", burst = 100, fail = "open")]`: requests per
/// caller (the `AuthContext`'s subject). See `cell_runtime::RateLimit`.
#[proc_macro_attribute]
pub fn ratelimit_per_user(args: TokenStream, item: TokenStream) -> TokenStream {
    ratelimit::limit(
        cell_ratelimit::declare::Scope::User,
        args.into(),
        item.into(),
    )
    .into()
}

/// `#[RateLimit::per_ip(...)]`: requests per client address.
#[proc_macro_attribute]
pub fn ratelimit_per_ip(args: TokenStream, item: TokenStream) -> TokenStream {
    ratelimit::limit(cell_ratelimit::declare::Scope::Ip, args.into(), item.into()).into()
}

/// `#[RateLimit::per_key(..., key = "arg.field")]`: requests per value of an argument.
#[proc_macro_attribute]
pub fn ratelimit_per_key(args: TokenStream, item: TokenStream) -> TokenStream {
    ratelimit::limit(
        cell_ratelimit::declare::Scope::Key,
        args.into(),
        item.into(),
    )
    .into()
}

/// `#[RateLimit::global(...)]`: every caller together.
#[proc_macro_attribute]
pub fn ratelimit_global(args: TokenStream, item: TokenStream) -> TokenStream {
    ratelimit::limit(
        cell_ratelimit::declare::Scope::Global,
        args.into(),
        item.into(),
    )
    .into()
}

/// `#[Security::pii(fields = ["email"])]` (or on the struct and its fields): personal data,
/// redacted from `Debug` and refused in span fields, metric labels and an audit's clear-text
/// arguments. See `cell_runtime::Security`.
#[proc_macro_attribute]
pub fn security_pii(args: TokenStream, item: TokenStream) -> TokenStream {
    security::pii(args.into(), item.into()).into()
}

/// `#[Security::hipaa(protected_health_info = true)]` on a `#[Postgres::table]` struct with
/// `#[Security::pii]` fields: every read of its rows is an audit record. See
/// `cell_runtime::Security`.
#[proc_macro_attribute]
pub fn security_hipaa(args: TokenStream, item: TokenStream) -> TokenStream {
    security::hipaa(args.into(), item.into()).into()
}

/// `#[Security::gdpr(right_to_be_forgotten = true)]` on the `#[Postgres::table]` struct of
/// data subjects: `forget(&db, &subject)`. See `cell_runtime::Security`.
#[proc_macro_attribute]
pub fn security_gdpr(args: TokenStream, item: TokenStream) -> TokenStream {
    security::gdpr(args.into(), item.into()).into()
}

/// Without cell-runtime's `audit` feature, `#[Security::hipaa]` is an error naming it.
#[proc_macro_attribute]
pub fn security_hipaa_without_feature(_args: TokenStream, item: TokenStream) -> TokenStream {
    without_feature("Security::hipaa", "audit", item)
}

/// `#[Audit::log(event = "user_deleted", sensitive_fields = ["email"], retention = "7y")]`:
/// every call is a record of the hash-chained audit trail. See `cell_runtime::Audit`.
#[proc_macro_attribute]
pub fn audit_log(args: TokenStream, item: TokenStream) -> TokenStream {
    audit::log(args.into(), item.into()).into()
}

/// `#[Audit::log]` where cell-runtime's `audit` feature is off.
#[proc_macro_attribute]
pub fn audit_log_without_feature(_args: TokenStream, item: TokenStream) -> TokenStream {
    without_feature("Audit::log", "audit", item)
}

macro_rules! ratelimit_without_feature {
    ($($fn_name:ident => $name:literal),* $(,)?) => {$(
        #[doc = concat!("`#[RateLimit::", $name, "]` where cell-runtime's `ratelimit` feature is off.")]
        #[proc_macro_attribute]
        pub fn $fn_name(_args: TokenStream, item: TokenStream) -> TokenStream {
            without_feature(concat!("RateLimit::", $name), "ratelimit", item)
        }
    )*};
}

ratelimit_without_feature! {
    ratelimit_per_user_without_feature => "per_user",
    ratelimit_per_ip_without_feature => "per_ip",
    ratelimit_per_key_without_feature => "per_key",
    ratelimit_global_without_feature => "global",
}
