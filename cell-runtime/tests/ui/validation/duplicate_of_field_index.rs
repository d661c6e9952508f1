use cell_runtime::prelude::*;

#[Postgres::table(indexes = [("email", unique = true)])]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::unique]
    email: String,
}

fn main() {}
