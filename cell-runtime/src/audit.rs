//! The Audit Cell's runtime: what `#[Audit::log(...)]` expansions call. A call's record is
//! made before the body runs (its arguments, sensitive ones as keyed hashes) and written by
//! `cell_audit.append` in the database, which chains it (see `cells/audit`):
//!
//! - an `Ok` outcome through the function's executor: inside a transaction the record
//!   commits or rolls back with the change, and a record that cannot be written fails the
//!   call;
//! - an `Err` outcome as `error:<kind>` (the error's `Debug` up to its first delimiter: the
//!   variant's name, never its payload), after the transaction ends when there is one, so a
//!   rolled-back attempt is still on record.
//!
//! Calls without an executor argument write through a pool connected on first use
//! ([`PostgresConnection::connect`]).
//!
//! The actor of an audited call is in scope while its body runs ([`acting_as`]): a call or
//! a read of protected health information (`#[Security::hipaa]`) inside it, without an
//! `AuthContext` of its own, is recorded as that actor's.

use std::sync::OnceLock;

use serde::Serialize;

use crate::executor::Executor;
use crate::{Error, PostgresConnection};

pub use cell_audit::key::KEY_ENV;

const APPEND: &str = "SELECT cell_audit.append($1, $2, $3, $4, $5)";

/// One audited function, as the expansion declares it.
#[derive(Debug)]
pub struct Event {
    pub event: &'static str,
    pub function: &'static str,
}

/// A record waiting to be written.
#[derive(Debug, Clone)]
pub struct Pending {
    event: &'static str,
    actor: Option<String>,
    args: serde_json::Value,
    outcome: String,
    trace_id: Option<String>,
}

impl Pending {
    /// Written through `db` (as its own statement, or in its transaction).
    pub(crate) async fn write(&self, db: &impl Executor) -> Result<(), Error> {
        db.query_one(
            APPEND,
            &[
                &self.event,
                &self.actor,
                &self.args,
                &self.outcome,
                &self.trace_id,
            ],
        )
        .await?;
        db.appended_audit();
        Ok(())
    }

    /// Written through `executor`, else through the pool of calls without one.
    async fn write_through<X: Executor>(&self, executor: Option<&X>) -> Result<(), Error> {
        match executor {
            Some(db) => self.write(db).await,
            None => self.write(pool().await?).await,
        }
    }

    /// A failed call's record that could not be written: logged, as the call has its own
    /// error to return.
    fn not_written(&self, e: &Error) {
        tracing::error!(event = self.event, error = %e, "audit record of a failed call not written");
    }
}

tokio::task_local! {
    /// The actor in scope: set by [`acting_as`] and around every audited call's body.
    static ACTOR: Option<String>;
}

/// The actor records made while `work` runs are attributed to, when they have no
/// `AuthContext` of their own: an audited call, a read of `#[Security::hipaa]` fields. An
/// audited call with an `AuthContext` puts its actor in scope for its body by itself.
///
/// ```no_run
/// # async fn f(db: &cell_runtime::PostgresConnection) {
/// cell_runtime::Audit::acting_as("dr.grey", async {
///     // reads here are recorded as dr.grey's
/// })
/// .await;
/// # }
/// ```
pub async fn acting_as<F: std::future::Future>(actor: impl Into<String>, work: F) -> F::Output {
    ACTOR.scope(Some(actor.into()), work).await
}

/// The actor in scope, if any.
pub fn current_actor() -> Option<String> {
    ACTOR.try_with(Clone::clone).ok().flatten()
}

/// `work` with `actor` in scope, else the actor already in scope (what audited bodies run
/// in).
pub async fn in_scope<F: std::future::Future>(actor: Option<String>, work: F) -> F::Output {
    let actor = actor.or_else(current_actor);
    ACTOR.scope(actor, work).await
}

/// The key sensitive arguments are hashed with: `CELL_AUDIT_KEY`, else the dev key in the
/// nearest `.cell/state/audit.json`. Read once.
fn key() -> Result<&'static cell_audit::key::Key, Error> {
    static KEY: OnceLock<Result<cell_audit::key::Key, String>> = OnceLock::new();
    KEY.get_or_init(|| {
        let hex = match std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty()) {
            Some(hex) => hex,
            None => crate::dev_state::find::<cell_audit::key::KeyState>("audit")
                .map(|s| s.key)
                .map_err(|searched| {
                    format!("{KEY_ENV} is not set, and no .cell/state/audit.json was found above {searched}")
                })?,
        };
        cell_audit::key::Key::from_hex(&hex)
    })
    .as_ref()
    .map_err(|why| Error::Audit {
        message: format!("cannot record a sensitive argument: {why}"),
        help: format!(
            "set {KEY_ENV} to the audit key (hex, 32 bytes or more; keep it secret), or run `cargo cell build` to make the dev key"
        ),
    })
}

/// The pool of calls without an executor argument.
async fn pool() -> Result<&'static PostgresConnection, Error> {
    static POOL: tokio::sync::OnceCell<PostgresConnection> = tokio::sync::OnceCell::const_new();
    POOL.get_or_try_init(PostgresConnection::connect).await
}

/// The current span's OpenTelemetry trace id, when spans are exported.
fn trace_id() -> Option<String> {
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let context = tracing::Span::current().context();
        let span = context.span();
        let ids = span.span_context();
        if ids.is_valid() {
            return Some(ids.trace_id().to_string());
        }
    }
    None
}

/// `error:NotFound` for `NotFound { id: 7 }`, `error:Query` for `Query(db error ...)`: the
/// `Debug` text up to its first delimiter, so a payload (which may hold personal data)
/// never reaches the trail.
pub fn kind(error: &impl std::fmt::Debug) -> String {
    let text = format!("{error:?}");
    let name: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .take(64)
        .collect();
    if name.is_empty() {
        "error".into()
    } else {
        format!("error:{name}")
    }
}

/// The actor of a call with an `AuthContext`: its subject, `anonymous` without a token.
#[cfg(feature = "auth")]
pub fn actor(ctx: &crate::auth::AuthContext) -> String {
    ctx.subject().unwrap_or("anonymous").to_string()
}

/// What an audited argument must be: recorded as JSON.
#[diagnostic::on_unimplemented(
    message = "the audited argument's type `{Self}` cannot be recorded",
    label = "recorded as JSON in the audit trail",
    note = "derive `serde::Serialize` for it, list it in `sensitive_fields` if it is personal data, or take it out of the function's arguments"
)]
pub trait Recordable {
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error>;
}

impl<T: Serialize + ?Sized> Recordable for T {
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// What an audited function's error type must be: able to carry a record that could not be
/// written (which fails the call).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry a failed audit record",
    label = "an audited function fails when its record cannot be written",
    note = "add `impl From<cell_runtime::Error> for {Self}`"
)]
pub trait FromAuditFailure {
    fn from_audit_failure(e: Error) -> Self;
}

impl<E: From<Error>> FromAuditFailure for E {
    fn from_audit_failure(e: Error) -> Self {
        E::from(e)
    }
}

/// One audited call in progress.
#[derive(Debug)]
pub struct Call {
    event: &'static Event,
    actor: Option<String>,
    args: serde_json::Map<String, serde_json::Value>,
    /// The first argument that could not be recorded: the call then fails.
    failed: Option<Error>,
}

impl Call {
    /// A call by `actor`, else by the actor in scope ([`acting_as`]).
    pub fn new(event: &'static Event, actor: Option<String>) -> Call {
        Call {
            event,
            actor: actor.or_else(current_actor),
            args: serde_json::Map::new(),
            failed: None,
        }
    }

    fn value<T: Recordable + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Option<serde_json::Value> {
        match value.to_json() {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed.get_or_insert(Error::Audit {
                    message: format!(
                        "cannot record the argument `{name}` of {}: {e}",
                        self.event.function
                    ),
                    help: "an audited argument is recorded as JSON: make its type serialise (serde), or take it out of the function's arguments".into(),
                });
                None
            }
        }
    }

    /// An argument recorded as it is.
    pub fn arg<T: Recordable + ?Sized>(&mut self, name: &str, value: &T) {
        if let Some(v) = self.value(name, value) {
            self.args.insert(name.to_string(), v);
        }
    }

    /// A sensitive argument, recorded as its keyed hash only.
    pub fn sensitive<T: Recordable + ?Sized>(&mut self, name: &str, value: &T) {
        let Some(v) = self.value(name, value) else {
            return;
        };
        match key() {
            Ok(key) => {
                let hash = key.hash_field(name, &v.to_string());
                self.args.insert(name.to_string(), hash.into());
            }
            Err(e) => {
                self.failed.get_or_insert(e);
            }
        }
    }

    fn pending(&mut self, outcome: String) -> Pending {
        Pending {
            event: self.event.event,
            actor: self.actor.take(),
            args: serde_json::Value::Object(std::mem::take(&mut self.args)),
            outcome,
            trace_id: trace_id(),
        }
    }

    /// The body returned `Ok`: the record, through `executor` (its transaction) or the pool.
    pub async fn ok<X: Executor>(&mut self, executor: Option<&X>) -> Result<(), Error> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.pending("ok".into()).write_through(executor).await
    }

    /// The body returned `Err`: the record, after `executor`'s transaction ends (or at once).
    /// Never fails the call, which has its own error: a record that cannot be written is
    /// logged.
    pub async fn error<X: Executor, E: std::fmt::Debug>(
        &mut self,
        executor: Option<&X>,
        error: &E,
    ) {
        let record = self.pending(kind(error));
        if let Some(e) = self.failed.take() {
            record.not_written(&e);
            return;
        }
        // Inside a transaction the record waits for its end; otherwise it is written now.
        let record = match executor {
            Some(db) => db.defer_audit(record),
            None => Some(record),
        };
        if let Some(record) = record
            && let Err(e) = record.write_through(executor).await
        {
            record.not_written(&e);
        }
    }
}

/// A read of protected health information (`#[Security::hipaa]`) through `db`: which rows
/// of `table` (their primary keys) and which fields, by the actor in scope. Written through
/// the pool before the rows reach the caller, committed on its own: a read in a transaction
/// that rolls back still happened. A read that finds no row discloses nothing and is not
/// recorded; a record that cannot be written fails the read.
///
/// One exception: a transaction that already appended to the trail holds the chain's head
/// until it ends, and the pool's append would wait for it while it waits for the read. The
/// record is then written as a failed call's is, through the pool once the transaction
/// ended, committed or not.
pub async fn phi_read(
    read: &'static crate::__private::security::PhiRead,
    table: &'static str,
    keys: Vec<serde_json::Value>,
    db: &impl Executor,
) -> Result<(), Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let record = Pending {
        event: read.event,
        actor: current_actor(),
        args: serde_json::json!({
            "type": read.subject,
            "table": table,
            "fields": read.fields,
            "keys": keys,
        }),
        outcome: "ok".into(),
        trace_id: trace_id(),
    };
    if db.holds_audit_chain() {
        let kept = db.defer_audit(record);
        debug_assert!(kept.is_none(), "only a transaction holds the chain");
        return Ok(());
    }
    record.write(pool().await?).await.map_err(|e| Error::Audit {
        message: format!(
            "the read of {} ({table}) was not returned: its audit record could not be written: {e}",
            read.subject
        ),
        help: "protected health information is returned only once its read is on record: check that the Postgres Cell is reachable and that `cargo cell build` installed the audit trail".into(),
    })
}

/// Writes the records a transaction deferred (failed calls), after it ended.
pub(crate) async fn write_deferred(db: &PostgresConnection, records: Vec<Pending>) {
    for record in records {
        if let Err(e) = record.write(db).await {
            record.not_written(&e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum E {
        NotFound { id: i64, email: String },
        Query(String),
        Unit,
    }

    #[test]
    fn an_error_kind_is_its_variant_without_payload() {
        assert_eq!(
            kind(&E::NotFound {
                id: 1,
                email: "a@b".into()
            }),
            "error:NotFound"
        );
        assert_eq!(kind(&E::Query("secret".into())), "error:Query");
        assert_eq!(kind(&E::Unit), "error:Unit");
        assert_eq!(kind(&"text with spaces"), "error");
    }

    static EVENT: Event = Event {
        event: "e",
        function: "app::f",
    };

    #[test]
    fn arguments_are_captured_and_unserialisable_ones_fail_the_call() {
        let mut call = Call::new(&EVENT, Some("alice".into()));
        call.arg("id", &7);
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        call.arg("bad", &map); // a map with non-string keys does not serialise to JSON
        assert_eq!(call.args["id"], 7);
        assert!(matches!(call.failed, Some(Error::Audit { .. })));
        let p = call.pending("ok".into());
        assert_eq!(p.actor.as_deref(), Some("alice"));
    }
}
