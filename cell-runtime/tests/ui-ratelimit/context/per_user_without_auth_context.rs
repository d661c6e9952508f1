use cell_runtime::prelude::*;

#[RateLimit::per_user(100)]
async fn search(query: String) -> Result<String, RateLimited> {
    Ok(query)
}

fn main() {}
