//! The Redis Cell at run time: read-through caches for `#[Redis::cache]` tables and
//! `#[Cache::memoize]` functions, tags, single flight, stale-while-revalidate, and
//! degradation.
//!
//! The Cell is found like Postgres: `CELL_REDIS_URL`, else the dev state `cargo cell build`
//! wrote in `.cell/state/redis.json` (searched above the program and the working
//! directory). It is connected lazily, on the first cached call, and reconnected after a
//! failure (at most once a second), reading the endpoint again each time, and when the Tokio
//! runtime that made the connection has shut down (tests with one runtime each).
//!
//! # Degradation and the stale window
//!
//! The cache never fails a request. When Redis cannot be reached (not configured, stopped,
//! or an operation fails or takes longer than a second), reads go straight to the database
//! or run the function; each such read is counted ([`stats`]) and the outage is logged
//! once to stderr, when it starts, and once when it ends.
//!
//! An invalidation (`update`, `delete`, [`invalidate_tag`]) that cannot reach Redis is
//! queued in the process (up to 10 000 of them) and replayed before this process reads
//! from Redis again; until then it reads from the database. So within one process a failed
//! invalidation is never observed. What is not covered: another process reading the same
//! Redis, a process that exits with invalidations queued, a queue overflow (logged), and
//! the read-through race of every cache-aside design (a read that started before a write
//! committed can store the old row after the write's invalidation). In each of these an
//! entry can be stale for **at most its TTL** after it was written (for a memoized
//! function with `stale_while_revalidate`, at most `ttl + stale_while_revalidate`): every
//! entry cargo-cell writes carries that expiry, so the stale window is bounded by the TTL
//! you declare.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;

const URL_ENV: &str = "CELL_REDIS_URL";
const OP_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_QUEUED: usize = 10_000;

/// Counters of the process's cache traffic, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Reads answered from Redis.
    pub hits: u64,
    /// Reads that went to the database or ran the function, with Redis up.
    pub misses: u64,
    /// Stale values served while one background refresh ran.
    pub stale_hits: u64,
    /// Reads that went to the database or ran the function because Redis was unavailable.
    pub degraded: u64,
    /// Times Redis became unavailable (each logged once).
    pub outages: u64,
    /// Invalidations waiting for Redis to come back.
    pub queued_invalidations: u64,
}

/// Why an invalidation did not happen now.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "the Redis Cell is unavailable: the invalidation is queued and replayed before this process reads from Redis again; other processes may read the old entries until their TTL ends"
    )]
    Unavailable,
}

/// Drops every memoized entry tagged `tag` (tags are declared as `tags = ["user:{id}"]`).
/// Returns how many entries were removed.
pub async fn invalidate_tag(tag: &str) -> Result<u64, CacheError> {
    CacheHandle::global().invalidate_tag(tag).await
}

/// The process's cache counters.
pub fn stats() -> Stats {
    let h = CacheHandle::global();
    let c = &h.inner.counters;
    Stats {
        hits: c.hits.load(Ordering::Relaxed),
        misses: c.misses.load(Ordering::Relaxed),
        stale_hits: c.stale_hits.load(Ordering::Relaxed),
        degraded: c.degraded.load(Ordering::Relaxed),
        outages: c.outages.load(Ordering::Relaxed),
        queued_invalidations: h
            .inner
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len() as u64,
    }
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stale_hits: AtomicU64,
    degraded: AtomicU64,
    outages: AtomicU64,
}

enum Conn {
    Unknown,
    Up {
        conn: MultiplexedConnection,
        /// Alive while the Tokio runtime that drives `conn` is: a connection's driver is a
        /// task of the runtime it was made on, and dies with it. A process that runs one
        /// runtime after another (`#[tokio::test]` makes one per test) must reconnect on the
        /// next one instead of finding Redis "down" for a second.
        runtime: std::sync::Weak<()>,
    },
    Down {
        retry_at: Instant,
    },
}

/// A token that lives as long as the current Tokio runtime: a task holding it is dropped
/// when the runtime shuts down.
pub(crate) fn runtime_token() -> std::sync::Weak<()> {
    let token = Arc::new(());
    let weak = Arc::downgrade(&token);
    tokio::spawn(async move {
        let _alive = token;
        std::future::pending::<()>().await
    });
    weak
}

enum Queued {
    Keys(Vec<String>),
    Tag(String),
}

type Flight = Arc<tokio::sync::OnceCell<Option<Vec<u8>>>>;

struct Inner {
    conn: tokio::sync::Mutex<Conn>,
    down: AtomicBool,
    counters: Counters,
    queue: Mutex<Vec<Queued>>,
    overflowed: AtomicBool,
    flights: Mutex<HashMap<String, Flight>>,
    refreshing: Mutex<HashSet<String>>,
}

/// A lazily connected handle to the Redis Cell. Cheap to clone; every clone shares one
/// connection, one single-flight table and one invalidation queue.
#[derive(Clone)]
pub struct CacheHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CacheHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheHandle")
            .field("available", &!self.inner.down.load(Ordering::Relaxed))
            .finish()
    }
}

impl CacheHandle {
    /// The process's handle (what `PostgresConnection` and memoized functions use).
    pub fn global() -> &'static CacheHandle {
        static GLOBAL: OnceLock<CacheHandle> = OnceLock::new();
        GLOBAL.get_or_init(|| CacheHandle {
            inner: Arc::new(Inner {
                conn: tokio::sync::Mutex::new(Conn::Unknown),
                down: AtomicBool::new(false),
                counters: Counters::default(),
                queue: Mutex::new(Vec::new()),
                overflowed: AtomicBool::new(false),
                flights: Mutex::new(HashMap::new()),
                refreshing: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// A connection, or `None` while Redis is unavailable.
    async fn conn(&self) -> Option<MultiplexedConnection> {
        let mut state = self.inner.conn.lock().await;
        match &*state {
            Conn::Up { conn, runtime } if runtime.strong_count() > 0 => return Some(conn.clone()),
            Conn::Down { retry_at } if Instant::now() < *retry_at => return None,
            _ => {}
        }
        let result = async {
            let url = endpoint()?;
            let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
            let mut conn =
                tokio::time::timeout(OP_TIMEOUT, client.get_multiplexed_async_connection())
                    .await
                    .map_err(|_| "connecting timed out".to_string())?
                    .map_err(|e| e.to_string())?;
            // Invalidations that failed earlier go first: nothing is read before them.
            self.replay(&mut conn).await?;
            Ok::<_, String>(conn)
        }
        .await;
        match result {
            Ok(conn) => {
                *state = Conn::Up {
                    conn: conn.clone(),
                    runtime: runtime_token(),
                };
                if self.inner.down.swap(false, Ordering::SeqCst) {
                    eprintln!("cell-runtime: the Redis Cell is reachable again; caching resumes");
                }
                Some(conn)
            }
            Err(why) => {
                *state = Conn::Down {
                    retry_at: Instant::now() + RETRY_AFTER,
                };
                self.went_down(&why);
                None
            }
        }
    }

    /// Logs an outage once, when it starts.
    fn went_down(&self, why: &str) {
        if !self.inner.down.swap(true, Ordering::SeqCst) {
            self.inner.counters.outages.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "cell-runtime: the Redis Cell is unavailable ({why}); cached reads go to the database until it is back (logged once)"
            );
        }
    }

    /// An operation failed on a connection: treat Redis as down until a reconnect works.
    async fn failed(&self, why: String) {
        let mut state = self.inner.conn.lock().await;
        *state = Conn::Down {
            retry_at: Instant::now() + RETRY_AFTER,
        };
        drop(state);
        self.went_down(&why);
    }

    async fn replay(&self, conn: &mut MultiplexedConnection) -> Result<(), String> {
        let queued: Vec<Queued> =
            std::mem::take(&mut *self.inner.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for (i, q) in queued.iter().enumerate() {
            let done = match q {
                Queued::Keys(keys) => timed(conn.del::<_, u64>(keys)).await.map(|_| ()),
                Queued::Tag(tag) => timed(tag_script().key(tag_set(tag)).invoke_async::<u64>(conn))
                    .await
                    .map(|_| ()),
            };
            if let Err(e) = done {
                // Put back what is left, in order.
                let mut queue = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
                let rest: Vec<Queued> = queued.into_iter().skip(i).collect();
                queue.splice(0..0, rest);
                return Err(e);
            }
        }
        if self.inner.overflowed.swap(false, Ordering::SeqCst) {
            eprintln!(
                "cell-runtime: more than {MAX_QUEUED} invalidations failed while Redis was unavailable; some cached entries may be stale until their TTL ends"
            );
        }
        Ok(())
    }

    fn queue(&self, q: Queued) {
        let mut queue = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.len() < MAX_QUEUED {
            queue.push(q);
        } else {
            self.inner.overflowed.store(true, Ordering::SeqCst);
        }
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut conn = self.conn().await?;
        match timed(conn.get::<_, Option<Vec<u8>>>(key)).await {
            Ok(v) => v,
            Err(e) => {
                self.failed(e).await;
                None
            }
        }
    }

    /// Whether Redis answers now (after a failed `get`, the read is a degraded one).
    fn available(&self) -> bool {
        !self.inner.down.load(Ordering::SeqCst)
    }

    fn count_source_read(&self) {
        let c = &self.inner.counters;
        if self.available() {
            c.misses.fetch_add(1, Ordering::Relaxed);
        } else {
            c.degraded.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn set(&self, key: &str, bytes: &[u8], ttl_secs: u64, tags: &[String]) {
        if bytes.is_empty() {
            return;
        }
        let Some(mut conn) = self.conn().await else {
            return;
        };
        let mut pipe = redis::pipe();
        pipe.atomic().set_ex(key, bytes, ttl_secs).ignore();
        for tag in tags {
            let set = tag_set(tag);
            pipe.sadd(&set, key).ignore();
            // The tag lives as long as its longest-lived entry.
            pipe.cmd("EXPIRE")
                .arg(&set)
                .arg(ttl_secs)
                .arg("NX")
                .ignore();
            pipe.cmd("EXPIRE")
                .arg(&set)
                .arg(ttl_secs)
                .arg("GT")
                .ignore();
        }
        if let Err(e) = timed(pipe.query_async::<()>(&mut conn)).await {
            self.failed(e).await;
        }
    }

    async fn invalidate_keys(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let Some(mut conn) = self.conn().await else {
            self.queue(Queued::Keys(keys));
            return;
        };
        if let Err(e) = timed(conn.del::<_, u64>(&keys)).await {
            self.queue(Queued::Keys(keys));
            self.failed(e).await;
        }
    }

    pub(crate) async fn invalidate_tag(&self, tag: &str) -> Result<u64, CacheError> {
        let Some(mut conn) = self.conn().await else {
            self.queue(Queued::Tag(tag.to_string()));
            return Err(CacheError::Unavailable);
        };
        match timed(
            tag_script()
                .key(tag_set(tag))
                .invoke_async::<u64>(&mut conn),
        )
        .await
        {
            Ok(n) => Ok(n),
            Err(e) => {
                self.queue(Queued::Tag(tag.to_string()));
                self.failed(e).await;
                Err(CacheError::Unavailable)
            }
        }
    }

    fn flight(&self, key: &str) -> Flight {
        let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights.entry(key.to_string()).or_default().clone()
    }

    fn end_flight(&self, key: &str, flight: &Flight) {
        let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(key);
        }
    }
}

async fn timed<T>(op: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", OP_TIMEOUT.as_millis())),
    }
}

fn tag_set(tag: &str) -> String {
    format!("cell:tag:{tag}")
}

/// Deletes a tag's entries and the tag, atomically; returns how many entries existed.
fn tag_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        redis::Script::new(
            r"local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do n = n + redis.call('DEL', k) end
redis.call('DEL', KEYS[1])
return n",
        )
    })
}

pub(crate) fn endpoint() -> Result<String, String> {
    if let Ok(url) = std::env::var(URL_ENV)
        && !url.is_empty()
    {
        return Ok(url);
    }
    crate::dev_state::find_url("redis").map_err(|_| {
        format!(
            "{URL_ENV} is not set and no .cell/state/redis.json was found; run `cargo cell build` or set {URL_ENV}"
        )
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Used by generated code only; not a stable API.
#[doc(hidden)]
pub mod private {
    use super::*;

    pub use super::CacheHandle;
    pub use serde;
    pub use tokio_postgres::types::ToSql;

    /// A row type a cached table can store (implemented by `#[Redis::cache]`).
    pub trait CachedRow: Sized {
        fn encode(&self) -> Vec<u8>;
        fn decode(bytes: &[u8]) -> Option<Self>;
    }

    /// A memoized function: where its entries live and for how long.
    pub struct Memo {
        pub namespace: &'static str,
        pub function: &'static str,
        pub ttl_secs: u64,
        /// 0 without `stale_while_revalidate`.
        pub stale_secs: u64,
    }

    /// Runs the function again in the background and encodes its value (`None`: an error).
    pub type Refresh =
        Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>> + Send + Sync>;

    /// The compact encoding of cached values (MessagePack); empty when it cannot encode.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        rmp_serde::to_vec(value).unwrap_or_default()
    }

    pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
        rmp_serde::from_slice(bytes).ok()
    }

    pub fn encode_ok<T: Serialize, E>(r: &Result<T, E>) -> Option<Vec<u8>> {
        r.as_ref().ok().map(|v| encode(v)).filter(|b| !b.is_empty())
    }

    pub fn encode_value<T: Serialize>(v: &T) -> Option<Vec<u8>> {
        Some(encode(v)).filter(|b| !b.is_empty())
    }

    /// Names a future's output type, so `?` in a wrapped body knows its error type.
    pub fn typed<O, F: Future<Output = O>>(f: F) -> F {
        f
    }

    /// `{namespace}:{field}:{hex of the value's encoding}`.
    pub fn entry_key<V: Serialize + ?Sized>(namespace: &str, field: &str, value: &V) -> String {
        let bytes = encode(value);
        format!("{namespace}:{field}:{}", hex::encode(&bytes))
    }

    /// `{namespace}:{module::fn}:{hash of the arguments}`.
    pub fn memo_key<A: Serialize>(memo: &Memo, args: &A) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(encode(args));
        format!(
            "{}:{}:{}",
            memo.namespace,
            memo.function,
            hex::encode(&digest[..16])
        )
    }

    /// A cached finder: hit → decode; miss → the database, then store with the TTL.
    ///
    /// Inside a transaction the database is read directly: the cache holds committed rows,
    /// and the transaction must see its own writes.
    pub async fn read_through<T, F>(
        db: &impl crate::Executor,
        key: String,
        ttl_secs: u64,
        source: F,
    ) -> Result<Option<T>, crate::Error>
    where
        T: CachedRow,
        F: Future<Output = Result<Option<T>, crate::Error>>,
    {
        if db.in_transaction() {
            return source.await;
        }
        let cache = db.cache_handle();
        if let Some(bytes) = cache.get(&key).await
            && let Some(row) = T::decode(&bytes)
        {
            cache.inner.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(row));
        }
        cache.count_source_read();
        let row = source.await?;
        if let Some(row) = &row {
            cache.set(&key, &row.encode(), ttl_secs, &[]).await;
        }
        Ok(row)
    }

    /// After a committed write: drop the row's entries (queued when Redis is unavailable).
    pub async fn invalidate(cache: &CacheHandle, keys: Vec<String>) {
        cache.invalidate_keys(keys).await
    }

    fn envelope(fresh_until_ms: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + payload.len());
        out.extend_from_slice(&fresh_until_ms.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn open(bytes: &[u8]) -> Option<(u64, &[u8])> {
        let (head, payload) = bytes.split_at_checked(8)?;
        Some((u64::from_be_bytes(head.try_into().ok()?), payload))
    }

    async fn store(cache: &CacheHandle, memo: &Memo, key: &str, tags: &[String], payload: &[u8]) {
        let fresh_until = now_ms() + memo.ttl_secs * 1000;
        cache
            .set(
                key,
                &envelope(fresh_until, payload),
                memo.ttl_secs + memo.stale_secs,
                tags,
            )
            .await;
    }

    /// A memoized call of a function returning a `Result`: only `Ok` values are cached.
    pub async fn memoize<T, E, F>(
        memo: &'static Memo,
        key: String,
        tags: Vec<String>,
        call: F,
        refresh: Option<Refresh>,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T, E>>,
    {
        let cache = CacheHandle::global();
        if let Some(bytes) = cache.get(&key).await
            && let Some((fresh_until, payload)) = open(&bytes)
            && let Some(value) = decode::<T>(payload)
        {
            if now_ms() <= fresh_until {
                cache.inner.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value);
            }
            if let Some(refresh) = refresh {
                cache
                    .inner
                    .counters
                    .stale_hits
                    .fetch_add(1, Ordering::Relaxed);
                revalidate(cache, memo, key, tags, refresh);
                return Ok(value);
            }
        }
        // Single flight: concurrent misses of one key in this process run the body once.
        let flight = cache.flight(&key);
        let mut call = Some(call);
        let mut mine: Option<Result<T, E>> = None;
        let shared = flight
            .get_or_init(|| async {
                // A flight that just ended may have stored the value.
                if let Some(bytes) = cache.get(&key).await
                    && let Some((fresh_until, payload)) = open(&bytes)
                    && now_ms() <= fresh_until
                {
                    return Some(payload.to_vec());
                }
                cache.count_source_read();
                let result = call.take().expect("the body runs once").await;
                let bytes = encode_ok(&result);
                if let Some(payload) = &bytes {
                    store(cache, memo, &key, &tags, payload).await;
                }
                mine = Some(result);
                bytes
            })
            .await
            .clone();
        cache.end_flight(&key, &flight);
        if let Some(result) = mine {
            return result;
        }
        if let Some(value) = shared.as_deref().and_then(decode::<T>) {
            cache.inner.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(value);
        }
        // The flight's call failed (its error is its caller's): run our own.
        cache.count_source_read();
        call.take().expect("not run yet").await
    }

    /// A memoized call of a function that cannot fail.
    pub async fn memoize_value<T, F>(
        memo: &'static Memo,
        key: String,
        tags: Vec<String>,
        call: F,
        refresh: Option<Refresh>,
    ) -> T
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = T>,
    {
        let call = async move { Ok::<T, std::convert::Infallible>(call.await) };
        match memoize(memo, key, tags, call, refresh).await {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// One background refresh per key and process; the stale value is served meanwhile.
    fn revalidate(
        cache: &'static CacheHandle,
        memo: &'static Memo,
        key: String,
        tags: Vec<String>,
        refresh: Refresh,
    ) {
        {
            let mut running = cache
                .inner
                .refreshing
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if !running.insert(key.clone()) {
                return;
            }
        }
        tokio::spawn(async move {
            if let Some(payload) = refresh().await {
                store(cache, memo, &key, &tags, &payload).await;
            }
            cache
                .inner
                .refreshing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        });
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn keys_encode_borrowed_and_owned_alike() {
            let a = entry_key("ns", "sku", "abc");
            let b = entry_key("ns", "sku", &String::from("abc"));
            assert_eq!(a, b);
            assert!(a.starts_with("ns:sku:"), "{a}");
            let memo = Memo {
                namespace: "cell:a:m:00",
                function: "a::f",
                ttl_secs: 1,
                stale_secs: 0,
            };
            assert_eq!(
                memo_key(&memo, &(&1i64, &"x")),
                memo_key(&memo, &(&1i64, &String::from("x")))
            );
            assert_ne!(memo_key(&memo, &(&1i64,)), memo_key(&memo, &(&2i64,)));
        }

        #[test]
        fn envelopes_round_trip() {
            let e = envelope(42, b"abc");
            assert_eq!(open(&e), Some((42, &b"abc"[..])));
            assert_eq!(open(b"short"), None);
        }
    }
}
