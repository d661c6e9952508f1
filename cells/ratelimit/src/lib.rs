//! The RateLimit Cell: `#[RateLimit::per_user(100)]`, `per_ip`, `per_key` and `global` on
//! handler functions.
//!
//! Data flows through one type per stage:
//! attributes ([`parse`]) → declarations ([`declare`], recorded in the manifest)
//! → [`plan::Plan`] against the previous [`lock::Lock`] (a raised or removed limit is
//! `LOOSENED: needs review`) → apply (cargo-cell: the Redis Cell up, the lock written)
//! → expansion ([`expand`]: a GCRA check in the Redis Cell before the body runs).
//!
//! The Cell has no container of its own: the limits live in the Redis Cell
//! ([`LiveCell::after`](cell_core::LiveCell::after) is `["redis"]`). Rates and the GCRA
//! arithmetic ([`rate`], [`gcra`]) are pure and unit-tested without Redis.

pub mod declare;
pub mod gcra;
pub mod lock;
pub mod plan;
pub mod rate;

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
pub use cell_impl::RateLimitCell;
pub use plan::RateLimitPlan;

/// The Cell's name as it appears in manifests and locks.
pub const CELL_NAME: &str = "ratelimit";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "ratelimit.lock.json";
