use cell_runtime::prelude::*;

struct Upload {
    tenant: u32,
}

#[RateLimit::per_key(5, key = "request.tenant")]
async fn upload(body: Upload) -> Result<u32, RateLimited> {
    Ok(body.tenant)
}

fn main() {}
