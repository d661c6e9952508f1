// The seed's table declaration compiles as written, without warnings.
#![deny(warnings)]

use cell_runtime::prelude::*;

#[Postgres::table(name = "users")]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    #[Postgres::index(unique)]
    email: String,
    #[Postgres::default("NOW()")]
    created_at: DateTime<Utc>,
    #[Postgres::foreign_key(ref = "organizations.id", on_delete = "cascade")]
    org_id: Uuid,
    nickname: Option<String>,
}

fn main() {
    let _ = User::TABLE;
}
