use cell_runtime::prelude::*;

#[Auth::protected]
async fn f(ctx: AuthContext) -> impl std::fmt::Debug {
    let _ = ctx;
    1
}

fn main() {}
