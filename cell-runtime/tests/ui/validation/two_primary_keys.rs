use cell_runtime::prelude::*;

#[Postgres::table]
struct Membership {
    #[Postgres::primary_key]
    user_id: Uuid,
    #[Postgres::primary_key]
    org_id: Uuid,
}

fn main() {}
