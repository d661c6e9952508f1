//! Every error a user of `cargo cell` can hit: what happened, why, and what to do.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::docker::DockerError;

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

    #[error("table `{table}` is declared twice, differently: by `{first}` and by `{second}`")]
    #[diagnostic(
        code(cell::manifest::conflict),
        help(
            "one table has one declaration: give one of the structs another `name = \"...\"`, or remove one"
        )
    )]
    ConflictingTables {
        table: String,
        first: String,
        second: String,
    },

    #[error("cannot read the recorded attributes in {path}")]
    #[diagnostic(code(cell::manifest::read), help("delete {dir} and run `cargo cell build` again: it records everything anew", dir = path.display()))]
    Fragment {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("foreign key `{table}.{column}` references `{target}`, which {why}")]
    #[diagnostic(
        code(cell::postgres::reference),
        help(
            "declare the referenced table with #[Postgres::table], or fix `ref = \"table.column\"`"
        )
    )]
    MissingReference {
        table: String,
        column: String,
        target: String,
        why: String,
    },

    #[error("the {cell} Cell did not become ready within {seconds} s")]
    #[diagnostic(
        code(cell::unhealthy),
        help(
            "its last log lines:\n{logs}\nif the data volume is from another password or version, `cargo cell down --volumes` resets it (the dev data is lost)"
        )
    )]
    CellUnhealthy {
        cell: String,
        seconds: u64,
        logs: String,
        #[source]
        source: Option<tokio_postgres::Error>,
    },

    #[error("cannot talk to the {cell} Cell")]
    #[diagnostic(
        code(cell::postgres::query),
        help("check it runs with `cargo cell status`; `-v` shows more")
    )]
    Postgres {
        cell: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("the plan has steps that lose data, and they were not allowed:\n{steps}")]
    #[diagnostic(
        code(cell::plan::destructive),
        help(
            "review them with `cargo cell plan`; if losing that data is intended, run again with --allow-destructive"
        )
    )]
    DestructiveRefused { steps: String },

    #[error(
        "applying the plan failed, and nothing was changed (it ran in one transaction): {what}"
    )]
    #[diagnostic(code(cell::apply), help("{help}"))]
    ApplyFailed {
        what: String,
        help: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("cannot write {path}")]
    #[diagnostic(code(cell::io))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(
        code(cell::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock(#[from] cell_postgres::lock::LockError),

    #[error("cannot talk to the Redis Cell: {what}")]
    #[diagnostic(
        code(cell::redis),
        help("check it runs with `cargo cell status`; `cargo cell up` starts it again")
    )]
    Redis {
        what: String,
        #[source]
        source: redis::RedisError,
    },

    #[error("cannot use the Redis lock {path}")]
    #[diagnostic(
        code(cell::redis::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    RedisLock {
        path: PathBuf,
        #[source]
        source: cell_redis::lock::LockError,
    },
}
