use cell_runtime::prelude::*;

#[Postgres::check("price >= 0")]
struct Order {
    price: i64,
}

fn main() {}
