//! Encrypted fields of every supported type compile with the whole table API (insert_many
//! included, finders by blind index too), and the typed columns leave them out.
use cell_runtime::prelude::*;

#[Postgres::table(name = "people")]
struct Person {
    #[Postgres::primary_key]
    id: uuid::Uuid,
    #[Postgres::index]
    name: String,
    #[Postgres::encrypted]
    ssn: String,
    #[Postgres::encrypted]
    note: Option<String>,
    #[Postgres::encrypted(algorithm = "aes-256-gcm")]
    diagnosis: String,
    /// Found through its blind index.
    #[Postgres::encrypted]
    #[Postgres::unique]
    email: String,
    #[Postgres::encrypted]
    #[Postgres::index]
    backup_email: Option<String>,
    photo: Vec<u8>,
}

async fn all(db: &PostgresConnection, p: &Person) -> Result<(), Error> {
    p.insert(db).await?;
    Person::insert_many(db, std::slice::from_ref(p)).await?;
    p.update(db).await?;
    p.upsert(db).await?;
    let _ = Person::find_by_id(db, &p.id).await?;
    let _ = Person::find_by_name(db, "Ada").await?;
    let _: Option<Person> = Person::find_by_email(db, "ada@example.com").await?;
    let _: Vec<Person> = Person::find_by_backup_email(db, &None).await?;
    let _ = Person::all(db, 10, 0).await?;
    Person::delete_where(db, Person::columns().name.eq("Ada".to_string())).await?;
    Ok(())
}

fn main() {
    let _ = all;
}
