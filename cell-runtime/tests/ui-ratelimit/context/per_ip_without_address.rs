use cell_runtime::prelude::*;

#[RateLimit::per_ip(100)]
async fn login(user: String) -> Result<String, RateLimited> {
    Ok(user)
}

fn main() {}
