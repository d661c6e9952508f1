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
            "its last log lines:\n{logs}\n\n`cargo cell logs {cell}` shows more. If the image is not a {cell} image \
             following the official image's contract, choose another with {image_env}; if it is only slow, raise \
             CELL_READY_TIMEOUT (seconds, default 90); if the data volume is from another password or version, \
             `cargo cell reset {cell}` starts afresh (the dev data is lost)"
        )
    )]
    CellUnhealthy {
        cell: String,
        seconds: u64,
        logs: String,
        /// `CELL_<CELL>_IMAGE`.
        image_env: String,
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

    #[error("the `{env}` database ({url}) presented a certificate this tool does not trust")]
    #[diagnostic(
        code(cell::env::certificate),
        help(
            "set PGSSLROOTCERT to the PEM file of the CA that signed the server's certificate (your provider publishes it), and check the host name in {var} is one the certificate names; `sslmode=disable` in the URL turns encryption off, for a private network only"
        )
    )]
    EnvCertificate {
        env: String,
        url: String,
        var: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("cannot set up TLS for the database connection")]
    #[diagnostic(
        code(cell::env::tls_config),
        help(
            "PGSSLROOTCERT must name a readable PEM file of CA certificates; unset it to trust the public CAs only"
        )
    )]
    TlsConfig {
        #[source]
        source: cell_postgres::tls::TlsConfigError,
    },

    #[error("code and infrastructure disagree:{details}")]
    #[diagnostic(
        code(cell::check),
        help(
            "run `cargo cell build` against the dev Cells to apply the change and update the locks, then commit .cell/"
        )
    )]
    CheckFailed { details: String },

    #[error("a column's type is neither a supported type nor a known enum:{details}")]
    #[diagnostic(code(cell::postgres::enum_type), help("{help}"))]
    UnresolvedEnums { details: String, help: String },

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
    #[diagnostic(
        code(cell::io),
        help(
            "check that its folder exists and is writable (`ls -ld`), and that the disk is not full (`df -h`)"
        )
    )]
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
    Lock(cell_postgres::lock::LockError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Auth(#[from] crate::auth::AuthCellError),

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

    #[error("the lock {path} was written by a newer cargo-cell (lock format {found})")]
    #[diagnostic(
        code(cell::lock::too_new),
        help(
            "update cargo-cell (`cargo install --path cargo-cell` in its checkout, or `cargo install cargo-cell`) so it understands this lock; do not rewrite the lock with the older tool"
        )
    )]
    LockTooNew { path: String, found: u32 },

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

    #[error("cannot read the answer to the confirmation prompt")]
    #[diagnostic(code(cell::prompt), help("answer on a terminal, or pass --yes"))]
    Prompt {
        #[source]
        source: std::io::Error,
    },

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
}

impl From<cell_postgres::lock::LockError> for Error {
    fn from(e: cell_postgres::lock::LockError) -> Self {
        match e {
            cell_postgres::lock::LockError::TooNew { path, found, .. } => {
                Error::LockTooNew { path, found }
            }
            e => Error::Lock(e),
        }
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
        let e = Error::from(cell_postgres::lock::LockError::TooNew {
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
        let e = Error::from(cell_postgres::lock::LockError::Read {
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
                Error::CellUnhealthy {
                    cell: "postgres".into(),
                    seconds: 5,
                    logs: "last line".into(),
                    image_env: "CELL_POSTGRES_IMAGE".into(),
                    source: None,
                },
                "cell::unhealthy",
                "cargo cell logs postgres",
            ),
        ] {
            let (c, help) = code_and_help(&e);
            assert_eq!(c, code);
            assert!(help.contains(fix), "{code}: {help}");
        }
    }
}
