//! The Telemetry Cell's runtime: what `#[Telemetry::...]` expansions call, and (feature
//! `telemetry`) the Prometheus `/metrics` endpoint and (feature `otlp`, part of `telemetry`)
//! OTLP export of spans.
//!
//! Spans go through `tracing` and metrics through the `metrics` facade, so an application
//! keeps its own subscriber and recorder; `serve_metrics` installs the Prometheus recorder
//! and serves it over HTTP, and `otlp` offers a subscriber layer exporting the spans.

use std::cell::Cell;
use std::time::Instant;

/// Where [`serve_metrics_from_env`] listens unless `CELL_METRICS_ADDR` says otherwise; the
/// Telemetry Cell scrapes the same address unless `[workspace.metadata.cell.telemetry]
/// metrics = "..."` says otherwise.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";
pub const METRICS_ADDR_ENV: &str = "CELL_METRICS_ADDR";

/// Records the duration of a call, in seconds, into a histogram when dropped.
#[doc(hidden)]
pub struct Timer {
    histogram: metrics::Histogram,
    start: Instant,
}

impl Timer {
    #[inline]
    pub fn start(histogram: metrics::Histogram) -> Timer {
        Timer {
            histogram,
            start: Instant::now(),
        }
    }
}

impl Drop for Timer {
    #[inline]
    fn drop(&mut self) {
        self.histogram.record(self.start.elapsed().as_secs_f64());
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// Whether this call gets a span, with probability `rate` (xorshift64*, per thread).
#[doc(hidden)]
#[inline]
pub fn sample(rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 {
        return false;
    }
    let x = RNG.with(|state| {
        let mut x = state.get();
        if x == 0 {
            // Seeded from the thread's stack address and the clock: cheap and different per thread.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            x = t ^ (&x as *const u64 as u64) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    });
    ((x >> 11) as f64 / (1u64 << 53) as f64) < rate
}

#[cfg(feature = "otlp")]
pub mod otlp;

#[cfg(feature = "telemetry")]
pub use exporter::*;

#[cfg(feature = "telemetry")]
mod exporter {
    use std::net::SocketAddr;

    use super::{DEFAULT_METRICS_ADDR, METRICS_ADDR_ENV};
    use crate::Error;

    const BUCKETS: [f64; 11] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];

    /// Installs the Prometheus recorder as the global `metrics` recorder and serves
    /// `GET /metrics` (Prometheus text exposition) on `addr`. On a Tokio runtime the listener
    /// runs on it; otherwise on a thread of its own.
    pub fn serve_metrics(addr: SocketAddr) -> Result<(), Error> {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            // Histograms are exposed as Prometheus histograms (not summaries), with the
            // client libraries' default buckets, in seconds.
            .set_buckets(&BUCKETS)
            .expect("the buckets are not empty")
            .install()
            .map_err(|e| Error::Telemetry {
                message: format!("cannot serve /metrics on {addr}: {e}"),
                help: format!(
                    "another process may hold the port, or a recorder is already installed; set {METRICS_ADDR_ENV} to another address"
                ),
            })
    }

    /// [`serve_metrics`] on `CELL_METRICS_ADDR`, else `127.0.0.1:9464`; returns the address.
    pub fn serve_metrics_from_env() -> Result<SocketAddr, Error> {
        let text = std::env::var(METRICS_ADDR_ENV).unwrap_or_else(|_| DEFAULT_METRICS_ADDR.into());
        let addr: SocketAddr = text.parse().map_err(|_| Error::Telemetry {
            message: format!("{METRICS_ADDR_ENV}={text} is not a socket address"),
            help: "write it like 127.0.0.1:9464".into(),
        })?;
        serve_metrics(addr)?;
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_about_the_rate() {
        assert!(sample(1.0));
        assert!(!sample(0.0));
        let kept = (0..100_000).filter(|_| sample(0.1)).count();
        // Far from the edges: a broken generator gives 0 or 100 000.
        assert!((5_000..15_000).contains(&kept), "{kept}");
    }
}
