//! A checkout service with spans and metrics. `telemetry N` serves /metrics on
//! CELL_METRICS_ADDR (default 127.0.0.1:9464), checks out N orders, prints `ready N`, and
//! keeps serving until its standard input closes.

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
    let addr = cell_runtime::telemetry::serve_metrics_from_env()?;
    for i in 0..n {
        let tier = if i % 2 == 0 { "gold" } else { "silver" };
        checkout(tier, i + 1, "4242").await.expect("checkout");
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
