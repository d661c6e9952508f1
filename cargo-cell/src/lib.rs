//! cargo-cell as a library: the `cargo cell` binary is a thin shell over [`commands::run`].
//!
//! Data flows in one direction, one module per stage:
//! [`record`] (phase 1) → [`manifest`] → up ([`docker`]) → plan → apply → lock ([`postgres`])
//! → phase 2 `cargo build` ([`commands`]).

pub mod auth;
pub mod cli;
pub mod commands;
pub mod completions;
pub mod converged;
pub mod deploy;
pub mod docker;
pub mod error;
pub mod fingerprint;
pub mod lifecycle;
pub mod manifest;
pub mod metadata_cache;
pub mod postgres;
pub mod record;
pub mod redis;
pub mod report;
pub mod scaffold;
pub mod speculate;
pub mod state;
pub mod telemetry;
pub mod ui;
pub mod workspace;
