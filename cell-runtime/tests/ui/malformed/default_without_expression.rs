use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    #[Postgres::default]
    created_at: DateTime<Utc>,
}

fn main() {}
