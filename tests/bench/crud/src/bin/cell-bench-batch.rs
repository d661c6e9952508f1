//! The generated `insert_many` (binary COPY through the pool) against two hand-written
//! tokio-postgres baselines on one connection: binary COPY (`BinaryCopyInWriter`) and
//! `INSERT ... SELECT * FROM UNNEST($1::bigint[], ...)` with one array per column (building
//! the arrays is part of its time, as it would be for a generated UNNEST).
//!
//! `cell-bench-batch ROUNDS N`: each round empties the table and writes the same N rows with
//! each implementation, in a rotating order. Prints one JSON object per (implementation,
//! round) with the time and the throughput in rows per second. The table is the Cell's
//! (`cargo cell build` creates it from the declaration below).

use std::time::Instant;

use cell_runtime::prelude::*;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

#[Postgres::table(name = "bench_events")]
pub struct BenchEvent {
    #[Postgres::primary_key]
    pub id: i64,
    pub user_id: Uuid,
    pub label: String,
    pub score: i32,
    pub note: Option<String>,
}

fn rows(n: usize) -> Vec<BenchEvent> {
    (0..n)
        .map(|i| BenchEvent {
            id: i as i64,
            user_id: Uuid::new_v4(),
            label: format!("event {i}"),
            score: (i % 1000) as i32,
            note: (i % 3 == 0).then(|| format!("note {i}")),
        })
        .collect()
}

async fn hand_copy(c: &tokio_postgres::Client, rows: &[BenchEvent]) -> u64 {
    let sink = c
        .copy_in("COPY bench_events (id, user_id, label, score, note) FROM STDIN BINARY")
        .await
        .unwrap();
    let types = [Type::INT8, Type::UUID, Type::TEXT, Type::INT4, Type::TEXT];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for r in rows {
        writer
            .as_mut()
            .write(&[&r.id, &r.user_id, &r.label, &r.score, &r.note])
            .await
            .unwrap();
    }
    writer.finish().await.unwrap()
}

async fn hand_unnest(
    c: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    rows: &[BenchEvent],
) -> u64 {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let users: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    let scores: Vec<i32> = rows.iter().map(|r| r.score).collect();
    let notes: Vec<Option<&str>> = rows.iter().map(|r| r.note.as_deref()).collect();
    c.execute(stmt, &[&ids, &users, &labels, &scores, &notes])
        .await
        .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: scripts/bench sets it from the Cell's state");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let db = PostgresConnection::connect_to(&url).await?;
    let unnest = client
        .prepare(
            "INSERT INTO bench_events (id, user_id, label, score, note) SELECT * FROM \
             UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::integer[], $5::text[])",
        )
        .await
        .unwrap();
    let data = rows(n);
    let imps = ["generated", "tokio-postgres-copy", "tokio-postgres-unnest"];
    // Warm up every path (statement caches, pool) outside the measurement.
    let warm = rows(100);
    for imp in imps {
        client.batch_execute("TRUNCATE bench_events").await.unwrap();
        match imp {
            "generated" => BenchEvent::insert_many(&db, &warm).await?,
            "tokio-postgres-copy" => hand_copy(&client, &warm).await,
            _ => hand_unnest(&client, &unnest, &warm).await,
        };
    }
    let mut order: Vec<usize> = (0..imps.len()).collect();
    for round in 0..rounds {
        order.rotate_left(1);
        for &i in &order {
            client.batch_execute("TRUNCATE bench_events").await.unwrap();
            let t = Instant::now();
            let written = match imps[i] {
                "generated" => BenchEvent::insert_many(&db, &data).await?,
                "tokio-postgres-copy" => hand_copy(&client, &data).await,
                _ => hand_unnest(&client, &unnest, &data).await,
            };
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(written, n as u64);
            println!(
                "{}",
                serde_json::json!({
                    "impl": imps[i], "op": "insert_many", "round": round, "n": n,
                    "secs": secs, "rows_per_sec": n as f64 / secs,
                })
            );
        }
    }
    client.batch_execute("TRUNCATE bench_events").await.unwrap();
    Ok(())
}
