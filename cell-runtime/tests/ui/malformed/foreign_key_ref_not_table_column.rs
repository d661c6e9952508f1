use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    #[Postgres::foreign_key(ref = "organizations")]
    org_id: Uuid,
}

fn main() {}
