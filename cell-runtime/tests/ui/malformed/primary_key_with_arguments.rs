use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    #[Postgres::primary_key(auto)]
    id: i64,
}

fn main() {}
