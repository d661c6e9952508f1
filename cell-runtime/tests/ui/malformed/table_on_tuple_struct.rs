use cell_runtime::prelude::*;

#[Postgres::table]
struct User(Uuid, String);

fn main() {}
