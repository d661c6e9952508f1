//! The Audit Cell: `#[Audit::log(event = "user_deleted", sensitive_fields = ["email"],
//! retention = "7y", immutable = true)]` on functions, each call a record of a hash-chained,
//! append-only trail in the Postgres Cell.
//!
//! Data flows through one type per stage:
//! attributes ([`parse`]) → declarations ([`declare`], recorded in the manifest)
//! → [`plan::AuditPlan`] against the previous [`lock::Lock`] (a removed audit or an exposed
//! sensitive field is `LOOSENED: needs review`) → apply ([`live_cell`]: the `cell_audit`
//! schema of [`schema`] installed as the database's owner, the lock written)
//! → expansion ([`expand`]: the record written through the function's transaction).
//!
//! The chain's pure core ([`chain`]) is what everything else is built around: how one record
//! is encoded for hashing, how a link's hash is computed, and how a run of records is
//! checked, naming the first broken link. The database's `append` encodes exactly as
//! [`chain::canonical`] does; `cargo cell audit verify` recomputes every hash here, in Rust, so
//! a verification does not trust functions stored in the database it checks.

pub mod chain;
pub mod declare;
pub mod key;
pub mod lock;
pub mod plan;
pub mod schema;

#[cfg(feature = "cell")]
pub mod cell_impl;
#[cfg(feature = "cell")]
pub mod error;
#[cfg(feature = "cell")]
pub mod section;

#[cfg(feature = "live")]
pub mod live_cell;

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;

#[cfg(feature = "cell")]
pub use cell_impl::AuditCell;
pub use plan::AuditPlan;

/// The Cell's name as it appears in manifests and locks.
pub const CELL_NAME: &str = "audit";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "audit.lock.json";
