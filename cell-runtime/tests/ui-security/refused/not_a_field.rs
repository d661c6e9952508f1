use cell_runtime::prelude::*;

#[Security::pii(fields = ["emial"])]
struct User {
    id: i64,
    email: String,
}

fn main() {}
