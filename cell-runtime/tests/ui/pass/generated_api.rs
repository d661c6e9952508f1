// Every generated method and constant, with the types an application relies on. `main` only
// builds the future, never polls it, so no database is touched.
#![deny(warnings)]

use cell_runtime::prelude::*;

#[Postgres::table(name = "users")]
struct User {
    #[Postgres::primary_key]
    id: Uuid,
    #[Postgres::index(unique)]
    email: String,
    #[Postgres::index]
    age: i32,
    #[Postgres::default("NOW()")]
    created_at: DateTime<Utc>,
    #[Postgres::foreign_key(ref = "organizations.id", on_delete = "cascade")]
    org_id: Uuid,
    nickname: Option<String>,
}

async fn exercise() -> Result<(), Error> {
    let db = PostgresConnection::connect().await?;
    let user = User {
        id: Uuid::new_v4(),
        email: "ada@example.com".to_string(),
        age: 36,
        created_at: Utc::now(),
        org_id: Uuid::new_v4(),
        nickname: None,
    };
    let _: User = user.insert(&db).await?;
    let _: Option<User> = User::find_by_id(&db, &user.id).await?;
    // A unique index finds one row; a `String` key is taken as `&str`.
    let _: Option<User> = User::find_by_email(&db, "ada@example.com").await?;
    // A plain index finds every matching row.
    let _: Vec<User> = User::find_by_age(&db, &36).await?;
    let _: Option<User> = user.update(&db).await?;
    let _: bool = user.delete(&db).await?;
    let _: bool = User::delete_by_id(&db, &user.id).await?;
    let _: Vec<User> = User::all(&db, 10, 0).await?;
    let _: i64 = User::count(&db).await?;
    Ok(())
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = {
    assert!(same(User::TABLE, "users"));
    assert!(User::COLUMNS.len() == 6);
    assert!(same(User::COLUMNS[0], "id"));
    assert!(same(User::COLUMNS[5], "nickname"));
    assert!(same(User::COLUMN_ID, "id"));
    assert!(same(User::COLUMN_EMAIL, "email"));
    assert!(same(User::COLUMN_CREATED_AT, "created_at"));
    assert!(same(User::COLUMN_ORG_ID, "org_id"));
};

fn assert_send<F: Future<Output = Result<(), Error>> + Send>(future: F) -> F {
    future
}

fn main() {
    // Built, not run: the future must be `Send` so that `tokio::spawn` accepts it.
    drop(assert_send(exercise()));
}
