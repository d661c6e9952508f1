use cell_runtime::prelude::*;

#[Performance::cache(ttl = "5m")]
fn get(id: i64) -> i64 {
    id
}

fn main() {}
