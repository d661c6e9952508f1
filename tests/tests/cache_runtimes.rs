//! The cache's Redis connection and Tokio runtimes: a process that runs one runtime after
//! another (`#[tokio::test]` makes one per test) keeps caching. The connection's driver is a
//! task of the runtime that opened it; when that runtime is gone the cache must reconnect on
//! the next one, not take Redis for "down" and send every read to the body or the database.
//!
//! Against a real Redis Cell started by `cargo cell up redis`; the memoized function is
//! compiled into this test, and the calls happen in this process.

use std::sync::atomic::{AtomicU64, Ordering};

use cell_e2e::{App, docker_available};
use cell_runtime::prelude::*;

static BODY_RUNS: AtomicU64 = AtomicU64::new(0);

#[Cache::memoize(ttl = "5m")]
async fn square(run: String, x: u64) -> u64 {
    let _ = run;
    BODY_RUNS.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[test]
fn one_runtime_after_another_keeps_the_cache() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("cache");
    app.cargo_cell(&["up", "redis"]).assert_success();
    let url = app.state_url("redis");
    // SAFETY: set before any runtime or other thread of this test binary reads the
    // environment; this file holds one test.
    unsafe { std::env::set_var("CELL_REDIS_URL", &url) };

    // A key no earlier run can have cached.
    let run = uuid::Uuid::new_v4().to_string();
    for round in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(
            runtime.block_on(square(run.clone(), 7)),
            49,
            "round {round}"
        );
        drop(runtime);
    }
    let stats = cell_runtime::cache::stats();
    assert_eq!(
        BODY_RUNS.load(Ordering::SeqCst),
        1,
        "the body ran again after its runtime changed: {stats:?}"
    );
    assert_eq!(stats.hits, 2, "{stats:?}");
    assert_eq!(stats.degraded, 0, "Redis was never down: {stats:?}");
}
