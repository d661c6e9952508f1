use cell_runtime::prelude::*;

#[Postgres::renamed_from("old")]
fn main() {}
