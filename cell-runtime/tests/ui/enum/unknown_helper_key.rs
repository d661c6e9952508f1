use cell_runtime::prelude::*;

#[derive(Postgres::Enum, Debug)]
#[postgres(rename = "status")]
enum Status {
    Pending,
}

fn main() {}
