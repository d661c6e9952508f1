//! The Postgres Cell.
//!
//! Data flows through one type per stage:
//! attributes ([`parse`]) → declarations ([`declare::TableDecl`], recorded in the manifest)
//! → desired [`schema::Schema`] → [`plan::Plan`] against the live schema ([`live::introspect`])
//! → [`live::apply`] → [`lock::Lock`] → expansion checked against the lock ([`check`], [`expand`]).
//!
//! Everything except `live` is pure and unit-tested without a database.

pub mod cell;
#[cfg(feature = "cell")]
mod cell_impl;
pub mod check;
pub mod declare;
pub mod diff;
pub mod encryption;
#[cfg(feature = "cell")]
pub mod error;
pub mod ident;
pub mod lock;
pub mod plan;
pub mod queries;
pub mod roles;
pub mod safety;
pub mod schema;
#[cfg(feature = "cell")]
pub mod section;
pub mod types;

#[cfg(feature = "macros")]
pub mod enums;
#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;
#[cfg(feature = "macros")]
pub mod transaction;

#[cfg(feature = "client")]
pub mod live;
#[cfg(feature = "tls")]
pub mod tls;

#[cfg(feature = "live")]
pub mod driver;

#[cfg(feature = "cell")]
pub use cell_impl::{PostgresCell, URL_ENV, code_against_lock, resolve_enums, section};
#[cfg(feature = "cell")]
pub use error::PostgresError;
#[cfg(feature = "cell")]
pub use section::PostgresSection;

pub use roles::APP_ROLE;

/// The Cell's name as it appears in manifests, locks and container labels.
pub const CELL_NAME: &str = "postgres";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "postgres.lock.json";
