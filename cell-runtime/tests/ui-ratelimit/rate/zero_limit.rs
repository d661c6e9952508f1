use cell_runtime::prelude::*;

#[RateLimit::global(0)]
async fn export() -> Result<(), RateLimited> {
    Ok(())
}

fn main() {}
