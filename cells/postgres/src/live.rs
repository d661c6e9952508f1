//! The live side: reading the schema from the catalogs and applying a plan.
//!
//! Introspection is a fixed number of catalog queries whatever the number of tables (four,
//! and one for extensions when planning), and reads what Postgres stores (normalised type
//! names and default expressions), never what we remember having applied.
//!
//! Applying runs under a database-wide advisory lock ([`ApplyLock`]) so concurrent applies
//! serialise, in one transaction with a bounded `lock_timeout`, and records every apply in
//! `cargo_cell.history`. Steps that cannot run in a transaction (concurrent index builds,
//! constraint validation) run after it commits, each journalled in `cargo_cell.journal`;
//! what an interruption leaves (an invalid index, a constraint not validated) is found by
//! the next introspection and finished by the next plan.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_postgres::GenericClient;

use crate::plan::Plan;
use crate::schema::{Column, FkAction, ForeignKey, Index, Schema, Table};

const COLUMNS_SQL: &str = "
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attgenerated = 's'
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped AND c.relname = ANY($1)";

const INDEXES_SQL: &str = "
SELECT t.relname, i.relname, ix.indisunique, ix.indisprimary,
       array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             WHERE (ix.indoption[k.ord - 1] & 1) = 1 ORDER BY k.ord)::text[],
       ix.indisvalid, am.amname::text,
       (SELECT string_agg(DISTINCT oc.opcname::text, ',') FROM unnest(ix.indclass::oid[]) AS k(oid)
        JOIN pg_opclass oc ON oc.oid = k.oid WHERE NOT oc.opcdefault)
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_am am ON am.oid = i.relam
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relname = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                  WHERE con.conindid = ix.indexrelid AND con.contype = 'x')";

const FOREIGN_KEYS_SQL: &str = "
SELECT t.relname, con.conname, r.relname, con.confdeltype::\"char\"::text,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       con.contype::text, pg_get_constraintdef(con.oid), con.convalidated
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
LEFT JOIN pg_class r ON r.oid = con.confrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE con.contype IN ('f', 'c') AND n.nspname = current_schema() AND t.relname = ANY($1)";

/// The extensions a declaration can ask for (the others are not cargo-cell's business).
pub const MANAGED_EXTENSIONS: &[&str] = &[cell_search::TRIGRAM_EXTENSION];

const EXTENSIONS_SQL: &str = "SELECT extname::text FROM pg_extension WHERE extname = ANY($1)";

/// Whether the server can install an extension (its files are there).
const AVAILABLE_EXTENSION_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)";

const ENUMS_SQL: &str = "
SELECT t.typname, array(SELECT e.enumlabel::text FROM pg_enum e
                        WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND n.nspname = current_schema() AND t.typname = ANY($1)";

/// The live schema a plan is made against: the named tables and enum types (those that
/// exist), and which of the extensions a declaration can ask for are installed.
pub async fn introspect(
    client: &impl GenericClient,
    tables: &[String],
    enums: &[String],
) -> Result<Schema, tokio_postgres::Error> {
    let mut schema = introspect_tables(client, tables, enums).await?;
    let managed: Vec<&str> = MANAGED_EXTENSIONS.to_vec();
    for row in client.query(EXTENSIONS_SQL, &[&managed]).await? {
        schema.extensions.insert(row.get(0));
    }
    Ok(schema)
}

/// The named tables and enum types alone (what the runtime compares at connect, and what a
/// foreign key's target needs): no extensions.
pub async fn introspect_tables(
    client: &impl GenericClient,
    tables: &[String],
    enums: &[String],
) -> Result<Schema, tokio_postgres::Error> {
    let mut schema = Schema::default();
    if !enums.is_empty() {
        for row in client.query(ENUMS_SQL, &[&enums]).await? {
            schema.enums.insert(row.get(0), row.get(1));
        }
    }
    for row in client.query(COLUMNS_SQL, &[&tables]).await? {
        let table: String = row.get(0);
        let column: String = row.get(1);
        let expr: Option<String> = row.get(4);
        let generated: bool = row.get(5);
        let t = schema.tables.entry(table).or_default();
        // A generated column's expression sits where a default would.
        let (default, generated) = if generated {
            (None, expr)
        } else {
            (expr, None)
        };
        t.columns.insert(
            column,
            Column {
                sql_type: row.get(2),
                nullable: row.get(3),
                default,
                generated,
            },
        );
    }
    for row in client.query(INDEXES_SQL, &[&tables]).await? {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let unique: bool = row.get(2);
        let primary: bool = row.get(3);
        let columns: Vec<String> = row.get(4);
        let descending: Vec<String> = row.get(5);
        let valid: bool = row.get(6);
        let method: String = row.get(7);
        let opclass: Option<String> = row.get(8);
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        if primary {
            t.primary_key = columns;
        } else {
            if !valid {
                t.unfinished.insert(name.clone());
            }
            t.indexes.insert(
                name,
                Index {
                    columns,
                    unique,
                    descending,
                    using: (method != "btree").then_some(method),
                    opclass,
                },
            );
        }
    }
    for row in client.query(FOREIGN_KEYS_SQL, &[&tables]).await? {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let kind: String = row.get(6);
        let validated: bool = row.get(8);
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        if !validated {
            t.unfinished.insert(name.clone());
        }
        if kind == "c" {
            t.checks.insert(name, row.get(7));
            continue;
        }
        let action: String = row.get(3);
        let on_delete = action
            .bytes()
            .next()
            .and_then(|b| FkAction::from_catalog(b as i8))
            .unwrap_or_default();
        t.foreign_keys.insert(
            name,
            ForeignKey {
                columns: row.get(4),
                references: row.get(2),
                ref_columns: row.get(5),
                on_delete,
            },
        );
    }
    Ok(schema)
}

/// Columns per temporary table in [`normalize_defaults`], under Postgres' limit of 1,600.
const DEFAULTS_PER_TABLE: usize = 1000;

/// Rewrites declared default expressions the way Postgres stores them (`NOW()` → `now()`,
/// `'a'` → `'a'::text`), so that a declared default never differs from its live self.
/// Postgres itself does the normalising, in temporary tables inside a rolled-back transaction.
pub async fn normalize_defaults(
    client: &mut tokio_postgres::Client,
    desired: &mut Schema,
) -> Result<(), tokio_postgres::Error> {
    let mut targets: Vec<(String, String)> = Vec::new();
    let mut cols = Vec::new();
    for (tname, t) in &desired.tables {
        for (cname, c) in &t.columns {
            if let Some(d) = &c.default {
                cols.push(format!("c{} {} DEFAULT {}", targets.len(), c.sql_type, d));
                targets.push((tname.clone(), cname.clone()));
            }
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let tx = client.transaction().await?;
    create_enums_for_now(&tx, desired).await?;
    // A table holds at most 1,600 columns: one temporary table per chunk, all read back in
    // one query.
    let mut tables = Vec::new();
    for (n, chunk) in cols.chunks(DEFAULTS_PER_TABLE).enumerate() {
        let name = format!("cell_defaults_{n}");
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE {name} ({}) ON COMMIT DROP",
            chunk.join(", ")
        ))
        .await?;
        tables.push(name);
    }
    // `pg_get_expr(adbin, 0)`: with the table's oid, Postgres builds a naming context of all
    // the table's columns for every call, so 1,000 defaults in one 1,000-column table took
    // over a second (quadratic); a default cannot refer to a column, so no context is needed
    // and the text is the same.
    let rows = tx
        .query(
            "SELECT a.attname, pg_get_expr(d.adbin, 0) FROM pg_class c
             JOIN pg_attrdef d ON d.adrelid = c.oid
             JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE c.relnamespace = pg_my_temp_schema() AND c.relname = ANY($1)",
            &[&tables],
        )
        .await?;
    let stored: BTreeMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    tx.rollback().await?;
    for (i, (t, c)) in targets.iter().enumerate() {
        if let Some(norm) = stored.get(&format!("c{i}")) {
            desired
                .tables
                .get_mut(t)
                .and_then(|t| t.columns.get_mut(c))
                .expect("target exists")
                .default = Some(norm.clone());
        }
    }
    Ok(())
}

/// Enum columns need their types; those not created yet exist only in the caller's
/// transaction, which it rolls back.
async fn create_enums_for_now(
    tx: &tokio_postgres::Transaction<'_>,
    desired: &Schema,
) -> Result<(), tokio_postgres::Error> {
    for (name, labels) in &desired.enums {
        let step = crate::plan::Step::CreateEnum {
            name: name.clone(),
            variants: labels.clone(),
        };
        tx.batch_execute(&format!(
            "DO $cell$ BEGIN {}; EXCEPTION WHEN duplicate_object THEN NULL; END $cell$",
            step.sql()
        ))
        .await?;
    }
    Ok(())
}

/// Rewrites declared generation expressions the way Postgres stores them
/// (`to_tsvector('english', ...)` → `to_tsvector('english'::regconfig, ...)`), as
/// [`normalize_defaults`] does for defaults: per table with a generated column, a temporary
/// table of its columns inside a rolled-back transaction. An expression Postgres refuses
/// fails here, before any plan.
pub async fn normalize_generated(
    client: &mut tokio_postgres::Client,
    desired: &mut Schema,
) -> Result<(), tokio_postgres::Error> {
    let tables: Vec<String> = desired
        .tables
        .iter()
        .filter(|(_, t)| t.columns.values().any(|c| c.generated.is_some()))
        .map(|(name, _)| name.clone())
        .collect();
    if tables.is_empty() {
        return Ok(());
    }
    let tx = client.transaction().await?;
    create_enums_for_now(&tx, desired).await?;
    let mut temp = Vec::new();
    for (n, name) in tables.iter().enumerate() {
        let columns: Vec<String> = desired.tables[name]
            .columns
            .iter()
            .map(|(c, def)| match &def.generated {
                Some(g) => format!(
                    "{} {} GENERATED ALWAYS AS ({g}) STORED",
                    crate::ident::quote(c),
                    def.sql_type
                ),
                None => format!("{} {}", crate::ident::quote(c), def.sql_type),
            })
            .collect();
        let temp_name = format!("cell_generated_{n}");
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE {temp_name} ({}) ON COMMIT DROP",
            columns.join(", ")
        ))
        .await?;
        temp.push(temp_name);
    }
    let rows = tx
        .query(
            "SELECT c.relname::text, a.attname::text, pg_get_expr(d.adbin, d.adrelid) FROM pg_class c
             JOIN pg_attrdef d ON d.adrelid = c.oid
             JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE c.relnamespace = pg_my_temp_schema() AND c.relname = ANY($1)
               AND a.attgenerated = 's'",
            &[&temp],
        )
        .await?;
    tx.rollback().await?;
    for row in rows {
        let temp_name: String = row.get(0);
        let column: String = row.get(1);
        // `temp` and `tables` are parallel: the temporary table stands for its table.
        let Some(table) = temp
            .iter()
            .position(|t| *t == temp_name)
            .map(|n| &tables[n])
        else {
            continue;
        };
        if let Some(c) = desired
            .tables
            .get_mut(table)
            .and_then(|t| t.columns.get_mut(&column))
        {
            c.generated = Some(row.get(2));
        }
    }
    Ok(())
}

/// The declared extensions the server cannot install (their files are missing).
pub async fn unavailable_extensions(
    client: &impl GenericClient,
    desired: &Schema,
    live: &Schema,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let mut missing = Vec::new();
    for name in desired.extensions.difference(&live.extensions) {
        let row = client.query_one(AVAILABLE_EXTENSION_SQL, &[name]).await?;
        if !row.get::<_, bool>(0) {
            missing.push(name.clone());
        }
    }
    Ok(missing)
}

/// Counts, for each risky step of `plan`, the rows the data decides about
/// ([`crate::safety::probe`]). A probe that fails (a column renamed by the same plan, say)
/// is left out: its step is then judged by Postgres itself, inside the transaction.
pub async fn count_rows(
    client: &impl GenericClient,
    plan: &Plan,
    live: &Schema,
) -> BTreeMap<usize, i64> {
    let mut counts = BTreeMap::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let Some(sql) = crate::safety::probe(step, live) else {
            continue;
        };
        if let Ok(row) = client.query_one(&sql, &[]).await {
            counts.insert(i, row.get::<_, i64>(0));
        }
    }
    counts
}

/// Postgres' row estimates of the named tables (`pg_class.reltuples`), for choosing
/// online steps on large tables. Cheap: no table is scanned.
pub async fn row_estimates(
    client: &impl GenericClient,
    tables: &[String],
) -> Result<BTreeMap<String, i64>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relname, greatest(c.reltuples, 0)::bigint FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)",
            &[&tables],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The advisory lock every apply holds, from planning to the lock file: one per database.
/// Session-level, so a killed process releases it when its connection drops.
pub struct ApplyLock;

/// The two keys of `pg_advisory_lock(int, int)`: "cell" and the schema engine.
const LOCK_KEYS: (i32, i32) = (0x6365_6c6c, 1);

/// Another apply holds the lock and did not finish within the wait.
#[derive(Debug, thiserror::Error)]
#[error("another apply (backend pid {pid:?}) holds the schema lock")]
pub struct LockBusy {
    pub pid: Option<i32>,
    pub waited: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Busy(#[from] LockBusy),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

impl ApplyLock {
    /// Takes the lock, waiting up to `wait` for another apply to finish.
    pub async fn acquire(client: &impl GenericClient, wait: Duration) -> Result<(), LockError> {
        // A killed apply must release its locks at once, not when its current statement
        // ends: Postgres 14+ then checks the client's socket during long statements too.
        // Older servers do not know the setting; they notice at the next statement.
        let _ = client
            .batch_execute("SET client_connection_check_interval = '1s'")
            .await;
        let start = Instant::now();
        loop {
            let got: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, $2)",
                    &[&LOCK_KEYS.0, &LOCK_KEYS.1],
                )
                .await?
                .get(0);
            if got {
                return Ok(());
            }
            if start.elapsed() >= wait {
                let pid = client
                    .query_opt(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
                         AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2
                         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                        &[&LOCK_KEYS.0, &LOCK_KEYS.1],
                    )
                    .await?
                    .map(|r| r.get(0));
                return Err(LockBusy {
                    pid,
                    waited: start.elapsed(),
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn release(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
        client
            .execute(
                "SELECT pg_advisory_unlock($1, $2)",
                &[&LOCK_KEYS.0, &LOCK_KEYS.1],
            )
            .await
            .map(|_| ())
    }
}

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// `lock_timeout` for each statement: a step waiting longer for a table lock (held by
    /// a long transaction of the application) fails the apply instead of queueing every
    /// query behind it.
    pub lock_timeout: Duration,
    /// Identifies the plan in the history: a hash of its steps.
    pub plan_hash: String,
    pub tool_version: String,
    /// Test hook: a pause after each transactional step, so a test can kill an apply in
    /// the middle of its transaction.
    pub step_delay: Option<Duration>,
}

const META_SQL: &str = "
CREATE SCHEMA IF NOT EXISTS cargo_cell;
CREATE TABLE IF NOT EXISTS cargo_cell.history (
    id bigserial PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    plan_hash text NOT NULL,
    tool_version text NOT NULL,
    summary text NOT NULL,
    steps jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS cargo_cell.journal (
    history_id bigint NOT NULL REFERENCES cargo_cell.history (id),
    step integer NOT NULL,
    sql text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    finished_at timestamptz,
    PRIMARY KEY (history_id, step)
);
UPDATE cargo_cell.journal SET state = 'abandoned' WHERE state = 'pending';";

/// Runs `plan`: its transactional steps in one transaction (all or nothing), recorded in
/// `cargo_cell.history`, then the others one by one, journalled. The caller holds the
/// [`ApplyLock`].
pub async fn apply(
    client: &mut tokio_postgres::Client,
    plan: &Plan,
    options: &ApplyOptions,
) -> Result<(), ApplyError> {
    let fail = |step: Option<(usize, String)>| move |source| ApplyError { step, source };
    let tx = client.transaction().await.map_err(fail(None))?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        options.lock_timeout.as_millis()
    ))
    .await
    .map_err(fail(None))?;
    tx.batch_execute(META_SQL).await.map_err(fail(None))?;
    for (i, step) in plan.steps.iter().enumerate() {
        if !step.transactional() {
            continue;
        }
        tx.batch_execute(&step.sql())
            .await
            .map_err(fail(Some((i, step.sql()))))?;
        if let Some(delay) = options.step_delay {
            tx.batch_execute(&format!("SELECT pg_sleep({})", delay.as_secs_f64()))
                .await
                .map_err(fail(None))?;
        }
    }
    let steps = serde_json::to_value(&plan.steps).expect("steps serialise");
    let history_id: i64 = tx
        .query_one(
            "INSERT INTO cargo_cell.history (plan_hash, tool_version, summary, steps)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[
                &options.plan_hash,
                &options.tool_version,
                &plan.summary(),
                &steps,
            ],
        )
        .await
        .map_err(fail(None))?
        .get(0);
    let deferred: Vec<(usize, &crate::plan::Step)> = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.transactional())
        .collect();
    for (i, step) in &deferred {
        tx.execute(
            "INSERT INTO cargo_cell.journal (history_id, step, sql) VALUES ($1, $2, $3)",
            &[&history_id, &(*i as i32), &step.sql()],
        )
        .await
        .map_err(fail(None))?;
    }
    tx.commit().await.map_err(fail(None))?;
    for (i, step) in deferred {
        client
            .batch_execute(&step.sql())
            .await
            .map_err(fail(Some((i, step.sql()))))?;
        client
            .execute(
                "UPDATE cargo_cell.journal SET state = 'done', finished_at = now()
                 WHERE history_id = $1 AND step = $2",
                &[&history_id, &(i as i32)],
            )
            .await
            .map_err(fail(None))?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("{}", match step { Some((i, sql)) => format!("step {} failed: {sql}", i + 1), None => "the transaction failed".to_string() })]
pub struct ApplyError {
    pub step: Option<(usize, String)>,
    #[source]
    pub source: tokio_postgres::Error,
}

/// A table's live shape, for callers that hold one table.
pub fn table<'a>(schema: &'a Schema, name: &str) -> Option<&'a Table> {
    schema.tables.get(name)
}
