use cell_runtime::prelude::*;

#[Postgres::table(name = "people")]
struct Person {
    #[Postgres::primary_key]
    #[Postgres::encrypted]
    id: String,
    #[Postgres::encrypted(algorithm = "rot13")]
    name: String,
    #[Postgres::encrypted]
    #[Postgres::index(unique)]
    email: String,
    #[Postgres::encrypted]
    #[Postgres::default("'x'")]
    #[Postgres::varchar(20)]
    ssn: String,
}

fn main() {}
