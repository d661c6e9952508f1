//! The Postgres Cell's errors: what went wrong, why, and what to do, for every step of its
//! plan and apply, on the dev Cell and on a deployment's database.

#[cfg(feature = "live")]
use std::path::PathBuf;

use miette::Diagnostic;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum PostgresError {
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

    #[cfg(feature = "live")]
    #[error("{table} needs the Postgres extension `{extension}`, which this server does not have")]
    #[diagnostic(
        code(cell::postgres::extension),
        help(
            "`fuzzy = true` in #[Search::index] builds trigram indexes, which need `{extension}`: install the server's contrib modules (Debian: the postgresql package; RPM: postgresql-contrib; managed services list it among their extensions), or remove `fuzzy = true`"
        )
    )]
    ExtensionUnavailable { extension: String, table: String },

    #[cfg(feature = "live")]
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

    #[cfg(feature = "live")]
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

    #[cfg(feature = "live")]
    #[error("the plan was refused:{steps}")]
    #[diagnostic(code(cell::plan::refused), help("{help}"))]
    PlanRefused { steps: String, help: String },

    #[cfg(feature = "live")]
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

    #[cfg(feature = "live")]
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

    #[cfg(feature = "live")]
    #[error("`cargo cell apply` would change {target}, and there is no terminal to confirm it on")]
    #[diagnostic(
        code(cell::apply::confirm),
        help("review the plan above, then pass --yes to apply without a prompt")
    )]
    ConfirmationRequired { target: String },

    #[cfg(feature = "live")]
    #[error("apply to {target} cancelled: nothing was changed")]
    #[diagnostic(code(cell::apply::cancelled))]
    Cancelled { target: String },

    #[cfg(feature = "live")]
    #[error("environment `{env}` has no Postgres endpoint: neither ${owner_var} nor ${var} is set")]
    #[diagnostic(
        code(cell::env::endpoint),
        help(
            "set {owner_var} to the URL of the role that owns the tables (migrations run as it) and {var} to the application's (postgres://user:password@host:port/db), in the deploy job's environment; they are never written to disk. With {var} alone, migrations run as the application's role. `--env dev` uses the Docker Cells"
        )
    )]
    NoEndpoint {
        env: String,
        var: String,
        owner_var: String,
    },

    #[cfg(feature = "live")]
    #[error("cannot {what} on {target}")]
    #[diagnostic(code(cell::postgres::roles), help("{help}"))]
    Roles {
        target: String,
        what: String,
        help: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[cfg(feature = "live")]
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

    #[cfg(feature = "live")]
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

    #[cfg(feature = "live")]
    #[error("cannot set up TLS for the database connection")]
    #[diagnostic(
        code(cell::env::tls_config),
        help(
            "PGSSLROOTCERT must name a readable PEM file of CA certificates; unset it to trust the public CAs only"
        )
    )]
    TlsConfig {
        #[source]
        source: crate::tls::TlsConfigError,
    },

    #[error("a column's type is neither a supported type nor a known enum:{details}")]
    #[diagnostic(code(cell::postgres::enum_type), help("{help}"))]
    UnresolvedEnums { details: String, help: String },

    #[cfg(feature = "live")]
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

    #[cfg(feature = "live")]
    #[error("{message}")]
    #[diagnostic(code(cell::postgres::keys), help("{help}"))]
    Keys { message: String, help: String },

    #[cfg(feature = "live")]
    #[error("the key rotation failed while {what}; run `cargo cell keys rotate` again to resume")]
    #[diagnostic(
        code(cell::postgres::keys),
        help(
            "every batch already committed is kept, and the journal (cell_crypto.rotations) says where the rotation stands; check the database is reachable (`cargo cell status`)"
        )
    )]
    KeysDb {
        what: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[cfg(feature = "live")]
    #[error("cannot write the dev key ring of encrypted fields to {path}")]
    #[diagnostic(
        code(cell::postgres::keys),
        help(
            "check that `.cell/state` can be written (it is git-ignored and holds the dev Cells' secrets), then run again"
        )
    )]
    DevKeys {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<PostgresError> for cell_core::CellError {
    fn from(e: PostgresError) -> Self {
        // A refused plan has its own exit code: a script can tell "unsafe" from "broken".
        let failure = match e {
            PostgresError::PlanRefused { .. } | PostgresError::ExtensionUnavailable { .. } => {
                cell_core::Failure::Refused
            }
            _ => cell_core::Failure::Other,
        };
        cell_core::CellError::of_kind(failure, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused plan has its own exit code in cargo-cell; other failures do not.
    #[test]
    fn a_refused_plan_is_a_refusal_for_the_exit_code() {
        let refused: cell_core::CellError = PostgresError::PlanRefused {
            steps: "\n  drop column notes.title".into(),
            help: "run again with --allow-destructive".into(),
        }
        .into();
        assert_eq!(refused.failure(), cell_core::Failure::Refused);
        let other: cell_core::CellError = PostgresError::Cancelled {
            target: "dev".into(),
        }
        .into();
        assert_eq!(other.failure(), cell_core::Failure::Other);
    }
}
