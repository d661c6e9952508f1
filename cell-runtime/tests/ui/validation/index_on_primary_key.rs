use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    #[Postgres::primary_key]
    #[Postgres::index(unique)]
    id: Uuid,
}

fn main() {}
