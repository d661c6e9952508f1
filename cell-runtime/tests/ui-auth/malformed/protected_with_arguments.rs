use cell_runtime::prelude::*;

#[Auth::protected(role = "admin")]
async fn f(ctx: AuthContext) -> Result<(), AuthError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
