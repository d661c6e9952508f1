//! Phase 1 records every Cell attribute of every workspace crate and target, and stays
//! exact across incremental builds. No Docker needed: `cargo cell manifest` records only.

use cell_e2e::App;

fn tables(app: &App, args: &[&str]) -> Vec<String> {
    let mut full = vec!["manifest"];
    full.extend_from_slice(args);
    let run = app.cargo_cell(&full);
    run.assert_success();
    let manifest: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    manifest["postgres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn records_every_crate_and_target_and_stays_exact() {
    let app = App::copy_fixture("multi");
    let all = [
        "accounts",         // model: lib
        "deep_things",      // model: nested module
        "example_rows",     // app: example
        "orders",           // app: main binary
        "test_fixtures",    // app: integration test
        "tool_runs",        // app: second binary
        "unit_test_onlies", // model: #[cfg(test)] module, seen by the lib's test target
    ];
    assert_eq!(tables(&app, &[]), all);

    // An enabled cfg is recorded; switching it off again forgets it.
    let with_extra = tables(&app, &["--features", "model/extra"]);
    assert!(with_extra.contains(&"extras".to_string()), "{with_extra:?}");
    assert_eq!(tables(&app, &[]), all);

    // A removed attribute disappears; the untouched crate keeps its items.
    app.edit("app/src/bin/tool.rs", "#[Postgres::table]\n", "");
    app.edit("app/src/bin/tool.rs", "    #[Postgres::primary_key]\n", "");
    app.edit(
        "app/src/bin/tool.rs",
        "let _ = ToolRun::TABLE;",
        "let _ = ToolRun { id: 1 }.id;",
    );
    let after = tables(&app, &[]);
    assert!(!after.contains(&"tool_runs".to_string()), "{after:?}");
    assert!(
        after.contains(&"accounts".to_string()) && after.contains(&"deep_things".to_string()),
        "{after:?}"
    );

    // A target that loses its last attribute (rebuilt, nothing recorded) drops out too.
    app.write("app/tests/it.rs", "#[test]\nfn nothing() {}\n");
    let after = tables(&app, &[]);
    assert!(!after.contains(&"test_fixtures".to_string()), "{after:?}");
    assert_eq!(after.len(), all.len() - 2, "{after:?}");
}

#[test]
fn a_compile_error_stops_recording_with_the_compiler_message() {
    let app = App::copy_fixture("multi");
    app.edit(
        "app/src/main.rs",
        "pub total: i64,",
        "pub total: i64,\n    #[Postgres::indx] pub x: i64,",
    );
    let run = app.cargo_cell(&["manifest"]);
    run.assert_failure();
    assert!(
        run.stderr.contains("unknown attribute `Postgres::indx`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cannot be recorded"), "{}", run.stderr);
}
