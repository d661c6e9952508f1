//! Batch writes against real Cells (`cargo cell up` of the cache fixture): upsert on the
//! primary key and on a unique index, insert_many by COPY, update_where and delete_where,
//! each checked with psql, and a cached table that never serves a row those writes changed.
//!
//! The tables are compiled into this test and created here with SQL: the point is the
//! runtime, not the schema engine (tests/tests/schema.rs covers that).

use cell_e2e::{App, docker_available};
use cell_runtime::prelude::*;

#[Postgres::table(name = "batch_members")]
#[Redis::cache(ttl = "1h")]
#[derive(Debug, Clone, PartialEq)]
struct Member {
    #[Postgres::primary_key]
    id: i64,
    #[Postgres::unique]
    #[Redis::cache_key]
    email: String,
    name: String,
    score: i32,
}

#[Postgres::table(name = "batch_events")]
#[derive(Debug, Clone, PartialEq)]
struct Event {
    #[Postgres::primary_key]
    id: i64,
    label: String,
    amount: Decimal,
    tags: Vec<String>,
    at: DateTime<Utc>,
    note: Option<String>,
}

#[Postgres::table(name = "batch_handles", indexes = [("org_id", "handle", unique)])]
#[derive(Debug, Clone, PartialEq)]
struct Handle {
    #[Postgres::primary_key]
    id: i64,
    org_id: i64,
    handle: String,
    owner: String,
}

#[test]
fn batch_writes_land_and_the_cache_follows() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("cache");
    app.cargo_cell(&["up", "postgres", "redis"])
        .assert_success();
    let postgres = app.state_url("postgres");
    // SAFETY: set before any runtime or other thread of this test binary reads the
    // environment; this file holds one test.
    unsafe { std::env::set_var("CELL_REDIS_URL", app.state_url("redis")) };
    app.psql(
        "CREATE TABLE batch_members (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, \
         name text NOT NULL, score integer NOT NULL)",
    );
    app.psql(
        "CREATE TABLE batch_events (id bigint PRIMARY KEY, label text NOT NULL, \
         amount numeric NOT NULL, tags text[] NOT NULL, at timestamptz NOT NULL, note text)",
    );
    app.psql(
        "CREATE TABLE batch_handles (id bigint PRIMARY KEY, org_id bigint NOT NULL, \
         handle text NOT NULL, owner text NOT NULL, UNIQUE (org_id, handle))",
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = PostgresConnection::connect_to(&postgres).await.unwrap();
        upserts(&db, &app).await;
        upsert_on_a_table_level_unique_index(&db, &app).await;
        insert_many_copies_every_row(&db, &app).await;
        filtered_writes(&db, &app).await;
        filtered_writes_invalidate_the_cache(&db, &app).await;
    });
}

fn member(id: i64, email: &str, name: &str, score: i32) -> Member {
    Member {
        id,
        email: email.to_string(),
        name: name.to_string(),
        score,
    }
}

/// Reads `id` twice and checks that the second read came from the cache.
async fn cache_by_id(db: &PostgresConnection, id: i64) -> Option<Member> {
    let row = Member::find_by_id(db, &id).await.unwrap();
    let hits = cell_runtime::cache::stats().hits;
    assert_eq!(Member::find_by_id(db, &id).await.unwrap(), row);
    assert_eq!(
        cell_runtime::cache::stats().hits,
        hits + 1,
        "{id} is cached"
    );
    row
}

async fn upserts(db: &PostgresConnection, app: &App) {
    let first = member(1, "ada@example.com", "Ada", 1)
        .upsert(db)
        .await
        .unwrap();
    assert_eq!(first, member(1, "ada@example.com", "Ada", 1));
    assert_eq!(cache_by_id(db, 1).await, Some(first));

    // The same key again: one row, with the new values, and the cached row is dropped.
    let second = member(1, "ada@example.com", "Ada Lovelace", 2)
        .upsert(db)
        .await
        .unwrap();
    assert_eq!(second, member(1, "ada@example.com", "Ada Lovelace", 2));
    assert_eq!(
        app.psql(
            "SELECT count(*) || ' ' || string_agg(name || ':' || score, ',') FROM batch_members"
        ),
        "1 Ada Lovelace:2"
    );
    assert_eq!(
        Member::find_by_id(db, &1).await.unwrap(),
        Some(second.clone()),
        "the upsert invalidated the cached row"
    );

    // On the unique email: the row already there keeps its primary key and takes the rest.
    let by_email = Member::find_by_email(db, "ada@example.com").await.unwrap();
    assert_eq!(by_email, Some(second));
    let stored = member(99, "ada@example.com", "Countess", 3)
        .upsert_on_email(db)
        .await
        .unwrap();
    assert_eq!(stored, member(1, "ada@example.com", "Countess", 3));
    assert_eq!(
        app.psql("SELECT count(*) || ' ' || string_agg(id || ':' || name, ',') FROM batch_members"),
        "1 1:Countess"
    );
    assert_eq!(
        Member::find_by_email(db, "ada@example.com").await.unwrap(),
        Some(stored.clone()),
        "the upsert on email invalidated the row cached by email"
    );
    assert_eq!(
        Member::find_by_id(db, &1).await.unwrap(),
        Some(stored),
        "and the row cached by its primary key"
    );

    // No conflict: a new row.
    member(2, "grace@example.com", "Grace", 5)
        .upsert_on_email(db)
        .await
        .unwrap();
    assert_eq!(app.psql("SELECT count(*) FROM batch_members"), "2");
}

async fn upsert_on_a_table_level_unique_index(db: &PostgresConnection, app: &App) {
    let handle = |id: i64, org_id: i64, owner: &str| Handle {
        id,
        org_id,
        handle: "ops".to_string(),
        owner: owner.to_string(),
    };
    handle(1, 7, "ada")
        .upsert_on_org_id_and_handle(db)
        .await
        .unwrap();
    let stored = handle(2, 7, "grace")
        .upsert_on_org_id_and_handle(db)
        .await
        .unwrap();
    assert_eq!(stored, handle(1, 7, "grace"));
    // Another org: the same handle is another row.
    handle(3, 8, "linus")
        .upsert_on_org_id_and_handle(db)
        .await
        .unwrap();
    assert_eq!(
        app.psql("SELECT string_agg(id || ':' || org_id || ':' || owner, ',' ORDER BY id) FROM batch_handles"),
        "1:7:grace,3:8:linus"
    );
}

fn events(ids: std::ops::RangeInclusive<i64>) -> Vec<Event> {
    let at = Utc::now();
    ids.map(|id| Event {
        id,
        label: format!("event {id}"),
        amount: Decimal::new(id * 25, 2),
        tags: vec!["batch".to_string(), format!("t{}", id % 7)],
        at,
        note: (id % 2 == 0).then(|| "even".to_string()),
    })
    .collect()
}

async fn insert_many_copies_every_row(db: &PostgresConnection, app: &App) {
    let rows = events(1..=10_000);
    assert_eq!(Event::insert_many(db, &rows).await.unwrap(), 10_000);
    assert_eq!(app.psql("SELECT count(*) FROM batch_events"), "10000");
    assert_eq!(
        app.psql(
            "SELECT label || '|' || amount || '|' || array_to_string(tags, ',') || '|' || coalesce(note, 'NULL') \
             FROM batch_events WHERE id IN (7, 8) ORDER BY id"
        ),
        "event 7|1.75|batch,t0|NULL\nevent 8|2.00|batch,t1|even"
    );
    let stored = Event::find_by_id(db, &10_000).await.unwrap().unwrap();
    assert_eq!(stored.tags, rows[9_999].tags);
    assert_eq!(stored.amount, rows[9_999].amount);

    // Nothing is an empty COPY.
    assert_eq!(Event::insert_many(db, &[]).await.unwrap(), 0);

    // One existing key fails the whole batch, and nothing of it lands.
    let err = Event::insert_many(db, &events(9_999..=10_100))
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("duplicate key"), "{err:?}");
    assert_eq!(app.psql("SELECT count(*) FROM batch_events"), "10000");

    // In a transaction that rolls back: nothing lands.
    let rolled_back: Result<(), Error> = db
        .transaction(|tx| async move {
            assert_eq!(
                Event::insert_many(&tx, &events(20_001..=20_100)).await?,
                100
            );
            assert_eq!(Event::count(&tx).await?, 10_100);
            Err(Error::TransactionAborted)
        })
        .await;
    assert!(rolled_back.is_err());
    assert_eq!(app.psql("SELECT count(*) FROM batch_events"), "10000");
}

async fn filtered_writes(db: &PostgresConnection, app: &App) {
    let c = Event::columns();
    // ids 1..=99: 99 rows.
    let updated = Event::update_where(db, c.id.lt(100), c.note.set("first".to_string()))
        .await
        .unwrap();
    assert_eq!(updated, 99);
    assert_eq!(
        app.psql("SELECT count(*) FROM batch_events WHERE note = 'first'"),
        "99"
    );
    // The odd ids from 100 on have no note.
    let expected = app.psql("SELECT count(*) FROM batch_events WHERE note IS NULL");
    let cleared = Event::update_where(
        db,
        c.note.is_null().and(c.id.ge(100)),
        c.note.set("odd".to_string()).and(c.label.set("odd one")),
    )
    .await
    .unwrap();
    assert_eq!(cleared.to_string(), expected);
    assert_eq!(
        app.psql("SELECT count(*) FROM batch_events WHERE note IS NULL"),
        "0"
    );

    let deleted = Event::delete_where(db, c.id.ge(9_001).or(c.id.is_in(vec![1, 2, 3])))
        .await
        .unwrap();
    assert_eq!(deleted, 1_003);
    assert_eq!(app.psql("SELECT count(*) FROM batch_events"), "8997");
    // A value that looks like SQL is a value.
    let none = Event::delete_where(db, c.label.eq("x' OR '1'='1"))
        .await
        .unwrap();
    assert_eq!(none, 0);
    assert_eq!(Event::delete_where(db, Filter::all()).await.unwrap(), 8_997);
    assert_eq!(app.psql("SELECT count(*) FROM batch_events"), "0");
}

async fn filtered_writes_invalidate_the_cache(db: &PostgresConnection, app: &App) {
    let c = Member::columns();
    // Both rows cached, by primary key and by email.
    let grace = cache_by_id(db, 2).await.unwrap();
    assert_eq!(
        Member::find_by_email(db, "grace@example.com")
            .await
            .unwrap(),
        Some(grace)
    );

    // A change of the cache key: the old email no longer finds the row.
    let n = Member::update_where(
        db,
        c.email.eq("grace@example.com"),
        c.email.set("hopper@example.com").and(c.score.set(6)),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        app.psql("SELECT email || ':' || score FROM batch_members WHERE id = 2"),
        "hopper@example.com:6"
    );
    assert_eq!(
        Member::find_by_email(db, "grace@example.com")
            .await
            .unwrap(),
        None,
        "the old cache key was invalidated"
    );
    assert_eq!(
        Member::find_by_id(db, &2).await.unwrap().map(|m| m.score),
        Some(6),
        "the row cached by its primary key was invalidated"
    );

    // Inside a transaction, invalidated after the commit.
    let ada = cache_by_id(db, 1).await.unwrap();
    db.transaction(|tx| async move {
        Member::update_where(
            &tx,
            Member::columns().id.eq(1),
            Member::columns().score.set(10),
        )
        .await
    })
    .await
    .unwrap();
    assert_eq!(
        Member::find_by_id(db, &1).await.unwrap().map(|m| m.score),
        Some(10),
        "a committed update_where invalidated {ada:?}"
    );

    // Deleted rows are gone from the cache too.
    cache_by_id(db, 1).await.unwrap();
    cache_by_id(db, 2).await.unwrap();
    let n = Member::delete_where(db, c.score.ge(6)).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(app.psql("SELECT count(*) FROM batch_members"), "0");
    assert_eq!(Member::find_by_id(db, &1).await.unwrap(), None);
    assert_eq!(Member::find_by_id(db, &2).await.unwrap(), None);
    assert_eq!(
        Member::find_by_email(db, "hopper@example.com")
            .await
            .unwrap(),
        None
    );
}
