use cell_runtime::prelude::*;

#[Auth::protected]
async fn f(a: AuthContext, b: &AuthContext) -> Result<(), AuthError> {
    let _ = (a, b);
    Ok(())
}

fn main() {}
