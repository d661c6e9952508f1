//! The proc-macro shim of cargo-cell. Each entry point parses and hands over to a plain
//! library (`cell-postgres`), which is unit-tested without rustc.
//!
//! One crate serves both phases. Under `cargo cell build`'s record step (which compiles with
//! `CELL_RECORD_DIR` set, in its own target directory) every Cell attribute is recorded and
//! expanded as a stub from its declaration alone. Everywhere else (phase 2, plain `cargo
//! build`, rust-analyzer) the expansion is checked against the workspace's lock files when
//! they exist, and is the same stub when they don't. Nothing here touches the network, and
//! nothing panics: every failure is a `compile_error!`.

mod locks;
mod postgres;
mod record;
mod service;
mod telemetry;

use proc_macro::TokenStream;

/// `#[Postgres::table(name = "...")]`: a struct is a table. See `cell_runtime::Postgres`.
#[proc_macro_attribute]
pub fn postgres_table(args: TokenStream, item: TokenStream) -> TokenStream {
    postgres::table(args.into(), item.into()).into()
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
}

/// `#[service]`: a struct whose fields are Cell connections gets `Self::connect().await?`.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(args.into(), item.into()).into()
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
