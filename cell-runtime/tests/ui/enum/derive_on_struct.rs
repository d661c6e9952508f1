use cell_runtime::prelude::*;

#[derive(Postgres::Enum)]
struct Status {
    code: i32,
}

fn main() {}
