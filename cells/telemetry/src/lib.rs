//! The Telemetry Cell.
//!
//! Data flows through one type per stage:
//! attributes ([`parse`]) → declarations ([`declare::FnDecl`], recorded in the manifest's
//! [`section::TelemetrySection`]) → [`lock::Lock`] (every metric and span,
//! `.cell/telemetry.lock.json`) → [`lock::Plan`] (metrics and spans added and removed; for
//! cargo-cell a [`plan::TelemetryPlan`], in JSON a [`report::TelemetryReport`]) → the
//! Prometheus scrape configuration ([`scrape`]). The expansion ([`expand`]) generates
//! `tracing` spans and `metrics` calls.
//!
//! [`TelemetryCell`] is the Cell as cargo-cell drives it: [`cell_core::Cell`] always, and
//! with the `live` feature [`cell_core::LiveCell`] (the Prometheus container).
//!
//! Everything but the live side is pure and unit-tested without rustc or Docker.

#[cfg(feature = "cell")]
pub mod cell_impl;
pub mod declare;
#[cfg(feature = "cell")]
pub mod error;
pub mod lock;
pub mod names;
pub mod plan;
pub mod report;
pub mod scrape;
#[cfg(feature = "cell")]
pub mod section;

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;

#[cfg(feature = "live")]
pub mod live_cell;

#[cfg(feature = "cell")]
pub use cell_impl::TelemetryCell;
#[cfg(feature = "cell")]
pub use error::TelemetryError;

/// The Cell's name as it appears in manifests, locks, container labels and `disabled = [...]`.
pub const CELL_NAME: &str = "telemetry";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "telemetry.lock.json";
