// A field whose type has no column type and does not derive `Postgres::Enum`: one error,
// at the type, not one per generated method.
use cell_runtime::prelude::*;

struct Money(i64);

#[Postgres::table]
struct Order {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::index]
    total: Money,
}

fn main() {
    let _ = Money(0).0;
}
