use cell_runtime::prelude::*;

#[Postgres::primary_key]
fn id() -> Uuid {
    Uuid::nil()
}

fn main() {}
