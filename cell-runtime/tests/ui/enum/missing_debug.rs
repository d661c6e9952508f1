// tokio-postgres' `ToSql` needs `Debug`: the enum must derive it too.
use cell_runtime::prelude::*;

#[derive(Postgres::Enum)]
enum Status {
    Pending,
    Done,
}

fn main() {}
