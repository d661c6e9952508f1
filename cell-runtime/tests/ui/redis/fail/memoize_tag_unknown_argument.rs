use cell_runtime::prelude::*;

#[Cache::memoize(ttl = "5m", tags = ["user:{user_id}"])]
async fn get_user(id: i64) -> i64 {
    id
}

fn main() {}
