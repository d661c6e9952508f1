//! Transactions against real Cells (`cargo cell up` of the cache fixture): serializable
//! transfers retried on serialization failures, cache invalidation after commit and never
//! for a rollback, and a body that swallows a failed statement.
//!
//! The tables are compiled into this test and created here with SQL: the point is the
//! runtime, not the schema engine (tests/tests/schema.rs covers that).

use std::sync::atomic::{AtomicU64, Ordering};

use cell_e2e::{App, docker_available};
use cell_runtime::prelude::*;

#[Postgres::table(name = "tx_accounts")]
#[Redis::cache(ttl = "1h")]
#[derive(Debug, Clone, PartialEq)]
struct Account {
    #[Postgres::primary_key]
    id: i64,
    balance: i64,
}

/// How many times `label` ran its body.
static LABEL_RUNS: AtomicU64 = AtomicU64::new(0);

#[Cache::memoize(ttl = "5m", tags = ["tx-account:{id}"])]
async fn label(id: i64) -> Result<String, Error> {
    let n = LABEL_RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(format!("account {id}, computed {n} time(s)"))
}

/// Attempts after the first, over every transfer.
static RETRIES: AtomicU64 = AtomicU64::new(0);

/// Moves `cents` from one account to the other: a read, then two writes computed from the
/// reads, so two of these at once conflict under serializable isolation.
#[Database::transaction(isolation = "serializable", attempts = 50)]
async fn transfer(db: &PostgresConnection, from: i64, to: i64, cents: i64) -> Result<(), Error> {
    if db.attempt() > 1 {
        RETRIES.fetch_add(1, Ordering::Relaxed);
    }
    let mut a = Account::find_by_id(db, &from)
        .await?
        .expect("account exists");
    let mut b = Account::find_by_id(db, &to).await?.expect("account exists");
    a.balance -= cents;
    b.balance += cents;
    a.update(db).await?;
    b.update(db).await?;
    Ok(())
}

const START: i64 = 1_000_000;

#[test]
fn transactions_commit_roll_back_and_retry() {
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
    app.psql("CREATE TABLE tx_accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)");
    app.psql(&format!(
        "INSERT INTO tx_accounts VALUES (1, {START}), (2, {START}), (3, 100)"
    ));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = PostgresConnection::connect_to(&postgres).await.unwrap();
        concurrent_serializable_transfers(&db).await;
        rollback_leaves_the_cache_and_commit_invalidates(&db, &app).await;
        a_swallowed_failure_is_not_reported_as_committed(&db).await;
        tag_invalidations_wait_for_the_commit(&db).await;
    });
}

async fn concurrent_serializable_transfers(db: &PostgresConnection) {
    let forth = {
        let db = db.clone();
        tokio::spawn(async move {
            for _ in 0..1000 {
                transfer(&db, 1, 2, 7).await.unwrap();
            }
        })
    };
    let back = {
        let db = db.clone();
        tokio::spawn(async move {
            for _ in 0..1000 {
                transfer(&db, 2, 1, 5).await.unwrap();
            }
        })
    };
    forth.await.unwrap();
    back.await.unwrap();
    println!(
        "2,000 serializable transfers took {} retries",
        RETRIES.load(Ordering::Relaxed)
    );
    let a = Account::find_by_id(db, &1).await.unwrap().unwrap();
    let b = Account::find_by_id(db, &2).await.unwrap().unwrap();
    assert_eq!(a.balance, START - 7 * 1000 + 5 * 1000);
    assert_eq!(a.balance + b.balance, 2 * START, "money was made or lost");
}

/// Account 3 read through the pool (so through the cache), and how many cache hits the
/// read made.
async fn read_account_3(db: &PostgresConnection) -> (Option<Account>, u64) {
    let before = cell_runtime::cache::stats().hits;
    let row = Account::find_by_id(db, &3).await.unwrap();
    (row, cell_runtime::cache::stats().hits - before)
}

async fn rollback_leaves_the_cache_and_commit_invalidates(db: &PostgresConnection, app: &App) {
    // Cache account 3.
    let before = Account::find_by_id(db, &3).await.unwrap().unwrap();
    assert_eq!(before.balance, 100);
    let (row, hits) = read_account_3(db).await;
    assert_eq!(row, Some(before.clone()));
    assert_eq!(hits, 1, "account 3 is cached");

    // A write that rolls back: the cached row stays, and so does the stored one.
    let rolled_back: Result<(), Error> = db
        .transaction(|tx| async move {
            let mut row = Account::find_by_id(&tx, &3).await?.expect("exists");
            row.balance = 0;
            row.update(&tx).await?;
            assert_eq!(
                Account::find_by_id(&tx, &3).await?.map(|r| r.balance),
                Some(0),
                "the transaction sees its own write, not the cache"
            );
            Err(Error::TransactionAborted)
        })
        .await;
    assert!(rolled_back.is_err());
    let (row, hits) = read_account_3(db).await;
    assert_eq!(row, Some(before.clone()));
    assert_eq!(hits, 1, "a rolled-back write invalidated the cache");
    assert_eq!(
        app.psql("SELECT balance FROM tx_accounts WHERE id = 3"),
        "100"
    );

    // A write that commits: invalidated after the commit, not before.
    let pool = db.clone();
    db.transaction(|tx| {
        let pool = pool.clone();
        async move {
            let mut row = Account::find_by_id(&tx, &3).await?.expect("exists");
            row.balance = 42;
            row.update(&tx).await?;
            let (row, hits) = read_account_3(&pool).await;
            assert_eq!(
                row.map(|r| r.balance),
                Some(100),
                "before the commit, others read the committed row"
            );
            assert_eq!(hits, 1);
            Ok::<_, Error>(())
        }
    })
    .await
    .unwrap();
    let (row, hits) = read_account_3(db).await;
    assert_eq!(
        row.map(|r| r.balance),
        Some(42),
        "the committed write invalidated the cached row"
    );
    assert_eq!(hits, 0, "a miss, read from Postgres");
    assert_eq!(
        app.psql("SELECT balance FROM tx_accounts WHERE id = 3"),
        "42"
    );
}

async fn a_swallowed_failure_is_not_reported_as_committed(db: &PostgresConnection) {
    let result = db
        .transaction(|tx| async move {
            tx.execute("UPDATE tx_accounts SET balance = 7 WHERE id = 3", &[])
                .await?;
            // Fails (no such column), and the body ignores it.
            let _ = tx.execute("UPDATE tx_accounts SET nope = 1", &[]).await;
            Ok::<_, Error>(())
        })
        .await;
    let err = result.expect_err("Postgres aborted the transaction");
    assert!(err.to_string().contains("nothing was committed"), "{err}");
    assert_eq!(
        Account::find_by_id(db, &3)
            .await
            .unwrap()
            .map(|r| r.balance),
        Some(42)
    );

    // A clone kept past the body is refused, not run outside the transaction.
    let kept = db
        .transaction(|tx| async move { Ok::<_, Error>(tx) })
        .await
        .unwrap();
    let err = kept.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err, Error::TransactionFinished), "{err}");
}

async fn tag_invalidations_wait_for_the_commit(db: &PostgresConnection) {
    let runs = || LABEL_RUNS.load(Ordering::SeqCst);
    label(1).await.unwrap();
    label(1).await.unwrap();
    assert_eq!(runs(), 1, "memoized");

    let rolled_back: Result<(), Error> = db
        .transaction(|tx| async move {
            tx.invalidate_tag("tx-account:1");
            label(1).await?;
            Err(Error::TransactionAborted)
        })
        .await;
    assert!(rolled_back.is_err());
    label(1).await.unwrap();
    assert_eq!(
        runs(),
        1,
        "a rolled-back transaction's tag invalidation never happened"
    );

    db.transaction(|tx| async move {
        tx.invalidate_tag("tx-account:1");
        label(1).await?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(runs(), 1, "inside the body the entry was still valid");
    label(1).await.unwrap();
    assert_eq!(runs(), 2, "the commit invalidated the tag");
}
