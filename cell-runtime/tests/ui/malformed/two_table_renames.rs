use cell_runtime::prelude::*;

#[Postgres::table]
#[Postgres::renamed_from("a")]
#[Postgres::renamed_from("b")]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    email: String,
}

fn main() {}
