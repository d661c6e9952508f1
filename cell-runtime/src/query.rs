//! What `query!` and `query_as!` expand to: the statement, its arguments by reference and a
//! decoder from a row to the result type, run on any [`Executor`].

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use crate::{Error, Executor};

/// A checked statement with its arguments, ready to run. Made by `query!` / `query_as!`;
/// `R` is the row type (an anonymous `Record`, or the type `query_as!` names).
#[must_use = "a query does nothing until it is run: `.fetch_all(&db).await`"]
pub struct Query<'a, R> {
    sql: &'static str,
    params: Vec<&'a (dyn ToSql + Sync)>,
    decode: fn(&Row) -> Result<R, Error>,
}

impl<'a, R> Query<'a, R> {
    #[doc(hidden)]
    pub fn new(
        sql: &'static str,
        params: Vec<&'a (dyn ToSql + Sync)>,
        decode: fn(&Row) -> Result<R, Error>,
    ) -> Self {
        Query {
            sql,
            params,
            decode,
        }
    }

    /// The statement as written.
    pub fn sql(&self) -> &'static str {
        self.sql
    }

    /// Every row.
    pub async fn fetch_all(self, db: &impl Executor) -> Result<Vec<R>, Error> {
        let rows = db.query(self.sql, &self.params).await?;
        rows.iter().map(self.decode).collect()
    }

    /// Exactly one row (an error for none or more).
    pub async fn fetch_one(self, db: &impl Executor) -> Result<R, Error> {
        let row = db.query_one(self.sql, &self.params).await?;
        (self.decode)(&row)
    }

    /// At most one row (an error for more).
    pub async fn fetch_optional(self, db: &impl Executor) -> Result<Option<R>, Error> {
        let row = db.query_opt(self.sql, &self.params).await?;
        row.as_ref().map(self.decode).transpose()
    }

    /// Runs the statement; the number of rows it touched.
    pub async fn execute(self, db: &impl Executor) -> Result<u64, Error> {
        db.execute(self.sql, &self.params).await
    }
}

/// Column `i` of `row` as exactly `T` (the type the lock gives it), so a struct field of
/// another type is a compile error at the `query_as!`, not a surprise at run time.
#[doc(hidden)]
pub fn column<'r, T: FromSql<'r>>(row: &'r Row, i: usize) -> Result<T, Error> {
    Ok(row.try_get(i)?)
}
