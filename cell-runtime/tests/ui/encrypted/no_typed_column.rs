use cell_runtime::prelude::*;

#[Postgres::table(name = "people")]
struct Person {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::encrypted]
    ssn: String,
}

async fn wipe(db: &PostgresConnection) -> Result<u64, Error> {
    // The database cannot compare ciphertexts: an encrypted column has no filter.
    Person::delete_where(db, Person::columns().ssn.eq("123".to_string())).await
}

fn main() {
    let _ = wipe;
}
