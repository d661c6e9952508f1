//! [`Executor`]: what generated CRUD, cached reads and hand-written statements run on, the
//! pool ([`PostgresConnection`]) or one [`Transaction`](crate::Transaction).

use std::future::Future;

use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::cache::CacheHandle;
use crate::{Error, PostgresConnection};

/// Runs statements on the pool or inside a transaction. Every generated method takes
/// `db: &impl Executor`, so the same call works in both places:
///
/// ```no_run
/// # use cell_runtime::prelude::*;
/// async fn rename(db: &impl Executor, id: i64, name: &str) -> Result<u64, Error> {
///     db.execute("UPDATE teams SET name = $2 WHERE id = $1", &[&id, &name]).await
/// }
/// ```
///
/// Statements are prepared once per pooled connection and reused (`prepare_cached`).
pub trait Executor: Send + Sync + private::Sealed {
    /// The rows a statement returns.
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;

    /// At most one row (an error if there are more).
    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send;

    /// Exactly one row.
    fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Row, Error>> + Send;

    /// Runs a statement; returns the number of rows it touched.
    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// The Redis Cell's handle that `#[Redis::cache]` tables read through.
    #[doc(hidden)]
    fn cache_handle(&self) -> &CacheHandle;

    /// Inside a transaction: cached reads go to the database (the cache holds committed rows
    /// only), and invalidations wait for the commit.
    #[doc(hidden)]
    fn in_transaction(&self) -> bool;

    /// Invalidates `keys` now (the pool) or after the commit (a transaction; a rollback drops
    /// them, as nothing changed).
    #[doc(hidden)]
    fn invalidate_after_commit(&self, keys: Vec<String>) -> impl Future<Output = ()> + Send;

    /// Writes `rows` with binary `COPY` (`copy_sql`, `COPY ... FROM STDIN BINARY`); the
    /// columns' types are those of `types_sql` (a `SELECT` of the same columns), and
    /// `values` lists one row's values in that order. Returns the number of rows written.
    #[doc(hidden)]
    fn copy_in<R: Sync>(
        &self,
        types_sql: &str,
        copy_sql: &str,
        rows: &[R],
        values: CopyValues<R>,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Keeps the audit record of a failed call for after the transaction ends (so a
    /// rollback does not take it along); the pool hands it back, to be written at once.
    #[cfg(feature = "audit")]
    #[doc(hidden)]
    fn defer_audit(&self, record: crate::audit::Pending) -> Option<crate::audit::Pending> {
        Some(record)
    }

    /// Whether this is a transaction that appended to the audit trail: it holds the chain's
    /// head row until it ends, so a record written through another connection meanwhile
    /// would wait for it forever.
    #[cfg(feature = "audit")]
    #[doc(hidden)]
    fn holds_audit_chain(&self) -> bool {
        false
    }

    /// Notes that a record was appended through this executor.
    #[cfg(feature = "audit")]
    #[doc(hidden)]
    fn appended_audit(&self) {}
}

/// How `insert_many` lists one row's values for [`Executor::copy_in`].
#[doc(hidden)]
pub type CopyValues<R> = for<'r> fn(&'r R, &mut Vec<&'r (dyn ToSql + Sync)>);

/// Binary `COPY` of `rows` on one connection (see [`Executor::copy_in`]).
pub(crate) async fn copy_rows<R: Sync>(
    client: &deadpool_postgres::ClientWrapper,
    types_sql: &str,
    copy_sql: &str,
    rows: &[R],
    values: CopyValues<R>,
) -> Result<u64, tokio_postgres::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let types: Vec<Type> = client
        .prepare_cached(types_sql)
        .await?
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let sink = client.copy_in(copy_sql).await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    let mut row_values = Vec::with_capacity(types.len());
    for row in rows {
        row_values.clear();
        values(row, &mut row_values);
        writer.as_mut().write(&row_values).await?;
    }
    writer.finish().await
}

impl Executor for PostgresConnection {
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        PostgresConnection::query(self, sql, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        PostgresConnection::query_opt(self, sql, params).await
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        PostgresConnection::query_one(self, sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        PostgresConnection::execute(self, sql, params).await
    }

    fn cache_handle(&self) -> &CacheHandle {
        self.cache()
    }

    fn in_transaction(&self) -> bool {
        false
    }

    async fn invalidate_after_commit(&self, keys: Vec<String>) {
        crate::cache::private::invalidate(self.cache(), keys).await
    }

    async fn copy_in<R: Sync>(
        &self,
        types_sql: &str,
        copy_sql: &str,
        rows: &[R],
        values: CopyValues<R>,
    ) -> Result<u64, Error> {
        let client = self.client().await?;
        Ok(copy_rows(&client, types_sql, copy_sql, rows, values).await?)
    }
}

impl<E: Executor> Executor for &E {
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
        E::query(self, sql, params)
    }

    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send {
        E::query_opt(self, sql, params)
    }

    fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Row, Error>> + Send {
        E::query_one(self, sql, params)
    }

    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        E::execute(self, sql, params)
    }

    fn cache_handle(&self) -> &CacheHandle {
        E::cache_handle(self)
    }

    fn in_transaction(&self) -> bool {
        E::in_transaction(self)
    }

    fn invalidate_after_commit(&self, keys: Vec<String>) -> impl Future<Output = ()> + Send {
        E::invalidate_after_commit(self, keys)
    }

    fn copy_in<R: Sync>(
        &self,
        types_sql: &str,
        copy_sql: &str,
        rows: &[R],
        values: CopyValues<R>,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        E::copy_in(self, types_sql, copy_sql, rows, values)
    }

    #[cfg(feature = "audit")]
    fn defer_audit(&self, record: crate::audit::Pending) -> Option<crate::audit::Pending> {
        E::defer_audit(self, record)
    }

    #[cfg(feature = "audit")]
    fn holds_audit_chain(&self) -> bool {
        E::holds_audit_chain(self)
    }

    #[cfg(feature = "audit")]
    fn appended_audit(&self) {
        E::appended_audit(self)
    }
}

mod private {
    /// Only the pool and a transaction run statements: a third executor could not keep the
    /// cache's promise (invalidate after commit, never for a rollback).
    pub trait Sealed {}
    impl Sealed for crate::PostgresConnection {}
    impl Sealed for crate::Transaction {}
    impl<E: Sealed> Sealed for &E {}
}
