use cell_runtime::prelude::*;

#[derive(Debug)]
struct MyError;

#[RateLimit::global(5)]
async fn ping() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
