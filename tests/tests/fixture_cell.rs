//! The fixture Cell (`tests/fixture-cell`, written from docs/writing-a-cell.md alone) end to
//! end, outside the registry: `cargo-cell-fixture` (cargo-cell with the built-in Cells plus
//! the Kv Cell) builds `tests/fixtures/kv-app`, plans, locks and shows the Cell in status.
//! The live server is looked at with `redis-cli` inside the Cell's container.

use std::path::Path;
use std::process::Command;

use cell_e2e::{App, Run, docker_available, redis_test_image};
use serde_json::{Value, json};

/// The binary of this package that runs cargo-cell with the fixture Cell.
const BIN: &str = env!("CARGO_BIN_EXE_cargo-cell-fixture");

/// `cargo-cell-fixture cell <args>`, its server from the local Redis image.
fn kv_cell(app: &App, args: &[&str]) -> Run {
    let image = std::env::var("CELL_KV_IMAGE").unwrap_or_else(|_| redis_test_image());
    app.bin_cell_with(Path::new(BIN), args, &[("CELL_KV_IMAGE", &image)])
}

/// `GET key` with `redis-cli` inside this test's Kv container.
fn live_value(app: &App, key: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", &app.cell_container("kv"), "redis-cli", "GET", key])
        .output()
        .expect("docker exec redis-cli");
    assert!(
        out.status.success(),
        "redis-cli GET {key}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn locked_keys(app: &App) -> Value {
    let lock: Value = serde_json::from_str(&app.read(".cell/kv.lock.json")).expect("kv lock");
    assert_eq!(lock["version"], 1, "{lock}");
    lock["keys"].clone()
}

#[test]
fn a_cell_outside_the_registry_builds_plans_locks_and_shows_in_status() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("kv-app");

    // Build: the key is recorded, set in the live server, and locked.
    let build = kv_cell(&app, &["build"]);
    build.assert_success();
    let out = build.output();
    assert!(out.contains("record: recorded 1 Kv key"), "{out}");
    assert!(out.contains("  + key greeting = \"hello\""), "{out}");
    assert_eq!(locked_keys(&app), json!({"greeting": "hello"}));
    assert_eq!(live_value(&app, "greeting"), "hello");

    // As built: nothing to plan.
    let plan = kv_cell(&app, &["plan"]);
    plan.assert_success();
    assert!(
        plan.stdout
            .contains("kv: No changes. The keys match the code."),
        "{}",
        plan.output()
    );

    // The value changes in the code: the plan shows it, as text and as JSON.
    app.edit("src/lib.rs", "value = \"hello\"", "value = \"hi\"");
    let plan = kv_cell(&app, &["plan"]);
    plan.assert_success();
    assert!(
        plan.stdout
            .contains("kv: 1 change\n  ~ key greeting: \"hello\" -> \"hi\"\n"),
        "{}",
        plan.output()
    );
    let json = kv_cell(&app, &["plan", "--format", "json"]);
    json.assert_success();
    let doc: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(doc["changes"], true, "{doc}");
    assert_eq!(
        doc["cells"]["kv"],
        json!({
            "summary": {"add": 0, "change": 1, "destroy": 0},
            "changes": [{
                "action": "update",
                "key": "greeting",
                "from": "hello",
                "to": "hi",
                "description": "key greeting: \"hello\" -> \"hi\""
            }]
        })
    );
    // Planning changed nothing.
    assert_eq!(live_value(&app, "greeting"), "hello");
    assert_eq!(locked_keys(&app), json!({"greeting": "hello"}));

    // Build again: the new value is live and locked; code and lock agree offline.
    kv_cell(&app, &["build"]).assert_success();
    assert_eq!(live_value(&app, "greeting"), "hi");
    assert_eq!(locked_keys(&app), json!({"greeting": "hi"}));
    let check = kv_cell(&app, &["check"]);
    check.assert_success();
    assert!(
        check.stdout.contains("kv: code and lock agree (1 key)"),
        "{}",
        check.output()
    );

    // Status lists the Kv Cell, running, with its lock.
    let status = kv_cell(&app, &["status"]);
    status.assert_success();
    let line = status
        .stdout
        .lines()
        .find(|l| l.starts_with("kv "))
        .unwrap_or_else(|| panic!("no kv line:\n{}", status.output()));
    assert!(line.contains("running"), "{line}");
    assert!(line.contains("locked (1 key)"), "{line}");
    let status = kv_cell(&app, &["status", "--format", "json"]);
    status.assert_success();
    let doc: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    let kv = doc["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["cell"] == "kv")
        .unwrap_or_else(|| panic!("no kv Cell in {doc}"));
    assert_eq!(kv["state"], "running", "{kv}");
    assert_eq!(kv["env"], "CELL_KV_URL", "{kv}");
    assert_eq!(
        kv["lock"],
        json!({"state": "present", "count": 1, "unit": "keys"})
    );
    assert_eq!(kv["container"], app.cell_container("kv").as_str(), "{kv}");
}
