//! A checkout service with spans and metrics. `telemetry N` serves /metrics on
//! CELL_METRICS_ADDR (default 127.0.0.1:9464), checks out N orders at once, prints `ready N`,
//! and keeps serving until its standard input closes. With OTEL_EXPORTER_OTLP_ENDPOINT set,
//! the spans are exported there (sent at the latest when it exits).

use std::io::BufRead;

use cell_runtime::prelude::*;

#[Telemetry::span(name = "checkout_flow", fields = [tier, items])]
#[Telemetry::metrics(counter = "checkouts_total", labels = [tier], histogram = "checkout_seconds")]
async fn checkout(tier: &str, items: u32, card: &str) -> Result<u32, String> {
    let _ = card; // never recorded: not in `fields`
    let total = price(items).await?;
    tokio::task::yield_now().await;
    Ok(charge(total))
}

#[Telemetry::span(fields = [items])]
#[Telemetry::traces(sampled = "0.5")]
async fn price(items: u32) -> Result<u32, String> {
    tokio::task::yield_now().await;
    if items == 0 {
        return Err("an order has at least one item".into());
    }
    Ok(items * 250)
}

#[Telemetry::span(name = "charge")]
#[Telemetry::metrics(counter = "charges_total")]
fn charge(cents: u32) -> u32 {
    cents
}

#[tokio::main]
async fn main() -> Result<(), cell_runtime::Error> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    // Kept to the end of `main`: dropping it exports the spans still buffered.
    let _spans = cell_runtime::telemetry::otlp::init_from_env()?;
    let addr = cell_runtime::telemetry::serve_metrics_from_env()?;
    // Concurrent tasks on the runtime's threads: each span must still find its own parent.
    let mut orders = tokio::task::JoinSet::new();
    for i in 0..n {
        let tier = if i % 2 == 0 { "gold" } else { "silver" };
        orders.spawn(checkout(tier, i + 1, "4242"));
    }
    while let Some(done) = orders.join_next().await {
        done.expect("the checkout task").expect("checkout");
    }
    println!("ready {n} on {addr}");
    // Serve until stdin closes, so Prometheus can scrape.
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin()
            .lock()
            .read_line(&mut line)
            .is_ok_and(|n| n > 0)
        {}
    })
    .await
    .ok();
    Ok(())
}
