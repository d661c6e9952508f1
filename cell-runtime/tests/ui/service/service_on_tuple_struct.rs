use cell_runtime::prelude::*;

#[service]
struct App(PostgresConnection);

fn main() {}
