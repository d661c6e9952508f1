//! A minimal key-value Cell, written from `docs/writing-a-cell.md` alone and run outside the
//! registry (by `tests/src/bin/cargo-cell-fixture.rs`).
//!
//! `#[Kv::entry(key = "greeting", value = "hello")]` on a `const` or `fn` declares one key.
//! Data flows: attribute ([`parse`]) → declaration ([`declare`], recorded) → manifest section
//! ([`section`]) → plan against `.cell/kv.lock.json` ([`plan`], [`lock`]) → apply (`SET` /
//! `DEL` in a Redis-protocol server in Docker, then the lock; [`live_cell`]).

pub mod cell_impl;
pub mod declare;
pub mod error;
pub mod lock;
pub mod plan;
pub mod section;

#[cfg(feature = "live")]
pub mod live_cell;
#[cfg(feature = "macros")]
pub mod parse;

pub use cell_impl::KvCell;
pub use error::KvError;
pub use plan::KvPlan;
pub use section::KvSection;

/// The Cell's name: in manifests, fragments, labels, file names and on the command line.
pub const CELL_NAME: &str = "kv";
/// Its lock under `.cell/`.
pub const LOCK_FILE: &str = "kv.lock.json";
/// The variable `run` and `test` put its endpoint in.
pub const URL_ENV: &str = "CELL_KV_URL";
/// The variable choosing the image.
pub const IMAGE_ENV: &str = "CELL_KV_IMAGE";
/// The image used unless `CELL_KV_IMAGE` or `[workspace.metadata.cell.kv] image` says
/// otherwise: any server speaking the Redis protocol and taking `redis-server` options as
/// its command.
pub const DEFAULT_IMAGE: &str = "redis:7";
