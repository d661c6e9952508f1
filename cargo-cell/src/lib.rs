//! cargo-cell as a library: the `cargo cell` binary is a thin shell over [`commands::run`].
//!
//! Data flows in one direction, one module per stage: [`record`] (phase 1) → the manifest
//! (`cell_core::Manifest`) → each Cell's up, plan, apply and lock (the Cells of
//! [`registry::CELLS`], through `cell_core::LiveCell`) → phase 2 `cargo build`
//! ([`commands`]). cargo-cell knows no Cell by name: [`registry`] lists them.

pub mod build;
pub mod cli;
pub mod commands;
pub mod completions;
pub mod converged;
pub mod deploy;
pub mod error;
pub mod exit;
pub mod fingerprint;
pub mod lifecycle;
pub mod metadata_cache;
pub mod phase1;
pub mod record;
pub mod registry;
pub mod report;
pub mod scaffold;
pub mod selection;
pub mod speculate;
pub mod toolchain;
pub mod workspace;

/// The Docker wrapper and the terminal, from the core (tests and tools use them).
pub use cell_core::{docker, ui};

/// The `cargo cell` program: parses the command line, runs it, renders an error with miette.
/// A program that [`registry::install`]s more Cells first calls this too.
pub fn main() -> std::process::ExitCode {
    let cli = cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let exit = e.exit();
            eprintln!("{:?}", miette::Report::new(e));
            exit.into()
        }
    }
}
