//! Checked queries against a real Postgres: `cargo cell build` of the queries fixture
//! prepares every `query!` / `query_as!` on the dev Cell and locks what Postgres said; the
//! fixture's functions state the Rust types they expect (so wrong nullability would not
//! compile), and its binary prints what each returns. Then: a view's columns, a misspelled
//! column refused at the literal with Postgres's message, and a build with no Docker at all.

use cell_e2e::{App, docker_available, line_of};

const VIEW_QUERY: &str = r#"/// A view's columns are as nullable as the view's own query makes them.
pub async fn active(db: &impl Executor) -> Result<Vec<(i64, Option<String>, String)>, Error> {
    let rows = cell_runtime::query!("SELECT v.id, v.name, v.slug FROM active_customers v ORDER BY v.id")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name, r.slug)).collect())
}"#;

#[test]
fn checked_queries_are_typed_by_postgres_and_build_offline() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("queries");
    let build = app.cargo_cell(&["build"]);
    build.assert_success();
    let out = build.output();
    assert!(out.contains("postgres: described 9 queries"), "{out}");

    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/postgres.queries.lock.json")).expect("lock");
    let lib = app.read("src/lib.rs");
    let join = lock["queries"]
        .as_object()
        .unwrap()
        .values()
        .find(|q| {
            q["sql"]
                .as_str()
                .unwrap()
                .contains("count(c.id) AS customers")
        })
        .expect("the join is locked");
    assert_eq!(
        join["sites"][0].as_str().unwrap(),
        format!(
            "src/lib.rs:{}",
            line_of(&lib, "count(c.id) AS customers") - 1
        ),
        "{join}"
    );
    assert_eq!(join["ok"]["params"][0]["name"], "timestamptz", "{join}");
    assert_eq!(join["ok"]["columns"][1]["type"]["name"], "int8", "{join}");

    app.psql(
        "INSERT INTO organizations (id, slug) VALUES (1, 'acme'), (2, 'beta'), (3, 'zeta');
         INSERT INTO customers (id, org_id, name) VALUES (1, 1, 'Ann'), (2, 1, NULL), (3, 2, 'Cat');
         INSERT INTO orders (id, customer_id, total) VALUES (1, 1, 10), (2, 1, 30), (3, 3, 5);",
    );
    let run = app.run_binary("queries-app");
    run.assert_success();
    let got = run.output();
    for line in [
        r#"customers_per_org [("acme", 2), ("beta", 1), ("zeta", 0)]"#,
        r#"orgs_and_customers [("acme", Some(1), Some("Ann")), ("acme", Some(2), None), ("beta", Some(3), Some("Cat")), ("zeta", None, None)]"#,
        "full_join [(Some(1), Some(1)), (Some(1), Some(2)), (Some(2), None), (Some(3), Some(3))]",
        "totals_1 Totals { orders: 2, sum: Some(40), largest: Some(30), total_or_zero: 40 }",
        "totals_3 Totals { orders: 1, sum: Some(5), largest: Some(5), total_or_zero: 5 }",
        "busiest [(1, 2, Some(30)), (3, 1, Some(5))]",
        r#"overrides (3, Some("acme"))"#,
        r#"names_in_org [Some("Ann"), None]"#,
        "largest_order Some(30)",
        "rename 1",
        "rename_in_tx 1",
    ] {
        assert!(got.contains(line), "missing `{line}` in:\n{got}");
    }
    // Written through the checked UPDATEs, read back by an independent client.
    assert_eq!(
        app.psql("SELECT string_agg(coalesce(name, '-'), ',' ORDER BY id) FROM customers")
            .trim(),
        "Ann,Bea,Cy"
    );

    // A view, created outside cargo-cell, then queried: described through its definition.
    // The program connects as the application's role, which holds privileges on the declared
    // tables only: an object made by hand is granted by hand, and the build keeps that grant.
    app.psql(
        "CREATE VIEW active_customers AS
         SELECT c.id, c.name, o.slug FROM customers c JOIN organizations o ON o.id = c.org_id",
    );
    app.psql("GRANT SELECT ON active_customers TO cell_app");
    app.edit("src/lib.rs", "// VIEW QUERY", VIEW_QUERY);
    app.edit(
        "src/main.rs",
        "// VIEW CALL",
        r#"println!("active {:?}", active(&db).await?);"#,
    );
    app.cargo_cell(&["build"]).assert_success();
    let got = app.run_binary("queries-app").output();
    assert!(
        got.contains(r#"active [(1, Some("Ann"), "acme"), (2, Some("Bea"), "acme"), (3, Some("Cy"), "beta")]"#),
        "{got}"
    );

    // A misspelled column: Postgres's message, at the literal, with its position.
    app.edit("src/lib.rs", "SELECT o.slug, count", "SELECT o.slgu, count");
    let failed = app.cargo_cell(&["build"]);
    failed.assert_failure();
    let err = failed.output();
    assert!(
        err.contains("Postgres refuses this query: column o.slgu does not exist"),
        "{err}"
    );
    assert!(err.contains("at character 8 of the statement"), "{err}");
    let literal_line = line_of(&app.read("src/lib.rs"), "SELECT o.slgu, count");
    assert!(
        err.contains(&format!("src/lib.rs:{literal_line}:")),
        "the error points at the literal (line {literal_line}): {err}"
    );
    app.edit("src/lib.rs", "SELECT o.slgu, count", "SELECT o.slug, count");
    app.cargo_cell(&["build"]).assert_success();

    // Dropping a column a query reads (in its WHERE): the plan names the query and where
    // it is written, and the build refuses before anything is applied.
    app.edit(
        "src/lib.rs",
        "    #[Postgres::default(\"NOW()\")]\n    pub created_at: DateTime<Utc>,\n",
        "",
    );
    let lib = app.read("src/lib.rs");
    let site = format!(
        "query! at src/lib.rs:{}",
        line_of(&lib, "count(c.id) AS customers") - 1
    );
    let plan = app.cargo_cell(&["plan"]).output();
    assert!(
        plan.contains(&format!(
            "dropping column `organizations.created_at` breaks the query {site}"
        )),
        "{plan}"
    );
    let refused = app.cargo_cell(&["build", "--allow-destructive"]);
    refused.assert_failure();
    assert!(
        refused.output().contains("breaks the query"),
        "{}",
        refused.output()
    );
    assert!(
        app.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'organizations' AND column_name = 'created_at'").trim() == "1",
        "nothing was applied"
    );
    // Once the query no longer reads it, the drop goes through.
    app.edit("src/lib.rs", "WHERE o.created_at > $1", "WHERE now() > $1");
    let plan = app.cargo_cell(&["plan"]).output();
    assert!(!plan.contains("breaks the query"), "{plan}");
    app.cargo_cell(&["build", "--allow-destructive"])
        .assert_success();

    // No Cell running and no Docker: the crate still compiles, from the lock alone.
    app.cargo_cell(&["down"]).assert_success();
    app.cargo(&["clean", "-p", "queries-app"]).assert_success();
    let offline = app.cargo_with(&["build"], &[("DOCKER_HOST", "tcp://127.0.0.1:9")]);
    offline.assert_success();

    // `cargo cell check`, as CI runs it: offline, the code's queries against the locks.
    let no_docker = [("DOCKER_HOST", "tcp://127.0.0.1:9")];
    let check = app.cargo_cell_with(&["check"], &no_docker);
    check.assert_success();
    assert!(
        check.output().contains("(3 tables, 10 queries)"),
        "{}",
        check.output()
    );
    app.edit("src/lib.rs", "ORDER BY c.id\")]", "ORDER BY c.id DESC\")]");
    let check = app.cargo_cell_with(&["check"], &no_docker);
    check.assert_failure();
    let line = line_of(&app.read("src/lib.rs"), "ORDER BY c.id DESC\")]");
    assert!(
        check.output().contains(&format!(
            "#[Postgres::query] fn names_in_org at src/lib.rs:{line} is not in"
        )),
        "{}",
        check.output()
    );
}
