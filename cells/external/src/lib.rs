//! Cells from outside cargo-cell, as Terraform providers are from outside Terraform.
//!
//! An external Cell is two things its author ships: a proc-macro crate whose attributes
//! record through `cell_core::record` (as any Cell's do), and a plugin, an executable that
//! speaks the Cell protocol ([`protocol`], `docs/cell-protocol.md`): one JSON object per
//! line over its stdin and stdout, a hello with the versions it speaks, then `describe`
//! (the container as data and its readiness), `plan` and `apply`.
//!
//! - [`protocol`]: the messages and the version rules (always).
//! - [`session`] (feature `session`): a running plugin, every read bounded by a timeout.
//! - [`client`] (feature `client`): [`client::ExternalCell`], the `Cell` and `LiveCell`
//!   traits seen through the pipe, for cargo-cell; [`discover`] finds the plugins a
//!   workspace names.
//! - [`plugin`] (feature `plugin`): `serve(impl Plugin)`, the loop a Cell author calls.
//! - [`conformance`] (feature `conformance`): the checks a Cell author runs on a plugin.
//! - [`macros`] (feature `macros`): recording for the Cell's proc-macro crate.

pub mod protocol;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "client")]
pub mod discover;
#[cfg(feature = "macros")]
pub mod macros;
#[cfg(feature = "plugin")]
pub mod plugin;
#[cfg(feature = "session")]
pub mod session;

/// The name of the first secret of `describe` whose value (from `endpoint`) appears in
/// `lock`: a lock is committed, a secret must never be in it.
pub fn secret_in(
    lock: &serde_json::Value,
    endpoint: Option<&protocol::EndpointInfo>,
    describe: &protocol::Describe,
) -> Option<String> {
    let text = lock.to_string();
    let endpoint = endpoint?;
    describe
        .container
        .secrets
        .iter()
        .find(|name| {
            endpoint
                .env
                .get(*name)
                .is_some_and(|v| !v.is_empty() && text.contains(v.as_str()))
        })
        .cloned()
}
