use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    #[Postgres::index(uniq)]
    email: String,
}

fn main() {}
