use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    login_count: u32,
}

fn main() {}
