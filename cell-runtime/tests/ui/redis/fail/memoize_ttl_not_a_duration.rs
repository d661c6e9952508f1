use cell_runtime::prelude::*;

#[Cache::memoize(ttl = "1hour")]
async fn get(id: i64) -> i64 {
    id
}

fn main() {}
