//! The schema engine's acceptance against a real Postgres Cell: each scenario starts from a
//! populated table, changes the struct, and checks what `cargo cell plan/apply` do, through
//! psql (a client that is not ours). After every applied change a second plan must say
//! "No changes" with exit 0 under `--detailed-exitcode` (idempotence).
//!
//! These use `plan`/`apply`, which record with `cargo check` and never build the binary:
//! the schema is what is tested.

use cell_e2e::{App, Run, docker_available};

const LIB: &str = "src/lib.rs";

/// The fixture's `items` table with these fields after `id`.
fn items(fields: &str) -> String {
    format!(
        "use cell_runtime::prelude::*;\n\n\
         #[Postgres::table(name = \"items\")]\n\
         pub struct Item {{\n    #[Postgres::primary_key]\n    pub id: i64,\n{fields}\n}}\n"
    )
}

fn apply(app: &App, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "--yes"];
    args.extend_from_slice(extra);
    app.cargo_cell(&args)
}

#[track_caller]
fn assert_no_changes(app: &App) {
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "a second plan must be empty:\n{}",
        plan.output()
    );
    assert!(plan.stdout.contains("No changes"), "{}", plan.output());
}

/// Text with miette's wrapping undone: its gutter gone, whitespace runs made one space.
fn flat(text: &str) -> String {
    text.replace(['│', '×'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[track_caller]
fn assert_refused(run: &Run, needles: &[&str]) {
    run.assert_failure();
    let out = run.output();
    for n in needles {
        assert!(flat(&out).contains(&flat(n)), "expected `{n}` in:\n{out}");
    }
}

fn columns(app: &App) -> String {
    app.psql(
        "SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ', ' ORDER BY column_name) \
         FROM information_schema.columns WHERE table_name = 'items'",
    )
}

#[test]
fn column_changes_on_a_populated_table() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    let base = "    pub name: String,\n    pub qty: i32,";
    app.write(LIB, &items(base));
    apply(&app, &[]).assert_success();
    app.psql("INSERT INTO items (id, name, qty) VALUES (1, 'a', 1), (2, 'b', 2), (3, 'b', 3)");
    assert_no_changes(&app);
    // The lock holds the live shape, primary key included.
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/postgres.lock.json")).unwrap();
    assert_eq!(
        lock["tables"]["items"]["primary_key"],
        serde_json::json!(["id"]),
        "{lock:#}"
    );

    // `cargo cell check` needs no database and agrees with the lock just written.
    let check = app.cargo_cell(&["check"]);
    check.assert_success();
    assert!(
        check.stdout.contains("code and lock agree"),
        "{}",
        check.output()
    );

    // Add a nullable column.
    let with_note = format!("{base}\n    pub note: Option<String>,");
    app.write(LIB, &items(&with_note));
    let check = app.cargo_cell(&["check"]);
    assert_refused(&check, &["items.note", "cargo cell build"]);
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.output());
    assert!(
        plan.stdout.contains("+ column items.note text NULL"),
        "{}",
        plan.output()
    );
    apply(&app, &[]).assert_success();
    assert_eq!(
        columns(&app),
        "id bigint NO, name text NO, note text YES, qty integer NO"
    );
    assert_no_changes(&app);

    // Add NOT NULL with a default: existing rows get it.
    let with_stock = format!("{with_note}\n    #[Postgres::default(\"7\")]\n    pub stock: i32,");
    app.write(LIB, &items(&with_stock));
    apply(&app, &[]).assert_success();
    assert_eq!(
        app.psql("SELECT string_agg(stock::text, ',') FROM items"),
        "7,7,7"
    );
    assert_no_changes(&app);

    // Add NOT NULL without a default, on rows: refused, with help to add a default.
    app.write(
        LIB,
        &items(&format!("{with_stock}\n    pub color: String,")),
    );
    let refused = apply(&app, &[]);
    assert_refused(
        &refused,
        &[
            "items.color",
            "3 rows exist",
            "#[Postgres::default(\"...\")]",
        ],
    );
    assert!(!columns(&app).contains("color"));

    // Drop a column: refused, data intact; then allowed, and gone.
    app.write(
        LIB,
        &items(&format!(
            "{base}\n    #[Postgres::default(\"7\")]\n    pub stock: i32,"
        )),
    );
    app.psql("UPDATE items SET note = 'keep' WHERE id = 1");
    let refused = apply(&app, &[]);
    assert_refused(
        &refused,
        &[
            "- column items.note",
            "1 row holds a value",
            "--allow-destructive",
        ],
    );
    assert_eq!(app.psql("SELECT note FROM items WHERE id = 1"), "keep");
    apply(&app, &["--allow-destructive"]).assert_success();
    assert!(!columns(&app).contains("note"));
    assert_no_changes(&app);
    let history = app.psql("SELECT count(*) FROM cargo_cell.history");
    assert!(
        history.parse::<i32>().unwrap() >= 4,
        "every apply is recorded: {history}"
    );

    // Widen i32 → i64: applied, values kept.
    let stock = "\n    #[Postgres::default(\"7\")]\n    pub stock: i32,";
    app.write(
        LIB,
        &items(&format!("    pub name: String,\n    pub qty: i64,{stock}")),
    );
    apply(&app, &[]).assert_success();
    assert!(columns(&app).contains("qty bigint NO"), "{}", columns(&app));
    assert_eq!(app.psql("SELECT sum(qty) FROM items"), "6");
    assert_no_changes(&app);

    // Narrow i64 → i32: refused.
    app.write(
        LIB,
        &items(&format!("    pub name: String,\n    pub qty: i32,{stock}")),
    );
    let refused = apply(&app, &[]);
    assert_refused(
        &refused,
        &["items.qty type bigint → integer", "destructive"],
    );
    assert!(columns(&app).contains("qty bigint NO"));
    let back = format!("    pub name: String,\n    pub qty: i64,{stock}");

    // SET NOT NULL over NULLs: refused, with the count.
    app.write(
        LIB,
        &items(&format!("{back}\n    pub nick: Option<String>,")),
    );
    apply(&app, &[]).assert_success();
    app.psql("UPDATE items SET nick = 'x' WHERE id = 1");
    app.write(LIB, &items(&format!("{back}\n    pub nick: String,")));
    let refused = apply(&app, &["--allow-destructive"]);
    assert_refused(
        &refused,
        &["items.nick NULL → NOT NULL", "2 rows hold NULL", "UPDATE"],
    );
    let plan = app.cargo_cell(&["plan"]);
    assert!(
        plan.stdout.contains("2 rows hold NULL"),
        "the plan shows the count:\n{}",
        plan.output()
    );

    // A unique index over duplicates: refused, with the count.
    let unique = format!(
        "    #[Postgres::index(unique)]\n    pub name: String,\n    pub qty: i64,{stock}\n    pub nick: Option<String>,"
    );
    app.write(LIB, &items(&unique));
    let refused = apply(&app, &[]);
    assert_refused(
        &refused,
        &[
            "unique index items_name_key",
            "2 rows hold duplicate values",
        ],
    );
    let plan = app.cargo_cell(&["plan", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(json["format_version"], 1);
    let change = &json["cells"]["postgres"]["changes"][0];
    assert_eq!(change["rows"], 2, "{json:#}");
    assert_eq!(change["safety"], "data_dependent");
    app.psql("UPDATE items SET name = 'c' WHERE id = 3");
    apply(&app, &[]).assert_success();
    assert_no_changes(&app);

    // Drift: a column added by hand is reported apart from the code's changes.
    app.psql("ALTER TABLE items ADD COLUMN by_hand text");
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.output());
    assert!(plan.stdout.contains("drift"), "{}", plan.output());
    assert!(
        plan.stdout.contains("+ column items.by_hand text NULL"),
        "{}",
        plan.output()
    );
    let check = app.cargo_cell(&["plan", "--check"]);
    assert_refused(&check, &["drift"]);
    apply(&app, &["--allow-destructive"]).assert_success();
    assert_no_changes(&app);
}

#[test]
fn foreign_keys_and_online_steps() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    let orgs = "#[Postgres::table(name = \"orgs\")]\npub struct Org {\n    #[Postgres::primary_key]\n    pub id: i64,\n}\n";
    let with_fk = |on_delete: &str| {
        format!(
            "{}\n{orgs}",
            items(&format!(
                "    pub name: String,\n    pub qty: i32,\n    #[Postgres::foreign_key(ref = \"orgs.id\", on_delete = \"{on_delete}\")]\n    pub org_id: i64,"
            ))
        )
    };
    // A key to a table nobody declares: a plan error that names it.
    app.write(
        LIB,
        &items("    pub name: String,\n    pub qty: i32,\n    #[Postgres::foreign_key(ref = \"nowhere.id\")]\n    pub org_id: i64,"),
    );
    let refused = app.cargo_cell(&["plan"]);
    assert_refused(&refused, &["nowhere.id", "#[Postgres::table]"]);

    app.write(LIB, &with_fk("cascade"));
    apply(&app, &[]).assert_success();
    app.psql("INSERT INTO orgs VALUES (1); INSERT INTO items VALUES (1, 'a', 1, 1)");
    let fk =
        || app.psql("SELECT confdeltype FROM pg_constraint WHERE conname = 'items_org_id_fkey'");
    assert_eq!(fk(), "c");
    assert_no_changes(&app);

    // on_delete changes: the key is replaced, in one transaction.
    app.write(LIB, &with_fk("restrict"));
    let plan = app.cargo_cell(&["plan"]);
    assert!(
        plan.stdout.contains("-/+ foreign key items_org_id_fkey"),
        "{}",
        plan.output()
    );
    apply(&app, &[]).assert_success();
    assert_eq!(fk(), "r");
    assert_no_changes(&app);

    // On large tables (here: any table, by the threshold) indexes are built concurrently
    // and keys validated after the transaction, both journalled.
    let online = [("CELL_ONLINE_ROWS", "0")];
    let indexed = with_fk("cascade").replace(
        "    pub name: String,",
        "    #[Postgres::index]\n    pub name: String,",
    );
    app.write(LIB, &indexed);
    let plan = app.cargo_cell_with(&["plan", "--sql"], &online);
    assert!(
        plan.stdout.contains("CREATE INDEX CONCURRENTLY"),
        "{}",
        plan.output()
    );
    assert!(plan.stdout.contains("NOT VALID"), "{}", plan.output());
    app.cargo_cell_with(&["apply", "--yes"], &online)
        .assert_success();
    assert_eq!(
        app.psql("SELECT string_agg(state, ',' ORDER BY step) FROM cargo_cell.journal"),
        "done,done"
    );
    assert_eq!(fk(), "c");
    assert_eq!(
        app.psql("SELECT convalidated FROM pg_constraint WHERE conname = 'items_org_id_fkey'"),
        "t"
    );
    assert_no_changes(&app);

    // An interrupted concurrent build leaves an invalid index: the next plan rebuilds it.
    app.psql("INSERT INTO items VALUES (2, 'a', 1, 1)");
    let failed = std::process::Command::new("docker")
        .args([
            "exec",
            &app.container(),
            "psql",
            "-U",
            "cell",
            "-d",
            "cell",
            "-c",
        ])
        .arg("CREATE UNIQUE INDEX CONCURRENTLY items_name_key ON items (name)")
        .output()
        .unwrap();
    assert!(!failed.status.success(), "duplicates make the build fail");
    app.psql("UPDATE items SET name = 'b' WHERE id = 2");
    let unique = indexed.replace("#[Postgres::index]", "#[Postgres::index(unique)]");
    app.write(LIB, &unique);
    let plan = app.cargo_cell(&["plan"]);
    assert!(
        plan.stdout.contains("-/+ unique index items_name_key"),
        "{}",
        plan.output()
    );
    apply(&app, &[]).assert_success();
    assert_eq!(
        app.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_name_key'::regclass"),
        "t"
    );
    assert_no_changes(&app);
}

/// Two applies at once serialise on the advisory lock; a killed apply changes nothing.
#[test]
fn concurrent_applies_serialise_and_a_killed_apply_changes_nothing() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    app.write(LIB, &items("    pub name: String,"));
    apply(&app, &[]).assert_success();
    app.psql("INSERT INTO items VALUES (1, 'a')");

    // Both start together; each step of the winner pauses, so the other must wait.
    app.write(
        LIB,
        &items("    pub name: String,\n    pub a: Option<i32>,\n    pub b: Option<i32>,"),
    );
    let slow = [("CELL_TEST_STEP_DELAY_MS", "1500")];
    let first = app.spawn_cargo_cell(&["apply", "--yes"], &slow);
    let second = app.spawn_cargo_cell(&["apply", "--yes"], &slow);
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "both applies finish without error:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        app.psql("SELECT count(*) FROM cargo_cell.history WHERE summary = '2 to add, 0 to change, 0 to destroy'"),
        "1",
        "the second apply found nothing left to do"
    );
    assert_no_changes(&app);

    // Killed in the middle of its transaction: nothing changed; a rerun applies it all.
    app.write(
        LIB,
        &items("    pub name: String,\n    pub a: Option<i32>,\n    pub b: Option<i32>,\n    pub c: Option<i32>,\n    pub d: Option<i32>,"),
    );
    let mut child =
        app.spawn_cargo_cell(&["apply", "--yes"], &[("CELL_TEST_STEP_DELAY_MS", "60000")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while app.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")
        != "1"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow apply never got to its first step"
        );
        assert!(child.try_wait().unwrap().is_none(), "the apply ended early");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The server notices the closed connection and rolls back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")
        != "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed apply's session lingers"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        columns(&app),
        "a integer YES, b integer YES, id bigint NO, name text NO"
    );
    apply(&app, &[]).assert_success();
    assert_eq!(
        columns(&app),
        "a integer YES, b integer YES, c integer YES, d integer YES, id bigint NO, name text NO"
    );
    assert_no_changes(&app);
}

/// Deployment: another environment's database, reached by URL, without Docker Cells and
/// without building; a saved plan is refused once the database moved on.
#[test]
fn apply_to_another_environment() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    let (prod, url) = app.start_other_postgres("produser", "prodsecret");
    let env = [("CELL_POSTGRES_URL", url.as_str())];
    app.write(LIB, &items("    pub name: String,"));

    // Without the variable: an error that names it.
    let missing = app.cargo_cell(&["apply", "--env", "prod", "--yes"]);
    assert_refused(&missing, &["CELL_POSTGRES_URL"]);
    // Without --yes and no terminal: refused before any change.
    let unconfirmed = app.cargo_cell_with(&["apply", "--env", "prod"], &env);
    assert_refused(&unconfirmed, &["--yes"]);

    app.cargo_cell_with(&["apply", "--env", "prod", "--yes"], &env)
        .assert_success();
    assert_eq!(
        app.psql_in(
            &prod,
            "produser",
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items'"
        ),
        "2"
    );
    assert_eq!(
        app.containers(),
        vec![prod.clone()],
        "no Docker Cell was started"
    );
    assert!(
        !app.path().join(".cell/postgres.lock.json").exists(),
        "prod never writes the lock"
    );
    let again = app.cargo_cell_with(&["plan", "--env", "prod", "--detailed-exitcode"], &env);
    assert_eq!(again.status.code(), Some(0), "{}", again.output());

    // A saved plan applies exactly, unless the database changed since.
    app.write(
        LIB,
        &items("    pub name: String,\n    pub qty: Option<i32>,"),
    );
    app.cargo_cell_with(&["plan", "--env", "prod", "--out", "plan.json"], &env)
        .assert_success();
    app.psql_in(&prod, "produser", "CREATE INDEX by_hand ON items (name)");
    let stale = app.cargo_cell_with(&["apply", "plan.json", "--env", "prod", "--yes"], &env);
    assert_refused(&stale, &["another state of the database"]);
    app.psql_in(&prod, "produser", "DROP INDEX by_hand");
    app.cargo_cell_with(&["apply", "plan.json", "--env", "prod", "--yes"], &env)
        .assert_success();
    // The manifest artifact of a build applies the same way.
    app.cargo_cell(&["manifest"]).assert_success();
    let manifest = app.path().join("manifest.json");
    let recorded = app.cargo_cell(&["manifest"]);
    std::fs::write(&manifest, &recorded.stdout).unwrap();
    let with_manifest = app.cargo_cell_with(
        &[
            "plan",
            "--env",
            "prod",
            "--manifest",
            manifest.to_str().unwrap(),
            "--detailed-exitcode",
        ],
        &env,
    );
    assert_eq!(
        with_manifest.status.code(),
        Some(0),
        "{}",
        with_manifest.output()
    );
}

/// Table-level declarations: renames keep the data, composite and descending indexes,
/// checks (refused over violating rows, with the count).
#[test]
fn renames_composite_indexes_and_checks() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    app.write(LIB, &items("    pub name: String,\n    pub qty: i32,"));
    apply(&app, &[]).assert_success();
    app.psql("INSERT INTO items VALUES (1, 'a', 1), (2, 'b', -2)");

    // Rename the table and a column: the rows stay.
    app.write(
        LIB,
        "use cell_runtime::prelude::*;\n\n\
         #[Postgres::table(name = \"products\")]\n\
         #[Postgres::renamed_from(\"items\")]\n\
         pub struct Product {\n    #[Postgres::primary_key]\n    pub id: i64,\n    \
         #[Postgres::renamed_from(\"name\")]\n    pub title: String,\n    pub qty: i32,\n}\n",
    );
    let plan = app.cargo_cell(&["plan"]);
    let out = plan.output();
    assert!(out.contains("~ table items → products (renamed)"), "{out}");
    assert!(
        out.contains("~ column products.name → title (renamed)"),
        "{out}"
    );
    assert!(
        !out.contains("destructive"),
        "a rename loses nothing:\n{out}"
    );
    apply(&app, &[]).assert_success();
    assert_eq!(
        app.psql("SELECT string_agg(id || ':' || title, ',' ORDER BY id) FROM products"),
        "1:a,2:b"
    );
    assert_no_changes(&app);

    // A composite unique index, a descending one, and a check over violating rows.
    let declared = |check: &str| {
        format!(
            "use cell_runtime::prelude::*;\n\n\
             #[Postgres::table(name = \"products\", indexes = [(\"title\", \"qty\", unique = true), (\"qty\", descending = true)])]\n\
             #[Postgres::renamed_from(\"items\")]\n\
             #[Postgres::check(\"{check}\")]\n\
             pub struct Product {{\n    #[Postgres::primary_key]\n    pub id: i64,\n    \
             #[Postgres::renamed_from(\"name\")]\n    pub title: String,\n    pub qty: i32,\n}}\n"
        )
    };
    app.write(LIB, &declared("qty >= 0"));
    let refused = apply(&app, &[]);
    assert_refused(&refused, &["check", "qty >= 0", "1 row violates the check"]);
    app.psql("UPDATE products SET qty = 2 WHERE id = 2");
    apply(&app, &[]).assert_success();
    let indexes = app.psql(
        "SELECT string_agg(indexdef, E'\\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'products' AND indexname <> 'items_pkey'",
    );
    assert!(
        indexes.contains(
            "UNIQUE INDEX products_title_qty_key ON public.products USING btree (title, qty)"
        ),
        "{indexes}"
    );
    assert!(indexes.contains("(qty DESC)"), "{indexes}");
    assert_eq!(
        app.psql("SELECT count(*) FROM pg_constraint WHERE conrelid = 'products'::regclass AND contype = 'c'"),
        "1"
    );
    assert_no_changes(&app);
    // An edited check is a new constraint: the old one goes, the new one comes.
    app.write(LIB, &declared("qty >= 1"));
    let plan = app.cargo_cell(&["plan"]);
    assert!(plan.stdout.contains("- check"), "{}", plan.output());
    assert!(plan.stdout.contains("+ check"), "{}", plan.output());
    apply(&app, &[]).assert_success();
    assert_no_changes(&app);
}

/// Rust enums as Postgres enums: created with the table, a variant added in place (rows
/// kept), a variant removed refused while rows hold it.
#[test]
fn enum_variants() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    let source = |variants: &str| {
        format!(
            "use cell_runtime::prelude::*;\n\n\
             #[derive(Postgres::Enum, Debug, Clone, Copy, PartialEq)]\n\
             pub enum Stage {{ {variants} }}\n\n{}",
            items("    pub stage: Stage,")
        )
    };
    app.write(LIB, &source("Draft, Shipped"));
    apply(&app, &[]).assert_success();
    assert_eq!(
        app.psql("SELECT enum_range(NULL::stage)::text"),
        "{draft,shipped}"
    );
    app.psql("INSERT INTO items VALUES (1, 'draft'), (2, 'shipped')");
    assert_no_changes(&app);

    app.write(LIB, &source("Draft, Review, Shipped, Lost"));
    let plan = app.cargo_cell(&["plan", "--sql"]);
    assert!(
        plan.stdout
            .contains("ALTER TYPE \"stage\" ADD VALUE 'review' BEFORE 'shipped'"),
        "{}",
        plan.output()
    );
    apply(&app, &[]).assert_success();
    assert_eq!(
        app.psql("SELECT enum_range(NULL::stage)::text"),
        "{draft,review,shipped,lost}"
    );
    assert_eq!(app.psql("SELECT count(*) FROM items"), "2");
    assert_no_changes(&app);
    let lock = app.read(".cell/postgres.lock.json");
    assert!(
        lock.contains("\"review\""),
        "the lock holds the labels:\n{lock}"
    );

    // Removing a label that rows hold: refused, with the count.
    app.write(LIB, &source("Draft, Review, Lost"));
    let refused = apply(&app, &["--allow-destructive"]);
    assert_refused(&refused, &["enum stage", "1 row holds a removed label"]);
    app.psql("UPDATE items SET stage = 'lost' WHERE id = 2");
    apply(&app, &[]).assert_success();
    assert_eq!(
        app.psql("SELECT enum_range(NULL::stage)::text"),
        "{draft,review,lost}"
    );
    assert_eq!(
        app.psql("SELECT string_agg(stage::text, ',' ORDER BY id) FROM items"),
        "draft,lost"
    );
    assert_no_changes(&app);
}
