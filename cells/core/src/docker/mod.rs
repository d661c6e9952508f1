//! The one wrapper around bollard: starts, finds and removes the containers
//! that back Cells.
//!
//! A Cell describes its container as data ([`CellSpec`]); [`Engine`] makes
//! sure exactly one container per workspace and Cell exists and runs, with its
//! data in a named volume. Everything cargo-cell creates carries labels
//! ([`LABEL_MANAGED_BY`], [`LABEL_WORKSPACE`], ...) and is found again by those
//! labels only: the engine never touches a container or volume it did not
//! create.
//!
//! Protocol readiness (is Postgres accepting connections?) is not checked
//! here: the Cell adapter does that, with [`Engine::exec`] or a real client.

mod connect;
mod engine;
mod error;
mod image;
mod spec;
#[cfg(test)]
mod tests;

pub use crate::workspace::WorkspaceId;
pub use connect::{CONNECT_TIMEOUT, Host, HostOrigin};
pub use engine::{Engine, ExecOutput};
pub use error::DockerError;
pub use image::{File, tar};
pub use spec::{CellSpec, ContainerStatus, RunningCell};

/// Label on everything cargo-cell creates; its value is [`MANAGED_BY`].
pub const LABEL_MANAGED_BY: &str = "dev.cell.managed-by";
/// The value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "cargo-cell";
/// Label holding [`WorkspaceId::id`].
pub const LABEL_WORKSPACE: &str = "dev.cell.workspace";
/// Label holding [`WorkspaceId::name`] (for people; never used to find things).
pub const LABEL_WORKSPACE_NAME: &str = "dev.cell.workspace-name";
/// Label holding [`CellSpec::cell`].
pub const LABEL_CELL: &str = "dev.cell.cell";
/// Label on containers holding [`CellSpec::config_hash`].
pub const LABEL_CONFIG: &str = "dev.cell.config";
/// Environment variable with one more label (`key=value`) for containers and
/// volumes, so that a test suite can find and remove what it created.
pub const TEST_LABEL_ENV: &str = "CELL_TEST_LABEL";
