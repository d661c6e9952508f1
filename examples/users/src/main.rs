//! Organizations and their users, from attributes to a running program.
//!
//! `cargo cell build` creates both tables (with the unique index on `email`, the default on
//! `created_at` and the cascading foreign key) in the dev Postgres Cell; this binary then
//! writes and reads rows through the generated API.

use cell_runtime::prelude::*;

#[Postgres::table(name = "organizations")]
pub struct Organization {
    #[Postgres::primary_key]
    pub id: Uuid,
    #[Postgres::index(unique)]
    pub name: String,
}

#[Postgres::table(name = "users")]
pub struct User {
    #[Postgres::primary_key]
    pub id: Uuid,
    #[Postgres::index(unique)]
    pub email: String,
    #[Postgres::default("NOW()")]
    pub created_at: DateTime<Utc>,
    #[Postgres::foreign_key(ref = "organizations.id", on_delete = "cascade")]
    pub org_id: Uuid,
    pub nickname: Option<String>,
}

#[service]
struct UserService {
    db: PostgresConnection,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let service = UserService::connect().await?;
    let db = &service.db;

    let org = Organization { id: Uuid::new_v4(), name: format!("org-{}", Uuid::new_v4()) };
    org.insert(db).await?;

    let mut alice = User {
        id: Uuid::new_v4(),
        email: format!("alice-{}@example.com", Uuid::new_v4()),
        created_at: Utc::now(),
        org_id: org.id,
        nickname: None,
    };
    alice.insert(db).await?;

    let found = User::find_by_email(db, &alice.email).await?.expect("alice was just inserted");
    assert_eq!(found.id, alice.id);

    alice.nickname = Some("al".into());
    assert!(alice.update(db).await?.is_some());
    let reread = User::find_by_id(db, &alice.id).await?.expect("alice exists");
    assert_eq!(reread.nickname.as_deref(), Some("al"));

    // The foreign key cascades: deleting the organization deletes its users.
    assert!(org.delete(db).await?);
    assert!(User::find_by_id(db, &alice.id).await?.is_none());

    println!(
        "round trip ok: {} users, {} organizations",
        User::count(db).await?,
        Organization::count(db).await?
    );
    Ok(())
}
