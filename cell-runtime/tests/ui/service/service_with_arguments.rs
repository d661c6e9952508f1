use cell_runtime::prelude::*;

#[service(lazy)]
struct App {
    db: PostgresConnection,
}

fn main() {}
