use cell_runtime::prelude::*;

#[Postgres::table]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::renamed_from("mail")]
    email: String,
    #[Postgres::renamed_from("mail")]
    email_address: String,
}

fn main() {}
