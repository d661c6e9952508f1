//! The in-process limiter while the Redis Cell is unavailable: `governor`'s GCRA, one keyed
//! limiter per declared limit, at the declared rate and burst. It limits each process on
//! its own (N replicas admit up to N times the limit).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use super::Limit;

type Keyed = RateLimiter<String, HashMapStateStore<String>, DefaultClock>;

/// Keys kept per limit before the idle ones are dropped.
const MAX_KEYS: usize = 100_000;

fn limiter(limit: &'static Limit) -> Arc<Keyed> {
    static ALL: OnceLock<Mutex<HashMap<&'static str, Arc<Keyed>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    all.entry(limit.name)
        .or_insert_with(|| {
            let (emission_us, _) = limit.gcra();
            let burst = NonZeroU32::new(limit.burst.clamp(1, u64::from(u32::MAX)) as u32)
                .expect("at least 1");
            let quota = Quota::with_period(Duration::from_micros(emission_us))
                .expect("a positive period")
                .allow_burst(burst);
            Arc::new(RateLimiter::hashmap(quota))
        })
        .clone()
}

/// `Err(wait)` when over the limit.
pub fn check(limit: &'static Limit, key: &str) -> Result<(), Duration> {
    let l = limiter(limit);
    if l.len() > MAX_KEYS {
        l.retain_recent();
    }
    l.check_key(&key.to_string())
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    static L: Limit = Limit {
        name: "test::fallback/per_user",
        limit: 3,
        per_secs: 60,
        burst: 3,
        fail_closed: false,
    };

    #[test]
    fn the_burst_then_a_wait_of_one_interval() {
        for _ in 0..3 {
            assert!(check(&L, "a").is_ok());
        }
        let wait = check(&L, "a").unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(check(&L, "b").is_ok(), "another key has its own limit");
    }
}
