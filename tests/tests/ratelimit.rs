//! `#[RateLimit::per_user(100)]` against a real Redis Cell (`cargo cell up redis`), shared
//! by two processes: this test binary runs itself twice more as the "app processes"
//! (`child_process` below, which does nothing unless `RL_CHILD` is set). The limited
//! function is compiled into this test.
//!
//! - Redis up: 101 requests of one user split over both processes: 100 admitted, 1 refused
//!   with `Retry-After: 1` (100 per minute is one every 0.6 s; the refusal comes less than
//!   0.6 s after the first request), which is correct: a second later the user is admitted
//!   again. Another user is unaffected. The GCRA key is read back with redis-cli.
//! - Redis stopped: each process limits on its own (100 admitted, the 101st refused in each),
//!   the outage is logged once and counted.

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::IntoResponse;
use cell_e2e::{App, docker_available};
use cell_runtime::auth::Claims;
use cell_runtime::prelude::*;

#[RateLimit::per_user(100)]
async fn search(ctx: AuthContext) -> Result<&'static str, RateLimited> {
    let _ = ctx;
    Ok("results")
}

fn ctx(user: &str) -> AuthContext {
    AuthContext::from_claims(Claims {
        sub: user.to_string(),
        roles: vec![],
        iss: "test".into(),
        aud: serde_json::json!("test"),
        exp: i64::MAX,
        nbf: None,
        iat: None,
        extra: Default::default(),
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// One app process: waits until `RL_START_AT` (ms since the epoch, so both processes start
/// together), sends `RL_COUNT` requests as `RL_USER`, and prints one JSON line.
#[test]
fn child_process() {
    let Ok(user) = std::env::var("RL_CHILD_USER") else {
        return;
    };
    let count: usize = std::env::var("RL_COUNT").unwrap().parse().unwrap();
    let start_at: u64 = std::env::var("RL_START_AT").unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Connect (and load the script) before the start, on a key of its own.
        let _ = search(ctx(&format!("{user}-warmup"))).await;
        let wait = start_at.saturating_sub(now_ms());
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let (mut allowed, mut refused) = (0, Vec::new());
        let first = now_ms();
        for _ in 0..count {
            match search(ctx(&user)).await {
                Ok(_) => allowed += 1,
                Err(e) => refused.push(e.retry_after_secs),
            }
        }
        let stats = cell_runtime::RateLimit::stats();
        println!(
            "RESULT {}",
            serde_json::json!({
                "allowed": allowed, "refused": refused, "first_ms": first, "last_ms": now_ms(),
                "outages": stats.outages, "fallback": stats.fallback_checks,
                "redis": stats.redis_checks,
            })
        );
    });
}

struct Child {
    result: serde_json::Value,
    stderr: String,
}

/// Both app processes at once: `counts[i]` requests each, as `user`.
fn run_children(url: &str, user: &str, counts: &[usize]) -> Vec<Child> {
    let exe = std::env::current_exe().unwrap();
    let start_at = now_ms() + 1500;
    let children: Vec<_> = counts
        .iter()
        .map(|n| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("RL_CHILD_USER", user)
                .env("RL_COUNT", n.to_string())
                .env("RL_START_AT", start_at.to_string())
                .env("CELL_REDIS_URL", url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
            let line = stdout
                .lines()
                .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
                .unwrap_or_else(|| panic!("no result line:\n{stdout}\n{stderr}"));
            Child {
                result: serde_json::from_str(line).unwrap(),
                stderr,
            }
        })
        .collect()
}

/// redis-cli inside the Cell's container, with the password of the Cell's URL.
fn redis_cli(container: &str, url: &str, args: &[&str]) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(auth, _)| auth.trim_start_matches(':').to_string())
        .unwrap_or_default();
    let mut cmd = Command::new("docker");
    cmd.args(["exec", container, "redis-cli", "--no-auth-warning"]);
    if !password.is_empty() {
        cmd.args(["-a", &password]);
    }
    let out = cmd.args(args).output().expect("docker exec redis-cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn one_limit_across_two_processes_and_a_fallback_per_process_without_redis() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("cache");
    app.cargo_cell(&["up", "redis"]).assert_success();
    let url = app.state_url("redis");
    // SAFETY: the only other test of this binary, `child_process`, read the environment
    // when it started and returned (here it is no child), seconds before: no other thread
    // reads or writes the environment now.
    unsafe { std::env::set_var("CELL_REDIS_URL", &url) };
    let container = app.cell_container("redis");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let alice = format!("alice-{run}");

    // 50 + 51 requests of one user over two processes sharing the Redis Cell.
    let children = run_children(&url, &alice, &[50, 51]);
    let allowed: u64 = children
        .iter()
        .map(|c| c.result["allowed"].as_u64().unwrap())
        .sum();
    let refused: Vec<u64> = children
        .iter()
        .flat_map(|c| c.result["refused"].as_array().unwrap().clone())
        .map(|v| v.as_u64().unwrap())
        .collect();
    let first = children
        .iter()
        .map(|c| c.result["first_ms"].as_u64().unwrap())
        .min()
        .unwrap();
    let last = children
        .iter()
        .map(|c| c.result["last_ms"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(
        last - first < 600,
        "the requests took {} ms, more than one emission interval (600 ms): the machine is too slow for this check",
        last - first
    );
    let results: Vec<_> = children.iter().map(|c| &c.result).collect();
    assert_eq!(allowed, 100, "{results:?}");
    assert_eq!(refused, [1], "one refusal, Retry-After 1 s: {results:?}");
    for c in &children {
        assert_eq!(c.result["outages"], 0, "{}", c.stderr);
        assert_eq!(c.result["fallback"], 0, "{}", c.stderr);
    }

    // An independent client: the GCRA key holds the TAT (about 60 s ahead) with its expiry.
    let found = redis_cli(
        &container,
        &url,
        &["--scan", "--pattern", &format!("cell:rl:*:u:{alice}")],
    );
    let key = found
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no GCRA key for {alice}"))
        .to_string();
    let pttl: i64 = redis_cli(&container, &url, &["PTTL", &key])
        .parse()
        .unwrap();
    assert!((58_000..=60_600).contains(&pttl), "PTTL {pttl}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Still at the limit: at most the one request that refilled since (one every
        // 0.6 s) is admitted before a refusal, and the response is the draft's 429.
        let mut admitted = 0;
        let e = loop {
            match search(ctx(&alice)).await {
                Ok(_) => admitted += 1,
                Err(e) => break e,
            }
            assert!(admitted <= 5, "alice is admitted again and again");
        };
        let response = e.clone().into_response();
        assert_eq!(response.status(), 429);
        let h = response.headers();
        assert_eq!(h["retry-after"], e.retry_after_secs.to_string());
        assert!(e.policy.ends_with("::search/per_user"), "{}", e.policy);
        assert_eq!(
            h["ratelimit-policy"],
            format!("\"{}\";q=100;w=60", e.policy)
        );
        assert!(
            h["ratelimit"]
                .to_str()
                .unwrap()
                .ends_with(&format!(";r=0;t={}", e.retry_after_secs))
        );
        assert_eq!(e.retry_after_secs, 1);
        // Another user is unaffected.
        assert!(search(ctx(&format!("bob-{run}"))).await.is_ok());
        // Retry-After is right to the second: after it, alice is admitted once more.
        tokio::time::sleep(Duration::from_secs(e.retry_after_secs)).await;
        assert!(
            search(ctx(&alice)).await.is_ok(),
            "admitted after Retry-After"
        );
        let stats = cell_runtime::RateLimit::stats();
        assert_eq!((stats.fallback_checks, stats.outages), (0, 0), "{stats:?}");
    });

    // Redis stopped: each process limits on its own, logs the outage once and counts it.
    let stop = Command::new("docker")
        .args(["stop", "-t", "1", &container])
        .output()
        .unwrap();
    assert!(stop.status.success());
    let carol = format!("carol-{run}");
    let children = run_children(&url, &carol, &[101, 101]);
    for c in &children {
        assert_eq!(c.result["allowed"], 100, "{:?}\n{}", c.result, c.stderr);
        assert_eq!(
            c.result["refused"].as_array().unwrap().len(),
            1,
            "{:?}",
            c.result
        );
        assert_eq!(c.result["outages"], 1, "{:?}", c.result);
        assert_eq!(c.result["redis"], 0, "{:?}", c.result);
        // 101 requests and the warm-up, all answered in process.
        assert_eq!(c.result["fallback"], 102, "{:?}", c.result);
        assert_eq!(
            c.stderr.matches("the Redis Cell is unavailable").count(),
            1,
            "logged once per outage:\n{}",
            c.stderr
        );
    }
}
