use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    id: Uuid,
    email: String,
}

fn main() {}
