use cell_runtime::prelude::*;

#[RateLimit::global(100, per = "1w")]
async fn export() -> Result<(), RateLimited> {
    Ok(())
}

fn main() {}
