use cell_runtime::prelude::*;

#[derive(Postgres::Enum, Debug)]
enum Status {}

fn main() {}
