use cell_runtime::prelude::*;

#[Auth::require(any = [])]
async fn f(ctx: AuthContext) -> Result<(), AuthError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
