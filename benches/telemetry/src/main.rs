//! `checkout` called N times (argument 1, default 10 000) with a real tracing subscriber and
//! the Prometheus recorder installed. scripts/callgrind-telemetry counts the instructions
//! executed inside `checkout` (callgrind `--toggle-collect=checkout`) for each feature set.

#[allow(unused_imports)]
use cell_runtime::prelude::*;

#[unsafe(no_mangle)]
#[inline(never)]
#[cfg_attr(feature = "attrs", Telemetry::span(name = "checkout_flow", fields = [tier]))]
#[cfg_attr(
    feature = "attrs",
    Telemetry::metrics(counter = "checkouts_total", labels = [tier], histogram = "checkout_seconds")
)]
#[cfg(not(feature = "hand"))]
pub fn checkout(tier: &str, items: u64) -> u64 {
    (0..items).fold(tier.len() as u64, |a, x| a.wrapping_mul(31).wrapping_add(x))
}

/// What a careful programmer writes by hand for the same span and metrics.
#[unsafe(no_mangle)]
#[inline(never)]
#[cfg(feature = "hand")]
pub fn checkout(tier: &str, items: u64) -> u64 {
    let tier_label = tier.to_string();
    metrics::counter!("checkouts_total", "tier" => tier_label.clone()).increment(1);
    let start = std::time::Instant::now();
    let span = tracing::info_span!("checkout_flow", tier = tier);
    let result = {
        let _entered = span.enter();
        (0..items).fold(tier.len() as u64, |a, x| a.wrapping_mul(31).wrapping_add(x))
    };
    drop(span);
    metrics::histogram!("checkout_seconds", "tier" => tier_label)
        .record(start.elapsed().as_secs_f64());
    result
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let _handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("recorder");
    tracing::subscriber::set_global_default(tracing_subscriber::registry()).expect("subscriber");
    let tiers = ["gold", "silver", "bronze"];
    let mut sum = 0u64;
    for i in 0..n {
        sum = sum.wrapping_add(checkout(
            std::hint::black_box(tiers[(i % 3) as usize]),
            std::hint::black_box(16),
        ));
    }
    println!("{sum}");
}
