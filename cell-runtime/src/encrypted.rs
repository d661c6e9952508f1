//! Encrypted fields (`#[Postgres::encrypted]`) at run time: what the table's generated
//! methods call. The layout and the keys are `cell_crypto`'s; this keeps them in
//! the process.
//!
//! - The key-encryption keys come from `CELL_ENCRYPTION_KEYS`, else the dev key ring in the
//!   nearest `.cell/state/security.json`; read once.
//! - A table's data keys are read (and unwrapped) the first time one of its methods runs,
//!   from `cell_crypto.data_keys`, through the program's own pool: not through the caller's
//!   transaction, so a key made for a write that then rolls back still exists for the rows
//!   another transaction sealed with it. A column without a current key gets one, made here
//!   and wrapped under the current key-encryption key; two programs racing make one.
//! - Writes bind a [`Sealed`] value, encrypted as it is sent; reads [`open`] the column.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::BufMut as _;
use cell_crypto::{
    self as crypto, DataKey, KEY_REFRESH_SECS, KEYS_ENV, KeyId, KeyRing, KeyState, KeyStatus,
    OpenError, Place, Purpose, STATE_NAME, WrappedKey,
};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::{Error, PostgresConnection};

/// The keys this process has unwrapped, each column's current ones, and when each table's
/// keys were last read.
#[derive(Default)]
struct Keys {
    by_id: HashMap<KeyId, Arc<DataKey>>,
    /// (table, column, purpose) → the key new values (or blind indexes) use.
    current: BTreeMap<(String, String, Purpose), KeyId>,
    loaded: HashMap<String, Instant>,
}

impl Keys {
    fn current(&self, table: &str, column: &str, purpose: Purpose) -> Option<&Arc<DataKey>> {
        self.current
            .get(&(table.to_string(), column.to_string(), purpose))
            .and_then(|id| self.by_id.get(id))
    }

    /// Whether `table`'s keys were read within [`KEY_REFRESH_SECS`] and each of `needed`
    /// has a current key.
    fn fresh(&self, table: &str, needed: &[(&str, Purpose)]) -> bool {
        self.loaded
            .get(table)
            .is_some_and(|at| at.elapsed() < Duration::from_secs(KEY_REFRESH_SECS))
            && self.has_all(table, needed)
    }

    fn has_all(&self, table: &str, needed: &[(&str, Purpose)]) -> bool {
        needed
            .iter()
            .all(|&(column, purpose)| self.current(table, column, purpose).is_some())
    }
}

fn keys() -> &'static RwLock<Keys> {
    static KEYS: OnceLock<RwLock<Keys>> = OnceLock::new();
    KEYS.get_or_init(Default::default)
}

fn read_keys() -> std::sync::RwLockReadGuard<'static, Keys> {
    keys().read().unwrap_or_else(|e| e.into_inner())
}

fn error(message: String, help: &str) -> Error {
    Error::Encrypted {
        message,
        help: help.to_string(),
    }
}

/// The key ring: `CELL_ENCRYPTION_KEYS`, else the dev state. Read once.
fn ring() -> Result<&'static KeyRing, Error> {
    static RING: OnceLock<Result<KeyRing, String>> = OnceLock::new();
    RING.get_or_init(|| {
        let text = match std::env::var(KEYS_ENV).ok().filter(|k| !k.is_empty()) {
            Some(text) => text,
            None => crate::dev_state::find::<KeyState>(STATE_NAME)
                .map(|s| s.keys)
                .map_err(|searched| {
                    format!("{KEYS_ENV} is not set, and no .cell/state/security.json was found above {searched}")
                })?,
        };
        KeyRing::parse(&text).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|why| {
        error(
            format!("cannot reach the keys of encrypted fields: {why}"),
            "set CELL_ENCRYPTION_KEYS to the key-encryption keys (`id:<64 hex digits>`, the current one first; keep them secret), or run `cargo cell build` to make the dev keys",
        )
    })
}

/// The pool the key table is read and written through.
async fn pool() -> Result<&'static PostgresConnection, Error> {
    static POOL: tokio::sync::OnceCell<PostgresConnection> = tokio::sync::OnceCell::const_new();
    POOL.get_or_try_init(PostgresConnection::connect).await
}

const KEY_TABLE_HELP: &str = "the key table `cell_crypto.data_keys` is made by `cargo cell build` (or `apply`) for a table with an encrypted field: run it, and check the program's role may read it";

fn key_table_error(table: &str, why: &str) -> Error {
    error(format!("a key of `{table}` {why}"), KEY_TABLE_HELP)
}

/// Reads `table`'s keys into the process: every key (a pending or retired one still opens
/// values), and the current one of each column and purpose.
async fn load(db: &PostgresConnection, table: &str) -> Result<(), Error> {
    let ring = ring()?;
    let rows = db
        .query(crypto::LOAD_KEYS_SQL, &[&table])
        .await
        .map_err(|e| {
            error(
                format!("cannot read the data keys of `{table}`: {e}"),
                KEY_TABLE_HELP,
            )
        })?;
    let mut unwrapped = Vec::new();
    for row in rows {
        let id: Vec<u8> = row.try_get(0)?;
        let column: String = row.try_get(1)?;
        let purpose = match row.try_get::<_, &str>(2)? {
            "value" => Purpose::Value,
            "index" => Purpose::Index,
            other => {
                return Err(key_table_error(
                    table,
                    &format!("has the unknown purpose `{other}`"),
                ));
            }
        };
        let wrapped = WrappedKey {
            id: KeyId(
                id.try_into()
                    .map_err(|_| key_table_error(table, "has an id that is not 16 bytes"))?,
            ),
            kek: row.try_get(3)?,
            bytes: row.try_get(4)?,
        };
        let status = KeyStatus::parse(row.try_get(5)?)
            .ok_or_else(|| key_table_error(table, "has an unknown state"))?;
        let key = wrapped.unwrap_with(ring).map_err(|e| {
            error(
                format!("a data key of `{table}.{column}` cannot be used: {e}"),
                "the program's CELL_ENCRYPTION_KEYS must hold every key-encryption key its data keys are wrapped under (the old ones too, until `cargo cell keys rotate` rewrapped them)",
            )
        })?;
        unwrapped.push((column, purpose, status, key));
    }
    let mut keys = keys().write().unwrap_or_else(|e| e.into_inner());
    keys.current.retain(|(t, _, _), _| t != table);
    for (column, purpose, status, key) in unwrapped {
        if status == KeyStatus::Current {
            keys.current
                .insert((table.to_string(), column, purpose), key.id());
        }
        keys.by_id.entry(key.id()).or_insert_with(|| Arc::new(key));
    }
    keys.loaded.insert(table.to_string(), Instant::now());
    Ok(())
}

/// Before a method of `table` runs: its keys are in the process (read again every
/// [`KEY_REFRESH_SECS`], so a rotation's next key reaches it), and each of `columns` (its
/// encrypted ones) has a current key, and each of `indexed` (those with a blind index) a
/// current index key.
pub async fn prepare(
    table: &'static str,
    columns: &[&'static str],
    indexed: &[&'static str],
) -> Result<(), Error> {
    let needed: Vec<(&str, Purpose)> = columns
        .iter()
        .map(|&c| (c, Purpose::Value))
        .chain(indexed.iter().map(|&c| (c, Purpose::Index)))
        .collect();
    if read_keys().fresh(table, &needed) {
        return Ok(());
    }
    let db = pool().await?;
    load(db, table).await?;
    let missing: Vec<(&str, Purpose)> = {
        let keys = read_keys();
        needed
            .iter()
            .copied()
            .filter(|&(c, purpose)| keys.current(table, c, purpose).is_none())
            .collect()
    };
    if missing.is_empty() {
        return Ok(());
    }
    let kek = ring()?.current();
    for (column, purpose) in missing {
        let key = DataKey::generate();
        let wrapped = key.wrap(kek);
        db.execute(
            crypto::ADD_KEY_SQL,
            &[
                &key.id().0.as_slice(),
                &table,
                &column,
                &wrapped.kek,
                &wrapped.bytes,
                &purpose.as_str(),
            ],
        )
        .await
        .map_err(|e| {
            error(
                format!("cannot add a data key for `{table}.{column}`: {e}"),
                KEY_TABLE_HELP,
            )
        })?;
    }
    // The keys as stored: ours, or the ones another program added first.
    load(db, table).await?;
    if read_keys().has_all(table, &needed) {
        Ok(())
    } else {
        Err(error(
            format!("`{table}` has an encrypted column without a current data key"),
            KEY_TABLE_HELP,
        ))
    }
}

/// What an encrypted field can be: its plaintext is bytes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an encrypted field",
    label = "#[Postgres::encrypted] encrypts `String` and `Option<String>`",
    note = "store other values as their text (bytes as base64), or leave the field in the clear"
)]
pub trait EncryptedValue: Sized {
    /// The bytes to encrypt; `None` is stored as NULL.
    fn plaintext(&self) -> Option<&[u8]>;
    /// From the decrypted bytes (`None`: the column was NULL).
    fn from_plaintext(plain: Option<Vec<u8>>) -> Result<Self, String>;
}

impl EncryptedValue for Vec<u8> {
    fn plaintext(&self) -> Option<&[u8]> {
        Some(self)
    }
    fn from_plaintext(plain: Option<Vec<u8>>) -> Result<Self, String> {
        plain.ok_or_else(|| "the column is NULL, but the field is not an Option".into())
    }
}

impl EncryptedValue for String {
    fn plaintext(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
    fn from_plaintext(plain: Option<Vec<u8>>) -> Result<Self, String> {
        String::from_utf8(Vec::from_plaintext(plain)?)
            .map_err(|_| "the decrypted value is not UTF-8 text".into())
    }
}

impl<T: EncryptedValue> EncryptedValue for Option<T> {
    fn plaintext(&self) -> Option<&[u8]> {
        self.as_ref().and_then(T::plaintext)
    }
    fn from_plaintext(plain: Option<Vec<u8>>) -> Result<Self, String> {
        match plain {
            None => Ok(None),
            some => T::from_plaintext(some).map(Some),
        }
    }
}

/// A field's value, encrypted for its place as it is sent. `Debug` shows only the place.
pub struct Sealed<'a, V> {
    table: &'static str,
    column: &'static str,
    row: String,
    value: &'a V,
}

impl<'a, V: EncryptedValue> Sealed<'a, V> {
    /// `value` of `table.column` in the row whose primary key's JSON text is `row`.
    pub fn new(table: &'static str, column: &'static str, row: String, value: &'a V) -> Self {
        Sealed {
            table,
            column,
            row,
            value,
        }
    }
}

impl<V> std::fmt::Debug for Sealed<'_, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({}.{}, [encrypted])", self.table, self.column)
    }
}

impl<V: EncryptedValue + Sync> ToSql for Sealed<'_, V> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let Some(plain) = self.value.plaintext() else {
            return Ok(IsNull::Yes);
        };
        let keys = read_keys();
        let key = keys
            .current(self.table, self.column, Purpose::Value)
            .ok_or_else(|| {
                format!(
                    "no data key for {}.{} in this process",
                    self.table, self.column
                )
            })?;
        let place = Place {
            table: self.table,
            column: self.column,
            row: &self.row,
        };
        out.put_slice(&key.seal(&place, plain));
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    to_sql_checked!();
}

/// The field at `index` of `row`, decrypted for its place (`row_key`: the primary key's
/// JSON text). A value copied from elsewhere, or changed, is an error naming the place.
pub fn open<V: EncryptedValue>(
    row: &tokio_postgres::Row,
    index: usize,
    table: &'static str,
    column: &'static str,
    row_key: &str,
) -> Result<V, Error> {
    let stored: Option<Vec<u8>> = row.try_get(index)?;
    let place = Place {
        table,
        column,
        row: row_key,
    };
    let fail = |why: String| {
        error(
            format!("cannot decrypt {table}.{column} of row {row_key}: {why}"),
            "a value only decrypts in the row, column and table it was written for: restore it from a backup, or write it again through the program",
        )
    };
    let plain = match stored {
        None => None,
        Some(bytes) => {
            let id = crypto::key_id(&bytes).map_err(|e| fail(e.to_string()))?;
            let keys = read_keys();
            let key = keys
                .by_id
                .get(&id)
                .ok_or_else(|| fail(OpenError::UnknownKey(id).to_string()))?;
            Some(key.open(&place, &bytes).map_err(|e| match e {
                OpenError::Mismatch { .. } => {
                    fail("it was changed, or copied from another row, column or table".into())
                }
                other => fail(other.to_string()),
            })?)
        }
    };
    V::from_plaintext(plain).map_err(fail)
}

/// The blind index of an encrypted field's value (HMAC-SHA256 under the column's index key,
/// `cell_crypto::IndexKey`), computed as it is sent: what an `index`/`unique` encrypted
/// field is stored beside and found by. `Debug` shows only the place.
pub struct BlindIndex<'a> {
    table: &'static str,
    column: &'static str,
    value: Option<&'a [u8]>,
}

impl<'a> BlindIndex<'a> {
    /// `value` (its plaintext; `None` is NULL) of `table.column`.
    pub fn new(table: &'static str, column: &'static str, value: Option<&'a [u8]>) -> Self {
        BlindIndex {
            table,
            column,
            value,
        }
    }
}

impl std::fmt::Debug for BlindIndex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlindIndex({}.{}, [hashed])", self.table, self.column)
    }
}

impl ToSql for BlindIndex<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let Some(plain) = self.value else {
            return Ok(IsNull::Yes);
        };
        let keys = read_keys();
        let key = keys
            .current(self.table, self.column, Purpose::Index)
            .ok_or_else(|| {
                format!(
                    "no blind-index key for {}.{} in this process",
                    self.table, self.column
                )
            })?;
        let text = std::str::from_utf8(plain).map_err(|_| "an encrypted value is not UTF-8")?;
        out.put_slice(&key.index_key().blind_index(
            self.table,
            self.column,
            text,
            crypto::Normalise::Exact,
        ));
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    to_sql_checked!();
}
