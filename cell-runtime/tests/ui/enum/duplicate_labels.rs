use cell_runtime::prelude::*;

#[derive(Postgres::Enum, Debug)]
enum Status {
    #[postgres(name = "done")]
    Finished,
    Done,
}

fn main() {}
