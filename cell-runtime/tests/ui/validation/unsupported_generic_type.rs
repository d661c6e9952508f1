use cell_runtime::prelude::*;

#[Postgres::table]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    amounts: Box<i64>,
}

fn main() {}
