use cell_runtime::prelude::*;

#[Postgres::table(name = "orders")]
#[Postgres::renamed_from("orders")]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    email: String,
}

fn main() {}
