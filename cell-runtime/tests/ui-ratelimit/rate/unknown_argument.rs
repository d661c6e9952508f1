use cell_runtime::prelude::*;

#[RateLimit::global(10, window = "1m")]
async fn export() -> Result<(), RateLimited> {
    Ok(())
}

fn main() {}
