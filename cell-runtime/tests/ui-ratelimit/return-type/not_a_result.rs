use cell_runtime::prelude::*;

#[RateLimit::global(5)]
async fn ping() -> u32 {
    1
}

fn main() {}
