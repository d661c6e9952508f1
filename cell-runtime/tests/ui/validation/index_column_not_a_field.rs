use cell_runtime::prelude::*;

#[Postgres::table(indexes = [("org_id", "emial")])]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    org_id: i64,
    email: String,
}

fn main() {}
