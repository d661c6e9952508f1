use cell_runtime::prelude::*;

#[Postgres::table(name = "people")]
struct Person {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::encrypted]
    born: NaiveDate,
}

fn main() {}
