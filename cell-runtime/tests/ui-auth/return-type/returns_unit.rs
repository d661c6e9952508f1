use cell_runtime::prelude::*;

#[Auth::protected]
async fn f(ctx: AuthContext) {
    let _ = ctx;
}

fn main() {}
