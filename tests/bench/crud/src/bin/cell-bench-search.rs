//! The generated `search` of a `#[Search::index]` table against the same query written by
//! hand with tokio-postgres (the statement prepared once, rows mapped by hand), on the same
//! Postgres Cell, one query at a time.
//!
//! `cell-bench-search ROUNDS N`: ROWS rows are inserted once (a few planted words among
//! filler, as a catalogue would have), then each round runs, in a rotating order, N queries
//! of each kind through each implementation, in chunks of CHUNK:
//!   search         a selective query (`skillet`: 1 row in 100), the first page of 10
//!   search_broad   a query matching 1 row in 5 (`widget`): ranking many rows for a page
//! Prints one JSON object per (implementation, op, round), like cell-bench-crud.
//! Needs DATABASE_URL.

use std::time::Instant;

use cell_runtime::prelude::*;

#[Postgres::table(name = "bench_catalogue")]
#[Search::index(fields = ["name", "description"], language = "english", weights = ["A", "B"])]
pub struct Item {
    #[Postgres::primary_key]
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
}

/// The query a user would write for the same result.
const HAND_SQL: &str = "SELECT id, name, description, ts_rank_cd(search_vector, websearch_to_tsquery('english', $1)) AS rank
FROM bench_catalogue WHERE search_vector @@ websearch_to_tsquery('english', $1)
ORDER BY rank DESC, id LIMIT $2 OFFSET $3";

const ROWS: i64 = 20_000;
const CHUNK: usize = 50;
const OPS: [(&str, &str); 2] = [("search", "skillet"), ("search_broad", "widget")];

struct Hand {
    client: tokio_postgres::Client,
    stmt: tokio_postgres::Statement,
}

async fn hand(h: &Hand, q: &str) -> Vec<(Item, f32)> {
    h.client
        .query(&h.stmt, &[&q, &10i64, &0i64])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                Item {
                    id: r.get(0),
                    name: r.get(1),
                    description: r.get(2),
                },
                r.get(3),
            )
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: scripts/bench sets it from the Cell's state");
    let db = PostgresConnection::connect_to(&url).await?;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "TRUNCATE bench_catalogue;
             INSERT INTO bench_catalogue (id, name, description)
             SELECT g, CASE WHEN g % 100 = 0 THEN 'Cast iron skillet ' || g ELSE 'Item ' || g END,
                    (ARRAY['blue widget for the kitchen', 'green gadget', 'small part', 'large box', NULL])[1 + g % 5]
             FROM generate_series(1, {ROWS}) AS g;
             ANALYZE bench_catalogue"
        ))
        .await
        .expect("seed");
    let stmt = client.prepare(HAND_SQL).await.expect("prepare");
    let h = Hand { client, stmt };
    // Both paths agree, and are warm, before anything is measured.
    for (_, q) in OPS {
        let ours = Item::search(&db, q, 10, 0).await?;
        let theirs = hand(&h, q).await;
        assert_eq!(ours.len(), theirs.len());
        for (a, (b, rank)) in ours.iter().zip(&theirs) {
            assert_eq!((a.row.id, a.rank), (b.id, *rank));
        }
        assert!(!ours.is_empty(), "{q} finds rows");
    }

    let imps = ["generated", "tokio-postgres"];
    for round in 0..rounds {
        for (op, q) in OPS {
            let mut lat: Vec<Vec<u64>> = vec![Vec::new(); imps.len()];
            let mut total = vec![0f64; imps.len()];
            for chunk in 0..n.div_ceil(CHUNK) {
                for k in 0..imps.len() {
                    let i = (k + chunk + round) % imps.len();
                    let all = Instant::now();
                    for _ in 0..CHUNK {
                        let t = Instant::now();
                        if i == 0 {
                            std::hint::black_box(Item::search(&db, q, 10, 0).await?);
                        } else {
                            std::hint::black_box(hand(&h, q).await);
                        }
                        lat[i].push(t.elapsed().as_nanos() as u64);
                    }
                    total[i] += all.elapsed().as_secs_f64();
                }
            }
            for (i, imp) in imps.iter().enumerate() {
                let l = &mut lat[i];
                l.sort_unstable();
                let pick = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize];
                println!(
                    "{}",
                    serde_json::json!({
                        "impl": imp, "op": op, "round": round, "n": l.len(),
                        "ops_per_s": l.len() as f64 / total[i],
                        "p50_us": pick(0.50) as f64 / 1e3, "p99_us": pick(0.99) as f64 / 1e3,
                    })
                );
            }
        }
    }
    Ok(())
}
