//! A cache hit of the generated code against a hand-written Redis GET of the same value, on
//! the same Redis Cell, one call at a time.
//!
//! `cell-bench-cache ROUNDS N`: K rows are inserted and read once through the cache (so
//! every later read is a hit), and the same MessagePack bytes are stored by hand under a
//! key of our own. Each round then runs, in a rotating order, N reads of each kind:
//!   generated-table    `BenchProduct::find_by_sku` of a `#[Redis::cache]` table (a hit)
//!   generated-memoize  a `#[Cache::memoize]` function whose value is cached (a hit)
//!   redis              `GET` on one `MultiplexedConnection` (the `redis` crate, what the
//!                      runtime uses) + `rmp_serde::from_slice` into the same struct
//! Prints one JSON object per (implementation, round), like cell-bench-crud.
//! Needs DATABASE_URL (for the table's misses at warm-up) and CELL_REDIS_URL.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use cell_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[Postgres::table(name = "bench_products")]
#[Redis::cache(ttl = "1h")]
#[derive(Debug)]
pub struct BenchProduct {
    #[Postgres::primary_key]
    pub id: i64,
    #[Postgres::unique]
    #[Redis::cache_key]
    pub sku: String,
    pub name: String,
    pub price: i32,
}

/// How many times the memoized body ran (only at warm-up: every measured call is a hit).
static BODY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[Cache::memoize(ttl = "1h")]
async fn product_by_sku(sku: String) -> Result<HandProduct, Error> {
    BODY_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(product(sku_index(&sku)))
}

/// The same fields, as a hand-written cache would store them.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct HandProduct {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price: i32,
}

const K: usize = 100;

fn sku(i: usize) -> String {
    format!("sku-{i:05}")
}

fn sku_index(sku: &str) -> usize {
    sku.trim_start_matches("sku-").parse().expect("a bench sku")
}

fn product(i: usize) -> HandProduct {
    HandProduct {
        id: i as i64 + 1,
        sku: sku(i),
        name: format!("product number {i}"),
        price: (i * 7 % 1000) as i32,
    }
}

fn hand_key(sku: &str) -> String {
    format!("bench:product:sku:{sku}")
}

/// Per-call latencies (ns) and the wall time of all calls.
struct Timed(Vec<u64>, f64);

async fn timed<F, Fut>(n: usize, mut call: F) -> Timed
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut lat = Vec::with_capacity(n);
    let all = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        call(i % K).await;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    Timed(lat, all.elapsed().as_secs_f64())
}

fn report(imp: &str, round: usize, Timed(mut lat, total): Timed) {
    lat.sort_unstable();
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "impl": imp, "op": "cache_hit", "round": round, "n": lat.len(),
            "ops_per_s": lat.len() as f64 / total,
            "p50_us": pick(0.50) as f64 / 1e3, "p99_us": pick(0.99) as f64 / 1e3,
        })
    );
}

async fn run(
    imp: &str,
    n: usize,
    db: &PostgresConnection,
    hand: &redis::aio::MultiplexedConnection,
    skus: &[String],
) -> Timed {
    match imp {
        "generated-table" => {
            timed(n, |i| async move {
                let p = BenchProduct::find_by_sku(db, &skus[i]).await.unwrap();
                assert_eq!(p.map(|p| p.price), Some(product(i).price));
            })
            .await
        }
        "generated-memoize" => {
            timed(n, |i| async move {
                let p = product_by_sku(skus[i].clone()).await.unwrap();
                assert_eq!(p.price, product(i).price);
            })
            .await
        }
        "redis" => {
            timed(n, |i| {
                let mut conn = hand.clone();
                async move {
                    let bytes: Option<Vec<u8>> =
                        redis::AsyncCommands::get(&mut conn, hand_key(&skus[i]))
                            .await
                            .unwrap();
                    let p: HandProduct = rmp_serde::from_slice(&bytes.expect("stored")).unwrap();
                    assert_eq!(p.price, product(i).price);
                }
            })
            .await
        }
        _ => unreachable!(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: scripts/bench sets it");
    let redis_url = std::env::var("CELL_REDIS_URL").expect("CELL_REDIS_URL: scripts/bench sets it");
    let db = PostgresConnection::connect_to(&url).await?;
    let hand = redis::Client::open(redis_url.as_str())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the Redis Cell answers");

    // Rows in the database, each read once through the cache (a miss that stores it), the
    // memoized function called once per sku, and the hand-written entries stored.
    let skus: Vec<String> = (0..K).map(sku).collect();
    for i in 0..K {
        let p = product(i);
        BenchProduct::delete_by_id(&db, &p.id).await?;
        BenchProduct {
            id: p.id,
            sku: p.sku.clone(),
            name: p.name.clone(),
            price: p.price,
        }
        .insert(&db)
        .await?;
        BenchProduct::find_by_sku(&db, &p.sku).await?;
        product_by_sku(p.sku.clone()).await?;
        let mut conn = hand.clone();
        let _: () = redis::AsyncCommands::set_ex(
            &mut conn,
            hand_key(&p.sku),
            rmp_serde::to_vec(&p).unwrap(),
            3600,
        )
        .await
        .unwrap();
    }
    let mut imps = vec!["generated-table", "generated-memoize", "redis"];
    for imp in &imps {
        run(imp, K, &db, &hand, &skus).await; // warm-up
    }
    let before = cell_runtime::cache::stats();
    let bodies = BODY_RUNS.load(Ordering::SeqCst);
    for round in 0..rounds {
        imps.rotate_left(1);
        for imp in imps.clone() {
            report(imp, round, run(imp, n, &db, &hand, &skus).await);
        }
    }
    // Every measured generated read was a hit: nothing went to the database or the body.
    let after = cell_runtime::cache::stats();
    assert_eq!(
        after.hits - before.hits,
        (2 * rounds * n) as u64,
        "{after:?}"
    );
    assert_eq!(after.misses, before.misses, "{after:?}");
    assert_eq!(after.degraded, before.degraded, "{after:?}");
    assert_eq!(BODY_RUNS.load(Ordering::SeqCst), bodies);
    Ok(())
}
