//! The live side: reading the schema from the catalogs and applying a plan.
//!
//! Introspection is a fixed number of catalog queries whatever the number of tables (three),
//! and reads what Postgres stores (normalised type names and default expressions), never
//! what we remember having applied.

use std::collections::BTreeMap;

use tokio_postgres::GenericClient;

use crate::plan::Plan;
use crate::schema::{Column, FkAction, ForeignKey, Index, Schema, Table};

const COLUMNS_SQL: &str = "
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped AND c.relname = ANY($1)";

const INDEXES_SQL: &str = "
SELECT t.relname, i.relname, ix.indisunique, ix.indisprimary,
       array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[]
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relname = ANY($1)";

const FOREIGN_KEYS_SQL: &str = "
SELECT t.relname, con.conname, r.relname, con.confdeltype::\"char\"::text,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[]
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_class r ON r.oid = con.confrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE con.contype = 'f' AND n.nspname = current_schema() AND t.relname = ANY($1)";

/// The live schema of the named tables (those that exist).
pub async fn introspect(
    client: &impl GenericClient,
    tables: &[String],
) -> Result<Schema, tokio_postgres::Error> {
    let mut schema = Schema::default();
    for row in client.query(COLUMNS_SQL, &[&tables]).await? {
        let table: String = row.get(0);
        let column: String = row.get(1);
        let t = schema.tables.entry(table).or_default();
        t.columns.insert(
            column,
            Column {
                sql_type: row.get(2),
                nullable: row.get(3),
                default: row.get(4),
            },
        );
    }
    for row in client.query(INDEXES_SQL, &[&tables]).await? {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let unique: bool = row.get(2);
        let primary: bool = row.get(3);
        let columns: Vec<String> = row.get(4);
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        if primary {
            t.primary_key = columns;
        } else {
            t.indexes.insert(name, Index { columns, unique, descending: Vec::new() });
        }
    }
    for row in client.query(FOREIGN_KEYS_SQL, &[&tables]).await? {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let action: String = row.get(3);
        let on_delete = action
            .bytes()
            .next()
            .and_then(|b| FkAction::from_catalog(b as i8))
            .unwrap_or_default();
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
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

/// Rewrites declared default expressions the way Postgres stores them (`NOW()` → `now()`,
/// `'a'` → `'a'::text`), so that a declared default never differs from its live self.
/// Postgres itself does the normalising, in a temporary table inside a rolled-back transaction.
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
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE cell_defaults ({}) ON COMMIT DROP",
        cols.join(", ")
    ))
    .await?;
    let rows = tx
        .query(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
             JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE d.adrelid = 'cell_defaults'::regclass",
            &[],
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

/// Runs every step of `plan` in one transaction: all of it happens, or none.
pub async fn apply(client: &mut tokio_postgres::Client, plan: &Plan) -> Result<(), ApplyError> {
    let tx = client
        .transaction()
        .await
        .map_err(|source| ApplyError { step: None, source })?;
    for (i, step) in plan.steps.iter().enumerate() {
        tx.batch_execute(&step.sql())
            .await
            .map_err(|source| ApplyError {
                step: Some((i, step.sql())),
                source,
            })?;
    }
    tx.commit()
        .await
        .map_err(|source| ApplyError { step: None, source })
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
