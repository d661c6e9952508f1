use cell_runtime::prelude::*;

#[Postgres::table(name = "Users!")]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
}

fn main() {}
