use cell_runtime::prelude::*;

#[Postgres::table(indexes = [("email", "email")])]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    email: String,
}

fn main() {}
