use cell_runtime::prelude::*;

#[Postgres::table(name = "people")]
#[Redis::cache(ttl = "5m")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Person {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::encrypted]
    ssn: String,
}

fn main() {}
