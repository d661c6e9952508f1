//! The RateLimit Cell through cargo-cell: `cargo cell build` records the limits, brings the
//! Redis Cell up for them and writes `.cell/ratelimit.lock.json`; a raised limit and a
//! removed one are plans flagged `LOOSENED: needs review` (exit 2 under
//! `--detailed-exitcode`, `needs_review` in the JSON plan), and `cargo cell check` sees the
//! difference offline.

use cell_e2e::{App, docker_available};

#[test]
fn limits_are_locked_and_a_raised_limit_needs_review() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("ratelimit-app");
    app.cargo_cell(&["build"]).assert_success();
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/ratelimit.lock.json")).expect("the lock");
    assert_eq!(
        lock["limits"]["ratelimit_app::search/per_user"],
        serde_json::json!({"scope": "user", "limit": 100, "per": "1m", "burst": 100, "fail": "open"}),
        "{lock}"
    );
    assert_eq!(
        lock["limits"]["ratelimit_app::export/global"]["fail"], "closed",
        "{lock}"
    );
    // The limits live in the Redis Cell: it runs for them.
    assert_eq!(app.cell_containers("redis").len(), 1);
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.output());
    assert!(
        plan.output()
            .contains("ratelimit: No changes. The rate limits match the code."),
        "{}",
        plan.output()
    );

    app.edit(
        "src/main.rs",
        "#[RateLimit::per_user(100)]",
        "#[RateLimit::per_user(200)]",
    );
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    let out = plan.output();
    assert_eq!(plan.status.code(), Some(2), "a change exits 2:\n{out}");
    assert!(
        out.contains("ratelimit: 1 limit change (1 loosened: needs review)"),
        "{out}"
    );
    assert!(
        out.contains("~ ratelimit_app::search/per_user: 100 per 1m, burst 100, fail open -> 200 per 1m, burst 200, fail open   LOOSENED: needs review"),
        "{out}"
    );
    let json = app.cargo_cell(&["plan", "--format", "json"]);
    let report: serde_json::Value =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", json.output()));
    let change = &report["cells"]["ratelimit"]["changes"][0];
    assert_eq!(change["needs_review"], true, "{report}");
    assert_eq!(change["change"], "loosened", "{report}");
    let check = app.cargo_cell(&["check"]);
    check.assert_failure();
    assert!(
        check
            .output()
            .contains("rate limits differ from .cell/ratelimit.lock.json"),
        "{}",
        check.output()
    );
}

#[test]
fn a_removed_limit_needs_review() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("ratelimit-app");
    app.cargo_cell(&["build"]).assert_success();
    app.edit(
        "src/main.rs",
        "#[RateLimit::global(10, per = \"1s\", fail = \"closed\")]\n",
        "",
    );
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    let out = plan.output();
    assert_eq!(plan.status.code(), Some(2), "a change exits 2:\n{out}");
    assert!(
        out.contains("ratelimit: 1 limit change (1 loosened: needs review)"),
        "{out}"
    );
    assert!(
        out.contains("- ratelimit_app::export/global: limit removed (was 10 per 1s, burst 10, fail closed; now unlimited)   LOOSENED: needs review"),
        "{out}"
    );
    assert!(
        !out.contains("ratelimit_app::search/per_user"),
        "the unchanged limit is not a change:\n{out}"
    );
    let json = app.cargo_cell(&["plan", "--format", "json"]);
    let report: serde_json::Value =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", json.output()));
    let changes = report["cells"]["ratelimit"]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(changes.len(), 1, "{report}");
    assert_eq!(changes[0]["needs_review"], true, "{report}");
    assert_eq!(changes[0]["change"], "removed", "{report}");
    assert_eq!(changes[0]["was"]["fail"], "closed", "{report}");
    let check = app.cargo_cell(&["check"]);
    check.assert_failure();
    assert!(
        check
            .output()
            .contains("rate limits differ from .cell/ratelimit.lock.json"),
        "{}",
        check.output()
    );
}

#[test]
fn a_limit_that_differs_from_the_lock_is_a_compile_error() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("ratelimit-app");
    app.cargo_cell(&["build"]).assert_success();
    app.cargo(&["build"]).assert_success();
    app.edit(
        "src/main.rs",
        "#[RateLimit::per_user(100)]",
        "#[RateLimit::per_user(200)]",
    );
    // A plain build (no record, no Docker) expands against the committed lock.
    let build = app.cargo(&["build"]);
    build.assert_failure();
    let out = build.output();
    assert!(
        out.contains("error: the rate limit `ratelimit_app::search/per_user` is 200 per 1m, burst 200, fail open, but "),
        "{out}"
    );
    assert!(
        out.contains(".cell/ratelimit.lock.json says 100 per 1m, burst 100, fail open"),
        "{out}"
    );
    assert!(
        out.contains(
            "help: run `cargo cell plan` to review the change, then `cargo cell build` to lock it"
        ),
        "{out}"
    );
    assert!(
        out.contains("#[RateLimit::per_user(200)]"),
        "the error points at the attribute:\n{out}"
    );
    // `cargo cell build` locks the new limit, and the plain build is fine again.
    app.cargo_cell(&["build"]).assert_success();
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/ratelimit.lock.json")).expect("the lock");
    assert_eq!(
        lock["limits"]["ratelimit_app::search/per_user"]["limit"], 200,
        "{lock}"
    );
    app.cargo(&["build"]).assert_success();
}
