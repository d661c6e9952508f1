//! cargo-cell as a library: the `cargo cell` binary is a thin shell over [`commands::run`].
//!
//! Data flows in one direction, one module per stage:
//! [`record`] (phase 1) → [`manifest`] → up ([`docker`]) → plan → apply → lock ([`postgres`])
//! → phase 2 `cargo build` ([`commands`]).

pub mod cli;
pub mod commands;
pub mod converged;
pub mod docker;
pub mod error;
pub mod fingerprint;
pub mod manifest;
pub mod metadata_cache;
pub mod postgres;
pub mod record;
pub mod speculate;
pub mod ui;
pub mod workspace;
