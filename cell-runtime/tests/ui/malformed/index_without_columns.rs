use cell_runtime::prelude::*;

#[Postgres::table(indexes = [(unique = true)])]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    email: String,
}

fn main() {}
