use cell_runtime::prelude::*;

#[Postgres::table]
#[Redis::cache(ttl = "1h")]
struct Product {
    #[Postgres::primary_key]
    id: i64,
    #[Redis::cache_key]
    name: String,
}

fn main() {}
