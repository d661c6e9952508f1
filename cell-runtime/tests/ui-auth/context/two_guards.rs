use cell_runtime::prelude::*;

#[Auth::require(role = "admin")]
#[Auth::protected]
async fn f(ctx: AuthContext) -> Result<(), AuthError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
