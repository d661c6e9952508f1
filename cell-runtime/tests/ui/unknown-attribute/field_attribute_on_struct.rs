use cell_runtime::prelude::*;

#[Postgres::table]
#[Postgres::index]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    email: String,
}

fn main() {}
