//! Generated CRUD (`#[Postgres::table]`) and a checked `query!` against hand-written
//! tokio-postgres (statements prepared once) and sqlx `query!` / `query_as!`, on the same
//! Postgres Cell, one connection each, one operation at a time.
//!
//! `cell-bench-crud ROUNDS N`: each round runs every implementation through N inserts, N
//! find_by_id, N find_by_email, N checked queries (`checked_query`: a point select by email
//! through `query!`), N updates and N deletes of its own rows, in chunks of
//! CHUNK rows: chunk k of every implementation (in a rotating order) before chunk k + 1, so
//! a burst of load on the busy machine, or autovacuum, hurts all implementations alike.
//! Prints one JSON object per (implementation, op, round) with the latencies' p50/p99 and
//! the throughput (rows over the summed time of its chunks).
//!
//! Then it measures, in-process and without the server, what the generated path adds per
//! call before the query is sent: a pool checkout and the statement cache lookup.

use std::time::Instant;

use cell_runtime::prelude::*;

#[Postgres::table(name = "bench_users")]
pub struct BenchUser {
    #[Postgres::primary_key]
    pub id: Uuid,
    #[Postgres::index(unique)]
    pub email: String,
    pub name: String,
    pub age: i32,
}

const OPS: [&str; 6] = [
    "insert",
    "find_by_id",
    "find_by_email",
    "checked_query",
    "update",
    "delete",
];

// The checked query: `SELECT id, name, age FROM bench_users WHERE email = $1`, the same text
// in every implementation (`query!` macros take the literal itself).

fn rows(n: usize, tag: &str) -> Vec<BenchUser> {
    (0..n)
        .map(|i| BenchUser {
            id: Uuid::new_v4(),
            email: format!("{tag}-{i}-{}@example.com", Uuid::new_v4().simple()),
            name: format!("user {i}"),
            age: (i % 90) as i32,
        })
        .collect()
}

/// Latencies in nanoseconds of one op over all rows, timed one by one.
struct Timed(Vec<u64>, f64);

macro_rules! time_each {
    ($rows:expr, |$r:ident| $body:expr) => {{
        let mut lat = Vec::with_capacity($rows.len());
        let all = Instant::now();
        for $r in $rows.iter() {
            let t = Instant::now();
            $body;
            lat.push(t.elapsed().as_nanos() as u64);
        }
        Timed(lat, all.elapsed().as_secs_f64())
    }};
}

async fn generated(db: &PostgresConnection, rows: &mut [BenchUser]) -> Vec<Timed> {
    let insert = time_each!(rows, |r| r.insert(db).await.unwrap());
    let by_id = time_each!(rows, |r| assert!(
        BenchUser::find_by_id(db, &r.id).await.unwrap().is_some()
    ));
    let by_email = time_each!(rows, |r| assert!(
        BenchUser::find_by_email(db, &r.email)
            .await
            .unwrap()
            .is_some()
    ));
    // `query!`: typed from .cell/postgres.queries.lock.json, prepared once per connection.
    let checked = time_each!(rows, |r| assert!(
        cell_runtime::query!(
            "SELECT id, name, age FROM bench_users WHERE email = $1",
            r.email
        )
            .fetch_optional(db)
            .await
            .unwrap()
            .is_some_and(|row| row.id == r.id)
    ));
    for r in rows.iter_mut() {
        r.age += 1;
    }
    let update = time_each!(rows, |r| assert!(r.update(db).await.unwrap().is_some()));
    let delete = time_each!(rows, |r| assert!(r.delete(db).await.unwrap()));
    vec![insert, by_id, by_email, checked, update, delete]
}

struct Hand {
    client: tokio_postgres::Client,
    insert: tokio_postgres::Statement,
    by_id: tokio_postgres::Statement,
    by_email: tokio_postgres::Statement,
    checked: tokio_postgres::Statement,
    update: tokio_postgres::Statement,
    delete: tokio_postgres::Statement,
}

impl Hand {
    async fn connect(url: &str) -> Hand {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let p = |sql: &'static str| client.prepare(sql);
        Hand {
            insert: p("INSERT INTO bench_users (id, email, name, age) VALUES ($1, $2, $3, $4)")
                .await
                .unwrap(),
            by_id: p("SELECT id, email, name, age FROM bench_users WHERE id = $1")
                .await
                .unwrap(),
            by_email: p("SELECT id, email, name, age FROM bench_users WHERE email = $1")
                .await
                .unwrap(),
            checked: p("SELECT id, name, age FROM bench_users WHERE email = $1")
                .await
                .unwrap(),
            update: p("UPDATE bench_users SET email = $2, name = $3, age = $4 WHERE id = $1")
                .await
                .unwrap(),
            delete: p("DELETE FROM bench_users WHERE id = $1").await.unwrap(),
            client,
        }
    }
}

fn from_row(row: &tokio_postgres::Row) -> BenchUser {
    BenchUser {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        age: row.get(3),
    }
}

async fn hand_written(h: &Hand, rows: &mut [BenchUser]) -> Vec<Timed> {
    let c = &h.client;
    let insert = time_each!(rows, |r| c
        .execute(&h.insert, &[&r.id, &r.email, &r.name, &r.age])
        .await
        .unwrap());
    let by_id = time_each!(rows, |r| assert!(
        c.query_opt(&h.by_id, &[&r.id])
            .await
            .unwrap()
            .map(|x| from_row(&x))
            .is_some()
    ));
    let by_email = time_each!(rows, |r| assert!(
        c.query_opt(&h.by_email, &[&r.email])
            .await
            .unwrap()
            .map(|x| from_row(&x))
            .is_some()
    ));
    // The same statement, decoded by hand into the same three values.
    let checked = time_each!(rows, |r| assert!(
        c.query_opt(&h.checked, &[&r.email])
            .await
            .unwrap()
            .map(|x| (x.get::<_, Uuid>(0), x.get::<_, String>(1), x.get::<_, i32>(2)))
            .is_some_and(|(id, _, _)| id == r.id)
    ));
    for r in rows.iter_mut() {
        r.age += 1;
    }
    let update = time_each!(rows, |r| assert_eq!(
        c.execute(&h.update, &[&r.id, &r.email, &r.name, &r.age])
            .await
            .unwrap(),
        1
    ));
    let delete = time_each!(rows, |r| assert_eq!(
        c.execute(&h.delete, &[&r.id]).await.unwrap(),
        1
    ));
    vec![insert, by_id, by_email, checked, update, delete]
}

#[cfg(feature = "sqlx")]
mod with_sqlx {
    use super::*;
    use sqlx::Connection;

    #[allow(dead_code)] // read by query_as!, compared by nothing
    pub struct Row {
        pub id: Uuid,
        pub email: String,
        pub name: String,
        pub age: i32,
    }

    pub async fn connect(url: &str) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(url).await.unwrap()
    }

    pub async fn run(c: &mut sqlx::PgConnection, rows: &mut [BenchUser]) -> Vec<Timed> {
        let insert = time_each!(rows, |r| sqlx::query!(
            "INSERT INTO bench_users (id, email, name, age) VALUES ($1, $2, $3, $4)",
            r.id,
            r.email,
            r.name,
            r.age
        )
        .execute(&mut *c)
        .await
        .unwrap());
        let by_id = time_each!(rows, |r| assert!(
            sqlx::query_as!(
                Row,
                "SELECT id, email, name, age FROM bench_users WHERE id = $1",
                r.id
            )
            .fetch_optional(&mut *c)
            .await
            .unwrap()
            .is_some()
        ));
        let by_email = time_each!(rows, |r| assert!(
            sqlx::query_as!(
                Row,
                "SELECT id, email, name, age FROM bench_users WHERE email = $1",
                r.email
            )
            .fetch_optional(&mut *c)
            .await
            .unwrap()
            .is_some()
        ));
        let checked = time_each!(rows, |r| assert!(
            sqlx::query!(
                "SELECT id, name, age FROM bench_users WHERE email = $1",
                r.email
            )
            .fetch_optional(&mut *c)
            .await
            .unwrap()
            .is_some_and(|row| row.id == r.id)
        ));
        for r in rows.iter_mut() {
            r.age += 1;
        }
        let update = time_each!(rows, |r| assert_eq!(
            sqlx::query!(
                "UPDATE bench_users SET email = $2, name = $3, age = $4 WHERE id = $1",
                r.id,
                r.email,
                r.name,
                r.age
            )
            .execute(&mut *c)
            .await
            .unwrap()
            .rows_affected(),
            1
        ));
        let delete = time_each!(rows, |r| assert_eq!(
            sqlx::query!("DELETE FROM bench_users WHERE id = $1", r.id)
                .execute(&mut *c)
                .await
                .unwrap()
                .rows_affected(),
            1
        ));
        vec![insert, by_id, by_email, checked, update, delete]
    }
}

/// Rows per chunk: every implementation runs one chunk in turn.
const CHUNK: usize = 100;

/// Appends a chunk's timings to the round's.
fn merge(into: &mut Vec<Timed>, chunk: Vec<Timed>) {
    if into.is_empty() {
        *into = chunk;
        return;
    }
    for (Timed(lat, total), Timed(more, t)) in into.iter_mut().zip(chunk) {
        lat.extend(more);
        *total += t;
    }
}

/// Nanoseconds per call of the generated path's client-side work (pool checkout, statement
/// cache lookup), over `n` calls: the statement is cached after the first call, so nothing
/// reaches the server.
async fn client_path_ns(db: &PostgresConnection, n: usize) -> f64 {
    const SQL: &str =
        "SELECT \"id\", \"email\", \"name\", \"age\" FROM \"bench_users\" WHERE \"id\" = $1";
    let t = Instant::now();
    for _ in 0..n {
        let client = db.client().await.unwrap();
        std::hint::black_box(client.prepare_cached(SQL).await.unwrap());
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn report(imp: &str, round: usize, timed: Vec<Timed>) {
    for (op, Timed(mut lat, total)) in OPS.iter().zip(timed) {
        lat.sort_unstable();
        let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{}",
            serde_json::json!({
                "impl": imp, "op": op, "round": round, "n": lat.len(),
                "ops_per_s": lat.len() as f64 / total,
                "p50_us": pick(0.50) as f64 / 1e3, "p99_us": pick(0.99) as f64 / 1e3,
            })
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: scripts/bench sets it from the Cell's state");
    let db = PostgresConnection::connect_to(&url).await?;
    let hand = Hand::connect(&url).await;
    #[cfg(feature = "sqlx")]
    let mut sqlx_conn = with_sqlx::connect(&url).await;
    // Warm up every path (statement caches, pool) outside the measurement.
    let mut warm = rows(50, "warm");
    generated(&db, &mut warm).await;
    hand_written(&hand, &mut rows(50, "warm")).await;
    #[cfg(feature = "sqlx")]
    with_sqlx::run(&mut sqlx_conn, &mut rows(50, "warm")).await;

    let mut imps = vec!["generated", "tokio-postgres"];
    if cfg!(feature = "sqlx") {
        imps.push("sqlx");
    }
    for round in 0..rounds {
        let mut data: Vec<Vec<BenchUser>> = imps.iter().map(|imp| rows(n, imp)).collect();
        let mut timed: Vec<Vec<Timed>> = imps.iter().map(|_| Vec::new()).collect();
        let mut order: Vec<usize> = (0..imps.len()).collect();
        for start in (0..n).step_by(CHUNK) {
            order.rotate_left(1);
            for &i in &order {
                let end = (start + CHUNK).min(n);
                let chunk = &mut data[i][start..end];
                let t = match imps[i] {
                    "generated" => generated(&db, chunk).await,
                    "tokio-postgres" => hand_written(&hand, chunk).await,
                    #[cfg(feature = "sqlx")]
                    "sqlx" => with_sqlx::run(&mut sqlx_conn, chunk).await,
                    _ => unreachable!(),
                };
                merge(&mut timed[i], t);
            }
        }
        for (imp, t) in imps.iter().zip(timed) {
            report(imp, round, t);
        }
    }
    let calls = 100_000;
    println!(
        "{}",
        serde_json::json!({
            "impl": "generated", "op": "client_path", "n": calls,
            "ns_per_call": client_path_ns(&db, calls).await,
        })
    );
    Ok(())
}
