use cell_runtime::prelude::*;

#[Auth::require(roles = ["admin"])]
async fn f(ctx: AuthContext) -> Result<(), AuthError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
