use cell_runtime::prelude::*;

#[Postgres::table]
struct User<T> {
    #[Postgres::primary_key]
    id: Uuid,
    extra: T,
}

fn main() {}
