//! Every error a user of `cargo cell` can hit: what happened, why, and what to do.

use std::path::PathBuf;

use miette::Diagnostic;

use cell_core::Failure;
use cell_core::docker::DockerError;

use crate::exit::Exit;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read the workspace with `cargo metadata`")]
    #[diagnostic(
        code(cell::workspace),
        help(
            "run `cargo metadata` to see cargo's own error; pass --manifest-path to pick the workspace"
        )
    )]
    Metadata {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("cannot run cargo ({cargo})")]
    #[diagnostic(
        code(cell::cargo),
        help("is cargo installed and on PATH? cargo-cell runs `$CARGO`, else `cargo`")
    )]
    CargoSpawn {
        cargo: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the workspace does not compile, so its Cell attributes cannot be recorded")]
    #[diagnostic(
        code(cell::record),
        help(
            "fix the errors above (they come from `cargo check --workspace --all-targets`), then run `cargo cell build` again"
        )
    )]
    RecordFailed,

    #[error("{count} recorded item{} (checked queries) still wait{} for their Cell after {rounds} rounds of record and apply", if *.count == 1 { "" } else { "s" }, if *.count == 1 { "s" } else { "" })]
    #[diagnostic(
        code(cell::queries_pending),
        help(
            "checked queries are described by the Postgres Cell during `cargo cell build`: make sure it is not left out (`--without postgres`), and that .cell/postgres.queries.lock.json is writable"
        )
    )]
    QueriesPending { count: usize, rounds: usize },

    #[error("cargo build failed")]
    #[diagnostic(
        code(cell::build),
        help(
            "the infrastructure is up to date; fix the compile errors above and run `cargo cell build` again"
        )
    )]
    BuildFailed,

    #[error(transparent)]
    #[diagnostic(transparent)]
    Docker(#[from] DockerError),

    #[error("code and infrastructure disagree:{details}")]
    #[diagnostic(
        code(cell::check),
        help(
            "run `cargo cell build` against the dev Cells to apply the change and update the locks, then commit .cell/"
        )
    )]
    CheckFailed { details: String },

    #[error("cannot read the manifest {}", path.display())]
    #[diagnostic(
        code(cell::manifest::file),
        help(
            "pass a manifest written by `cargo cell build` (target/cell/manifest.json) or `cargo cell manifest`"
        )
    )]
    ManifestFile {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("`cargo cell {command}` needs Docker, and --offline forbids it")]
    #[diagnostic(
        code(cell::offline),
        help(
            "run it without --offline; offline, only `cargo cell build --offline` (locks only) and `cargo cell status --offline` work"
        )
    )]
    Offline { command: &'static str },

    #[error("the {cell} Cell has no container in this workspace")]
    #[diagnostic(
        code(cell::absent),
        help("start it with `cargo cell up {cell}` (or `cargo cell build`)")
    )]
    CellAbsent { cell: String },

    #[error(
        "resetting the {cell} Cell drops its dev data, and there is no terminal to ask for confirmation"
    )]
    #[diagnostic(
        code(cell::reset::confirm),
        help("run `cargo cell reset {cell} --yes` to confirm without a prompt")
    )]
    ConfirmationNeeded { cell: String },

    #[error("{path} already exists")]
    #[diagnostic(
        code(cell::new::exists),
        help("choose another name, or remove that folder first")
    )]
    ProjectExists { path: PathBuf },

    #[error("`{name}` is not a valid package name")]
    #[diagnostic(
        code(cell::new::name),
        help(
            "use letters, digits, `-` and `_`, starting with a letter (like `my-app`); or pass --name"
        )
    )]
    InvalidName { name: String },

    #[error("cell-runtime was not found at {path}")]
    #[diagnostic(
        code(cell::new::runtime),
        help(
            "cell-runtime is not on crates.io yet: point at a checkout of cargo-cell with `--runtime-path PATH/cell-runtime` or the environment variable CELL_RUNTIME_PATH"
        )
    )]
    RuntimeNotFound { path: PathBuf },

    /// A Cell's own error (its code and help are the Cell's).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cell(#[from] cell_core::CellError),
}

impl Error {
    /// The documented exit code of this error (docs/commands.md).
    pub fn exit(&self) -> Exit {
        match self {
            Error::Docker(e) if e.is_unreachable() => Exit::DockerUnreachable,
            Error::CheckFailed { .. } => Exit::LockMismatch,
            Error::Cell(e) => match e.failure() {
                Failure::DockerUnreachable => Exit::DockerUnreachable,
                Failure::Refused => Exit::Refused,
                Failure::LockMismatch => Exit::LockMismatch,
                _ => Exit::Error,
            },
            _ => Exit::Error,
        }
    }
}

impl From<cell_core::CoreError> for Error {
    fn from(e: cell_core::CoreError) -> Self {
        Error::Cell(e.into())
    }
}

impl From<cell_core::lockfile::LockError> for Error {
    fn from(e: cell_core::lockfile::LockError) -> Self {
        Error::Cell(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_and_help(e: &Error) -> (String, String) {
        (
            e.code().map(|c| c.to_string()).unwrap_or_default(),
            e.help().map(|h| h.to_string()).unwrap_or_default(),
        )
    }

    #[test]
    fn a_lock_from_a_newer_tool_says_to_update_the_tool() {
        let e = Error::from(cell_core::lockfile::LockError::TooNew {
            path: ".cell/postgres.lock.json".into(),
            found: 99,
            supported: 1,
        });
        let (code, help) = code_and_help(&e);
        assert_eq!(code, "cell::lock::too_new");
        assert!(help.contains("cargo install"), "{help}");
        assert!(e.to_string().contains("newer cargo-cell"), "{e}");
    }

    #[test]
    fn other_lock_errors_say_to_regenerate() {
        let e = Error::from(cell_core::lockfile::LockError::Read {
            path: "x".into(),
            source: std::io::Error::other("boom"),
        });
        let (code, help) = code_and_help(&e);
        assert_eq!(code, "cell::lock");
        assert!(help.contains("cargo cell build"), "{help}");
    }

    #[test]
    fn each_lifecycle_error_names_its_fix() {
        for (e, code, fix) in [
            (
                Error::CellAbsent {
                    cell: "postgres".into(),
                },
                "cell::absent",
                "cargo cell up postgres",
            ),
            (
                Error::ConfirmationNeeded {
                    cell: "postgres".into(),
                },
                "cell::reset::confirm",
                "cargo cell reset postgres --yes",
            ),
            (
                Error::Offline { command: "up" },
                "cell::offline",
                "without --offline",
            ),
            (
                Error::RuntimeNotFound {
                    path: "/nowhere".into(),
                },
                "cell::new::runtime",
                "CELL_RUNTIME_PATH",
            ),
            (
                Error::Cell(cell_core::CellError::new(
                    cell_core::live::ReadyError::Unhealthy {
                        cell: "postgres".into(),
                        seconds: 5,
                        logs: "last line".into(),
                        image_env: "CELL_POSTGRES_IMAGE".into(),
                        source: None,
                    },
                )),
                "cell::unhealthy",
                "cargo cell logs postgres",
            ),
        ] {
            let (c, help) = code_and_help(&e);
            assert_eq!(c, code);
            assert!(help.contains(fix), "{code}: {help}");
        }
    }

    #[test]
    fn each_kind_of_error_has_its_exit_code() {
        use cell_core::docker::{Host, HostOrigin};
        let unreachable = || DockerError::Unreachable {
            host: Host {
                url: "unix:///nowhere.sock".into(),
                origin: HostOrigin::Explicit,
            },
            source: Box::new(bollard::errors::Error::RequestTimeoutError),
        };
        let refused = cell_core::CellError::of_kind(
            Failure::Refused,
            cell_core::CoreError::LockTooNew {
                path: "x".into(),
                found: 2,
            },
        );
        for (e, exit) in [
            (Error::Docker(unreachable()), Exit::DockerUnreachable),
            // Through a Cell (`cx.engine()?` in a Cell's code) it is the same code.
            (Error::Cell(unreachable().into()), Exit::DockerUnreachable),
            (Error::Cell(refused), Exit::Refused),
            (
                Error::CheckFailed {
                    details: "\n  postgres: table".into(),
                },
                Exit::LockMismatch,
            ),
            (Error::BuildFailed, Exit::Error),
            (Error::Offline { command: "up" }, Exit::Error),
            (
                Error::Docker(DockerError::NameConflict {
                    kind: "volume",
                    name: "v".into(),
                }),
                Exit::Error,
            ),
        ] {
            assert_eq!(e.exit(), exit, "{e}");
        }
    }
}
