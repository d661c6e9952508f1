use cell_runtime::prelude::*;

#[Postgres::table(indexes = [("org_id", descending = ["created_at"])])]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    org_id: i64,
    created_at: DateTime<Utc>,
}

fn main() {}
