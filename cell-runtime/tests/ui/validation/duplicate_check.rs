use cell_runtime::prelude::*;

#[Postgres::table]
#[Postgres::check("price >= 0")]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::check(" price >= 0 ")]
    price: i64,
}

fn main() {}
