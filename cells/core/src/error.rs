//! [`CellError`]: what a Cell's code returns to cargo-cell. Each Cell has its own error enum
//! (thiserror + miette, `#[non_exhaustive]`); cargo-cell sees them through this one box, so
//! it renders every Cell's code, help and cause chain without knowing the Cell.

use std::fmt;

use miette::Diagnostic;

/// Any Cell's error, with its diagnostic (code, help) intact, and the [`Failure`] it is (for
/// cargo-cell's exit code).
pub struct CellError {
    inner: Box<dyn Diagnostic + Send + Sync + 'static>,
    failure: Failure,
}

/// What kind of failure an error is, as far as a script calling cargo-cell cares: each kind
/// has its own exit code (docs/commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Failure {
    /// Anything without a kind of its own.
    #[default]
    Other,
    /// The Docker engine cannot be reached.
    DockerUnreachable,
    /// A change was refused because it loses data or depends on it.
    Refused,
    /// The code and a committed lock disagree.
    LockMismatch,
}

impl CellError {
    pub fn new<E: Diagnostic + Send + Sync + 'static>(error: E) -> CellError {
        CellError::of_kind(Failure::Other, error)
    }

    /// An error of a kind with its own exit code.
    pub fn of_kind<E: Diagnostic + Send + Sync + 'static>(failure: Failure, error: E) -> CellError {
        CellError {
            inner: Box::new(error),
            failure,
        }
    }

    pub fn failure(&self) -> Failure {
        self.failure
    }

    /// The Cell's own error, when it is an `E`.
    pub fn downcast_ref<E: Diagnostic + 'static>(&self) -> Option<&E> {
        let inner: &(dyn std::error::Error + 'static) = &*self.inner;
        inner.downcast_ref::<E>()
    }

    pub fn into_inner(self) -> Box<dyn Diagnostic + Send + Sync + 'static> {
        self.inner
    }
}

impl fmt::Debug for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for CellError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl Diagnostic for CellError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.inner.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.inner.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.inner.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}

/// The errors the core itself reports for any Cell.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum CoreError {
    /// A recorded item could not be read back.
    #[error("cannot read the recorded attributes in {path}")]
    #[diagnostic(
        code(cell::manifest::read),
        help("delete {path} and run `cargo cell build` again: it records everything anew")
    )]
    Fragment {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A lock of a newer format than this tool reads.
    #[error("the lock {path} was written by a newer cargo-cell (lock format {found})")]
    #[diagnostic(
        code(cell::lock::too_new),
        help(
            "update cargo-cell (`cargo install --path cargo-cell` in its checkout, or `cargo install cargo-cell`) so it understands this lock; do not rewrite the lock with the older tool"
        )
    )]
    LockTooNew { path: String, found: u32 },

    /// Any other unreadable lock.
    #[error(transparent)]
    #[diagnostic(
        code(cell::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock(crate::lockfile::LockError),

    /// A saved plan (`cargo cell apply PLAN`) that cannot be read, or lacks what a Cell needs.
    #[error("cannot read the saved plan {}", path.display())]
    #[diagnostic(
        code(cell::apply::plan_file),
        help("pass a file written by `cargo cell plan --out FILE` (format version 1)")
    )]
    PlanFile {
        path: std::path::PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("cannot read the answer to the confirmation prompt")]
    #[diagnostic(code(cell::prompt), help("answer on a terminal, or pass --yes"))]
    Prompt {
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {path}")]
    #[diagnostic(
        code(cell::io),
        help(
            "check that its folder exists and is writable (`ls -ld`), and that the disk is not full (`df -h`)"
        )
    )]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::lockfile::LockError> for CoreError {
    /// A too-new lock is its own error (update the tool); any other says to regenerate.
    fn from(e: crate::lockfile::LockError) -> Self {
        match e {
            crate::lockfile::LockError::TooNew { path, found, .. } => {
                CoreError::LockTooNew { path, found }
            }
            e => CoreError::Lock(e),
        }
    }
}

impl From<CoreError> for CellError {
    fn from(e: CoreError) -> Self {
        CellError::new(e)
    }
}

impl From<crate::lockfile::LockError> for CellError {
    fn from(e: crate::lockfile::LockError) -> Self {
        CellError::new(CoreError::from(e))
    }
}

/// `(path, io error)`, as the state and lock writers report a failure.
impl From<(std::path::PathBuf, std::io::Error)> for CellError {
    fn from((path, source): (std::path::PathBuf, std::io::Error)) -> Self {
        CellError::new(CoreError::Write { path, source })
    }
}
