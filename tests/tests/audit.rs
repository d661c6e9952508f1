//! The Audit Cell through cargo-cell, checked with `psql` inside the Postgres Cell's
//! container (a client that is not ours):
//!
//! - `cargo cell build` installs the `cell_audit` trail and locks the audited functions;
//! - a committed call has its record (sensitive arguments as keyed hashes only), a record
//!   written in a transaction that rolls back does not exist, a failed call is recorded as
//!   `error:<kind>`;
//! - the database refuses UPDATE, DELETE and TRUNCATE of the trail, to everyone through its
//!   triggers and to the application's role through its privileges;
//! - `cargo cell audit verify` names the row a superuser changed, and a signed checkpoint
//!   catches a chain a superuser rewrote consistently;
//! - 8 concurrent writers for 10,000 audited calls leave a chain with no gap and no fork;
//! - removing an audit from the code is `LOOSENED: needs review` (exit 2);
//! - every read of a `#[Security::hipaa]` table is on record (who, which rows, which
//!   fields) before the rows are returned, also when the reading transaction rolls back, and
//!   removing `#[Security::hipaa]` is `LOOSENED: needs review`.

use std::process::Command;

use cell_e2e::{App, docker_available};

/// `psql` as the Cell's superuser, expected to fail: its error output.
fn psql_refused(app: &App, sql: &str) -> String {
    let out = Command::new("docker")
        .args([
            "exec",
            &app.cell_container("postgres"),
            "psql",
            "-X",
            "-q",
            "-At",
        ])
        .args([
            "-U",
            "cell",
            "-d",
            "cell",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("docker exec psql");
    assert!(
        !out.status.success(),
        "`{sql}` was not refused: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Rewrites record `seq`'s arguments and rehashes it and every later record, as a superuser
/// who knows the scheme could: the chain is consistent again.
fn rewrite_consistently(seq: i64) -> String {
    format!(
        "SET session_replication_role = replica;
         DO $$
         DECLARE r record; prev bytea; h bytea;
         BEGIN
           SELECT prev_hash INTO prev FROM cell_audit.records WHERE seq = {seq};
           UPDATE cell_audit.records SET args = '{{\"id\": 4242}}' WHERE seq = {seq};
           FOR r IN SELECT * FROM cell_audit.records WHERE seq >= {seq} ORDER BY seq LOOP
             h := sha256(prev || cell_audit.canonical(r.seq, r.event, r.actor, r.args, r.outcome, r.at, r.trace_id));
             UPDATE cell_audit.records SET prev_hash = prev, hash = h WHERE seq = r.seq;
             prev := h;
           END LOOP;
           UPDATE cell_audit.head SET hash = prev;
         END $$;"
    )
}

/// `audit-app ARGS...`: whether it succeeded, and its output.
fn run_app(app: &App, args: &[&str]) -> (bool, String) {
    let mut cmd = app.program(&cell_e2e::apps_target_dir().join("debug").join("audit-app"));
    cmd.args(args);
    let out = cmd.output().expect("the app runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Removes `attribute` (a line of the app) and expects the plan to show `removed` and exit 2.
fn removal_needs_review(app: &App, attribute: &str, removed: &str) {
    app.edit("src/main.rs", attribute, "");
    let plan = app.cargo_cell(&["plan", "--detailed-exitcode"]);
    let text = plan.output();
    assert_eq!(plan.status.code(), Some(2), "a change exits 2:\n{text}");
    assert!(
        text.contains(&format!("{removed}   LOOSENED: needs review")),
        "{text}"
    );
}

#[test]
fn records_follow_the_transaction_and_the_database_keeps_them() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("audit-app");
    app.cargo_cell(&["build"]).assert_success();
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/audit.lock.json")).expect("the lock");
    assert_eq!(
        lock["audits"]["audit_app::open"],
        serde_json::json!({"event": "account_opened", "args": ["id"], "sensitive": ["email"], "retention": "7y"}),
        "{lock}"
    );
    // The months ahead exist, each guarded against TRUNCATE.
    let months: i64 = app
        .psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'cell_audit.records'::regclass")
        .parse()
        .unwrap();
    assert_eq!(months, 15, "last month, this one, 12 ahead and the default");

    let run = |args: &[&str]| run_app(&app, args);
    assert_eq!(
        run(&["open", "1", "ada@example.com"]),
        (true, "opened".into())
    );
    assert_eq!(
        run(&["open-then-roll-back", "2", "bob@example.com"]),
        (false, "failed: RolledBack".into())
    );
    assert_eq!(
        run(&["close", "99"]),
        (false, "failed: NotFound { id: 99 }".into())
    );
    assert_eq!(run(&["close", "1"]), (true, "closed".into()));

    let records = app.psql(
        "SELECT seq, event, actor, args->>'id', outcome FROM cell_audit.records ORDER BY seq",
    );
    assert_eq!(
        records,
        "1|account_opened|anonymous|1|ok\n2|account_closed||99|error:NotFound\n3|account_closed||1|ok",
        "the rolled-back call left neither its row nor its record, nor a gap"
    );
    assert_eq!(app.psql("SELECT count(*) FROM accounts WHERE id = 2"), "0");
    let email = app.psql("SELECT args->>'email' FROM cell_audit.records WHERE seq = 1");
    assert!(
        email.starts_with("hmac-sha256:") && email.len() == 12 + 64,
        "a sensitive argument is a keyed hash: {email}"
    );
    let all = app.psql("SELECT string_agg(args::text, ' ') FROM cell_audit.records");
    assert!(!all.contains("ada@example.com"), "{all}");

    // Append-only, for everyone: the triggers refuse the superuser too.
    for sql in [
        "UPDATE cell_audit.records SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM cell_audit.records WHERE seq = 1",
        "TRUNCATE cell_audit.records",
        &format!(
            "TRUNCATE cell_audit.{}",
            app.psql("SELECT tableoid::regclass FROM cell_audit.records WHERE seq = 1")
                .trim_start_matches("cell_audit.")
        ),
    ] {
        let err = psql_refused(&app, sql);
        assert!(
            err.contains("the audit trail is append-only"),
            "{sql}: {err}"
        );
    }
    // The application's login (the role the program connects as) lacks the privileges:
    // Postgres refuses before any trigger runs.
    for sql in [
        "UPDATE cell_audit.records SET actor = 'mallory'",
        "DELETE FROM cell_audit.records",
        "TRUNCATE cell_audit.records",
        "INSERT INTO cell_audit.records SELECT * FROM cell_audit.records",
        "UPDATE cell_audit.head SET seq = 0",
    ] {
        let err = app.psql_refused_as_app(sql);
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    assert_eq!(
        app.psql("SET ROLE cell_app; SELECT count(*) FROM cell_audit.records"),
        "3",
        "the application may read its trail"
    );

    let verify = app.cargo_cell(&["audit", "verify"]);
    verify.assert_success();
    assert!(
        verify
            .stdout
            .contains("audit: the chain holds: 3 records (1 to 3), head "),
        "{}",
        verify.output()
    );
    let checkpoint = app.path().join("head.json");
    let checkpoint = checkpoint.to_str().unwrap();
    app.cargo_cell(&["audit", "checkpoint", "--out", checkpoint])
        .assert_success();

    // A superuser changes one row: verify names it.
    app.psql(
        "SET session_replication_role = replica; UPDATE cell_audit.records SET outcome = 'ok' WHERE seq = 2",
    );
    let broken = app.cargo_cell(&["audit", "verify"]);
    broken.assert_failure();
    assert!(
        broken
            .unwrapped()
            .contains("audit record 2 (account_closed) was changed after it was written"),
        "{}",
        broken.output()
    );
    // ... then rehashes everything from there: the chain holds again, the checkpoint not.
    app.psql(&rewrite_consistently(2));
    app.cargo_cell(&["audit", "verify"]).assert_success();
    let anchored = app.cargo_cell(&["audit", "verify", "--checkpoint", checkpoint]);
    anchored.assert_failure();
    assert!(
        anchored
            .unwrapped()
            .contains("record 3 has another hash than the file anchored"),
        "{}",
        anchored.output()
    );
    // A forged checkpoint file does not verify.
    let forged = app.read("head.json").replace("\"seq\": 3", "\"seq\": 2");
    app.write("head.json", &forged);
    let refused = app.cargo_cell(&["audit", "verify", "--checkpoint", checkpoint]);
    refused.assert_failure();
    assert!(
        refused.unwrapped().contains("its signature does not hold"),
        "{}",
        refused.output()
    );
}

#[test]
fn concurrent_writers_leave_one_chain_and_a_removed_audit_needs_review() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("audit-app");
    app.cargo_cell(&["build"]).assert_success();
    let mut cmd = app.program(&cell_e2e::apps_target_dir().join("debug").join("audit-app"));
    cmd.args(["concurrent", "8", "10000"]);
    let out = cmd.output().expect("the app runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.psql("SELECT count(*), count(DISTINCT seq), min(seq), max(seq), count(DISTINCT prev_hash) FROM cell_audit.records"),
        "10000|10000|1|10000|10000",
        "no gap, no fork"
    );
    assert_eq!(app.psql("SELECT count(*) FROM accounts"), "10000");
    let verify = app.cargo_cell(&["audit", "verify"]);
    verify.assert_success();
    assert!(
        verify
            .stdout
            .contains("audit: the chain holds: 10000 records (1 to 10000)"),
        "{}",
        verify.output()
    );

    removal_needs_review(
        &app,
        "#[Audit::log(event = \"account_closed\", retention = \"1y\")]\n",
        "- audit_app::close: audit removed (was event account_closed, args id, kept 1y; calls are no longer recorded)",
    );
    let check = app.cargo_cell(&["check"]);
    check.assert_failure();
    assert!(
        check.unwrapped().contains(
            "audits differ from .cell/audit.lock.json: 1 audit change (1 loosened: needs review)"
        ),
        "{}",
        check.output()
    );
}

/// Three chained records in January 2010, written as `append` would have written them then
/// (a superuser backdating them: `append` always takes the current time).
const OLD_MONTH: &str = "SET session_replication_role = replica;
    CREATE TABLE cell_audit.records_2010_01 PARTITION OF cell_audit.records
        FOR VALUES FROM ('2010-01-01 00:00:00+00') TO ('2010-02-01 00:00:00+00');
    DO $$
    DECLARE prev bytea; h bytea; t timestamptz;
    BEGIN
      SELECT hash INTO prev FROM cell_audit.head;
      FOR i IN 1..3 LOOP
        t := '2010-01-15 12:00:00+00'::timestamptz + make_interval(secs => i);
        h := sha256(prev || cell_audit.canonical(i, 'account_opened', NULL, '{}'::jsonb, 'ok', t, NULL));
        INSERT INTO cell_audit.records VALUES (i, 'account_opened', NULL, '{}', 'ok', t, NULL, prev, h);
        prev := h;
      END LOOP;
      UPDATE cell_audit.head SET seq = 3, hash = prev;
    END $$;";

#[test]
fn prune_drops_expired_months_and_verification_goes_on_from_its_checkpoint() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("audit-app");
    app.cargo_cell(&["build"]).assert_success();
    app.psql(OLD_MONTH);
    let mut cmd = app.program(&cell_e2e::apps_target_dir().join("debug").join("audit-app"));
    cmd.args(["open", "1", "ada@example.com"]);
    assert!(cmd.output().expect("the app runs").status.success());
    let verify = app.cargo_cell(&["audit", "verify"]);
    verify.assert_success();
    assert!(
        verify
            .stdout
            .contains("audit: the chain holds: 4 records (1 to 4)"),
        "{}",
        verify.output()
    );

    // Without a terminal to confirm on, nothing is dropped.
    let asked = app.cargo_cell(&["audit", "prune"]);
    asked.assert_failure();
    assert!(
        asked
            .unwrapped()
            .contains("dropping records needs a confirmation"),
        "{}",
        asked.output()
    );
    let pruned = app.cargo_cell(&["audit", "prune", "--yes"]);
    pruned.assert_success();
    assert!(
        pruned.stdout.contains("audit: dropped records_2010_01 (records up to 3); verification now starts from the checkpoint of record 3"),
        "{}",
        pruned.output()
    );
    assert_eq!(
        app.psql("SELECT min(seq), max(seq) FROM cell_audit.records"),
        "4|4"
    );
    assert_eq!(
        app.psql("SELECT seq, reason FROM cell_audit.checkpoints"),
        "3|prune"
    );
    let verify = app.cargo_cell(&["audit", "verify"]);
    verify.assert_success();
    assert!(
        verify
            .stdout
            .contains("audit: the chain holds: 1 record (4 to 4), head ")
            && verify
                .stdout
                .contains("checked from the checkpoint of record 3 (older months pruned)"),
        "{}",
        verify.output()
    );
    // The current months are within the retention: a second prune drops nothing.
    let again = app.cargo_cell(&["audit", "prune", "--yes"]);
    again.assert_success();
    assert!(
        again.stdout.contains("audit: nothing to prune"),
        "{}",
        again.output()
    );
}

#[test]
fn every_read_of_protected_health_information_is_on_record() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("audit-app");
    app.cargo_cell(&["build"]).assert_success();
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/audit.lock.json")).expect("the lock");
    assert_eq!(
        lock["audits"]["audit_app::Patient"],
        serde_json::json!({"event": "phi_read", "args": ["table", "fields", "keys"], "retention": "6y"}),
        "{lock}"
    );
    let run = |args: &[&str]| run_app(&app, args);
    assert_eq!(
        run(&["admit", "7", "Ada", "flu"]),
        (
            true,
            "admitted Patient { id: 7, name: [redacted], diagnosis: [redacted] }".into()
        ),
        "a write is not a read, and Debug redacts"
    );
    assert!(run(&["admit", "8", "Bob", "gout"]).0);
    assert_eq!(app.psql("SELECT count(*) FROM cell_audit.records"), "0");

    assert_eq!(run(&["chart", "7"]), (true, "7: flu".into()));
    assert_eq!(run(&["chart", "99"]), (true, "no chart".into()));
    assert_eq!(run(&["ward"]), (true, "2 patients".into()));
    assert_eq!(
        run(&["chart-then-roll-back", "8"]),
        (false, "failed: RolledBack".into())
    );
    assert_eq!(run(&["review", "8"]), (true, "reviewed 8".into()));
    assert_eq!(
        run(&["open-and-chart", "3", "7"]),
        (true, "opened 3, chart 7".into()),
        "a read in a transaction holding the trail's head does not wait for itself"
    );

    let records = app.psql(
        "SELECT seq, event, coalesce(actor, '-'), args->>'table', args->'fields', args->'keys', args->>'type' \
         FROM cell_audit.records ORDER BY seq",
    );
    assert_eq!(
        records,
        [
            r#"1|phi_read|dr.grey|patients|["name", "diagnosis"]|[7]|audit_app::Patient"#,
            r#"2|phi_read|-|patients|["name", "diagnosis"]|[7, 8]|audit_app::Patient"#,
            r#"3|phi_read|-|patients|["name", "diagnosis"]|[8]|audit_app::Patient"#,
            r#"4|phi_read|anonymous|patients|["name", "diagnosis"]|[8]|audit_app::Patient"#,
            "5|chart_reviewed|anonymous||||",
            "6|account_opened|anonymous||||",
            r#"7|phi_read|-|patients|["name", "diagnosis"]|[7]|audit_app::Patient"#,
        ]
        .join("\n"),
        "a read with a row is recorded before it returns (the missing chart read nothing), \
         the rolled-back read stays on record, and an audited call's actor is the read's"
    );
    let all = app.psql("SELECT string_agg(args::text, ' ') FROM cell_audit.records");
    assert!(!all.contains("flu") && !all.contains("Ada"), "{all}");
    app.cargo_cell(&["audit", "verify"]).assert_success();

    removal_needs_review(
        &app,
        "#[Security::hipaa(protected_health_info = true)]\n",
        "- audit_app::Patient: audit removed (was event phi_read, args table fields keys, kept 6y; calls are no longer recorded)",
    );
}
