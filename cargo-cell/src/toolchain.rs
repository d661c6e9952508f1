//! The cargo every step runs: the one that runs us.

use std::path::PathBuf;

/// The cargo that runs us (`$CARGO`), else the one on PATH.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}
