//! `PostgresConnection`: a pool to the Postgres Cell with statements prepared once per
//! connection, and the check that the live schema is the one the program was compiled for.

use deadpool_postgres::{Pool, Runtime};
#[cfg(not(feature = "tls"))]
use tokio_postgres::NoTls;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::__private::{Connect, TableInfo};
use crate::Error;

const CELL: &str = "Postgres";
const URL_ENV: &str = "CELL_POSTGRES_URL";

/// A pooled connection to the Postgres Cell. Cheap to clone.
#[derive(Clone)]
pub struct PostgresConnection {
    pool: Pool,
    /// The Redis Cell, for `#[Redis::cache]` tables (connected on first use).
    cache: crate::cache::CacheHandle,
}

impl std::fmt::Debug for PostgresConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConnection")
            .field("status", &self.pool.status())
            .finish()
    }
}

impl PostgresConnection {
    /// Connects from `CELL_POSTGRES_URL`, else `DATABASE_URL`, else the dev Cell's state that
    /// `cargo cell build` wrote in `.cell/state/` (as the application's login role, a member
    /// of `cell_app`, not as the Cell's superuser); then checks the schema fingerprints.
    pub async fn connect() -> Result<Self, Error> {
        let url = endpoint()?;
        Self::connect_to(&url).await
    }

    /// Connects to `url` and checks that every table this program was compiled against has
    /// the shape its lock recorded.
    pub async fn connect_to(url: &str) -> Result<Self, Error> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| connect_error(url, e))?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tls_connector()?,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .runtime(Runtime::Tokio1)
            .max_size(16)
            .build()
            .map_err(|e| connect_error(url, e))?;
        let db = PostgresConnection {
            pool,
            cache: crate::cache::CacheHandle::global().clone(),
        };
        // Fail at connect, not at the first query: a bad endpoint or password shows here.
        let client = db.pool.get().await.map_err(|e| connect_error(url, e))?;
        verify_schema(&client).await?;
        drop(client);
        Ok(db)
    }

    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, params).await?)
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query_opt(&stmt, params).await?)
    }

    pub async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query_one(&stmt, params).await?)
    }

    /// Runs a statement; returns the number of rows it touched.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, params).await?)
    }

    /// The Redis Cell's handle that `#[Redis::cache]` tables read through.
    pub fn cache(&self) -> &crate::cache::CacheHandle {
        &self.cache
    }

    /// A client from the pool, for transactions and anything the generated API lacks.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        Ok(self.pool.get().await?)
    }
}

impl Connect for PostgresConnection {
    fn connect() -> impl std::future::Future<Output = Result<Self, Error>> + Send {
        PostgresConnection::connect()
    }
}

/// Encrypts as the URL's `sslmode` asks, verifying the server (`cell_postgres::tls`).
#[cfg(feature = "tls")]
fn tls_connector() -> Result<cell_postgres::tls::MakeRustlsConnect, Error> {
    cell_postgres::tls::connector().map_err(|source| Error::TlsConfig { source })
}

/// Built without the `tls` feature: plain connections only.
#[cfg(not(feature = "tls"))]
fn tls_connector() -> Result<NoTls, Error> {
    Ok(NoTls)
}

fn connect_error(url: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    #[cfg(feature = "tls")]
    if let Some(why) = cell_postgres::tls::certificate_error(&e).map(|c| c.to_string()) {
        return Error::Certificate {
            endpoint: cell_postgres::cell::redact(url),
            env: URL_ENV,
            why,
            source: Box::new(e),
        };
    }
    Error::Connect {
        cell: CELL,
        endpoint: cell_postgres::cell::redact(url),
        env: URL_ENV,
        source: Box::new(e),
    }
}

fn endpoint() -> Result<String, Error> {
    for var in [URL_ENV, "DATABASE_URL"] {
        if let Ok(url) = std::env::var(var)
            && !url.is_empty()
        {
            return Ok(url);
        }
    }
    crate::dev_state::find_app_url("postgres").map_err(|searched| Error::CellNotFound {
        cell: CELL,
        env: URL_ENV,
        why: format!(
            "{URL_ENV} and DATABASE_URL are not set, and no .cell/state/postgres.json was found above {searched}"
        ),
    })
}

async fn verify_schema(client: &tokio_postgres::Client) -> Result<(), Error> {
    let compiled: Vec<&TableInfo> = inventory::iter::<TableInfo>
        .into_iter()
        .filter(|t| t.fingerprint.is_some())
        .collect();
    if compiled.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = compiled.iter().map(|t| t.table.to_string()).collect();
    let live = cell_postgres::live::introspect_tables(client, &names, &[]).await?;
    let mut wrong = Vec::new();
    for info in compiled {
        let expected = info.fingerprint.expect("filtered");
        match live.tables.get(info.table) {
            None => wrong.push(format!("table `{}` does not exist", info.table)),
            Some(t) if t.fingerprint(info.table) != expected => wrong.push(format!(
                "table `{}` has changed since the program was built",
                info.table
            )),
            Some(_) => {}
        }
    }
    wrong.sort();
    wrong.dedup();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Error::SchemaMismatch { tables: wrong })
    }
}
