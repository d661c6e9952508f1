use cell_runtime::prelude::*;

#[Redis::cache(ttl = "1h")]
struct Product {
    id: i64,
}

fn main() {}
