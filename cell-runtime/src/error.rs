use std::fmt;

/// Everything a generated API or a connection can fail with.
///
/// `Debug` prints the message, its help and its causes (as anyhow does), because that is
/// what a `main` returning `Result<(), Error>` shows the user.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No endpoint is configured and no dev Cell state was found.
    #[error(
        "{cell} Cell not found: {why}\nhelp: run `cargo cell build` (or `cargo cell up {cell}`) to start the dev Cell, or set {env} to the database URL"
    )]
    CellNotFound {
        cell: &'static str,
        env: &'static str,
        why: String,
    },
    #[error(
        "cannot connect to the {cell} Cell at {endpoint}: {source}\nhelp: check that it runs with `cargo cell status` (which also refreshes .cell/state after a Docker restart changed the port), or start it with `cargo cell up`; `cargo cell run` sets {env} for you; in deployment, check {env}"
    )]
    Connect {
        cell: &'static str,
        endpoint: String,
        env: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `PGSSLROOTCERT` names a file that holds no usable CA certificate.
    #[cfg(feature = "tls")]
    #[error(
        "cannot set up TLS for Postgres: {source}\nhelp: PGSSLROOTCERT must name a readable PEM file of CA certificates; unset it to trust the public CAs only"
    )]
    TlsConfig {
        #[source]
        source: cell_postgres::tls::TlsConfigError,
    },
    /// The server's TLS certificate failed verification.
    #[error(
        "the Postgres server at {endpoint} presented a certificate this program does not trust: {why}\nhelp: set PGSSLROOTCERT to the PEM file of the CA that signed it (your provider publishes it), and check the host name in {env} is one the certificate names"
    )]
    Certificate {
        endpoint: String,
        env: &'static str,
        why: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The live schema differs from the one this program was compiled against.
    #[error("the database schema does not match this program: {}\nhelp: run `cargo cell apply` (deployment: `cargo cell apply --env <name>`) and rebuild", SchemaList(.tables))]
    SchemaMismatch { tables: Vec<String> },
    /// A statement failed. The message is the server's (`duplicate key value violates
    /// unique constraint ...`), or the client's with its cause: tokio-postgres' own Display
    /// says only `db error`.
    #[error("database error: {}", query_message(.0))]
    Query(#[from] tokio_postgres::Error),
    /// A [`Transaction`](crate::Transaction) used after its commit or rollback (a clone kept
    /// outside the transaction's body).
    #[error(
        "this transaction has already been committed or rolled back\nhelp: use the transaction only inside the body passed to `transaction` (or the `#[Postgres::transaction]` function); keep no clone of it past the body"
    )]
    TransactionFinished,
    /// A statement in the body failed, the body returned `Ok` anyway, and Postgres had
    /// aborted the transaction: nothing was committed.
    #[error(
        "a statement in the transaction failed, so Postgres aborted it and nothing was committed, although the body returned Ok\nhelp: propagate statement errors out of the transaction body with `?`; to carry on after a failed statement, run it in its own transaction"
    )]
    TransactionAborted,
    #[error("connection pool error: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The Telemetry Cell's runtime (the `/metrics` endpoint, the OTLP span exporter) could not
    /// start or stop.
    #[error("{message}\nhelp: {help}")]
    Telemetry { message: String, help: String },
    /// An audit record could not be made (no audit key for a sensitive argument, an
    /// argument that does not serialise): the audited call fails rather than go unrecorded.
    #[error("{message}\nhelp: {help}")]
    Audit { message: String, help: String },
    /// An encrypted field could not be encrypted or decrypted (no key ring, a missing data
    /// key, a value changed or copied from another row). Never carries a key or plaintext.
    #[error("{message}\nhelp: {help}")]
    Encrypted { message: String, help: String },
}

struct SchemaList<'a>(&'a [String]);

impl fmt::Display for SchemaList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\ncaused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// What went wrong in `e`, in words a person can act on. The server's DETAIL is left out:
/// it quotes the row's values (`Key (email)=(ada@example.com) already exists`), which are
/// not for logs.
fn query_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} ({})", db.message(), db.code().code());
        if let Some(hint) = db.hint() {
            text.push_str(&format!("\nhelp: {hint}"));
        }
        return text;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
