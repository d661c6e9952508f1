// cell-runtime without its `auth` feature, the namespace by its full path.
#![allow(dead_code)]

#[cell_runtime::Auth::protected]
fn me() -> Result<(), String> {
    Ok(())
}

fn main() {}
