//! The Telemetry Cell.
//!
//! Data flows through one type per stage:
//! attributes ([`parse`]) → declarations ([`declare::FnDecl`], recorded in the manifest)
//! → [`lock::Lock`] (every metric and span, `.cell/telemetry.lock.json`) → [`lock::Plan`]
//! (metrics and spans added and removed) → the Prometheus scrape configuration
//! ([`scrape`]). The expansion ([`expand`]) generates `tracing` spans and `metrics` calls.
//!
//! Everything here is pure and unit-tested without rustc or Docker.

pub mod declare;
pub mod lock;
pub mod names;
pub mod scrape;

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;

/// The Cell's name as it appears in manifests, locks, container labels and `disabled = [...]`.
pub const CELL_NAME: &str = "telemetry";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "telemetry.lock.json";
