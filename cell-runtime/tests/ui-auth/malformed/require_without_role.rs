use cell_runtime::prelude::*;

#[Auth::require]
async fn f(ctx: AuthContext) -> Result<(), AuthError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
