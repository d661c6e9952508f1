use cell_runtime::prelude::*;

#[Postgres::table]
#[Postgres::check("  ")]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    price: i64,
}

fn main() {}
