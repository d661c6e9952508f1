use cell_runtime::prelude::*;

#[Postgres::table]
enum Status {
    Active,
    Banned,
}

fn main() {}
