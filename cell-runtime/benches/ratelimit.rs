//! The RateLimit Cell's check per request, against the same GCRA written by hand.
//!
//! `CELL_REDIS_URL=redis://... cargo bench -p cell-runtime --features ratelimit --bench ratelimit`
//! (`scripts/bench --only ratelimit` starts a Redis container and runs it twice).
//!
//! With `CELL_REDIS_URL` answering `PING`, group `ratelimit`:
//! - `runtime_check`: a `#[RateLimit::per_key]` function called and awaited, as an
//!   application calls it: the expansion's key, `check` (the shared connection slot, the
//!   timeout, `EVALSHA` of `GCRA_SCRIPT`), the decision;
//! - `hand_evalsha`: the same script, loaded once by hand with `SCRIPT LOAD`, run by
//!   `EVALSHA` with the same arguments on one `MultiplexedConnection` of the `redis` crate;
//! - `governor`: a keyed in-process `governor` limiter of the same rate and burst, as a
//!   per-replica limiter is written by hand.
//!
//! Without it (unset, or nothing answers), group `ratelimit_fallback`: `runtime_check` is
//! the same function answered by the runtime's in-process fallback, beside `governor`.
//!
//! With `CELL_BENCH_PAIRED=FILE`, the two Redis paths are then run again side by side in
//! rounds ([`paired_rounds`]), for a ratio that load on the machine does not skew.
//!
//! Each iteration is one check, awaited one after the other on a current-thread runtime (one
//! `block_on` per batch of iterations, not per check). The limit is high enough that every
//! check is admitted, so both Redis paths run the script's `SET`. The bench asserts that
//! each path went where it says (the runtime's counters); it asserts nothing about time.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use cell_runtime::prelude::*;
use cell_runtime::ratelimit::{GCRA_SCRIPT, stats};
use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};

/// 10⁹ per second with the default burst (10⁹): an emission interval of 1 µs and a
/// tolerance of 1,000 s, so no check in a run is refused.
#[RateLimit::per_key(1_000_000_000, key = "tenant", per = "1s")]
async fn limited(tenant: u32) -> Result<(), RateLimited> {
    let _ = tenant;
    Ok(())
}

const EMISSION_US: u64 = 1;
const TOLERANCE_US: u64 = 1_000_000_000;
const TENANT: u32 = 7;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The hand-written client's connection, when `CELL_REDIS_URL` answers.
fn redis_connection(rt: &tokio::runtime::Runtime) -> Option<redis::aio::MultiplexedConnection> {
    let url = std::env::var("CELL_REDIS_URL").ok()?;
    rt.block_on(async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .ok()?
        .ok()?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
        (pong == "PONG").then_some(conn)
    })
}

fn keyed_governor() -> RateLimiter<
    String,
    governor::state::keyed::HashMapStateStore<String>,
    governor::clock::DefaultClock,
> {
    let quota = Quota::with_period(Duration::from_micros(EMISSION_US))
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(1_000_000_000).expect("positive"));
    RateLimiter::hashmap(quota)
}

/// Times `iters` awaited calls of `f` inside one `block_on`.
fn timed_async<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            f().await;
        }
        start.elapsed()
    })
}

/// `CELL_BENCH_PAIRED=FILE` (`scripts/bench` sets it): the two Redis paths side by side,
/// as the CRUD and cache benchmarks run theirs. Criterion measures one benchmark after the
/// other, so a burst of load on the shared machine can land on one of them only; here each
/// round runs a chunk of checks of each path, in alternating order, and writes one JSON
/// line per round: the mean time per check of each (µs). `CELL_BENCH_PAIRED_ROUNDS` and
/// `CELL_BENCH_PAIRED_CHECKS` size it (default 40 rounds of 500 checks).
fn paired_rounds(mut runtime: impl FnMut(u64) -> Duration, mut hand: impl FnMut(u64) -> Duration) {
    let Ok(path) = std::env::var("CELL_BENCH_PAIRED") else {
        return;
    };
    let size = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = size("CELL_BENCH_PAIRED_ROUNDS", 40);
    let checks = size("CELL_BENCH_PAIRED_CHECKS", 500);
    let per_check = |d: Duration| d.as_secs_f64() * 1e6 / checks as f64;
    let mut lines = String::new();
    for round in 0..rounds {
        let (r, h) = if round % 2 == 0 {
            let r = runtime(checks);
            (r, hand(checks))
        } else {
            let h = hand(checks);
            (runtime(checks), h)
        };
        lines.push_str(&format!(
            "{{\"round\": {round}, \"checks\": {checks}, \"runtime_us\": {:.3}, \"hand_us\": {:.3}}}\n",
            per_check(r),
            per_check(h)
        ));
    }
    std::fs::write(&path, lines).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let governor = keyed_governor();
    let governor_check = |iters: u64| {
        let start = Instant::now();
        for _ in 0..iters {
            let key = format!("k:{}", black_box(TENANT));
            assert!(governor.check_key(&key).is_ok(), "governor refused");
        }
        start.elapsed()
    };
    let runtime_check = |iters: u64| {
        timed_async(&rt, iters, || async {
            limited(black_box(TENANT))
                .await
                .expect("the runtime refused")
        })
    };

    match redis_connection(&rt) {
        Some(conn) => {
            let mut load = conn.clone();
            let sha: String = rt
                .block_on(
                    redis::cmd("SCRIPT")
                        .arg("LOAD")
                        .arg(GCRA_SCRIPT)
                        .query_async(&mut load),
                )
                .expect("SCRIPT LOAD");
            let hand_check = |iters: u64| {
                timed_async(&rt, iters, || {
                    let mut conn = conn.clone();
                    let sha = sha.as_str();
                    async move {
                        let key = format!("cell:rl:bench::hand/per_key:k:{}", black_box(TENANT));
                        let (allowed, ..): (i64, i64, i64, i64) = redis::cmd("EVALSHA")
                            .arg(sha)
                            .arg(1)
                            .arg(key)
                            .arg(EMISSION_US)
                            .arg(TOLERANCE_US)
                            .query_async(&mut conn)
                            .await
                            .expect("EVALSHA");
                        assert_eq!(allowed, 1, "the hand-written check refused");
                    }
                })
            };
            let mut g = c.benchmark_group("ratelimit");
            g.bench_function("runtime_check", |b| b.iter_custom(runtime_check));
            g.bench_function("hand_evalsha", |b| b.iter_custom(hand_check));
            g.bench_function("governor", |b| b.iter_custom(governor_check));
            g.finish();
            paired_rounds(runtime_check, hand_check);
            let s = stats();
            assert!(
                s.redis_checks > 0 && s.fallback_checks == 0 && s.outages == 0,
                "every runtime check must have been answered by Redis: {s:?}"
            );
        }
        None => {
            eprintln!(
                "ratelimit bench: CELL_REDIS_URL is unset or does not answer; measuring the in-process fallback"
            );
            let mut g = c.benchmark_group("ratelimit_fallback");
            g.bench_function("runtime_check", |b| b.iter_custom(runtime_check));
            g.bench_function("governor", |b| b.iter_custom(governor_check));
            g.finish();
            let s = stats();
            assert!(
                s.redis_checks == 0 && s.fallback_checks > 0,
                "every runtime check must have been answered in process: {s:?}"
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
