//! The walking skeleton's acceptance, against the real Docker engine and a real Postgres,
//! each scenario in a temporary copy of examples/users.

use cell_e2e::{App, docker_available, line_of};

/// From nothing: a labelled container on 127.0.0.1, the schema as declared (seen through
/// psql, not our code), a lock, a binary that round-trips; then a no-op second build;
/// then a schema changed behind our back is refused by the binary at connect.
#[test]
fn build_from_nothing_then_noop_then_drift_refused_at_connect() {
    if !docker_available() {
        return;
    }
    let app = App::copy_example("users");
    let first = app.cargo_cell(&["build"]);
    first.assert_success();
    let out = first.output();
    assert!(
        out.contains("+ table users"),
        "prints what it changed:\n{out}"
    );

    // The container: labelled with the workspace, published on loopback only, on a volume.
    let info = app.inspect();
    let labels = &info["Config"]["Labels"];
    assert_eq!(labels["dev.cell.managed-by"], "cargo-cell");
    assert_eq!(labels["dev.cell.cell"], "postgres");
    assert!(
        labels["dev.cell.workspace"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let bindings = &info["HostConfig"]["PortBindings"]["5432/tcp"];
    assert_eq!(bindings[0]["HostIp"], "127.0.0.1", "{bindings}");
    let mounts = info["Mounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["Type"] == "volume" && m["Destination"] == "/var/lib/postgresql/data"),
        "{mounts:?}"
    );

    // The schema, through a client that is not ours.
    let columns = app.psql(
        "SELECT column_name, data_type, is_nullable, coalesce(column_default, '') FROM information_schema.columns \
         WHERE table_name = 'users' ORDER BY column_name",
    );
    assert_eq!(
        columns,
        "created_at|timestamp with time zone|NO|now()\n\
         email|text|NO|\n\
         id|uuid|NO|\n\
         nickname|text|YES|\n\
         org_id|uuid|NO|"
    );
    let pk = app.psql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'p'");
    assert_eq!(pk, "PRIMARY KEY (id)");
    let unique = app.psql("SELECT indexdef FROM pg_indexes WHERE tablename = 'users' AND indexname = 'users_email_key'");
    assert!(
        unique
            .starts_with("CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)"),
        "{unique}"
    );
    let fk = app.psql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'f'");
    assert_eq!(
        fk,
        "FOREIGN KEY (org_id) REFERENCES organizations(id) ON DELETE CASCADE"
    );

    // The lock is there; the password is not committed.
    let lock = app.read(".cell/postgres.lock.json");
    assert!(
        lock.contains("\"users\"") && lock.contains("\"organizations\""),
        "{lock}"
    );
    assert!(app.read(".cell/.gitignore").contains("/state/"));
    let state = app.read(".cell/state/postgres.json");
    assert!(
        !lock.contains(
            &serde_json::from_str::<serde_json::Value>(&state).unwrap()["password"]
                .as_str()
                .unwrap()
                .to_string()
        )
    );

    let run = app.run_binary("users");
    run.assert_success();
    assert!(run.stdout.contains("round trip ok"), "{}", run.stdout);

    // Second build: the same container, nothing to change, the same lock bytes.
    let container = app.container();
    let second = app.cargo_cell(&["build"]);
    second.assert_success();
    assert!(
        second.output().contains("no changes"),
        "{}",
        second.output()
    );
    assert_eq!(app.container(), container, "the container is reused");
    assert_eq!(
        app.read(".cell/postgres.lock.json"),
        lock,
        "the lock is not rewritten"
    );

    // A following plain cargo build finds everything fresh.
    let plain = app.cargo(&["build"]);
    plain.assert_success();
    assert!(
        !plain.stderr.contains("Compiling users"),
        "phase 2 left the build fresh:\n{}",
        plain.stderr
    );

    // Drift: a column changed outside the tool. The binary refuses to run against it.
    app.psql("ALTER TABLE users ALTER COLUMN nickname SET NOT NULL");
    let run = app.run_binary("users");
    run.assert_failure();
    assert!(
        run.stderr.contains("does not match") && run.stderr.contains("cargo cell apply"),
        "{}",
        run.stderr
    );
}

/// A new field is a compile error for plain cargo (spanned at the field) until
/// `cargo cell build` adds the column, keeping the data; a type change against the lock
/// names the column and both types.
#[test]
fn new_field_needs_cell_build_and_type_change_is_a_compile_error() {
    if !docker_available() {
        return;
    }
    let app = App::copy_example("users");
    app.cargo_cell(&["build"]).assert_success();
    app.psql("INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'acme')");
    app.psql(
        "INSERT INTO users (id, email, org_id) VALUES \
         ('00000000-0000-0000-0000-000000000002', 'kept@example.com', '00000000-0000-0000-0000-000000000001')",
    );

    app.edit(
        "src/main.rs",
        "    pub nickname: Option<String>,\n",
        "    pub nickname: Option<String>,\n    pub age: Option<i32>,\n",
    );
    app.edit(
        "src/main.rs",
        "        nickname: None,\n",
        "        nickname: None,\n        age: Some(42),\n",
    );
    let line = line_of(&app.read("src/main.rs"), "pub age: Option<i32>");

    let plain = app.cargo(&["build"]);
    plain.assert_failure();
    assert!(
        plain.stderr.contains("column `users.age` does not exist"),
        "{}",
        plain.stderr
    );
    assert!(
        plain.stderr.contains(&format!("src/main.rs:{line}:")),
        "spanned at the new field (line {line}):\n{}",
        plain.stderr
    );
    assert!(
        plain.stderr.contains("cargo cell build"),
        "{}",
        plain.stderr
    );

    let build = app.cargo_cell(&["build"]);
    build.assert_success();
    assert!(
        build.output().contains("+ column users.age integer NULL"),
        "{}",
        build.output()
    );
    assert_eq!(
        app.psql("SELECT email FROM users"),
        "kept@example.com",
        "the row written before is still there"
    );
    assert_eq!(app.psql("SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'age'"), "integer");
    app.run_binary("users").assert_success();

    // The struct says i64 where the lock says text.
    app.edit(
        "src/main.rs",
        "    pub email: String,",
        "    pub email: i64,",
    );
    let line = line_of(&app.read("src/main.rs"), "pub email: i64");
    let plain = app.cargo(&["build"]);
    plain.assert_failure();
    assert!(
        plain
            .stderr
            .contains("type mismatch for column `users.email`"),
        "{}",
        plain.stderr
    );
    assert!(
        plain.stderr.contains("`text`") && plain.stderr.contains("`i64`"),
        "names both types:\n{}",
        plain.stderr
    );
    assert!(
        plain.stderr.contains(&format!("src/main.rs:{line}:")),
        "spanned at the field (line {line}):\n{}",
        plain.stderr
    );
}

/// Without Docker: plain cargo still builds a locked app (no macro opens a connection), and
/// `cargo cell build` fails fast, naming Docker and the fix.
#[test]
fn docker_unreachable_plain_build_works_cell_build_fails_fast() {
    if !docker_available() {
        return;
    }
    let app = App::copy_example("users");
    app.cargo_cell(&["build"]).assert_success();
    let nowhere = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];

    app.edit(
        "src/main.rs",
        "//! Organizations",
        "// touched\n//! Organizations",
    );
    app.cargo_with(&["build"], &nowhere).assert_success();

    let run = app.cargo_cell_with(&["build"], &nowhere);
    run.assert_failure();
    assert!(
        run.elapsed.as_secs_f64() < 10.0,
        "fails within 10 s, took {:?}",
        run.elapsed
    );
    let err = run.stderr.to_lowercase();
    assert!(err.contains("docker"), "{}", run.stderr);
    assert!(err.contains("help"), "says what to do:\n{}", run.stderr);
}
