use cell_runtime::prelude::*;

#[Postgres::table(name = "users")]
#[Security::gdpr(right_to_be_forgotten = false, keep = "forever")]
struct User {
    #[Postgres::primary_key]
    id: i64,
    email: String,
}

fn main() {}
