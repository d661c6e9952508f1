//! The Auth Cell.
//!
//! Data flows through one type per stage:
//! attributes ([`parse`], behind `macros`) → [`rule::GuardDecl`] (recorded in the manifest)
//! → [`plan::Plan`] against [`lock::Lock`] (`.cell/auth.lock.json`) → the lock → the
//! expansion ([`expand`]), whose role bits come from the lock's [`roles::RoleTable`].
//!
//! A guard is a bit test: the lock lists every role in sorted order and a role's bit is its
//! position there; the runtime maps a verified token's role strings through the same table
//! (generated into the binary by the guards themselves), so both sides agree. Without a lock
//! (a plain `cargo build` of a fresh checkout, rust-analyzer) the guard compares role names:
//! slower, equally strict.
//!
//! Everything except [`server`] (the dev token service) and the live side is pure and
//! unit-tested. [`AuthCell`] is the Cell as cargo-cell drives it: [`cell_core::Cell`] always
//! ([`cell_impl`], with the manifest [`section`]), [`cell_core::LiveCell`] with the feature
//! `live` ([`live_cell`]: the token service's image and container, plan and apply, and
//! `cargo cell auth token|serve`).

pub mod cell;
#[cfg(feature = "cell")]
pub mod cell_impl;
#[cfg(feature = "cell")]
pub mod error;
pub mod lock;
pub mod plan;
pub mod roles;
pub mod rule;
#[cfg(feature = "cell")]
pub mod section;

#[cfg(feature = "live")]
pub mod live_cell;

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "macros")]
pub mod parse;

#[cfg(feature = "server")]
pub mod server;

/// The Cell's name as it appears in manifests, locks, state files and container labels.
pub const CELL_NAME: &str = "auth";

/// The lock file's name inside the workspace's `.cell/` directory.
pub const LOCK_FILE: &str = "auth.lock.json";

#[cfg(feature = "cell")]
pub use cell_impl::AuthCell;
#[cfg(feature = "cell")]
pub use error::AuthCellError;
