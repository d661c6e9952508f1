//! The RateLimit Cell's runtime: the check `#[RateLimit::...]` expands to.
//!
//! Every limit is GCRA (the generic cell rate algorithm) run atomically in the Redis Cell
//! by one Lua script: loaded once and run by `EVALSHA` (on `NOSCRIPT`, after a Redis
//! restart, it is loaded again), its clock Redis's own `TIME`, so every replica shares one
//! limit and no replica's clock matters. The script answers allowed, remaining and
//! retry-after; over the limit the function returns [`RateLimited`], which axum renders as
//! `429 Too Many Requests` with `Retry-After`, `RateLimit-Policy` and `RateLimit`
//! (draft-ietf-httpapi-ratelimit-headers-09).
//!
//! When Redis cannot be reached (not configured, stopped, or no answer within a second),
//! a limit with `fail = "open"` (the default) is checked by an in-process GCRA (`governor`)
//! of the same rate, so each process limits on its own; one with `fail = "closed"` refuses
//! every request with 503 and `Retry-After: 1`. The outage is logged once to stderr when it
//! starts and once when it ends, and counted ([`stats`], and the metrics
//! `cell_ratelimit_outages_total` and `cell_ratelimit_fallback_checks_total`). Redis is tried
//! again at most once a second.

#[cfg(feature = "axum")]
mod axum;
mod fallback;

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

const OP_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The IETF draft whose header fields a refusal carries.
pub const HEADERS_DRAFT: &str = "draft-ietf-httpapi-ratelimit-headers-09";

/// GCRA in Redis: `KEYS[1]` holds the theoretical arrival time (TAT) in microseconds;
/// `ARGV[1]` is the emission interval and `ARGV[2]` the tolerance (interval × burst), in
/// microseconds. Returns `{allowed, remaining, retry_after_us, reset_us}`.
pub const GCRA_SCRIPT: &str = r"local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now + tolerance - new_tat) / emission), 0, new_tat - now}
";

/// One declared limit, as the attribute expands it (a `static` per attribute).
#[derive(Debug)]
pub struct Limit {
    /// `app::search/per_user`: the policy's name, and part of the Redis key.
    pub name: &'static str,
    pub limit: u64,
    pub per_secs: u64,
    pub burst: u64,
    pub fail_closed: bool,
}

impl Limit {
    /// The emission interval and the tolerance, in microseconds.
    pub fn gcra(&self) -> (u64, u64) {
        let emission = (self.per_secs.saturating_mul(1_000_000) / self.limit.max(1)).max(1);
        (emission, emission.saturating_mul(self.burst.max(1)))
    }

    /// `cell:rl:{name}:{key}`.
    pub fn redis_key(&self, key: &str) -> String {
        format!("cell:rl:{}:{key}", self.name)
    }
}

/// A request over its limit (429), or refused because Redis is down and the limit fails
/// closed (503). The function's error type converts it (`E: From<RateLimited>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// The limit's name: `app::search/per_user`.
    pub policy: &'static str,
    pub limit: u64,
    pub window_secs: u64,
    /// Whole seconds, rounded up: a client that waits this long is admitted.
    pub retry_after_secs: u64,
    /// Redis was unreachable and the limit fails closed.
    pub unavailable: bool,
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unavailable {
            write!(
                f,
                "the rate limit {} cannot be checked right now (the Redis Cell is unavailable); retry in {} s",
                self.policy, self.retry_after_secs
            )
        } else {
            write!(
                f,
                "too many requests: {} allows {} per {} s; retry in {} s",
                self.policy, self.limit, self.window_secs, self.retry_after_secs
            )
        }
    }
}

impl std::error::Error for RateLimited {}

impl RateLimited {
    /// 429, or 503 when it could not be checked.
    pub fn status(&self) -> u16 {
        if self.unavailable { 503 } else { 429 }
    }

    /// The response's header fields: `Retry-After` (RFC 9110), and `RateLimit-Policy` and
    /// `RateLimit` as draft-ietf-httpapi-ratelimit-headers-09 writes them (structured
    /// fields: the policy's name, `q` its quota, `w` its window in seconds; `r` the quota
    /// remaining, `t` seconds until more is available).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let name = self.policy.replace(['"', '\\'], "_");
        let mut h = vec![("retry-after", self.retry_after_secs.to_string())];
        if !self.unavailable {
            h.push((
                "ratelimit-policy",
                format!("\"{name}\";q={};w={}", self.limit, self.window_secs),
            ));
            h.push((
                "ratelimit",
                format!("\"{name}\";r=0;t={}", self.retry_after_secs),
            ));
        }
        h
    }
}

/// Counters of the process's checks, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Checks answered by the Redis Cell.
    pub redis_checks: u64,
    /// Checks answered in process while Redis was unavailable.
    pub fallback_checks: u64,
    /// Requests refused (429 or 503).
    pub refused: u64,
    /// Times Redis became unavailable (each logged once).
    pub outages: u64,
}

#[derive(Default)]
struct Counters {
    redis_checks: AtomicU64,
    fallback_checks: AtomicU64,
    refused: AtomicU64,
    outages: AtomicU64,
}

/// This process's counters.
pub fn stats() -> Stats {
    let c = &state().counters;
    Stats {
        redis_checks: c.redis_checks.load(Ordering::Relaxed),
        fallback_checks: c.fallback_checks.load(Ordering::Relaxed),
        refused: c.refused.load(Ordering::Relaxed),
        outages: c.outages.load(Ordering::Relaxed),
    }
}

enum Conn {
    Unknown,
    Up {
        conn: MultiplexedConnection,
        runtime: std::sync::Weak<()>,
    },
    Down {
        retry_at: Instant,
    },
}

struct State {
    conn: tokio::sync::Mutex<Conn>,
    down: AtomicBool,
    counters: Counters,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| State {
        conn: tokio::sync::Mutex::new(Conn::Unknown),
        down: AtomicBool::new(false),
        counters: Counters::default(),
    })
}

fn script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(GCRA_SCRIPT))
}

async fn timed<T>(op: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", OP_TIMEOUT.as_millis())),
    }
}

impl State {
    async fn conn(&self) -> Option<MultiplexedConnection> {
        let mut guard = self.conn.lock().await;
        match &*guard {
            Conn::Up { conn, runtime } if runtime.strong_count() > 0 => return Some(conn.clone()),
            Conn::Down { retry_at } if Instant::now() < *retry_at => return None,
            _ => {}
        }
        let result = async {
            let url = crate::cache::endpoint()?;
            let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
            timed(client.get_multiplexed_async_connection()).await
        }
        .await;
        match result {
            Ok(conn) => {
                *guard = Conn::Up {
                    conn: conn.clone(),
                    runtime: crate::cache::runtime_token(),
                };
                Some(conn)
            }
            Err(why) => {
                *guard = Conn::Down {
                    retry_at: Instant::now() + RETRY_AFTER,
                };
                drop(guard);
                self.went_down(&why);
                None
            }
        }
    }

    fn went_down(&self, why: &str) {
        if !self.down.swap(true, Ordering::SeqCst) {
            self.counters.outages.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("cell_ratelimit_outages_total").increment(1);
            eprintln!(
                "cell-runtime: the Redis Cell is unavailable ({why}); rate limits are checked in this process only (fail = \"open\") or refused (fail = \"closed\") until it is back (logged once)"
            );
        }
    }

    fn came_back(&self) {
        if self.down.swap(false, Ordering::SeqCst) {
            eprintln!(
                "cell-runtime: the Redis Cell is reachable again; rate limits are shared again"
            );
        }
    }

    async fn failed(&self, why: &str) {
        *self.conn.lock().await = Conn::Down {
            retry_at: Instant::now() + RETRY_AFTER,
        };
        self.went_down(why);
    }
}

/// What the script answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub remaining: u64,
    pub retry_after_us: u64,
    pub reset_us: u64,
}

/// One GCRA step in the Redis Cell on `conn` (for tests and benchmarks: the attribute's
/// check goes through [`check`]).
pub async fn gcra_step(
    conn: &mut MultiplexedConnection,
    limit: &Limit,
    key: &str,
) -> redis::RedisResult<Decision> {
    let (emission, tolerance) = limit.gcra();
    let (allowed, remaining, retry, reset): (i64, i64, i64, i64) = script()
        .key(limit.redis_key(key))
        .arg(emission)
        .arg(tolerance)
        .invoke_async(conn)
        .await?;
    Ok(Decision {
        allowed: allowed == 1,
        remaining: remaining.max(0) as u64,
        retry_after_us: retry.max(0) as u64,
        reset_us: reset.max(0) as u64,
    })
}

fn refused(limit: &'static Limit, retry_after_us: u64) -> RateLimited {
    state().counters.refused.fetch_add(1, Ordering::Relaxed);
    RateLimited {
        policy: limit.name,
        limit: limit.limit,
        window_secs: limit.per_secs,
        retry_after_secs: retry_after_us.div_ceil(1_000_000).max(1),
        unavailable: false,
    }
}

/// The check before a limited function's body: `Ok` to go on, `Err` over the limit.
pub async fn check(limit: &'static Limit, key: String) -> Result<(), RateLimited> {
    let st = state();
    if let Some(mut conn) = st.conn().await {
        match timed(gcra_step(&mut conn, limit, &key)).await {
            Ok(d) => {
                st.came_back();
                st.counters.redis_checks.fetch_add(1, Ordering::Relaxed);
                return if d.allowed {
                    Ok(())
                } else {
                    Err(refused(limit, d.retry_after_us))
                };
            }
            Err(why) => st.failed(&why).await,
        }
    }
    st.counters.fallback_checks.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("cell_ratelimit_fallback_checks_total").increment(1);
    if limit.fail_closed {
        st.counters.refused.fetch_add(1, Ordering::Relaxed);
        return Err(RateLimited {
            policy: limit.name,
            limit: limit.limit,
            window_secs: limit.per_secs,
            retry_after_secs: 1,
            unavailable: true,
        });
    }
    match fallback::check(limit, &key) {
        Ok(()) => Ok(()),
        Err(wait) => Err(refused(limit, wait.as_micros() as u64)),
    }
}

/// Used by the code `#[RateLimit::...]` expands to.
#[doc(hidden)]
pub mod __private {
    pub use super::{Limit, RateLimited, check};

    /// `per_user`: the caller's subject; callers without one share `anonymous`.
    #[cfg(feature = "auth")]
    pub fn user_key(ctx: &crate::auth::AuthContext) -> String {
        match ctx.subject() {
            Some(s) => format!("u:{s}"),
            None => "anonymous".to_string(),
        }
    }

    /// The client address `per_ip` counts by.
    #[diagnostic::on_unimplemented(
        message = "#[RateLimit::per_ip] cannot read a client address from `{Self}`",
        note = "take `ConnectInfo(addr): ConnectInfo<SocketAddr>`, a `SocketAddr` or an `IpAddr`"
    )]
    pub trait ClientAddr {
        fn client_ip(&self) -> std::net::IpAddr;
    }
    impl ClientAddr for std::net::IpAddr {
        fn client_ip(&self) -> std::net::IpAddr {
            *self
        }
    }
    impl ClientAddr for std::net::SocketAddr {
        fn client_ip(&self) -> std::net::IpAddr {
            self.ip()
        }
    }
    #[cfg(feature = "axum")]
    impl<T: ClientAddr + Clone + Send + Sync + 'static> ClientAddr for ::axum::extract::ConnectInfo<T> {
        fn client_ip(&self) -> std::net::IpAddr {
            self.0.client_ip()
        }
    }

    pub fn ip_key<T: ClientAddr + ?Sized>(addr: &T) -> String {
        format!("ip:{}", addr.client_ip())
    }

    /// The value `per_key` counts by.
    #[diagnostic::on_unimplemented(
        message = "#[RateLimit::per_key] counts by the key's text, and `{Self}` has none",
        note = "the key names a field that implements `Display` (a string, a number, an id)"
    )]
    pub trait KeyValue {
        fn key_text(&self) -> String;
    }
    impl<T: std::fmt::Display + ?Sized> KeyValue for T {
        fn key_text(&self) -> String {
            self.to_string()
        }
    }

    pub fn value_key<T: KeyValue + ?Sized>(value: &T) -> String {
        format!("k:{}", value.key_text())
    }

    /// What a limited function returns over the limit.
    #[diagnostic::on_unimplemented(
        message = "a rate-limited function must be able to return a `RateLimited`, and `{Self}` cannot carry one",
        label = "over the limit, the check returns `Err(RateLimited)` through this type",
        note = "return `Result<T, E>` where `E: From<RateLimited>`, for example `Result<Json<T>, RateLimited>` in an axum handler"
    )]
    pub trait LimitReturn {
        fn deny(error: RateLimited) -> Self;
    }

    impl<T, E: From<RateLimited>> LimitReturn for Result<T, E> {
        #[inline]
        fn deny(error: RateLimited) -> Self {
            Err(E::from(error))
        }
    }

    #[inline]
    pub fn deny<R: LimitReturn>(error: RateLimited) -> R {
        R::deny(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static L: Limit = Limit {
        name: "app::f/per_user",
        limit: 100,
        per_secs: 60,
        burst: 100,
        fail_closed: false,
    };

    #[test]
    fn the_parameters_match_the_cells_arithmetic() {
        assert_eq!(L.gcra(), (600_000, 60_000_000));
        assert_eq!(L.redis_key("u:alice"), "cell:rl:app::f/per_user:u:alice");
    }

    #[test]
    fn a_refusal_names_its_policy_in_the_draft_headers() {
        let e = RateLimited {
            policy: "app::f/per_user",
            limit: 100,
            window_secs: 60,
            retry_after_secs: 1,
            unavailable: false,
        };
        assert_eq!(e.status(), 429);
        assert_eq!(
            e.headers(),
            [
                ("retry-after", "1".to_string()),
                (
                    "ratelimit-policy",
                    "\"app::f/per_user\";q=100;w=60".to_string()
                ),
                ("ratelimit", "\"app::f/per_user\";r=0;t=1".to_string()),
            ]
        );
        assert_eq!(
            e.to_string(),
            "too many requests: app::f/per_user allows 100 per 60 s; retry in 1 s"
        );
        let down = RateLimited {
            unavailable: true,
            ..e
        };
        assert_eq!(down.status(), 503);
        assert_eq!(down.headers(), [("retry-after", "1".to_string())]);
    }
}
