use cell_runtime::prelude::*;

#[Auth::protected]
struct Admin;

fn main() {}
