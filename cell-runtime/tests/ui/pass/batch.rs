// Upserts, insert_many and the typed filters of update_where / delete_where, on the pool and
// on a transaction, with the types an application relies on. `main` only builds the futures.
#![deny(warnings)]

use cell_runtime::prelude::*;
use cell_runtime::{Filter, Transaction};

#[derive(Postgres::Enum, Debug, Clone, Copy, PartialEq)]
enum Plan {
    Free,
    Paid,
}

#[Postgres::table(name = "members", indexes = [("org_id", "handle", unique = true)])]
pub struct Member {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::unique]
    email: String,
    org_id: i64,
    handle: String,
    plan: Plan,
    nickname: Option<String>,
    score: i32,
}

// A table of one column: its upsert still returns the row.
#[Postgres::table(name = "flags")]
struct Flag {
    #[Postgres::primary_key]
    name: String,
}

async fn on(db: &impl Executor, rows: &[Member]) -> Result<(), Error> {
    let m = &rows[0];
    let _: Member = m.upsert(db).await?;
    let _: Member = m.upsert_on_email(db).await?;
    let _: Member = m.upsert_on_org_id_and_handle(db).await?;
    let _: u64 = Member::insert_many(db, rows).await?;
    let c = Member::columns();
    let _: u64 = Member::delete_where(
        db,
        c.email
            .eq("a@b.c")
            .or(c.score.lt(0).and(c.nickname.is_null()))
            .or(c.id.is_in(vec![1, 2, 3]))
            .or(c.plan.eq(Plan::Free).not()),
    )
    .await?;
    let _: u64 = Member::update_where(
        db,
        c.org_id.eq(7).and(c.nickname.is_not_null()),
        c.plan.set(Plan::Paid).and(c.nickname.set(None)).and(c.score.set(1)),
    )
    .await?;
    let _: u64 = Member::update_where(db, Filter::all(), c.nickname.set("x".to_string())).await?;
    let _: Flag = Flag { name: "beta".into() }.upsert(db).await?;
    Ok(())
}

async fn exercise(rows: Vec<Member>) -> Result<(), Error> {
    let db = PostgresConnection::connect().await?;
    on(&db, &rows).await?;
    db.transaction(|tx: Transaction| {
        let rows = rows.clone();
        async move { on(&tx, &rows).await }
    })
    .await
}

impl Clone for Member {
    fn clone(&self) -> Self {
        Member {
            id: self.id,
            email: self.email.clone(),
            org_id: self.org_id,
            handle: self.handle.clone(),
            plan: self.plan,
            nickname: self.nickname.clone(),
            score: self.score,
        }
    }
}

fn assert_send<F: Future<Output = Result<(), Error>> + Send>(future: F) -> F {
    future
}

fn main() {
    drop(assert_send(exercise(Vec::new())));
}
