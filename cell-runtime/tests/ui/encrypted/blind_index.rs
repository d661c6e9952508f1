use cell_runtime::prelude::*;

// An encrypted field is found by equality alone, through its own blind index (a column
// named `<field>_bidx`): not in a table-level index, and not beside a field of that name.
#[Postgres::table(name = "people", indexes = [("email", "name")])]
struct Person {
    #[Postgres::primary_key]
    id: i64,
    name: String,
    #[Postgres::encrypted]
    #[Postgres::unique]
    email: String,
    email_bidx: Vec<u8>,
}

fn main() {}
