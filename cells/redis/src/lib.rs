//! The Redis Cell: caches declared on tables (`#[Redis::cache]`) and on async functions
//! (`#[Cache::memoize]`).
//!
//! Data flows through one type per stage:
//! attributes ([`parse`]) → declarations ([`declare`], recorded in the manifest)
//! → [`plan::Plan`] against the previous [`lock::Lock`] and the live settings
//! → apply (cargo-cell: `CONFIG SET`) → [`lock::Lock`] → expansion ([`expand`]).
//!
//! Keys are laid out by [`key`]; durations and tag templates are checked at compile time
//! ([`duration`], [`template`]). Everything here is pure and unit-tested without Redis.

pub mod cell;
pub mod declare;
pub mod duration;
pub mod key;
pub mod lock;
pub mod plan;
pub mod template;

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;

/// The Cell's name as it appears in manifests, locks and container labels.
pub const CELL_NAME: &str = "redis";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "redis.lock.json";
