// A mistake in the attribute gives that one error, not one more per use of the
// generated API: the struct keeps its API (with bodies that never run).
use cell_runtime::prelude::*;

#[Postgres::table(nme = "users")]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    #[Postgres::index(unique)]
    email: String,
}

async fn uses(db: &PostgresConnection) -> Result<(), Error> {
    let _n: i64 = User::count(db).await?;
    let _u: Option<User> = User::find_by_email(db, "a@b.c").await?;
    let _ = User::TABLE;
    Ok(())
}

fn main() {
    let _ = uses;
}
