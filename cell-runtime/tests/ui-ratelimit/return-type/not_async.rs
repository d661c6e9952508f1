use cell_runtime::prelude::*;

#[RateLimit::global(5)]
fn ping() -> Result<u32, RateLimited> {
    Ok(1)
}

fn main() {}
