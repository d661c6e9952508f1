use cell_runtime::prelude::*;

#[derive(Debug)]
struct MyError;

#[Auth::require(role = "admin")]
async fn f(ctx: AuthContext) -> Result<(), MyError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
