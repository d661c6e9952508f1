use cell_runtime::prelude::*;

#[Postgres::table]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::check]
    price: i64,
}

fn main() {}
