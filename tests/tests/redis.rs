//! The Redis Cell end to end: `tests/fixtures/cache` (a cached table and memoized
//! functions) built with `cargo cell build` against real Postgres and Redis Cells, then
//! driven line by line from stdin so one process can see Redis stop and start.
//! Redis is looked at with `redis-cli` inside its container, Postgres with `psql`.
//!
//! One app and two builds cover every acceptance point: read-through with the declared TTL
//! and hits without a database read, invalidation on update and delete (old and new
//! `cache_key`), single flight, tags, degradation and recovery, and the namespace move
//! when a field's type changes.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, ChildStdout, Command};

use cell_e2e::{App, docker_available};
use serde_json::Value;

struct Session {
    child: std::process::Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Session {
    fn start(app: &App) -> Session {
        let mut child = app.spawn_binary("cache-app");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Session {
            child,
            stdin,
            stdout,
        }
    }

    #[track_caller]
    fn call(&mut self, command: &str) -> Value {
        writeln!(self.stdin, "{command}").expect("write command");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read answer");
        assert!(!line.is_empty(), "the app exited during `{command}`");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("`{line}`: {e}"));
        assert!(v.get("error").is_none(), "`{command}` failed: {v}");
        v
    }

    /// Ends the session; returns its stderr.
    fn finish(mut self) -> String {
        drop(self.stdin);
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "the app failed: {err}");
        err
    }
}

fn redis_cli(app: &App, args: &[&str]) -> String {
    let state: Value = serde_json::from_str(&app.read(".cell/state/redis.json")).expect("state");
    let password = state["password"].as_str().expect("password");
    let out = Command::new("docker")
        .args([
            "exec",
            &app.cell_container("redis"),
            "redis-cli",
            "--no-auth-warning",
            "-a",
            password,
        ])
        .args(args)
        .output()
        .expect("docker exec redis-cli");
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn keys(app: &App, pattern: &str) -> Vec<String> {
    let mut k: Vec<String> = redis_cli(app, &["--scan", "--pattern", pattern])
        .lines()
        .map(str::to_string)
        .collect();
    k.sort();
    k
}

fn table_namespace(app: &App) -> String {
    let lock: Value = serde_json::from_str(&app.read(".cell/redis.lock.json")).expect("redis lock");
    lock["tables"]["products"]["namespace"]
        .as_str()
        .expect("namespace")
        .to_string()
}

fn docker(args: &[&str]) {
    let status = Command::new("docker").args(args).status().expect("docker");
    assert!(status.success(), "docker {args:?}");
}

#[test]
fn cached_tables_and_memoized_functions_against_real_cells() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("cache");
    let build = app.cargo_cell(&["build"]);
    build.assert_success();

    // The lock records namespaces, TTLs, tags and settings; the plan is then empty.
    let lock = app.read(".cell/redis.lock.json");
    for needle in [
        "\"ttl\": \"1h\"",
        "\"keys\": [\n        \"id\",\n        \"sku\"",
        "\"user:{id}\"",
        "\"stale_while_revalidate\": \"1h\"",
        "\"maxmemory-policy\": \"allkeys-lru\"",
    ] {
        assert!(lock.contains(needle), "`{needle}` not in the lock:\n{lock}");
    }
    assert_eq!(
        redis_cli(&app, &["CONFIG", "GET", "maxmemory-policy"]),
        "maxmemory-policy\nallkeys-lru"
    );
    let ns = table_namespace(&app);
    assert!(ns.starts_with("cell:cache-app:t:products:"), "{ns}");

    let mut s = Session::start(&app);
    s.call("insert 1 sku-1 100");

    // First read: a miss that writes one key with the declared TTL.
    assert_eq!(s.call("find 1")["price"], 100);
    let st = s.call("stats");
    assert_eq!(
        (st["hits"].as_u64(), st["misses"].as_u64()),
        (Some(0), Some(1)),
        "{st}"
    );
    let entries = keys(&app, &format!("{ns}:*"));
    assert_eq!(entries.len(), 1, "{entries:?}");
    let ttl: i64 = redis_cli(&app, &["TTL", &entries[0]]).parse().expect("TTL");
    assert!((3598..=3600).contains(&ttl), "TTL {ttl}, declared 1h");

    // Second read: a hit without a database query. The row is changed behind the cache's
    // back, so only a read that skipped the database can still return the old price.
    app.psql("UPDATE products SET price = 999 WHERE id = 1");
    assert_eq!(s.call("find 1")["price"], 100);
    let st = s.call("stats");
    assert_eq!(
        (st["hits"].as_u64(), st["misses"].as_u64()),
        (Some(1), Some(1)),
        "{st}"
    );

    // The cache_key finder is cached too; update invalidates its old and new key.
    assert_eq!(s.call("find_sku sku-1")["price"], 999);
    assert_eq!(s.call("find_sku sku-1")["price"], 999);
    s.call("update 1 sku-2 200");
    let found = s.call("find 1");
    assert_eq!(
        (found["price"].as_i64(), found["sku"].as_str()),
        (Some(200), Some("sku-2"))
    );
    assert_eq!(s.call("find_sku sku-1")["found"], false);
    assert_eq!(s.call("find_sku sku-2")["price"], 200);
    // Delete, then find: None.
    assert_eq!(s.call("delete 1")["ok"], true);
    assert_eq!(s.call("find 1")["found"], false);
    assert_eq!(s.call("find_sku sku-2")["found"], false);

    // 100 concurrent calls on a cold key run the body once.
    let c = s.call("concurrent 100 7");
    assert_eq!(c["runs"], 1, "{c}");
    assert_eq!(c["values"], serde_json::json!(["user-7"]));

    // invalidate_tag removes exactly the tagged entries.
    s.call("user 1");
    s.call("user 2");
    s.call("member 1 a");
    let memo_keys = |app: &App| keys(app, "cell:cache-app:m:*");
    let before = memo_keys(&app);
    assert_eq!(before.len(), 4, "users 7, 1, 2 and member 1: {before:?}");
    assert_eq!(s.call("invalidate_tag user:1")["removed"], 1);
    let after = memo_keys(&app);
    assert_eq!(after.len(), 3, "{after:?}");
    let runs = s.call("stats")["runs"].as_u64().unwrap();
    s.call("user 1"); // dropped: runs again
    s.call("user 2"); // kept: a hit
    s.call("member 1 a"); // kept: a hit
    assert_eq!(s.call("stats")["runs"].as_u64().unwrap(), runs + 1);

    // stale_while_revalidate: once the TTL has passed, the old value is served while one
    // background refresh runs; then the new one.
    assert_eq!(s.call("generation 1")["value"], 1);
    s.call("sleep 1200");
    let stale_before = s.call("stats")["stale_hits"].as_u64().unwrap();
    assert_eq!(s.call("generation 1")["value"], 1);
    let mut value = 1;
    for _ in 0..250 {
        value = s.call("generation 1")["value"].as_u64().unwrap();
        if value != 1 {
            break;
        }
        s.call("sleep 20");
    }
    assert_eq!(value, 2, "one background refresh");
    let st = s.call("stats");
    assert!(st["stale_hits"].as_u64().unwrap() > stale_before, "{st}");

    // Redis stopped mid-session: calls keep succeeding from the database, logged once.
    s.call("insert 2 sku-3 300");
    assert_eq!(s.call("find 2")["price"], 300);
    docker(&["stop", &app.cell_container("redis")]);
    assert_eq!(s.call("find 2")["price"], 300);
    assert_eq!(s.call("find 2")["price"], 300);
    // A write while Redis is down: its invalidation is queued.
    s.call("update 2 sku-3 301");
    assert_eq!(s.call("find 2")["price"], 301);
    assert_eq!(s.call("user 3")["value"], "user-3");
    let st = s.call("stats");
    assert_eq!(st["outages"], 1, "{st}");
    assert!(st["degraded"].as_u64().unwrap() >= 3, "{st}");
    assert_eq!(st["queued"], 1, "{st}");

    // Started again (`cargo cell up` also rewrites the state with its new port): caching
    // resumes, and the queued invalidation ran first, although Redis kept the old entry
    // in its volume.
    app.cargo_cell(&["up"]).assert_success();
    // The locked settings are back after the restart.
    assert_eq!(
        redis_cli(&app, &["CONFIG", "GET", "maxmemory-policy"]),
        "maxmemory-policy\nallkeys-lru"
    );
    s.call("sleep 1100");
    let st0 = s.call("stats");
    assert_eq!(s.call("find 2")["price"], 301);
    assert_eq!(s.call("find 2")["price"], 301);
    let st = s.call("stats");
    assert_eq!(st["queued"], 0, "{st}");
    assert_eq!(
        st["misses"].as_u64(),
        st0["misses"].as_u64().map(|m| m + 1),
        "{st0} {st}"
    );
    assert_eq!(
        st["hits"].as_u64(),
        st0["hits"].as_u64().map(|h| h + 1),
        "{st0} {st}"
    );
    let stderr = s.finish();
    assert_eq!(
        stderr.matches("the Redis Cell is unavailable").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("reachable again").count(), 1, "{stderr}");

    // A field's type changes: `cargo cell build` moves the table to a new namespace, so the
    // old entry (still in Redis) is never decoded.
    let old_entries = keys(&app, &format!("{ns}:*"));
    assert!(!old_entries.is_empty());
    app.edit("src/main.rs", "price: i32,", "price: i64,");
    let plan = app.cargo_cell(&["plan"]);
    plan.assert_success();
    assert!(plan.stdout.contains("redis: 1 change"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains(&format!("~ cache table products: namespace {ns} -> ")),
        "{}",
        plan.stdout
    );
    app.cargo_cell(&["build"]).assert_success();
    let new_ns = table_namespace(&app);
    assert_ne!(new_ns, ns);
    let mut s = Session::start(&app);
    assert_eq!(s.call("find 2")["price"], 301);
    let st = s.call("stats");
    assert_eq!(
        (st["hits"].as_u64(), st["misses"].as_u64()),
        (Some(0), Some(1)),
        "{st}"
    );
    assert_eq!(keys(&app, &format!("{new_ns}:*")).len(), 1);
    assert_eq!(
        keys(&app, &format!("{ns}:*")),
        old_entries,
        "old entries are left to expire"
    );
    s.finish();
}
