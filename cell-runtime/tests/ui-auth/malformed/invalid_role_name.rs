use cell_runtime::prelude::*;

#[Auth::require(role = "super admin")]
async fn f(ctx: AuthContext) -> Result<(), AuthError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
