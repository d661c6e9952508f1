//! Transactions: [`PostgresConnection::transaction`] and `#[Postgres::transaction]`.
//!
//! A transaction is one pooled connection between `BEGIN` and `COMMIT`. The body is a closure
//! that may run more than once: a serialization failure or a deadlock (SQLSTATE 40001, 40P01)
//! rolls the attempt back and runs the body again on a fresh transaction, up to
//! [`TransactionOptions::attempts`] times, with jittered exponential backoff between attempts.
//! So a body must not do anything outside the database that cannot be repeated (send an email,
//! charge a card); do those after the transaction returns.

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::BackoffBuilder;
use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::cache::CacheHandle;
use crate::{Error, Executor, PostgresConnection};

/// The isolation level of a transaction (Postgres's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Postgres's default: each statement sees what was committed before it began.
    #[default]
    ReadCommitted,
    /// Every statement sees the snapshot taken at the first one.
    RepeatableRead,
    /// As if the transactions ran one after another; conflicting ones fail and are retried.
    Serializable,
}

impl Isolation {
    fn begin(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }
}

/// How [`PostgresConnection::transaction_with`] runs its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransactionOptions {
    pub isolation: Isolation,
    /// How many times the body may run in all (at least 1). A body still failing with a
    /// serialization failure or a deadlock after the last attempt returns that error.
    pub attempts: u32,
}

impl Default for TransactionOptions {
    fn default() -> Self {
        TransactionOptions {
            isolation: Isolation::ReadCommitted,
            attempts: 10,
        }
    }
}

impl TransactionOptions {
    pub fn isolation(isolation: Isolation) -> Self {
        TransactionOptions {
            isolation,
            ..TransactionOptions::default()
        }
    }
}

/// One attempt of a transaction. Cheap to clone; every clone is the same transaction. Pass
/// `&tx` wherever an [`Executor`] is taken: generated CRUD, cached finders, `query`.
///
/// It is committed or rolled back by the [`PostgresConnection::transaction`] that made it.
/// Used after that, it fails with [`Error::TransactionFinished`].
#[derive(Clone)]
pub struct Transaction {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` only while dropping.
    client: Option<Object>,
    cache: CacheHandle,
    attempt: u32,
    /// Committed or rolled back: the connection may go back to the pool.
    finished: AtomicBool,
    /// A statement failed: Postgres has aborted the transaction, whatever the body returns.
    failed: AtomicBool,
    /// A statement failed with 40001 or 40P01: another attempt may succeed.
    retryable: AtomicBool,
    /// Cache keys to invalidate once the commit succeeded.
    invalidations: Mutex<Vec<String>>,
    /// `#[Cache::memoize]` tags to invalidate once the commit succeeded.
    tags: Mutex<Vec<String>>,
    /// Audit records of failed calls, written once the transaction ended either way.
    #[cfg(feature = "audit")]
    audits: Mutex<Vec<crate::audit::Pending>>,
    /// Whether a record was appended through this transaction (it then holds the chain's
    /// head row until it ends).
    #[cfg(feature = "audit")]
    chained: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A transaction neither committed nor rolled back (its future was dropped, or the
        // ROLLBACK failed) must not go back to the pool mid-transaction: close it, and
        // Postgres rolls it back.
        if !*self.finished.get_mut()
            && let Some(client) = self.client.take()
        {
            drop(Object::take(client));
        }
    }
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("attempt", &self.inner.attempt)
            .field("finished", &self.inner.finished.load(Ordering::Relaxed))
            .finish()
    }
}

impl Transaction {
    /// Which attempt this is, from 1. More than 1 means earlier attempts were rolled back by a
    /// serialization failure or a deadlock.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// Drops every memoized entry tagged `tag` once the transaction commits, and not at all
    /// when it rolls back: the transactional form of [`crate::cache::invalidate_tag`]
    /// (which, called in the body, would run before the commit and let a concurrent reader
    /// cache the old value again).
    pub fn invalidate_tag(&self, tag: impl Into<String>) {
        queued(&self.inner.tags).push(tag.into());
    }

    fn client(&self) -> Result<&Object, Error> {
        if self.inner.finished.load(Ordering::Acquire) {
            return Err(Error::TransactionFinished);
        }
        Ok(self
            .inner
            .client
            .as_ref()
            .expect("only None while dropping"))
    }

    /// Notes a failed statement: Postgres aborted the transaction.
    fn note<T>(&self, result: Result<T, tokio_postgres::Error>) -> Result<T, Error> {
        result.map_err(|e| {
            self.inner.failed.store(true, Ordering::Release);
            if is_retryable(&e) {
                self.inner.retryable.store(true, Ordering::Release);
            }
            Error::Query(e)
        })
    }

    async fn prepared(&self, sql: &str) -> Result<tokio_postgres::Statement, Error> {
        let client = self.client()?;
        self.note(client.prepare_cached(sql).await)
    }

    async fn finish(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        let client = self
            .inner
            .client
            .as_ref()
            .expect("only None while dropping");
        client.batch_execute(sql).await?;
        self.inner.finished.store(true, Ordering::Release);
        Ok(())
    }
}

impl Executor for Transaction {
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let stmt = self.prepared(sql).await?;
        self.note(self.client()?.query(&stmt, params).await)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let stmt = self.prepared(sql).await?;
        self.note(self.client()?.query_opt(&stmt, params).await)
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let stmt = self.prepared(sql).await?;
        self.note(self.client()?.query_one(&stmt, params).await)
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let stmt = self.prepared(sql).await?;
        self.note(self.client()?.execute(&stmt, params).await)
    }

    fn cache_handle(&self) -> &CacheHandle {
        &self.inner.cache
    }

    fn in_transaction(&self) -> bool {
        true
    }

    async fn copy_in<R: Sync>(
        &self,
        types_sql: &str,
        copy_sql: &str,
        rows: &[R],
        values: crate::executor::CopyValues<R>,
    ) -> Result<u64, Error> {
        let client = self.client()?;
        self.note(crate::executor::copy_rows(client, types_sql, copy_sql, rows, values).await)
    }

    async fn invalidate_after_commit(&self, keys: Vec<String>) {
        queued(&self.inner.invalidations).extend(keys);
    }

    #[cfg(feature = "audit")]
    fn defer_audit(&self, record: crate::audit::Pending) -> Option<crate::audit::Pending> {
        queued(&self.inner.audits).push(record);
        None
    }

    #[cfg(feature = "audit")]
    fn holds_audit_chain(&self) -> bool {
        self.inner
            .chained
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    #[cfg(feature = "audit")]
    fn appended_audit(&self) {
        self.inner
            .chained
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What a transaction queued for after its commit (cache keys, tags). A panic elsewhere
/// while holding the lock leaves the list as it was: still usable.
fn queued<T>(list: &Mutex<Vec<T>>) -> std::sync::MutexGuard<'_, Vec<T>> {
    list.lock().unwrap_or_else(|p| p.into_inner())
}

/// SQLSTATE 40001 (serialization failure) or 40P01 (deadlock): the transaction was rolled
/// back because of another one, and running it again may succeed.
fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// What one attempt came to.
enum Outcome<T, E> {
    Done(Result<T, E>),
    Retry(E),
}

impl PostgresConnection {
    /// Runs `body` in one transaction at Postgres's default isolation (read committed):
    /// committed when it returns `Ok`, rolled back when it returns `Err`. See
    /// [`transaction_with`](Self::transaction_with) for retries.
    ///
    /// ```no_run
    /// # use cell_runtime::prelude::*;
    /// # async fn demo(db: &PostgresConnection) -> Result<(), Error> {
    /// let moved = db
    ///     .transaction(|tx| async move {
    ///         tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
    ///         tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[]).await
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, E, F, Fut>(&self, body: F) -> Result<T, E>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.transaction_with(TransactionOptions::default(), body)
            .await
    }

    /// Runs `body` in one transaction at `options.isolation`. A serialization failure or a
    /// deadlock rolls the attempt back and runs `body` again, on a new transaction, after a
    /// jittered backoff (5 ms doubling to 500 ms), at most `options.attempts` times in all.
    /// So `body` must be safe to repeat: keep effects outside the database until it returns.
    ///
    /// Cache invalidations of `#[Redis::cache]` tables written in `body` happen after the
    /// commit, and not at all when the transaction rolls back.
    pub async fn transaction_with<T, E, F, Fut>(
        &self,
        options: TransactionOptions,
        mut body: F,
    ) -> Result<T, E>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let attempts = options.attempts.max(1);
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(5))
            .with_max_delay(Duration::from_millis(500))
            .with_jitter()
            .with_max_times(attempts as usize - 1)
            .build();
        let mut attempt = 1;
        loop {
            match self.attempt(options.isolation, attempt, &mut body).await {
                Outcome::Done(result) => return result,
                Outcome::Retry(e) => match delays.next() {
                    Some(delay) => {
                        tracing::debug!(
                            attempt,
                            ?delay,
                            "transaction rolled back by a serialization failure or deadlock; retrying"
                        );
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                    None => return Err(e),
                },
            }
        }
    }

    async fn attempt<T, E, F, Fut>(
        &self,
        isolation: Isolation,
        attempt: u32,
        body: &mut F,
    ) -> Outcome<T, E>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let client = match self.client().await {
            Ok(client) => client,
            Err(e) => return Outcome::Done(Err(e.into())),
        };
        if let Err(e) = client.batch_execute(isolation.begin()).await {
            return Outcome::Done(Err(Error::Query(e).into()));
        }
        let tx = Transaction {
            inner: Arc::new(Inner {
                client: Some(client),
                cache: self.cache().clone(),
                attempt,
                finished: AtomicBool::new(false),
                failed: AtomicBool::new(false),
                retryable: AtomicBool::new(false),
                invalidations: Mutex::new(Vec::new()),
                tags: Mutex::new(Vec::new()),
                #[cfg(feature = "audit")]
                audits: Mutex::new(Vec::new()),
                #[cfg(feature = "audit")]
                chained: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        let result = body(tx.clone()).await;
        let failed = tx.inner.failed.load(Ordering::Acquire);
        let retryable = tx.inner.retryable.load(Ordering::Acquire);
        let error = match result {
            Ok(value) if !failed => return self.commit(&tx, value).await,
            // A statement failed but the body carried on: Postgres aborted the transaction, and
            // a COMMIT would quietly roll it back. Say so rather than report success.
            Ok(_) => Error::TransactionAborted.into(),
            Err(e) => e,
        };
        // If the ROLLBACK fails, the connection is closed on drop instead.
        let _ = tx.finish("ROLLBACK").await;
        self.after_end(&tx).await;
        if retryable {
            Outcome::Retry(error)
        } else {
            Outcome::Done(Err(error))
        }
    }

    /// Commits, then runs the invalidations the transaction queued.
    async fn commit<T, E: From<Error>>(&self, tx: &Transaction, value: T) -> Outcome<T, E> {
        let committed = tx.finish("COMMIT").await;
        self.after_end(tx).await;
        match committed {
            Ok(()) => {
                let keys = std::mem::take(&mut *queued(&tx.inner.invalidations));
                if !keys.is_empty() {
                    crate::cache::private::invalidate(self.cache(), keys).await;
                }
                let tags = std::mem::take(&mut *queued(&tx.inner.tags));
                for tag in tags {
                    // Unavailable: queued by the cache and replayed before its next read.
                    let _ = self.cache().invalidate_tag(&tag).await;
                }
                Outcome::Done(Ok(value))
            }
            // A serializable transaction can fail at its commit.
            Err(e) if is_retryable(&e) => Outcome::Retry(Error::Query(e).into()),
            Err(e) => Outcome::Done(Err(Error::Query(e).into())),
        }
    }

    /// What waits for the end of a transaction, committed or not: the audit records of the
    /// calls that failed in it.
    async fn after_end(&self, _tx: &Transaction) {
        #[cfg(feature = "audit")]
        {
            let records = std::mem::take(&mut *queued(&_tx.inner.audits));
            if !records.is_empty() {
                crate::audit::write_deferred(self, records).await;
            }
        }
    }
}
