//! Encrypted fields (`#[Postgres::encrypted]`) through cargo-cell, checked with `pg_dump` and
//! `psql` inside the Postgres Cell's container (clients that are not ours):
//!
//! - `cargo cell build` makes the key table and the dev key ring; the program makes one data
//!   key per encrypted column, stored only wrapped;
//! - `pg_dump` of the database holds no plaintext of any encrypted field, and no key;
//! - the program reads back what it wrote (one row, a row updated, rows written by COPY);
//! - a ciphertext copied from one row into another fails to decrypt, with an error naming
//!   the place, and no panic;
//! - the application's role may read and add data keys, never change or remove one;
//! - turning encryption on for a column in the clear is refused by the plan, and turning it
//!   off (a cast of ciphertext to text) is refused as destructive.

use std::process::Command;

use cell_e2e::{App, docker_available};

fn run(app: &App, args: &[&str]) -> (bool, String) {
    let mut cmd = app.program(&cell_e2e::apps_target_dir().join("debug").join("crypto-app"));
    cmd.args(args);
    let out = cmd.output().expect("the app runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// `pg_dump` of the Cell's database, as its superuser: the whole of it, data included.
fn pg_dump(app: &App) -> Vec<u8> {
    let out = Command::new("docker")
        .args(["exec", &app.cell_container("postgres")])
        .args(["pg_dump", "-U", "cell", "-d", "cell"])
        .output()
        .expect("docker exec pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn encrypted_fields_leave_no_plaintext_and_stay_in_their_row() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("crypto-app");
    app.cargo_cell(&["build"]).assert_success();
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/postgres.lock.json")).expect("the lock");
    assert_eq!(
        lock["tables"]["people"]["columns"]["ssn"]["type"], "bytea",
        "{lock}"
    );
    let ring: serde_json::Value =
        serde_json::from_str(&app.read(".cell/state/security.json")).expect("the dev key ring");
    let dev_key = ring["keys"]
        .as_str()
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .to_string();

    assert_eq!(
        run(
            &app,
            &["add", "1", "Ada", "123-45-6789", "allergic to penicillin"]
        ),
        (true, "added 1".into())
    );
    assert_eq!(
        run(&app, &["add", "2", "Bob", "987-65-4321"]),
        (true, "added 2".into())
    );
    assert_eq!(
        run(&app, &["show", "1"]),
        (
            true,
            "1 Ada 123-45-6789 allergic to penicillin photo of Ada".into()
        )
    );
    assert_eq!(
        run(&app, &["set-ssn", "2", "555-55-5555"]),
        (true, "updated".into())
    );
    assert_eq!(
        run(&app, &["show", "2"]),
        (true, "2 Bob 555-55-5555 - photo of Bob".into())
    );
    assert_eq!(
        run(&app, &["add-many", "100", "3"]),
        (true, "added 3".into())
    );
    assert_eq!(
        run(&app, &["show", "101"]),
        (true, "101 p101 ssn-101 batch photo of p101".into())
    );

    // What a stolen dump holds: names in the clear, nothing of the encrypted fields, no key.
    let dump = pg_dump(&app);
    assert!(
        contains(&dump, "Ada"),
        "the dump has the table's clear columns"
    );
    for secret in [
        "123-45-6789",
        "987-65-4321",
        "555-55-5555",
        "penicillin",
        "ssn-101",
        &dev_key,
    ] {
        assert!(
            !contains(&dump, secret),
            "`{secret}` is in pg_dump's output"
        );
    }
    assert_eq!(
        app.psql("SELECT column_name, count(*) FILTER (WHERE NOT retired), min(length(wrapped)) FROM cell_crypto.data_keys WHERE table_name = 'people' GROUP BY column_name ORDER BY 1"),
        "note|1|60\nssn|1|60",
        "one current data key per encrypted column, wrapped (nonce, key, tag)"
    );
    assert_eq!(
        app.psql("SELECT get_byte(ssn, 0), length(ssn) FROM people WHERE id = 1"),
        "1|56",
        "format version 1; 45 bytes of header and tag around 11 bytes of ciphertext"
    );

    // A ciphertext copied into another row does not decrypt there.
    app.psql("UPDATE people SET ssn = (SELECT ssn FROM people WHERE id = 2) WHERE id = 1");
    let (ok, out) = run(&app, &["show", "1"]);
    assert!(!ok);
    assert!(
        out.starts_with("failed: cannot decrypt people.ssn of row 1: it was changed, or copied from another row, column or table"),
        "{out}"
    );
    assert_eq!(
        run(&app, &["show", "2"]).1,
        "2 Bob 555-55-5555 - photo of Bob",
        "the row it came from still reads"
    );

    // The program's own login may add keys, not rewrite or drop them.
    for sql in [
        "UPDATE cell_crypto.data_keys SET retired = true",
        "DELETE FROM cell_crypto.data_keys",
    ] {
        let err = app.psql_refused_as_app(sql);
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }

    // A column in the clear does not become encrypted by a cast.
    app.edit(
        "src/main.rs",
        "    name: String,\n",
        "    #[Postgres::encrypted]\n    name: String,\n",
    );
    let build = app.cargo_cell(&["build"]);
    build.assert_failure();
    assert!(
        build.unwrapped().contains("`people.name` holds text values in the clear; turning encryption on for it means encrypting every row"),
        "{}",
        build.output()
    );
    assert_eq!(app.psql("SELECT name FROM people WHERE id = 2"), "Bob");

    // Turning it off would cast ciphertext to text: destructive, refused without the flag.
    app.edit(
        "src/main.rs",
        "    #[Postgres::encrypted]\n    name: String,\n",
        "    name: String,\n",
    );
    app.edit(
        "src/main.rs",
        "    #[Postgres::encrypted(algorithm = \"aes-256-gcm\")]\n",
        "",
    );
    let build = app.cargo_cell(&["build"]);
    build.assert_failure();
    assert!(
        build.unwrapped().contains("people.ssn"),
        "{}",
        build.output()
    );
    assert_eq!(
        app.psql("SELECT get_byte(ssn, 0) FROM people WHERE id = 2"),
        "1",
        "the ciphertext is kept"
    );
}
