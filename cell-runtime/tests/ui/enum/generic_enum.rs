use cell_runtime::prelude::*;

#[derive(Postgres::Enum)]
enum Status<T> {
    Pending,
    Other(T),
}

fn main() {}
