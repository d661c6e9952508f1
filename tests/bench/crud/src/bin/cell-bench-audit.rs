//! An audited write against the same write without audit: each call is one transaction
//! inserting one row, and the audited one also appends its record to the chain
//! (`#[Audit::log]`, in the same transaction). The chain serialises its writers (the head
//! row is locked until each transaction commits), so this measures at 1 and at 8 writers.
//!
//! `cell-bench-audit ROUNDS N`: each round runs N calls with each implementation at each
//! writer count, in a rotating order, the table emptied before each. Prints one JSON object
//! per (implementation, writers, round) with the time and the calls per second. The table
//! and the trail are the Cells' (`cargo cell build` creates them from the code below).

use std::time::Instant;

use cell_runtime::Transaction;
use cell_runtime::prelude::*;

#[Postgres::table(name = "bench_audited")]
pub struct BenchAudited {
    #[Postgres::primary_key]
    pub id: i64,
    pub email: String,
}

async fn plain(tx: &Transaction, id: i64, email: String) -> Result<(), Error> {
    BenchAudited { id, email }.insert(tx).await?;
    Ok(())
}

#[Audit::log(event = "bench_written", sensitive_fields = ["email"], retention = "7y")]
async fn audited(tx: &Transaction, id: i64, email: String) -> Result<(), Error> {
    BenchAudited { id, email }.insert(tx).await?;
    Ok(())
}

/// `n` calls of `imp` by `writers` tasks, each call its own transaction.
async fn run(db: &PostgresConnection, imp: &'static str, writers: i64, n: i64) -> Result<(), Error> {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut id = w;
            while id < n {
                let email = format!("user{id}@example.com");
                db.transaction(|tx| {
                    let email = email.clone();
                    async move {
                        match imp {
                            "audited" => audited(&tx, id, email).await,
                            _ => plain(&tx, id, email).await,
                        }
                    }
                })
                .await?;
                id += writers;
            }
            Ok::<(), Error>(())
        }));
    }
    for t in tasks {
        t.await.expect("a writer panicked")?;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let n: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: scripts/bench sets it from the Cell's state");
    let db = PostgresConnection::connect_to(&url).await?;
    let imps = ["plain", "audited"];
    let mut runs: Vec<(&'static str, i64)> = Vec::new();
    for writers in [1, 8] {
        for imp in imps {
            runs.push((imp, writers));
        }
    }
    // Warm up every path (statement caches, the pool's connections) outside the measurement.
    for &(imp, writers) in &runs {
        db.execute("TRUNCATE bench_audited", &[]).await?;
        run(&db, imp, writers, 200).await?;
    }
    for round in 0..rounds {
        runs.rotate_left(1);
        for &(imp, writers) in &runs {
            db.execute("TRUNCATE bench_audited", &[]).await?;
            let t = Instant::now();
            run(&db, imp, writers, n).await?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({
                    "impl": imp, "op": format!("write_{writers}"), "writers": writers,
                    "round": round, "n": n, "secs": secs, "calls_per_sec": n as f64 / secs,
                })
            );
        }
    }
    db.execute("TRUNCATE bench_audited", &[]).await?;
    Ok(())
}
