use cell_runtime::prelude::*;
use chrono::NaiveDate;

// Encrypted values are bound to the row's primary key as text, which must read the same in
// Rust and in Postgres: a date's does not.
#[Postgres::table(name = "days")]
struct Day {
    #[Postgres::primary_key]
    day: NaiveDate,
    #[Postgres::encrypted]
    diary: String,
}

fn main() {}
