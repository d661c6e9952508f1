//! The application's role, against a real Postgres: the program connects as a login role
//! that is a member of `cell_app`, which holds exactly SELECT, INSERT, UPDATE and DELETE on
//! the declared tables. Every check goes through `psql` in the database's container (a
//! client that is not ours), as the application's role: what it may do works, and the
//! database itself refuses the rest.

use cell_e2e::{App, docker_available};

const APP_ROLE: &str = "cell_app";
const DEV_LOGIN: &str = "cell_app_dev";
const LIB: &str = "src/lib.rs";

/// Asserts the database refused `sql` for `role`, saying `because`.
#[track_caller]
fn assert_refused_as(app: &App, role: &str, sql: &str, because: &str) {
    match app.psql_as(role, sql) {
        Ok(rows) => panic!("`{sql}` as {role} should be refused, but returned `{rows}`"),
        Err(e) => assert!(
            e.contains(because),
            "`{sql}` as {role}: expected `{because}` in `{e}`"
        ),
    }
}

/// The privileges `cell_app` holds on `table`, as the catalogs say: `DELETE,INSERT,...`.
fn table_grants(app: &App, table: &str) -> String {
    app.psql(&format!(
        "SELECT coalesce(string_agg(privilege_type, ',' ORDER BY privilege_type), '') \
         FROM information_schema.role_table_grants WHERE grantee = '{APP_ROLE}' AND table_name = '{table}'"
    ))
}

/// The example app, built: its binary prints the role it connected as, then round-trips
/// rows. Checked as the application's role: its four privileges work, CREATE, DROP, ALTER
/// and TRUNCATE are refused by the database; the role owns nothing; `cargo cell run` gives
/// the program the same role; the owner's URL stays in the state for migrations.
#[test]
fn the_program_connects_as_the_app_role_which_may_only_read_and_write() {
    if !docker_available() {
        return;
    }
    let app = App::copy_example("users");
    app.edit(
        "src/main.rs",
        "    let db = &service.db;\n",
        "    let db = &service.db;\n    \
         let who = db.query(\"SELECT current_user::text, session_user::text\", &[]).await?;\n    \
         println!(\"connected as {}/{}\", who[0].get::<_, String>(0), who[0].get::<_, String>(1));\n",
    );
    app.cargo_cell(&["build"]).assert_success();

    // The state: the owner's URL for migrations, the application's beside it.
    let state: serde_json::Value =
        serde_json::from_str(&app.read(".cell/state/postgres.json")).unwrap();
    assert_eq!(state["user"], "cell", "{state}");
    assert!(app.state_url("postgres").starts_with("postgres://cell:"));
    assert_eq!(state["app_user"], DEV_LOGIN, "{state}");
    let password = state["app_password"].as_str().expect("an app password");
    assert!(password.len() >= 32, "a random password: {password}");
    let app_url = state["app_url"].as_str().expect("an app URL");
    assert!(
        app_url.starts_with(&format!("postgres://{DEV_LOGIN}:{password}@127.0.0.1:")),
        "{app_url}"
    );

    // The binary, through the runtime's dev state.
    let run = app.run_binary("users");
    run.assert_success();
    assert!(
        run.stdout
            .contains(&format!("connected as {DEV_LOGIN}/{DEV_LOGIN}")),
        "{}",
        run.output()
    );
    assert!(run.stdout.contains("round trip ok"), "{}", run.output());

    // `cargo cell run` exports the application's URL, not the owner's.
    let via_run = app.cargo_cell(&["run"]);
    via_run.assert_success();
    assert!(
        via_run
            .stdout
            .contains(&format!("connected as {DEV_LOGIN}/{DEV_LOGIN}")),
        "{}",
        via_run.output()
    );
    assert!(
        !via_run.output().contains(password),
        "the password is never printed:\n{}",
        via_run.output()
    );

    // `cargo cell test` too: a test of the program's crate connects as the application's role.
    let main = app.read("src/main.rs");
    app.write(
        "src/main.rs",
        &format!(
            "{main}\n#[cfg(test)]\nmod role {{\n    use super::*;\n\n    \
             #[tokio::test]\n    async fn connects_as_the_app_role() {{\n        \
             let db = PostgresConnection::connect().await.unwrap();\n        \
             let who = db.query(\"SELECT current_user::text\", &[]).await.unwrap();\n        \
             assert_eq!(who[0].get::<_, String>(0), \"{DEV_LOGIN}\");\n    }}\n}}\n"
        ),
    );
    let via_test = app.cargo_cell(&["test"]);
    via_test.assert_success();
    assert!(
        via_test
            .output()
            .contains("test role::connects_as_the_app_role ... ok"),
        "{}",
        via_test.output()
    );

    // The roles, as the catalogs say.
    assert_eq!(
        app.psql(&format!(
            "SELECT rolcanlogin || ',' || rolsuper || ',' || rolcreatedb || ',' || rolcreaterole FROM pg_roles WHERE rolname = '{APP_ROLE}'"
        )),
        "false,false,false,false"
    );
    assert_eq!(
        app.psql(&format!(
            "SELECT rolcanlogin || ',' || rolsuper || ',' || rolcreatedb || ',' || rolcreaterole || ',' || pg_has_role('{DEV_LOGIN}', '{APP_ROLE}', 'MEMBER') FROM pg_roles WHERE rolname = '{DEV_LOGIN}'"
        )),
        "true,false,false,false,true"
    );
    for table in ["users", "organizations"] {
        assert_eq!(table_grants(&app, table), "DELETE,INSERT,SELECT,UPDATE");
    }
    for role in [APP_ROLE, DEV_LOGIN] {
        assert_eq!(
            app.psql(&format!(
                "SELECT (SELECT count(*) FROM pg_class WHERE relowner = '{role}'::regrole) \
                 + (SELECT count(*) FROM pg_namespace WHERE nspowner = '{role}'::regrole)"
            )),
            "0",
            "{role} owns nothing"
        );
        assert_eq!(
            app.psql(&format!(
                "SELECT has_schema_privilege('{role}', 'public', 'CREATE') || ',' || has_database_privilege('{role}', 'cell', 'CREATE')"
            )),
            "false,false",
            "{role} may create nothing"
        );
    }

    // What the code needs works as the application's role.
    let as_app = |sql: &str| {
        app.psql_as(DEV_LOGIN, sql)
            .unwrap_or_else(|e| panic!("`{sql}` as {DEV_LOGIN}: {e}"))
    };
    as_app(
        "INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'acme')",
    );
    as_app(
        "INSERT INTO users (id, email, org_id) VALUES ('00000000-0000-0000-0000-000000000002', 'a@x', '00000000-0000-0000-0000-000000000001')",
    );
    assert_eq!(
        as_app("UPDATE users SET nickname = 'al' WHERE email = 'a@x' RETURNING nickname"),
        "al"
    );
    assert_eq!(
        as_app("SELECT count(*) FROM users WHERE nickname = 'al'"),
        "1"
    );
    assert_eq!(
        as_app("DELETE FROM organizations WHERE name = 'acme' RETURNING name"),
        "acme"
    );
    assert_eq!(
        as_app("SELECT count(*) FROM users WHERE email = 'a@x'"),
        "0"
    );

    // The rest is refused by the database itself.
    assert_refused_as(
        &app,
        DEV_LOGIN,
        "CREATE TABLE intruder (id int)",
        "permission denied for schema public",
    );
    assert_refused_as(
        &app,
        DEV_LOGIN,
        "DROP TABLE users",
        "must be owner of table users",
    );
    assert_refused_as(
        &app,
        DEV_LOGIN,
        "ALTER TABLE users ADD COLUMN intruder int",
        "must be owner of table users",
    );
    assert_refused_as(
        &app,
        DEV_LOGIN,
        "TRUNCATE users",
        "permission denied for table users",
    );
    assert_refused_as(
        &app,
        DEV_LOGIN,
        "CREATE SCHEMA intruder",
        "permission denied for database cell",
    );
    assert_eq!(
        app.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'intruder'"),
        "0"
    );
    assert_eq!(
        app.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'intruder'"),
        "0"
    );

    // A second build changes nothing, grants included.
    let again = app.cargo_cell(&["build", "-v"]);
    again.assert_success();
    assert!(
        !again.output().contains("holds exactly what the code needs"),
        "{}",
        again.output()
    );

    // A state file from before roles (no `app_*`) keeps working: the program connects as
    // the owner; the next `up` adds the application's role back, with a new password.
    let mut old = state.clone();
    for key in ["app_user", "app_password", "app_url"] {
        old.as_object_mut().unwrap().remove(key);
    }
    app.write(".cell/state/postgres.json", &old.to_string());
    let before_roles = app.run_binary("users");
    before_roles.assert_success();
    assert!(
        before_roles.stdout.contains("connected as cell/cell"),
        "{}",
        before_roles.output()
    );
    app.cargo_cell(&["up"]).assert_success();
    let renewed: serde_json::Value =
        serde_json::from_str(&app.read(".cell/state/postgres.json")).unwrap();
    assert_eq!(renewed["app_user"], DEV_LOGIN, "{renewed}");
    assert_ne!(renewed["app_password"], state["app_password"]);
    let after_up = app.run_binary("users");
    after_up.assert_success();
    assert!(
        after_up
            .stdout
            .contains(&format!("connected as {DEV_LOGIN}/{DEV_LOGIN}")),
        "the new password was set: {}",
        after_up.output()
    );
}

/// The grants follow the code: a privilege added by hand is taken back, one taken by hand
/// is given back, and a table no struct declares any more keeps none (whether the plan
/// drops it or it stays).
#[test]
fn grants_follow_the_declared_tables() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    let two = "use cell_runtime::prelude::*;\n\n\
               #[Postgres::table(name = \"items\")]\n\
               pub struct Item {\n    #[Postgres::primary_key]\n    pub id: i64,\n    pub name: String,\n}\n\n\
               #[Postgres::table(name = \"notes\")]\n\
               pub struct Note {\n    #[Postgres::primary_key]\n    pub id: i64,\n    pub body: String,\n}\n";
    app.write(LIB, two);
    app.cargo_cell(&["apply", "--yes"]).assert_success();
    assert_eq!(table_grants(&app, "items"), "DELETE,INSERT,SELECT,UPDATE");
    assert_eq!(table_grants(&app, "notes"), "DELETE,INSERT,SELECT,UPDATE");
    app.psql_as(DEV_LOGIN, "INSERT INTO notes (id, body) VALUES (1, 'kept')")
        .expect("the app role writes a declared table");

    // Changed by hand: converged back by the next apply, with nothing else to apply.
    app.psql(&format!("GRANT TRUNCATE, TRIGGER ON items TO {APP_ROLE}"));
    app.psql(&format!("REVOKE DELETE ON notes FROM {APP_ROLE}"));
    app.cargo_cell(&["apply", "--yes"]).assert_success();
    assert_eq!(table_grants(&app, "items"), "DELETE,INSERT,SELECT,UPDATE");
    assert_eq!(table_grants(&app, "notes"), "DELETE,INSERT,SELECT,UPDATE");
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.output());

    // `notes` leaves the code.
    app.write(
        LIB,
        &two[..two.find("#[Postgres::table(name = \"notes\")]").unwrap()],
    );
    let applied = app.cargo_cell(&["apply", "--yes", "--allow-destructive"]);
    applied.assert_success();
    assert_eq!(table_grants(&app, "items"), "DELETE,INSERT,SELECT,UPDATE");
    assert_eq!(table_grants(&app, "notes"), "", "{}", applied.output());
    let denied = app
        .psql_as(DEV_LOGIN, "SELECT count(*) FROM notes")
        .expect_err("no privilege is left on a table the code no longer declares");
    assert!(
        denied.contains("permission denied for table notes")
            || denied.contains("relation \"notes\" does not exist"),
        "{denied}"
    );
}

/// A deployment with two URLs: migrations run as the owner, the Cell grants to `cell_app`
/// and makes the application URL's login role a member; as that role the database allows
/// the four privileges and refuses the rest. With the application's URL alone, it works
/// as before (migrations run as that role), and says so.
#[test]
fn a_deployment_migrates_as_the_owner_and_grants_the_app_login() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("schema");
    let (prod, owner_url) = app.start_other_postgres("owner", "ownersecret");
    app.psql_in(
        &prod,
        "owner",
        "CREATE ROLE app_login LOGIN PASSWORD 'appsecret'",
    );
    let app_url = owner_url.replace("owner:ownersecret", "app_login:appsecret");
    app.write(
        LIB,
        "use cell_runtime::prelude::*;\n\n\
         #[Postgres::table(name = \"items\")]\n\
         pub struct Item {\n    #[Postgres::primary_key]\n    pub id: i64,\n    pub name: String,\n}\n",
    );
    let env = [
        ("CELL_POSTGRES_OWNER_URL", owner_url.as_str()),
        ("CELL_POSTGRES_URL", app_url.as_str()),
    ];
    let applied = app.cargo_cell_with(&["apply", "--env", "prod", "--yes"], &env);
    applied.assert_success();
    let out = applied.output();
    assert!(
        out.contains("`app_login` (CELL_POSTGRES_URL) is now a member of `cell_app`"),
        "{out}"
    );
    assert!(
        !out.contains("ownersecret") && !out.contains("appsecret"),
        "{out}"
    );
    let on_prod = |user: &str, sql: &str| app.try_psql_in(&prod, user, "owner", sql);
    assert_eq!(
        on_prod(
            "owner",
            "SELECT tableowner FROM pg_tables WHERE tablename = 'items'"
        )
        .unwrap(),
        "owner"
    );
    assert_eq!(
        on_prod(
            "owner",
            "SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants \
             WHERE grantee = 'cell_app' AND table_name = 'items'"
        )
        .unwrap(),
        "DELETE,INSERT,SELECT,UPDATE"
    );
    on_prod("app_login", "INSERT INTO items (id, name) VALUES (1, 'a')").unwrap();
    assert_eq!(
        on_prod("app_login", "UPDATE items SET name = 'b' RETURNING name").unwrap(),
        "b"
    );
    for (sql, because) in [
        ("DROP TABLE items", "must be owner of table items"),
        ("TRUNCATE items", "permission denied for table items"),
        (
            "CREATE TABLE intruder (id int)",
            "permission denied for schema public",
        ),
    ] {
        let e = on_prod("app_login", sql).expect_err(sql);
        assert!(e.contains(because), "`{sql}`: {e}");
    }
    // Idempotent: nothing to add the second time.
    let again = app.cargo_cell_with(&["apply", "--env", "prod", "--yes"], &env);
    again.assert_success();
    assert!(
        !again.output().contains("is now a member"),
        "{}",
        again.output()
    );

    // The application's URL alone: migrations run as it, as before, with a warning.
    let alone = [("CELL_POSTGRES_URL", owner_url.as_str())];
    let single = app.cargo_cell_with(&["apply", "--env", "prod", "--yes"], &alone);
    single.assert_success();
    assert!(
        single.output().contains("CELL_POSTGRES_OWNER_URL"),
        "{}",
        single.output()
    );
}
