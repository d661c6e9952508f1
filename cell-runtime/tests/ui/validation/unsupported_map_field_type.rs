use std::collections::HashMap;

use cell_runtime::prelude::*;

#[Postgres::table]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    settings: HashMap<String, String>,
}

fn main() {}
