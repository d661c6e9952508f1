use cell_runtime::prelude::*;

#[Postgres::table]
#[Redis::cache(ttl = "1hour")]
struct Product {
    #[Postgres::primary_key]
    id: i64,
}

fn main() {}
