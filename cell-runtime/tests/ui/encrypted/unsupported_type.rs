use cell_runtime::prelude::*;

#[Postgres::table(name = "people")]
struct Person {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::encrypted]
    born: NaiveDate,
    // Its clear column would be `bytea` too: the plan could not tell the two apart.
    #[Postgres::encrypted]
    scan: Vec<u8>,
}

fn main() {}
