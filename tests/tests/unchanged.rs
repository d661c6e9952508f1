//! The no-op fast path of `cargo cell build`: the record step is skipped only when no input
//! of any workspace unit changed, and up/plan/apply are skipped only when the Cell runs as
//! the last converge left it. Each step below says why the fast path must or must not be
//! taken, and checks the result is still exact.

use cell_e2e::{App, docker_available};

const SKIPPED: &str = "(no input changed)";

/// `cargo cell manifest`: (tables, whether the record step was skipped).
fn manifest(app: &App, env: &[(&str, &str)]) -> (Vec<String>, bool) {
    let run = app.cargo_cell_with(&["manifest"], env);
    run.assert_success();
    let manifest: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let tables = manifest["postgres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    (tables, run.stderr.contains(SKIPPED))
}

fn set_mtime_later(app: &App, rel: &str) {
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3);
    std::fs::File::options()
        .write(true)
        .open(app.path().join(rel))
        .unwrap()
        .set_modified(later)
        .unwrap();
}

#[test]
fn record_is_skipped_only_when_no_input_changed() {
    let app = App::copy_fixture("multi");
    let (all, skipped) = manifest(&app, &[]);
    assert!(!skipped, "nothing recorded yet");
    assert_eq!(all.len(), 7, "{all:?}");

    assert_eq!(
        manifest(&app, &[]),
        (all.clone(), true),
        "no change: skipped"
    );

    // Touched, same bytes: the same inputs.
    set_mtime_later(&app, "model/src/lib.rs");
    assert_eq!(
        manifest(&app, &[]),
        (all.clone(), true),
        "a touch is no change"
    );

    // A function body: recorded again, same tables.
    app.edit(
        "app/src/main.rs",
        "let _ = Order::TABLE;",
        "let _ = Order::COLUMNS;",
    );
    assert_eq!(
        manifest(&app, &[]),
        (all.clone(), false),
        "an edit is recorded"
    );
    assert_eq!(manifest(&app, &[]), (all.clone(), true));

    // An environment variable the code reads (`option_env!`): its change is an input.
    app.edit(
        "model/src/lib.rs",
        "pub mod nested;",
        "pub mod nested;\npub const FLAG: Option<&str> = option_env!(\"CELL_E2E_FLAG\");",
    );
    assert!(!manifest(&app, &[]).1);
    assert!(manifest(&app, &[]).1);
    assert!(!manifest(&app, &[("CELL_E2E_FLAG", "1")]).1, "env changed");
    assert!(manifest(&app, &[("CELL_E2E_FLAG", "1")]).1);

    // Features are an input.
    let (with_extra, skipped) = manifest(&app, &[]);
    assert!(!skipped, "env back to unset");
    assert_eq!(with_extra, all);
    let run = app.cargo_cell(&["manifest", "--features", "model/extra"]);
    run.assert_success();
    assert!(!run.stderr.contains(SKIPPED) && run.stdout.contains("\"extras\""));

    // A new target (a file no dep-info names yet) is seen through its folder.
    app.write(
        "app/tests/more.rs",
        "use cell_runtime::prelude::*;\n#[Postgres::table]\npub struct MoreRow {\n    #[Postgres::primary_key]\n    pub id: i64,\n}\n",
    );
    let (more, skipped) = manifest(&app, &[]);
    assert!(!skipped);
    assert!(more.contains(&"more_rows".to_string()), "{more:?}");
    std::fs::remove_file(app.path().join("app/tests/more.rs")).unwrap();
    assert_eq!(
        manifest(&app, &[]),
        (all.clone(), false),
        "a removed target"
    );

    // A record that fails half way (a new table compiled in `model`, then an error in
    // `app`) must not leave a stamp: after the revert, the new table is not there.
    let model = app.read("model/src/lib.rs");
    let main = app.read("app/src/main.rs");
    app.write(
        "model/src/lib.rs",
        &format!("{model}\n#[Postgres::table]\npub struct Ghost {{\n    #[Postgres::primary_key]\n    pub id: i64,\n}}\n"),
    );
    app.write(
        "app/src/main.rs",
        &format!("{main}\nfn broken() -> i32 {{ \"no\" }}\n"),
    );
    app.cargo_cell(&["manifest"]).assert_failure();
    app.write("model/src/lib.rs", &model);
    app.write("app/src/main.rs", &main);
    let (after, _) = manifest(&app, &[]);
    assert_eq!(after, all, "the failed run's table is gone");
    assert_eq!(manifest(&app, &[]), (all.clone(), true));

    // Fragments changed behind our back: the manifest no longer rebuilds to the recorded
    // one, so the record step runs instead of trusting them.
    let fragments = cell_e2e::apps_target_dir().join("cell/record/fragments");
    // Each unit holds one folder per macro crate that recorded in it.
    let mut tampered = 0;
    for unit in std::fs::read_dir(&fragments).unwrap().flatten() {
        for source in std::fs::read_dir(unit.path()).unwrap().flatten() {
            let file = source.path().join("postgres.table.accounts.json");
            if let Ok(text) = std::fs::read_to_string(&file) {
                std::fs::write(&file, text.replace("\"Account\"", "\"Intruder\"")).unwrap();
                tampered += 1;
            }
        }
    }
    assert!(
        tampered > 0,
        "no recorded `accounts` table under {}",
        fragments.display()
    );
    let run = app.cargo_cell(&["manifest"]);
    assert!(!run.stderr.contains(SKIPPED), "{}", run.stderr);
}

/// The Cell side: one `inspect` instead of a login when the container runs since the last
/// converge; the long way after a restart, a schema change or a lost lock.
#[test]
fn cells_are_skipped_only_while_untouched_since_the_last_converge() {
    if !docker_available() {
        return;
    }
    const FAST: &str = "as the last build left it";
    const UP: &str = "postgres: ready on";
    let app = App::copy_example("users");
    let first = app.cargo_cell(&["build"]);
    first.assert_success();
    assert!(first.output().contains(UP), "{}", first.output());

    let noop = app.cargo_cell(&["build"]);
    noop.assert_success();
    let out = noop.output();
    assert!(
        out.contains(FAST) && out.contains(SKIPPED) && !out.contains(UP),
        "{out}"
    );

    // A function body changed: recorded again, but nothing to converge.
    app.edit("src/main.rs", "round trip ok", "round trip fine");
    let edit = app.cargo_cell(&["build"]);
    edit.assert_success();
    let out = edit.output();
    assert!(
        out.contains(FAST) && !out.contains(SKIPPED) && !out.contains(UP),
        "{out}"
    );
    assert!(app.run_binary("users").stdout.contains("round trip fine"));

    // A restarted container (its port may change): the long way, and the binary connects.
    let restart = std::process::Command::new("docker")
        .args(["restart", &app.container()])
        .output()
        .unwrap();
    assert!(restart.status.success());
    let after = app.cargo_cell(&["build"]);
    after.assert_success();
    let out = after.output();
    assert!(
        out.contains(UP) && out.contains("no changes") && !out.contains(FAST),
        "{out}"
    );
    app.run_binary("users").assert_success();

    // A schema change is planned and applied, with the Cell unchanged.
    app.edit(
        "src/main.rs",
        "    pub nickname: Option<String>,\n",
        "    pub nickname: Option<String>,\n    pub age: Option<i32>,\n",
    );
    app.edit(
        "src/main.rs",
        "        nickname: None,\n",
        "        nickname: None,\n        age: None,\n",
    );
    let change = app.cargo_cell(&["build"]);
    change.assert_success();
    assert!(
        change.output().contains("+ column users.age"),
        "{}",
        change.output()
    );
    assert_eq!(app.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'age'"), "1");
    assert!(app.cargo_cell(&["build"]).output().contains(FAST));

    // The lock deleted: written again, not skipped.
    let lock = app.read(".cell/postgres.lock.json");
    std::fs::remove_file(app.path().join(".cell/postgres.lock.json")).unwrap();
    let relock = app.cargo_cell(&["build"]);
    relock.assert_success();
    assert!(!relock.output().contains(FAST), "{}", relock.output());
    assert_eq!(app.read(".cell/postgres.lock.json"), lock);
}
