use cell_runtime::prelude::*;

#[service]
struct App {
    db: PostgresConnection,
    port: i32,
}

fn main() {}
