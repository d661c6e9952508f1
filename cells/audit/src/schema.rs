//! The audit trail's home in the Postgres Cell: the `cell_audit` schema, as SQL that is safe to
//! run again on every apply.
//!
//! - `records` is append-only, and the database enforces it: row triggers refuse UPDATE and
//!   DELETE and statement triggers refuse TRUNCATE, on the parent and on every partition; the
//!   application's role (`cell_app`) may only read it and call `append`.
//! - `records` is range-partitioned by month on `at`, so `cargo cell audit prune` drops whole
//!   expired months (a DROP, which no row trigger sees) after recording a checkpoint; a
//!   DEFAULT partition catches a record written beyond the months created ahead.
//! - `head` is one row, the chain's last `(seq, hash)`. `append` locks it (`FOR UPDATE`) for
//!   the rest of the caller's transaction: appends are serialised, so the chain never forks,
//!   and an append that rolls back leaves no gap.
//! - `append` hashes exactly as [`crate::chain::canonical`] and [`crate::chain::link_hash`]
//!   do. It runs as the schema's owner (`SECURITY DEFINER`, with a pinned `search_path`), so
//!   the application needs no privilege on the tables it writes.
//! - `at` is `clock_timestamp()` taken after the lock, not the transaction's start: records
//!   are then in seq order in time too, and a month holds a contiguous run of seqs.

use std::fmt::Write as _;

/// The schema holding the audit trail.
pub const SCHEMA: &str = "cell_audit";

/// The application's role, which the Postgres Cell grants the declared tables to; the audit
/// trail grants it `SELECT` on records and `EXECUTE` on `append`, nothing else.
pub const APP_ROLE: &str = "cell_app";

/// A calendar month, the unit of partitions and of pruning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Month {
        assert!((1..=12).contains(&month), "month {month}");
        Month { year, month }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month::new(self.year + 1, 1)
        } else {
            Month::new(self.year, self.month + 1)
        }
    }

    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month::new(self.year - 1, 12)
        } else {
            Month::new(self.year, self.month - 1)
        }
    }

    /// `n` months later (earlier when negative).
    pub fn plus(self, n: i32) -> Month {
        let index = self.year * 12 + self.month as i32 - 1 + n;
        Month::new(index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
    }

    /// The partition's table name: `records_2026_12`.
    pub fn partition(self) -> String {
        format!("records_{:04}_{:02}", self.year, self.month)
    }

    /// The month a partition name stands for (`None` for the default partition and any
    /// other table).
    pub fn of_partition(name: &str) -> Option<Month> {
        let rest = name.strip_prefix("records_")?;
        let (y, m) = rest.split_once('_')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        (1..=12).contains(&month).then(|| Month::new(year, month))
    }

    /// The first instant of the month, as a UTC timestamp literal.
    pub fn start(self) -> String {
        format!("{:04}-{:02}-01 00:00:00+00", self.year, self.month)
    }
}

/// The objects of the trail, created when missing and left alone when present (records are
/// never touched by an apply). The function, triggers and privileges are replaced each time:
/// they hold no data.
pub fn install() -> String {
    format!(
        r#"CREATE SCHEMA IF NOT EXISTS {SCHEMA};
REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;
CREATE TABLE IF NOT EXISTS {SCHEMA}.records (
    seq bigint NOT NULL,
    event text NOT NULL,
    actor text,
    args jsonb NOT NULL,
    outcome text NOT NULL,
    at timestamptz NOT NULL,
    trace_id text,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (seq, at)
) PARTITION BY RANGE (at);
CREATE TABLE IF NOT EXISTS {SCHEMA}.records_default PARTITION OF {SCHEMA}.records DEFAULT;
CREATE TABLE IF NOT EXISTS {SCHEMA}.head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
INSERT INTO {SCHEMA}.head (one, seq, hash) VALUES (true, 0, '\x{genesis}') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS {SCHEMA}.checkpoints (
    seq bigint PRIMARY KEY,
    hash bytea NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    reason text NOT NULL
);
CREATE OR REPLACE FUNCTION {SCHEMA}.field(value text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog AS
$$ SELECT convert_to(octet_length(value)::text || ':' || value, 'UTF8') $$;
CREATE OR REPLACE FUNCTION {SCHEMA}.canonical(
    seq bigint, event text, actor text, args jsonb, outcome text, at timestamptz, trace_id text
) RETURNS bytea
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS
$$ SELECT {SCHEMA}.field(seq::text)
       || {SCHEMA}.field(event)
       || coalesce({SCHEMA}.field(actor), '\x2d'::bytea)
       || {SCHEMA}.field(args::text)
       || {SCHEMA}.field(outcome)
       || {SCHEMA}.field(to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
       || coalesce({SCHEMA}.field(trace_id), '\x2d'::bytea) $$;
CREATE OR REPLACE FUNCTION {SCHEMA}.append(
    event text, actor text, args jsonb, outcome text, trace_id text
) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    last record;
    n bigint;
    now_at timestamptz;
    link bytea;
BEGIN
    SELECT h.seq, h.hash INTO last FROM {SCHEMA}.head h FOR UPDATE;
    n := last.seq + 1;
    now_at := clock_timestamp();
    link := sha256(last.hash || {SCHEMA}.canonical(n, event, actor, args, outcome, now_at, trace_id));
    INSERT INTO {SCHEMA}.records (seq, event, actor, args, outcome, at, trace_id, prev_hash, hash)
        VALUES (n, event, actor, args, outcome, now_at, trace_id, last.hash, link);
    UPDATE {SCHEMA}.head SET seq = n, hash = link;
    RETURN n;
END
$$;
CREATE OR REPLACE FUNCTION {SCHEMA}.refuse() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS
$$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'records are only added, through {SCHEMA}.append; expired months are dropped by `cargo cell audit prune`';
END
$$;
{triggers}{default_guard}REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA {SCHEMA} TO {APP_ROLE};
GRANT SELECT ON {SCHEMA}.records TO {APP_ROLE};
GRANT EXECUTE ON FUNCTION {SCHEMA}.append(text, text, jsonb, text, text) TO {APP_ROLE};
"#,
        genesis = "00".repeat(32),
        triggers = guard(),
        default_guard = guard_partition("records_default"),
    )
}

/// The triggers that make the parent `records` append-only. Postgres clones the row trigger
/// onto every partition, present and future; statement triggers it does not clone, so each
/// partition gets its own TRUNCATE guard ([`guard_partition`]).
pub fn guard() -> String {
    format!(
        "CREATE OR REPLACE TRIGGER refuse_change BEFORE UPDATE OR DELETE ON {SCHEMA}.records
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse();
{}",
        guard_partition("records")
    )
}

/// The TRUNCATE guard of one table (a TRUNCATE of a partition does not fire the parent's).
pub fn guard_partition(table: &str) -> String {
    format!(
        "CREATE OR REPLACE TRIGGER refuse_truncate BEFORE TRUNCATE ON {SCHEMA}.{table}
    FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.refuse();
"
    )
}

/// The partitions for `from` to `to` (inclusive) that `existing` does not hold, each guarded
/// like the parent (a TRUNCATE of one partition does not fire the parent's trigger).
pub fn partitions(existing: &[String], from: Month, to: Month) -> String {
    let mut sql = String::new();
    let mut m = from;
    while m <= to {
        let name = m.partition();
        if !existing.contains(&name) {
            let _ = writeln!(
                sql,
                "CREATE TABLE {SCHEMA}.{name} PARTITION OF {SCHEMA}.records FOR VALUES FROM ('{}') TO ('{}');",
                m.start(),
                m.next().start()
            );
            sql.push_str(&guard_partition(&name));
        }
        m = m.next();
    }
    sql
}

/// The partitions of `records`, by name.
pub const LIST_PARTITIONS: &str = "SELECT c.relname FROM pg_inherits i \
     JOIN pg_class c ON c.oid = i.inhrelid \
     JOIN pg_class p ON p.oid = i.inhparent \
     JOIN pg_namespace n ON n.oid = p.relnamespace \
     WHERE n.nspname = 'cell_audit' AND p.relname = 'records' ORDER BY c.relname";

/// Records in seq order from after `$1`, at most `$2`, with every field as the hash covers it.
pub const READ_RECORDS: &str = "SELECT seq, event, actor, args::text, outcome, \
     to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), trace_id, prev_hash, hash \
     FROM cell_audit.records WHERE seq > $1 ORDER BY seq LIMIT $2";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_count_across_years() {
        let dec = Month::new(2026, 12);
        assert_eq!(dec.next(), Month::new(2027, 1));
        assert_eq!(Month::new(2027, 1).prev(), dec);
        assert_eq!(dec.plus(13), Month::new(2028, 1));
        assert_eq!(dec.plus(-12), Month::new(2025, 12));
        assert_eq!(dec.plus(-24 - 11), Month::new(2024, 1));
        assert_eq!(dec.partition(), "records_2026_12");
        assert_eq!(Month::of_partition("records_2026_12"), Some(dec));
        assert_eq!(Month::of_partition("records_default"), None);
        assert_eq!(Month::of_partition("records_2026_13"), None);
        assert_eq!(dec.start(), "2026-12-01 00:00:00+00");
    }

    #[test]
    fn only_missing_partitions_are_created_and_each_is_guarded() {
        let existing = vec!["records_2026_11".to_string(), "records_default".into()];
        let sql = partitions(&existing, Month::new(2026, 11), Month::new(2027, 1));
        assert!(!sql.contains("records_2026_11 PARTITION"), "{sql}");
        assert!(sql.contains(
            "CREATE TABLE cell_audit.records_2026_12 PARTITION OF cell_audit.records FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');"
        ), "{sql}");
        assert!(sql.contains("ON cell_audit.records_2027_01\n"), "{sql}");
        assert_eq!(sql.matches("BEFORE TRUNCATE").count(), 2, "{sql}");
        assert!(
            !sql.contains("FOR EACH ROW"),
            "Postgres clones row triggers: {sql}"
        );
    }

    #[test]
    fn the_install_is_repeatable_and_grants_the_app_only_read_and_append() {
        let sql = install();
        for line in sql.lines().filter(|l| l.starts_with("CREATE ")) {
            assert!(
                line.contains("IF NOT EXISTS") || line.contains("OR REPLACE"),
                "not repeatable: {line}"
            );
        }
        let grants: Vec<&str> = sql.lines().filter(|l| l.starts_with("GRANT")).collect();
        assert_eq!(
            grants,
            [
                "GRANT USAGE ON SCHEMA cell_audit TO cell_app;",
                "GRANT SELECT ON cell_audit.records TO cell_app;",
                "GRANT EXECUTE ON FUNCTION cell_audit.append(text, text, jsonb, text, text) TO cell_app;",
            ]
        );
    }
}
