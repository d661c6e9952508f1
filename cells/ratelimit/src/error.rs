//! The RateLimit Cell's errors. cargo-cell sees them as [`CellError`]s.

use std::path::PathBuf;

use cell_core::CellError;
use miette::Diagnostic;

use crate::lock::LockError;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum RateLimitCellError {
    /// `.cell/ratelimit.lock.json` cannot be read (a lock of a newer format included).
    #[error("cannot use the RateLimit lock {path}")]
    #[diagnostic(
        code(cell::ratelimit::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock {
        path: PathBuf,
        #[source]
        source: LockError,
    },

    /// The lock cannot be written.
    #[error("cannot write the RateLimit lock {path}")]
    #[diagnostic(code(cell::ratelimit::write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// One function has two limits of one kind.
    #[error("{name} is declared twice with different limits: {was} and {now}")]
    #[diagnostic(
        code(cell::ratelimit::conflict),
        help("keep one `#[RateLimit::...]` of each kind on a function")
    )]
    Conflict {
        name: String,
        was: String,
        now: String,
    },
}

/// Asked for a container it does not have (`cargo cell up ratelimit`).
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("the RateLimit Cell has no container of its own: its limits live in the Redis Cell")]
#[diagnostic(
    code(cell::ratelimit::no_container),
    help("start the Redis Cell: `cargo cell up redis`")
)]
pub struct NoContainer;

impl From<RateLimitCellError> for CellError {
    fn from(e: RateLimitCellError) -> Self {
        CellError::new(e)
    }
}
