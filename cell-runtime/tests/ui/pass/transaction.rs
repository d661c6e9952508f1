// `#[Postgres::transaction]` and `db.transaction(..)`: generated CRUD, checked reads and raw
// statements take the transaction wherever they take the pool.
use cell_runtime::prelude::*;

#[Postgres::table]
#[Redis::cache(ttl = "5m")]
struct Account {
    #[Postgres::primary_key]
    id: i64,
    balance: i64,
}

#[Postgres::transaction(isolation = "serializable", attempts = 5)]
async fn transfer(db: &PostgresConnection, from: i64, to: i64, cents: i64) -> Result<(), Error> {
    let mut a = Account::find_by_id(db, &from).await?.expect("exists");
    a.balance -= cents;
    a.update(db).await?;
    db.execute("UPDATE accounts SET balance = balance + $2 WHERE id = $1", &[&to, &cents])
        .await?;
    Ok(())
}

#[Database::transaction(isolation = "repeatable read")]
async fn vision_spelling(db: &PostgresConnection, name: String) -> Result<u64, Error> {
    let _ = name.len();
    Account::count(db).await.map(|n| n as u64)
}

async fn either(db: &impl Executor) -> Result<i64, Error> {
    Account::count(db).await
}

async fn closure(db: &PostgresConnection) -> Result<i64, Error> {
    db.transaction(|tx| async move { either(&tx).await }).await
}

fn assert_send<T: Send>(_: T) {}

// Usable from a spawned task (axum handlers, tokio::spawn): the futures are Send.
fn futures_are_send(db: &'static PostgresConnection) {
    assert_send(transfer(db, 1, 2, 3));
    assert_send(vision_spelling(db, String::new()));
    assert_send(closure(db));
}

fn main() {
    let _ = futures_are_send;
}
