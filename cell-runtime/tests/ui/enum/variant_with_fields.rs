use cell_runtime::prelude::*;

#[derive(Postgres::Enum)]
enum Status {
    Pending,
    Failed(String),
}

fn main() {}
