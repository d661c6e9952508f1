//! The Audit Cell's errors. cargo-cell sees them as [`CellError`]s.

use std::path::PathBuf;

use cell_core::CellError;
use miette::Diagnostic;

use crate::lock::LockError;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum AuditCellError {
    /// `.cell/audit.lock.json` cannot be read (a lock of a newer format included).
    #[error("cannot use the Audit lock {path}")]
    #[diagnostic(
        code(cell::audit::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock {
        path: PathBuf,
        #[source]
        source: LockError,
    },

    /// The lock cannot be written.
    #[error("cannot write the Audit lock {path}")]
    #[diagnostic(code(cell::audit::write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// One function declared twice, differently (one source compiled twice with other cfgs).
    #[error("{name} is declared twice with different audits: {was} and {now}")]
    #[diagnostic(
        code(cell::audit::conflict),
        help("keep one `#[Audit::log(...)]` per function")
    )]
    Conflict {
        name: String,
        was: String,
        now: String,
    },

    /// A statement of the audit trail failed.
    #[cfg(feature = "live")]
    #[error("the audit trail in {target}: {what} failed")]
    #[diagnostic(
        code(cell::audit::database),
        help(
            "the Postgres error below says why; `cargo cell status` shows whether the Postgres Cell runs"
        )
    )]
    Database {
        target: String,
        what: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// No database to check: the dev Cell has never run, or the environment gives no URL.
    #[error("there is no audit trail to {what}: {why}")]
    #[diagnostic(code(cell::audit::no_database), help("{help}"))]
    NoDatabase {
        what: &'static str,
        why: String,
        help: String,
    },

    /// `audit verify`: the chain does not hold.
    #[error("the audit chain is broken: {broken}")]
    #[diagnostic(
        code(cell::audit::broken),
        help(
            "the record named was changed, removed or inserted outside `append`: compare it with a backup or a checkpoint file, and investigate who had write access to the database"
        )
    )]
    Broken { broken: crate::chain::Broken },

    /// `audit verify`: the head row disagrees with the last record.
    #[error("the audit chain's head says record {head_seq} is the last, but {found}")]
    #[diagnostic(
        code(cell::audit::head),
        help(
            "records at the end of the chain were removed, or the head was rewritten: compare with a backup or a checkpoint file"
        )
    )]
    Head { head_seq: i64, found: String },

    /// `audit verify --checkpoint`: the chain no longer has the anchored record.
    #[error("the checkpoint {path} does not match the audit chain: {why}")]
    #[diagnostic(
        code(cell::audit::checkpoint),
        help(
            "the chain was rewritten after the checkpoint was taken (a superuser can rewrite a whole chain consistently): restore from a backup taken before, and investigate"
        )
    )]
    Checkpoint { path: PathBuf, why: String },

    /// A checkpoint file cannot be read, or its signature does not hold.
    #[error("cannot use the checkpoint file {path}: {why}")]
    #[diagnostic(
        code(cell::audit::checkpoint_file),
        help(
            "take a new one with `cargo cell audit checkpoint --out FILE`; it is signed with CELL_AUDIT_KEY (or the dev key in .cell/state/audit.json)"
        )
    )]
    CheckpointFile { path: PathBuf, why: String },

    /// The key file cannot be read or written.
    #[error("cannot use the audit key {path}")]
    #[diagnostic(
        code(cell::audit::key),
        help(
            "remove the file to have a new dev key made, or set CELL_AUDIT_KEY (hex, 32 bytes or more)"
        )
    )]
    Key {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `audit prune` would drop records newer than a checkpoint could cover.
    #[error("cannot prune: {why}")]
    #[diagnostic(code(cell::audit::prune), help("{help}"))]
    Prune { why: String, help: String },
}

/// Asked for a container it does not have (`cargo cell up audit`).
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("the Audit Cell has no container of its own: its records live in the Postgres Cell")]
#[diagnostic(
    code(cell::audit::no_container),
    help("start the Postgres Cell: `cargo cell up postgres`")
)]
pub struct NoContainer;

impl From<AuditCellError> for CellError {
    fn from(e: AuditCellError) -> Self {
        CellError::new(e)
    }
}
