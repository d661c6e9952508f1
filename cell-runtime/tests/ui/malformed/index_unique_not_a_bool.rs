use cell_runtime::prelude::*;

#[Postgres::table(indexes = [("email", unique = "yes")])]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    email: String,
}

fn main() {}
