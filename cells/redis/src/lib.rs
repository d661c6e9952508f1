//! The Redis Cell: caches declared on tables (`#[Redis::cache]`) and on async functions
//! (`#[Cache::memoize]`).
//!
//! Data flows through one type per stage:
//! attributes ([`parse`]) → declarations ([`declare`], recorded in the manifest)
//! → [`plan::Plan`] against the previous [`lock::Lock`] and the live settings
//! → apply (cargo-cell: `CONFIG SET`) → [`lock::Lock`] → expansion ([`expand`]).
//!
//! Keys are laid out by [`key`]; durations and tag templates are checked at compile time
//! ([`duration`], [`template`]). Everything here is pure and unit-tested without Redis,
//! except [`live_cell`] (feature `live`).
//!
//! cargo-cell drives the Cell through [`RedisCell`]: [`cell_core::Cell`] (its name, lock,
//! manifest section [`section::RedisSection`], `cargo cell check`) and, with the feature
//! `live`, [`cell_core::LiveCell`] (its container, readiness, plan [`cell_plan::RedisPlan`]
//! and apply).

pub mod cell;
#[cfg(feature = "cell")]
pub mod cell_impl;
pub mod cell_plan;
pub mod declare;
pub mod duration;
#[cfg(feature = "cell")]
pub mod error;
pub mod key;
pub mod lock;
pub mod plan;
#[cfg(feature = "cell")]
pub mod section;
pub mod template;

#[cfg(feature = "live")]
pub mod live_cell;

#[cfg(feature = "cell")]
pub use cell_impl::RedisCell;
pub use cell_plan::RedisPlan;
#[cfg(feature = "cell")]
pub use error::RedisCellError;
#[cfg(feature = "cell")]
pub use section::RedisSection;

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;

/// The Cell's name as it appears in manifests, locks and container labels.
pub const CELL_NAME: &str = "redis";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "redis.lock.json";
