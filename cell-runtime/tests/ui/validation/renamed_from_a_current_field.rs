use cell_runtime::prelude::*;

#[Postgres::table]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::renamed_from("mail")]
    email: String,
    mail: String,
}

fn main() {}
