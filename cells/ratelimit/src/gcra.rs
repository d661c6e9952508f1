//! The generic cell rate algorithm (GCRA), as the runtime's Lua script runs it in the Redis
//! Cell. This is the same arithmetic in Rust, for tests and for reading.
//!
//! A limit of `limit` requests per `period` with `burst` is an *emission interval*
//! `T = period / limit` and a *tolerance* `tau = T * burst`. The state of a key is one
//! number, the theoretical arrival time (TAT) of the next request. A request at `now` is
//! admitted when `max(TAT, now) + T - tau <= now`; then TAT becomes `max(TAT, now) + T`.
//! So `burst` requests are admitted at once, then one every `T`. All times are in
//! microseconds (Redis `TIME`).

/// The emission interval and tolerance of a limit, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub emission_us: u64,
    pub tolerance_us: u64,
}

impl Params {
    pub fn new(limit: u64, per_secs: u64, burst: u64) -> Params {
        let emission_us = (per_secs.saturating_mul(1_000_000) / limit.max(1)).max(1);
        Params {
            emission_us,
            tolerance_us: emission_us.saturating_mul(burst.max(1)),
        }
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests that could still be admitted right now.
    pub remaining: u64,
    /// When refused: how long until one would be admitted.
    pub retry_after_us: u64,
    /// How long until the key is back to a full burst.
    pub reset_us: u64,
}

/// One request at `now` against the stored TAT (`None`: never seen, or expired); returns
/// the decision and the TAT to store (unchanged when refused).
pub fn check(p: Params, tat: Option<u64>, now: u64) -> (Decision, Option<u64>) {
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + p.emission_us;
    let allow_at = new_tat.saturating_sub(p.tolerance_us);
    if now < allow_at {
        let d = Decision {
            allowed: false,
            remaining: 0,
            retry_after_us: allow_at - now,
            reset_us: tat - now,
        };
        return (d, None);
    }
    let d = Decision {
        allowed: true,
        remaining: (now + p.tolerance_us - new_tat) / p.emission_us,
        retry_after_us: 0,
        reset_us: new_tat - now,
    };
    (d, Some(new_tat))
}

/// Whole seconds for `Retry-After` and the `t` of `RateLimit`: rounded up, so a client that
/// waits that long is admitted.
pub fn ceil_secs(us: u64) -> u64 {
    us.div_ceil(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: Params, tat: &mut Option<u64>, now: u64) -> Decision {
        let (d, next) = check(p, *tat, now);
        if next.is_some() {
            *tat = next;
        }
        d
    }

    #[test]
    fn a_burst_then_one_per_interval() {
        // 100 per minute, burst 100: T = 0.6 s.
        let p = Params::new(100, 60, 100);
        assert_eq!(
            p,
            Params {
                emission_us: 600_000,
                tolerance_us: 60_000_000
            }
        );
        let mut tat = None;
        let t0 = 1_700_000_000_000_000;
        for i in 0..100 {
            let d = run(p, &mut tat, t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 99 - i);
        }
        let d = run(p, &mut tat, t0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_us, 600_000);
        assert_eq!(ceil_secs(d.retry_after_us), 1);
        assert_eq!(d.reset_us, 60_000_000);
        // 0.6 s later exactly one more.
        assert!(run(p, &mut tat, t0 + 600_000).allowed);
        assert!(!run(p, &mut tat, t0 + 600_000).allowed);
        // A full period of quiet restores the burst.
        let later = t0 + 600_000 + 60_000_000;
        assert_eq!(run(p, &mut tat, later).remaining, 99);
    }

    #[test]
    fn a_small_burst_spreads_the_limit() {
        // 10 per second with burst 1: one every 100 ms.
        let p = Params::new(10, 1, 1);
        let mut tat = None;
        assert!(run(p, &mut tat, 0).allowed);
        let d = run(p, &mut tat, 50_000);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_us, 50_000);
        assert_eq!(ceil_secs(d.retry_after_us), 1);
        assert!(run(p, &mut tat, 100_000).allowed);
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(ceil_secs(0), 0);
        assert_eq!(ceil_secs(1), 1);
        assert_eq!(ceil_secs(1_000_000), 1);
        assert_eq!(ceil_secs(1_000_001), 2);
    }
}
