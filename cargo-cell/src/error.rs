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

    #[error("the plan was refused:{steps}")]
    #[diagnostic(code(cell::plan::refused), help("{help}"))]
    PlanRefused { steps: String, help: String },

    #[error(
        "another apply holds the schema lock of {target} (backend pid {pid}); waited {seconds} s"
    )]
    #[diagnostic(
        code(cell::apply::busy),
        help(
            "wait for it to finish and run again, or find it with `SELECT * FROM pg_stat_activity WHERE pid = {pid}`; CELL_APPLY_LOCK_WAIT (seconds) sets how long to wait"
        )
    )]
    ApplyLockBusy {
        target: String,
        pid: String,
        seconds: u64,
    },

    #[error("the saved plan {} was made against another state of the database (fingerprint {planned}, now {live})", path.display())]
    #[diagnostic(
        code(cell::apply::stale_plan),
        help("the database changed since the plan was made: make a new one with `cargo cell plan --out {}`, review it, and apply that", path.display())
    )]
    StalePlan {
        path: PathBuf,
        planned: String,
        live: String,
    },

    #[error("cannot read the saved plan {}", path.display())]
    #[diagnostic(
        code(cell::apply::plan_file),
        help("pass a file written by `cargo cell plan --out FILE` (format version 1)")
    )]
    PlanFile {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("`cargo cell apply` would change {target}, and there is no terminal to confirm it on")]
    #[diagnostic(
        code(cell::apply::confirm),
        help("review the plan above, then pass --yes to apply without a prompt")
    )]
    ConfirmationRequired { target: String },

    #[error("apply to {target} cancelled: nothing was changed")]
    #[diagnostic(code(cell::apply::cancelled))]
    Cancelled { target: String },

    #[error("environment `{env}` has no Postgres endpoint: ${var} is not set")]
    #[diagnostic(
        code(cell::env::endpoint),
        help(
            "set {var} to the database URL (postgres://user:password@host:port/db) in the deploy job's environment; it is never written to disk. `--env dev` uses the Docker Cells"
        )
    )]
    NoEndpoint { env: String, var: String },

    #[error("cannot connect to the `{env}` database ({url})")]
    #[diagnostic(
        code(cell::env::connect),
        help("check the URL in {var}, the network path to it, and the credentials")
    )]
    EnvConnect {
        env: String,
        url: String,
        var: String,
        #[source]
        source: tokio_postgres::Error,
    },

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

    /// The Telemetry Cell (Prometheus, its lock or its scrape configuration).
    #[error("{message}")]
    #[diagnostic(code(cell::telemetry), help("{help}"))]
    Telemetry { message: String, help: String },

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
}
