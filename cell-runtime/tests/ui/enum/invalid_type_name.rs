use cell_runtime::prelude::*;

#[derive(Postgres::Enum, Debug)]
#[postgres(name = "Order Status")]
enum Status {
    Pending,
}

fn main() {}
