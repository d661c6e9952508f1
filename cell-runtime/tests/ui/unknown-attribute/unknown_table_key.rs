use cell_runtime::prelude::*;

#[Postgres::table(nme = "users")]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
}

fn main() {}
