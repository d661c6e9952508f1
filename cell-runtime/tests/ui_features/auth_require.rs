// cell-runtime without its `auth` feature: the namespace exists, and the attribute says
// which feature to turn on (whether or not the function is kept, nothing else fails).
#![allow(dead_code)]
use cell_runtime::prelude::*;

#[Auth::require(role = "admin")]
fn admin_stats() -> Result<u32, String> {
    Ok(42)
}

fn main() {}
