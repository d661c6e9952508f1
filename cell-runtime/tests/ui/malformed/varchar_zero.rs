use cell_runtime::prelude::*;

#[Postgres::table]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::varchar(0)]
    email: String,
}

fn main() {}
