//! Encrypted fields (`#[Postgres::encrypted]`) through cargo-cell, checked with `pg_dump` and
//! `psql` inside the Postgres Cell's container (clients that are not ours):
//!
//! - `cargo cell build` makes the key table and the dev key ring; the program makes one data
//!   key per encrypted column, stored only wrapped;
//! - `pg_dump` of the database holds no plaintext of any encrypted field, and no key;
//! - the program reads back what it wrote (one row, a row updated, rows written by COPY),
//!   and finds a row by an encrypted unique field (its blind index);
//! - a ciphertext copied from one row into another fails to decrypt, with an error naming
//!   the place, and no panic;
//! - the application's role may read and add data keys, never change or remove one;
//! - turning encryption on for a column in the clear is refused by the plan, and turning it
//!   off (a cast of ciphertext to text) is refused as destructive;
//! - `forget(subject)` removes the subject's row and the rows referencing it, two foreign
//!   keys deep, and leaves nothing of the subject in `pg_dump`;
//! - `cargo cell keys rotate` re-encrypts 100,000 rows under new data keys while a reader
//!   loops, resumes after a `kill -9` half way, and the reader sees no error.

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
    // Found by the blind index of an encrypted field, which stays unique.
    assert_eq!(
        run(&app, &["by-email", "bob@example.com"]),
        (true, "2 Bob".into())
    );
    assert_eq!(
        run(&app, &["by-email", "p101@example.com"]),
        (true, "101 p101".into()),
        "COPY writes the blind index too"
    );
    assert_eq!(
        run(&app, &["by-email", "Bob@example.com"]),
        (true, "none".into())
    );
    let (ok, out) = run(&app, &["add", "3", "Ada", "000-00-0000"]);
    assert!(
        !ok && out.contains("duplicate key value violates unique constraint \"people_email_key\""),
        "{out}"
    );
    assert_eq!(
        app.psql("SELECT length(email_bidx) FROM people WHERE id = 1"),
        "32"
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
        "@example.com",
        &dev_key,
    ] {
        assert!(
            !contains(&dump, secret),
            "`{secret}` is in pg_dump's output"
        );
    }
    assert_eq!(
        app.psql("SELECT column_name, purpose, count(*) FILTER (WHERE state = 'current'), min(length(wrapped)) FROM cell_crypto.data_keys WHERE table_name = 'people' GROUP BY 1, 2 ORDER BY 1, 2"),
        "email|index|1|60\nemail|value|1|60\nnote|value|1|60\nssn|value|1|60",
        "one current data key per encrypted column and one index key per blind index, wrapped (nonce, key, tag)"
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
        "UPDATE cell_crypto.data_keys SET state = 'retired'",
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

/// A child process killed when the test ends, passed or failed.
struct Killed(Option<std::process::Child>);

impl Killed {
    fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().unwrap()
    }
    fn take(&mut self) -> std::process::Child {
        self.0.take().unwrap()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How many values of `people.column` are not under the column's current data key.
fn under_old_keys(app: &App, column: &str) -> i64 {
    app.psql(&format!(
        "SELECT count(*) FROM people WHERE substring({column} FROM 2 FOR 16) <> \
         (SELECT id FROM cell_crypto.data_keys WHERE table_name = 'people' AND column_name = '{column}' AND purpose = 'value' AND state = 'current')"
    ))
    .parse()
    .unwrap()
}

#[test]
fn key_rotation_resumes_after_kill_9_while_a_reader_reads() {
    if !docker_available() {
        return;
    }
    const ROWS: i64 = 100_000;
    let app = App::copy_fixture("crypto-app");
    app.cargo_cell(&["build"]).assert_success();
    assert_eq!(
        run(&app, &["add-many", "1", &ROWS.to_string()]),
        (true, format!("added {ROWS}"))
    );
    // Rows without a blind index, as if `unique` had been declared after they were written:
    // the rotation fills it in.
    app.psql("UPDATE people SET email_bidx = NULL WHERE id <= 10");
    assert_eq!(
        run(&app, &["by-email", "p5@example.com"]),
        (true, "none".into())
    );
    let first_keys = app.psql(
        "SELECT string_agg(encode(id, 'hex'), ',' ORDER BY column_name) FROM cell_crypto.data_keys WHERE table_name = 'people' AND purpose = 'value'",
    );

    let stop = app.path().join("stop-reading");
    let mut reader = Killed(Some(
        app.program(&cell_e2e::apps_target_dir().join("debug").join("crypto-app"))
            .args(["read-loop", &ROWS.to_string(), stop.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the reader starts"),
    ));

    // Three encrypted columns (email, note, ssn, rotated in that order): killed once half
    // of their values are done.
    const VALUES: i64 = 3 * ROWS;
    let mut rotation = Killed(Some(
        app.spawn_cargo_cell(&["keys", "rotate", "--batch", "500"], &[]),
    ));
    let started = std::time::Instant::now();
    loop {
        let done: i64 = app
            .psql("SELECT coalesce(sum(rows_done), 0) FROM cell_crypto.rotations")
            .parse()
            .unwrap();
        if done >= VALUES / 2 {
            break;
        }
        assert!(
            rotation.child().try_wait().unwrap().is_none(),
            "the rotation ended before it was killed ({done} rows done)"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "the rotation did not get half way in 5 minutes ({done} rows done)"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGKILL: no cleanup runs.
    let mut killed = rotation.take();
    killed.kill().unwrap();
    killed.wait().unwrap();
    let stopped: i64 = app
        .psql("SELECT count(*) FROM cell_crypto.rotations WHERE finished_at IS NULL")
        .parse()
        .unwrap();
    assert!(
        (1..=3).contains(&stopped),
        "the journal holds the columns the stopped run had not finished: {stopped}"
    );
    let left: i64 = ["email", "note", "ssn"]
        .iter()
        .map(|c| under_old_keys(&app, c))
        .sum();
    assert!(
        left > 0 && left < VALUES,
        "half way: {left} values of {VALUES} under old keys"
    );

    let resumed = app.cargo_cell(&["keys", "rotate", "--batch", "500"]);
    resumed.assert_success();
    let out = resumed.output();
    assert!(out.contains("resuming the rotation"), "{out}");
    assert!(out.contains("(resumed: "), "{out}");
    for column in ["email", "note", "ssn"] {
        assert_eq!(under_old_keys(&app, column), 0, "{column}: {out}");
    }
    assert_eq!(
        app.psql("SELECT count(*) FILTER (WHERE finished_at IS NULL), sum(rows_done) FROM cell_crypto.rotations"),
        format!("0|{VALUES}"),
        "every row re-encrypted once, across the two runs"
    );
    // The old keys are kept (retired): a backup taken before the rotation still opens.
    assert_eq!(
        app.psql("SELECT state, count(*) FROM cell_crypto.data_keys WHERE table_name = 'people' AND purpose = 'value' GROUP BY 1 ORDER BY 1"),
        "current|3\nretired|3"
    );
    let retired = app.psql(
        "SELECT string_agg(encode(id, 'hex'), ',' ORDER BY column_name) FROM cell_crypto.data_keys WHERE table_name = 'people' AND purpose = 'value' AND state = 'retired'",
    );
    assert_eq!(retired, first_keys);

    std::fs::write(&stop, "").unwrap();
    let read = reader.take().wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&read.stdout);
    assert!(read.status.success(), "{said}");
    let reads: u64 = said
        .strip_prefix("reads ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(reads > 100, "the reader read throughout: {said}");
    assert!(said.contains(" failed 0 "), "no read failed: {said}");

    // The program reads the rows under the new keys, and finds them by their blind index.
    assert_eq!(
        run(&app, &["show", "77777"]).1,
        "77777 p77777 ssn-77777 batch photo of p77777"
    );
    assert_eq!(
        run(&app, &["by-email", "p77777@example.com"]).1,
        "77777 p77777"
    );
    assert_eq!(
        app.psql("SELECT count(*) FROM people WHERE email_bidx IS NULL"),
        "0"
    );
    assert_eq!(run(&app, &["by-email", "p5@example.com"]).1, "5 p5");
}

#[test]
fn forget_removes_the_subject_and_every_row_that_references_it() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("crypto-app");
    app.cargo_cell(&["build"]).assert_success();
    for (args, said) in [
        (
            &["add", "1", "Zelda", "111-22-3333", "zelda's note"][..],
            "added 1",
        ),
        (&["add", "2", "Yorick", "444-55-6666"], "added 2"),
        (
            &["order", "10", "1", "telescope", "1 Hyrule Road"],
            "ordered 10",
        ),
        (
            &["order", "11", "1", "lantern", "1 Hyrule Road"],
            "ordered 11",
        ),
        (&["order", "20", "2", "skull", "Elsinore"], "ordered 20"),
    ] {
        assert_eq!(run(&app, args), (true, said.to_string()), "{args:?}");
    }
    // Deleting the person by hand is refused: their orders reference them.
    assert!(
        app.psql_as("cell", "DELETE FROM people WHERE id = 1")
            .unwrap_err()
            .contains("violates foreign key constraint")
    );

    assert_eq!(
        run(&app, &["forget", "1"]),
        (
            true,
            "forgot 5 rows (people 1, orders 2, shipments 2)".into()
        )
    );
    let dump = pg_dump(&app);
    for trace in ["Zelda", "zelda", "telescope", "lantern", "Hyrule"] {
        assert!(!contains(&dump, trace), "`{trace}` is in pg_dump's output");
    }
    assert!(contains(&dump, "Yorick") && contains(&dump, "Elsinore"));
    assert_eq!(run(&app, &["show", "1"]), (true, "none".into()));
    assert_eq!(
        run(&app, &["by-email", "zelda@example.com"]),
        (true, "none".into()),
        "no blind index is left to match the e-mail"
    );
    assert_eq!(
        app.psql("SELECT count(*) FROM people"),
        "1",
        "the other subject is kept"
    );
    assert_eq!(
        run(&app, &["show", "2"]).1,
        "2 Yorick 444-55-6666 - photo of Yorick"
    );
    assert_eq!(
        run(&app, &["forget", "1"]),
        (
            true,
            "forgot 0 rows (people 0, orders 0, shipments 0)".into()
        ),
        "forgetting again finds nothing"
    );
}
