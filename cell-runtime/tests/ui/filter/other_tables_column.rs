// A filter is of one table: another table's column does not filter this one.
use cell_runtime::prelude::*;

#[Postgres::table(name = "accounts")]
pub struct Account {
    #[Postgres::primary_key]
    pub id: i64,
}

#[Postgres::table(name = "teams")]
pub struct Team {
    #[Postgres::primary_key]
    pub id: i64,
}

async fn example(db: &PostgresConnection) -> Result<u64, Error> {
    Account::delete_where(db, Team::columns().id.eq(1)).await
}

fn main() {
    drop(example);
}
