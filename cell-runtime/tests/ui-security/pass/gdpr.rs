//! `#[Security::gdpr]` on a table, before or after `#[Postgres::table]`: `forget` takes the
//! subject's primary key and says what it removed.
use cell_runtime::prelude::*;

#[Postgres::table(name = "users")]
#[Security::gdpr(right_to_be_forgotten = true)]
struct User {
    #[Postgres::primary_key]
    id: uuid::Uuid,
    email: String,
}

#[Security::gdpr(right_to_be_forgotten = true)]
#[Postgres::table(name = "customers")]
struct Customer {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::encrypted]
    #[Postgres::unique]
    email: String,
}

async fn forget(db: &PostgresConnection, id: uuid::Uuid) -> Result<u64, Error> {
    let user = User::forget(db, &id).await?;
    let customer: cell_runtime::gdpr::Forgotten = Customer::forget(db, &7i64).await?;
    Ok(user.rows() + customer.tables.len() as u64)
}

fn main() {
    let _ = forget;
}
