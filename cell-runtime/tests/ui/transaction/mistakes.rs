use cell_runtime::prelude::*;

#[Postgres::transaction(isolation = "snapshot", retries = 3)]
async fn unknown_level_and_key(db: &PostgresConnection) -> Result<(), Error> {
    Ok(())
}

#[Postgres::transaction]
async fn no_connection(pool: &str) -> Result<(), Error> {
    Ok(())
}

#[Postgres::transaction]
fn not_async(db: &PostgresConnection) {}

struct Key(i64);

// Each attempt gets its own copy of the other parameters: they must be Clone.
#[Postgres::transaction]
async fn param_not_clone(db: &PostgresConnection, key: Key) -> Result<(), Error> {
    let _ = key.0;
    Ok(())
}

// The body runs on the transaction: a function that takes only the pool would escape it.
async fn pool_only(db: &PostgresConnection) -> Result<(), Error> {
    db.execute("SELECT 1", &[]).await.map(|_| ())
}

#[Postgres::transaction]
async fn escapes(db: &PostgresConnection) -> Result<(), Error> {
    pool_only(db).await
}

fn main() {}
