//! `cargo cell keys rotate`: the keys of encrypted fields (`#[Postgres::encrypted]`) renewed
//! online, as the owner.
//!
//! Two steps of different cost, each safe to stop at any moment and run again:
//!
//! 1. **Rewrap**: every data key wrapped under an older key-encryption key is wrapped again
//!    under the current one (the first of `CELL_ENCRYPTION_KEYS`). A few rows; afterwards
//!    the older key-encryption keys can leave the ring.
//! 2. **Re-encrypt**, per encrypted column: a new data key is added as `pending`, and the
//!    rotation is journalled (`cell_crypto.rotations`). After [`ROTATION_GRACE_SECS`], when
//!    every running program has read it, it becomes current, and programs seal new values
//!    with it. Then the column's values under other keys are re-encrypted in batches, one
//!    transaction each, in primary-key order. A batch writes a row only if its value is
//!    still the one read, so a program's concurrent write is never overwritten. A killed
//!    rotation resumes from its journal: the rows already done are under the new key, and
//!    are skipped. A blind-indexed column's rows without a blind index get one on the way.
//!
//! Readers work throughout: the old keys stay in the table (retired), and a value opens
//! under whichever key sealed it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cell_core::Target;
use cell_core::sql::quote;
use cell_core::ui::Ui;
use cell_crypto::{
    self as crypto, DataKey, KEY_TABLE_SQL, KEYS_ENV, KeyId, KeyRing, KeyState, Place,
    ROTATION_GRACE_SECS, STATE_NAME, WrappedKey,
};
use tokio_postgres::Client;

use crate::encryption::ROW_KEY_TYPES;
use crate::error::PostgresError;

/// The advisory lock a rotation holds (the key space of `crate::roles::ROLES_LOCK`).
const ROTATION_LOCK: (i32, i32) = (1667591276, 3);

/// The Cell command's name: `cargo cell keys ...`.
pub const COMMAND: &str = "keys";

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Rewrap the data keys under the current key-encryption key, and re-encrypt every
    /// encrypted column under a new data key, online (resumable: run it again after a stop).
    Rotate(RotateArgs),
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The deployment environment whose database to rotate (default: the dev Cell); its
    /// key-encryption keys come from CELL_ENCRYPTION_KEYS.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Only this table's encrypted columns.
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Rows re-encrypted per transaction.
    #[arg(long, value_name = "ROWS", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch: i64,
    /// Only rewrap the data keys under the current key-encryption key; re-encrypt nothing.
    #[arg(long)]
    pub rewrap_only: bool,
}

pub fn command() -> clap::Command {
    use clap::Args as _;
    KeysArgs::augment_args(clap::Command::new(COMMAND))
        .about("Rotate the keys of encrypted fields (#[Postgres::encrypted])")
        .long_about(None)
}

fn keys_error(message: String, help: &str) -> PostgresError {
    PostgresError::Keys {
        message,
        help: help.to_string(),
    }
}

fn db(what: &str) -> impl FnOnce(tokio_postgres::Error) -> PostgresError {
    let what = what.to_string();
    move |source| PostgresError::KeysDb { what, source }
}

/// The key ring of `target`: `CELL_ENCRYPTION_KEYS` in a deployment; the dev state's in dev.
pub fn ring_for(ws: &cell_core::Workspace, target: &Target) -> Result<KeyRing, PostgresError> {
    let text = match target {
        Target::Env(env) => std::env::var(KEYS_ENV).ok().filter(|k| !k.is_empty()).ok_or_else(|| {
            keys_error(
                format!("{KEYS_ENV} is not set, so the keys of the `{env}` database cannot be opened"),
                "set CELL_ENCRYPTION_KEYS as the programs of that environment have it (`id:<64 hex digits>`, the new key first to rewrap under it)",
            )
        })?,
        Target::Dev => cell_core::state::read::<KeyState>(ws, STATE_NAME)
            .map(|s| s.keys)
            .ok_or_else(|| {
                keys_error(
                    "the dev key ring (.cell/state/security.json) does not exist".into(),
                    "run `cargo cell build` first: it makes the dev keys for a program with an encrypted field",
                )
            })?,
    };
    KeyRing::parse(&text).map_err(|e| {
        keys_error(
            e.to_string(),
            "write each key as `id:<64 hex digits>`, separated by commas, the current one first",
        )
    })
}

/// What a rotation did, for the closing lines.
#[derive(Debug, Default)]
pub struct Rotated {
    pub rewrapped: usize,
    pub columns: Vec<ColumnRotated>,
}

#[derive(Debug)]
pub struct ColumnRotated {
    pub table: String,
    pub column: String,
    pub to_key: KeyId,
    /// Rows re-encrypted by this run.
    pub rows: u64,
    /// Rows an earlier, stopped run had done (from the journal).
    pub resumed_from: Option<i64>,
    /// Rows whose value did not decrypt in its place, left as they are.
    pub unreadable: Vec<String>,
}

impl Rotated {
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "keys: {} data key{} rewrapped under the current key-encryption key",
            self.rewrapped,
            if self.rewrapped == 1 { "" } else { "s" }
        )];
        for c in &self.columns {
            let mut line = format!(
                "keys: {}.{}: {} row{} re-encrypted under data key {}",
                c.table,
                c.column,
                c.rows,
                if c.rows == 1 { "" } else { "s" },
                c.to_key
            );
            if let Some(done) = c.resumed_from {
                line.push_str(&format!(" (resumed: {done} done before)"));
            }
            out.push(line);
        }
        out
    }
}

/// Rotates as [`RotateArgs`] say.
pub async fn rotate(
    client: &mut Client,
    ring: &KeyRing,
    args: &RotateArgs,
    ui: &Ui,
) -> Result<Rotated, PostgresError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('cell_crypto.data_keys') IS NOT NULL",
            &[],
        )
        .await
        .map_err(db("looking for the key table"))?
        .get(0);
    if !exists {
        return Err(keys_error(
            "this database has no key table (cell_crypto.data_keys): no encrypted field was applied to it".into(),
            "`cargo cell build` (or `apply`) makes it for a program with a #[Postgres::encrypted] field",
        ));
    }
    // One rotation at a time; the lock is the session's, so a killed run releases it.
    let alone: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[&ROTATION_LOCK.0, &ROTATION_LOCK.1],
        )
        .await
        .map_err(db("taking the rotation lock"))?
        .get(0);
    if !alone {
        return Err(keys_error(
            "another `cargo cell keys rotate` is running on this database".into(),
            "wait for it to finish (or stop it: a stopped rotation resumes when run again), then run again",
        ));
    }
    // As the owner: a key table made before the rotation journal existed gets it.
    client
        .batch_execute(KEY_TABLE_SQL)
        .await
        .map_err(db("bringing the key table up to date"))?;
    let mut rotated = Rotated {
        rewrapped: rewrap(client, ring).await?,
        columns: Vec::new(),
    };
    if args.rewrap_only {
        return Ok(rotated);
    }
    let columns = client
        .query(
            "SELECT DISTINCT table_name, column_name FROM cell_crypto.data_keys
             WHERE purpose = 'value' AND ($1::text IS NULL OR table_name = $1) ORDER BY 1, 2",
            &[&args.table],
        )
        .await
        .map_err(db("reading the encrypted columns"))?;
    if columns.is_empty()
        && let Some(table) = &args.table
    {
        return Err(keys_error(
            format!("`{table}` has no encrypted column with a data key"),
            "name a table with a #[Postgres::encrypted] field that a program has written to, or leave out --table",
        ));
    }
    let columns: Vec<(String, String)> = columns.iter().map(|r| (r.get(0), r.get(1))).collect();
    // A stopped run is finished first, and alone: running again means "finish", not
    // "rotate the columns it had done once more".
    let mut runs = running(client, args.table.as_deref()).await?;
    let resumed = !runs.is_empty();
    if resumed {
        for run in &runs {
            ui.info(&format!(
                "keys: {}.{}: resuming the rotation to data key {} ({} rows done)",
                run.table, run.column, run.to_key, run.rows_done
            ));
        }
    } else {
        runs = begin(client, ring, &columns).await?;
    }
    make_current(client, &runs, ui).await?;
    for run in &runs {
        let mut done = rotate_column(client, ring, run, args.batch, ui).await?;
        done.resumed_from = resumed.then_some(run.rows_done);
        rotated.columns.push(done);
    }
    Ok(rotated)
}

/// Every data key not under the current key-encryption key, wrapped under it.
async fn rewrap(client: &mut Client, ring: &KeyRing) -> Result<usize, PostgresError> {
    let current = ring.current();
    let tx = client
        .transaction()
        .await
        .map_err(db("starting the rewrap"))?;
    let rows = tx
        .query(
            "SELECT id, kek, wrapped, table_name, column_name FROM cell_crypto.data_keys WHERE kek <> $1 FOR UPDATE",
            &[&current.id()],
        )
        .await
        .map_err(db("reading the data keys"))?;
    for row in &rows {
        let (table, column): (String, String) = (row.get(3), row.get(4));
        let key = unwrap_key(row, ring, &table, &column)?;
        let again = key.wrap(current);
        tx.execute(
            "UPDATE cell_crypto.data_keys SET kek = $2, wrapped = $3 WHERE id = $1",
            &[&key.id().0.as_slice(), &again.kek, &again.bytes],
        )
        .await
        .map_err(db("rewrapping a data key"))?;
    }
    tx.commit().await.map_err(db("committing the rewrap"))?;
    Ok(rows.len())
}

/// A key id as the key table stores it.
fn key_id(id: Vec<u8>) -> Result<KeyId, PostgresError> {
    id.try_into().map(KeyId).map_err(|_| {
        keys_error(
            "the key table holds a key whose id is not 16 bytes".into(),
            "the key table was changed by hand: restore it from a backup",
        )
    })
}

/// The key of a key-table row whose first columns are `id, kek, wrapped`, unwrapped.
fn unwrap_key(
    row: &tokio_postgres::Row,
    ring: &KeyRing,
    table: &str,
    column: &str,
) -> Result<DataKey, PostgresError> {
    let wrapped = WrappedKey {
        id: key_id(row.get(0))?,
        kek: row.get(1),
        bytes: row.get(2),
    };
    wrapped.unwrap_with(ring).map_err(|e| {
        keys_error(
            format!("a key of `{table}.{column}` cannot be used: {e}"),
            "CELL_ENCRYPTION_KEYS must hold the current key-encryption key first and every older one after it, until `cargo cell keys rotate` has rewrapped the keys under it",
        )
    })
}

/// A column's rotation in the journal.
struct Running {
    id: i64,
    table: String,
    column: String,
    to_key: KeyId,
    pending: bool,
    rows_done: i64,
}

/// The journal's unfinished rotations (of `table`, or of every table).
async fn running(client: &Client, table: Option<&str>) -> Result<Vec<Running>, PostgresError> {
    let rows = client
        .query(
            "SELECT r.id, r.table_name, r.column_name, r.to_key, k.state = 'pending', r.rows_done
             FROM cell_crypto.rotations r JOIN cell_crypto.data_keys k ON k.id = r.to_key
             WHERE r.finished_at IS NULL AND ($1::text IS NULL OR r.table_name = $1)
             ORDER BY r.table_name, r.column_name",
            &[&table],
        )
        .await
        .map_err(db("reading the rotation journal"))?;
    rows.iter()
        .map(|r| {
            Ok(Running {
                id: r.get(0),
                table: r.get(1),
                column: r.get(2),
                to_key: key_id(r.get(3))?,
                pending: r.get(4),
                rows_done: r.get(5),
            })
        })
        .collect()
}

/// The single-column primary key of `table` and its type, one the row binding supports.
async fn row_key(client: &Client, table: &str) -> Result<(String, String), PostgresError> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
             WHERE i.indrelid = to_regclass(quote_ident($1)) AND i.indisprimary",
            &[&table],
        )
        .await
        .map_err(db("reading the primary key"))?;
    match rows.as_slice() {
        [one] => {
            let (name, ty): (String, String) = (one.get(0), one.get(1));
            let ty = if ty == "character varying" {
                "text".to_string()
            } else {
                ty
            };
            if ROW_KEY_TYPES.contains(&ty.as_str()) {
                Ok((name, ty))
            } else {
                Err(keys_error(
                    format!(
                        "`{table}`'s primary key `{name}` is {ty}, which encrypted values cannot be bound to"
                    ),
                    "an encrypted field's table has a primary key of type smallint, integer, bigint, text or uuid",
                ))
            }
        }
        _ => Err(keys_error(
            format!("`{table}` has no single-column primary key in this database"),
            "the table is not as the code declares it: run `cargo cell plan` to see how they differ",
        )),
    }
}

/// Every `value` key of `table.column`, unwrapped.
async fn column_keys(
    client: &Client,
    ring: &KeyRing,
    table: &str,
    column: &str,
) -> Result<HashMap<KeyId, DataKey>, PostgresError> {
    let rows = client
        .query(
            "SELECT id, kek, wrapped FROM cell_crypto.data_keys WHERE table_name = $1 AND column_name = $2 AND purpose = 'value'",
            &[&table, &column],
        )
        .await
        .map_err(db("reading the data keys"))?;
    rows.iter()
        .map(|r| unwrap_key(r, ring, table, column).map(|key| (key.id(), key)))
        .collect()
}

/// The current blind-index key of `table.column`, when it has a blind index.
async fn index_key(
    client: &Client,
    ring: &KeyRing,
    table: &str,
    column: &str,
) -> Result<Option<cell_crypto::IndexKey>, PostgresError> {
    let row = client
        .query_opt(
            "SELECT id, kek, wrapped FROM cell_crypto.data_keys
             WHERE table_name = $1 AND column_name = $2 AND purpose = 'index' AND state = 'current'",
            &[&table, &column],
        )
        .await
        .map_err(db("reading the blind-index key"))?;
    row.map(|r| unwrap_key(&r, ring, table, column).map(|key| key.index_key()))
        .transpose()
}

async fn rotate_column(
    client: &mut Client,
    ring: &KeyRing,
    run: &Running,
    batch: i64,
    ui: &Ui,
) -> Result<ColumnRotated, PostgresError> {
    let (table, column) = (run.table.as_str(), run.column.as_str());
    let (pk, pk_type) = row_key(client, table).await?;
    let (qt, qc, qpk) = (quote(table), quote(column), quote(&pk));
    let keys = column_keys(client, ring, table, column).await?;
    let to_key = keys.get(&run.to_key).ok_or_else(|| {
        keys_error(
            format!(
                "the rotation's data key {} is not in the key table",
                run.to_key
            ),
            "the key table was changed by hand: restore it from a backup",
        )
    })?;
    let to_id = run.to_key.0.as_slice();
    // A blind-indexed column also gets the index of every row that has none (written
    // before `unique` was declared on it), from the same decrypted value.
    let index = index_key(client, ring, table, column).await?;
    let qb = quote(&crate::declare::blind_index_column(column));
    let (under_other, set_index) = match &index {
        Some(_) => (
            format!("{qc} IS NOT NULL AND (substring({qc} FROM 2 FOR 16) <> $1 OR {qb} IS NULL)"),
            format!(", {qb} = v.bidx"),
        ),
        None => (
            format!("{qc} IS NOT NULL AND substring({qc} FROM 2 FOR 16) <> $1"),
            String::new(),
        ),
    };
    let select = format!(
        "SELECT {qpk}::text, to_jsonb({qpk})::text, {qc} FROM {qt}
         WHERE {under_other} AND ($2::text IS NULL OR {qpk} > $2::text::{pk_type})
         ORDER BY {qpk} LIMIT $3"
    );
    let update = format!(
        "UPDATE {qt} AS t SET {qc} = v.new{set_index}
         FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[]) AS v(pk, old, new, bidx)
         WHERE t.{qpk} = v.pk::{pk_type} AND t.{qc} = v.old"
    );
    let count = format!("SELECT count(*) FROM {qt} WHERE {under_other}");
    let total: i64 = client
        .query_one(&count, &[&to_id])
        .await
        .map_err(db("counting the rows to re-encrypt"))?
        .get(0);
    let task = ui.task("keys", &format!("{table}.{column}: 0 of {total} rows"));
    let mut rows_done = 0u64;
    let mut unreadable: Vec<String> = Vec::new();
    let started = Instant::now();
    loop {
        let mut after: Option<String> = None;
        loop {
            let rows = client
                .query(&select, &[&to_id, &after, &batch])
                .await
                .map_err(db("reading a batch"))?;
            let Some(last) = rows.last() else { break };
            after = Some(last.get(0));
            let (mut pks, mut olds, mut news, mut bidxs) = (
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Vec::<Option<Vec<u8>>>::new(),
            );
            for row in &rows {
                let (pk_text, pk_json, old): (String, String, Vec<u8>) =
                    (row.get(0), row.get(1), row.get(2));
                // The program binds a value to its key's JSON as serde writes it.
                let row_json = serde_json::from_str::<serde_json::Value>(&pk_json)
                    .map(|v| v.to_string())
                    .unwrap_or(pk_json);
                let place = Place {
                    table,
                    column,
                    row: &row_json,
                };
                let plain = crypto::key_id(&old)
                    .ok()
                    .and_then(|id| keys.get(&id))
                    .and_then(|key| key.open(&place, &old).ok());
                match plain {
                    Some(plain) => {
                        bidxs.push(index.as_ref().and_then(|key| {
                            let text = std::str::from_utf8(&plain).ok()?;
                            Some(key.blind_index(table, column, text, crypto::Normalise::Exact))
                        }));
                        news.push(to_key.seal(&place, &plain));
                        olds.push(old);
                        pks.push(pk_text);
                    }
                    None if !unreadable.contains(&row_json) => unreadable.push(row_json),
                    None => {}
                }
            }
            let tx = client.transaction().await.map_err(db("starting a batch"))?;
            let written = tx
                .execute(&update, &[&pks, &olds, &news, &bidxs])
                .await
                .map_err(db("re-encrypting a batch"))?;
            tx.execute(
                "UPDATE cell_crypto.rotations SET rows_done = rows_done + $2, updated_at = now() WHERE id = $1",
                &[&run.id, &(written as i64)],
            )
            .await
            .map_err(db("journalling a batch"))?;
            tx.commit().await.map_err(db("committing a batch"))?;
            rows_done += written;
            task.set_message(format!("{table}.{column}: {rows_done} of {total} rows"));
        }
        // A program that had not yet reloaded its keys may have sealed a value under the
        // old key meanwhile: pass again until none is left.
        let left: i64 = client
            .query_one(&count, &[&to_id])
            .await
            .map_err(db("counting the rows left"))?
            .get(0);
        if left <= unreadable.len() as i64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(ROTATION_GRACE_SECS * 10) {
            task.fail(format!("{table}.{column}: {left} rows left"));
            return Err(keys_error(
                format!("`{table}.{column}` keeps getting values under its old data key"),
                "a program is writing without reloading its keys (cell-runtime reloads them every few seconds): check that every program of this database runs a cell-runtime with key rotation, then run `cargo cell keys rotate` again to resume",
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    client
        .execute(
            "UPDATE cell_crypto.rotations SET finished_at = now(), updated_at = now() WHERE id = $1",
            &[&run.id],
        )
        .await
        .map_err(db("closing the rotation's journal"))?;
    task.finish(format!("{table}.{column}: {rows_done} rows re-encrypted"));
    if !unreadable.is_empty() {
        ui.warn(&format!(
            "keys: {table}.{column}: {} value(s) did not decrypt in their place and were left as they are, rows {}; `cargo cell keys rotate` leaves them until they are restored or written again",
            unreadable.len(),
            unreadable.join(", ")
        ));
    }
    Ok(ColumnRotated {
        table: table.into(),
        column: column.into(),
        to_key: run.to_key,
        rows: rows_done,
        resumed_from: None,
        unreadable,
    })
}

/// A new data key for each of `columns`, pending, and the rotation to it in the journal:
/// one transaction, so a run is begun for every column or for none.
async fn begin(
    client: &mut Client,
    ring: &KeyRing,
    columns: &[(String, String)],
) -> Result<Vec<Running>, PostgresError> {
    let tx = client
        .transaction()
        .await
        .map_err(db("starting the rotation"))?;
    let mut runs = Vec::new();
    for (table, column) in columns {
        let key = DataKey::generate();
        let wrapped = key.wrap(ring.current());
        tx.execute(
            "INSERT INTO cell_crypto.data_keys (id, table_name, column_name, purpose, kek, wrapped, state) VALUES ($1, $2, $3, 'value', $4, $5, 'pending')",
            &[&key.id().0.as_slice(), table, column, &wrapped.kek, &wrapped.bytes],
        )
        .await
        .map_err(db("adding the next data key"))?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO cell_crypto.rotations (table_name, column_name, to_key) VALUES ($1, $2, $3) RETURNING id",
                &[table, column, &key.id().0.as_slice()],
            )
            .await
            .map_err(db("journalling the rotation"))?
            .get(0);
        runs.push(Running {
            id,
            table: table.clone(),
            column: column.clone(),
            to_key: key.id(),
            pending: true,
            rows_done: 0,
        });
    }
    tx.commit()
        .await
        .map_err(db("committing the next data keys"))?;
    Ok(runs)
}

/// After the grace period (counted from the journal's start, so a resumed run waits only
/// what is left): each pending key current, the key it replaces retired; one transaction.
async fn make_current(client: &mut Client, runs: &[Running], ui: &Ui) -> Result<(), PostgresError> {
    let pending: Vec<&Running> = runs.iter().filter(|r| r.pending).collect();
    if pending.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = pending.iter().map(|r| r.id).collect();
    let wait: f64 = client
        .query_one(
            "SELECT coalesce(max(GREATEST(0, extract(epoch FROM started_at + make_interval(secs => $2) - now()))), 0)::float8
             FROM cell_crypto.rotations WHERE id = ANY ($1)",
            &[&ids, &(ROTATION_GRACE_SECS as f64)],
        )
        .await
        .map_err(db("reading the rotation journal"))?
        .get(0);
    if wait > 0.0 {
        ui.info(&format!(
            "keys: waiting {wait:.0} s for every program to load the new data keys"
        ));
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    let tx = client
        .transaction()
        .await
        .map_err(db("starting the switch"))?;
    for run in pending {
        tx.execute(
            "UPDATE cell_crypto.data_keys SET state = 'retired'
             WHERE table_name = $1 AND column_name = $2 AND purpose = 'value' AND state = 'current'",
            &[&run.table, &run.column],
        )
        .await
        .map_err(db("retiring the current data key"))?;
        tx.execute(
            "UPDATE cell_crypto.data_keys SET state = 'current' WHERE id = $1",
            &[&run.to_key.0.as_slice()],
        )
        .await
        .map_err(db("making the next data key current"))?;
    }
    tx.commit().await.map_err(db("committing the switch"))?;
    Ok(())
}
