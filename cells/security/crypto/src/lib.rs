//! Encrypted fields' pure core: the stored layout of a value, the keys and how they relate,
//! and blind indexes. No cryptography is written here: AES-256-GCM, HMAC-SHA256 and the
//! random source are `ring`'s.
//!
//! ## Keys, decided once
//!
//! - **Key-encryption keys** (KEKs) come from `CELL_ENCRYPTION_KEYS` (in dev, from the
//!   git-ignored state), as a KMS would hold them: `id:hex` entries separated by commas, the
//!   first the current one. A KEK never reaches the database: it only wraps data keys.
//! - **Data keys** encrypt values. Each is 32 random bytes with a random 16-byte id, stored in
//!   the database only wrapped (AES-256-GCM under a KEK, the data key's id as associated
//!   data). There is one data key per table and column for ordinary rows, and one per data
//!   subject for tables under `#[Security::gdpr]`: destroying a subject's data key leaves
//!   its ciphertexts unreadable by anyone, with every KEK still available (crypto-shredding).
//! - **Rotation** is two steps of different cost: a new KEK rewraps the data keys (a few
//!   rows); a new data key re-encrypts the values under it (every row, in batches).
//! - **Blind indexes** are HMAC-SHA256 of the normalised value, keyed by a key of their own
//!   (per column, or per subject under `gdpr`), never by a data key: equality lookups work,
//!   and equal values leak as equal.
//!
//! ## A stored value
//!
//! `bytea`: format version (1 byte, `1`) · data key id (16) · nonce (12, random) ·
//! ciphertext · tag (16). The associated data binds it to its place: the version and key id
//! above, then the table, the column and the row's primary key. A ciphertext copied into
//! another row, column or table fails to decrypt ([`OpenError::Mismatch`]).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The variable holding the key-encryption keys in deployment.
pub const KEYS_ENV: &str = "CELL_ENCRYPTION_KEYS";

/// The dev key ring's state file (`.cell/state/security.json`, git-ignored) holds
/// `{"keys": "dev1:<hex>"}`, written by `cargo cell build` when a field is encrypted.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeyState {
    pub keys: String,
}

/// The state file's cell name (`.cell/state/security.json`).
pub const STATE_NAME: &str = "security";

/// Where the wrapped keys live: one row per key.
///
/// - `purpose`: `value` keys encrypt values, `index` keys compute blind indexes.
/// - `state`: at most one `current` key per table, column and purpose, the one new values
///   are sealed with. A `pending` key is readable but not yet written with: `cargo cell keys
///   rotate` adds the next key as pending, waits until every program has reloaded its keys
///   ([`ROTATION_GRACE_SECS`]), then makes it current. A `retired` key still opens the values
///   it sealed.
///
/// The application's role may read and add keys, never change or remove one. The key
/// table is made by the first `cargo cell build` or `apply` of a program with an encrypted
/// field; the data keys by the first program that writes an encrypted value.
pub const KEY_TABLE_SQL: &str = "CREATE SCHEMA IF NOT EXISTS cell_crypto;
CREATE TABLE IF NOT EXISTS cell_crypto.data_keys (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    table_name text NOT NULL,
    column_name text NOT NULL,
    purpose text NOT NULL DEFAULT 'value' CHECK (purpose IN ('value', 'index')),
    kek text NOT NULL,
    wrapped bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'current' CHECK (state IN ('pending', 'current', 'retired'))
);
CREATE UNIQUE INDEX IF NOT EXISTS data_keys_current
    ON cell_crypto.data_keys (table_name, column_name, purpose) WHERE state = 'current';
CREATE TABLE IF NOT EXISTS cell_crypto.rotations (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    column_name text NOT NULL,
    to_key bytea NOT NULL REFERENCES cell_crypto.data_keys (id),
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    rows_done bigint NOT NULL DEFAULT 0,
    finished_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS rotations_running
    ON cell_crypto.rotations (table_name, column_name) WHERE finished_at IS NULL;";

/// What the application's role (`role`, quoted) holds on the key table: reading and adding
/// keys. The rotation journal is the owner's.
pub fn key_table_grants(role: &str) -> String {
    format!(
        "GRANT USAGE ON SCHEMA cell_crypto TO {role};
GRANT SELECT, INSERT ON cell_crypto.data_keys TO {role};"
    )
}

/// The keys of one table, for a program: `id`, `column_name`, `purpose`, `kek`, `wrapped`,
/// `state`.
pub const LOAD_KEYS_SQL: &str = "SELECT id, column_name, purpose, kek, wrapped, state FROM cell_crypto.data_keys WHERE table_name = $1";

/// A new current key for a table, column and purpose (`$6`), unless another program made
/// one first.
pub const ADD_KEY_SQL: &str = "INSERT INTO cell_crypto.data_keys (id, table_name, column_name, kek, wrapped, purpose) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";

/// How often a program reloads a table's keys (before the next statement on the table):
/// how long a rotation's new key takes to reach every program.
pub const KEY_REFRESH_SECS: u64 = 5;

/// How long a rotation waits between adding the next key (pending) and making it current:
/// by then every running program has reloaded its keys and reads values under it.
pub const ROTATION_GRACE_SECS: u64 = 2 * KEY_REFRESH_SECS + 2;

/// What a key is for (the key table's `purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// Encrypts values.
    Value,
    /// Computes blind indexes.
    Index,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Value => "value",
            Purpose::Index => "index",
        }
    }
}

/// A key's state in the key table (see [`KEY_TABLE_SQL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Pending,
    Current,
    Retired,
}

impl KeyStatus {
    pub fn parse(text: &str) -> Option<KeyStatus> {
        match text {
            "pending" => Some(KeyStatus::Pending),
            "current" => Some(KeyStatus::Current),
            "retired" => Some(KeyStatus::Retired),
            _ => None,
        }
    }
}

/// The only layout so far.
pub const VERSION: u8 = 1;

const KEY_ID_LEN: usize = 16;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// The shortest stored value: a header and the tag of an empty plaintext.
pub const MIN_LEN: usize = HEADER_LEN + TAG_LEN;

/// A data key's id: random, stored in every value it encrypted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    bytes
}

fn aead_key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key"))
}

/// Where a value lives: what its ciphertext is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'a str,
    pub column: &'a str,
    /// The row's primary key, in a canonical text (its JSON).
    pub row: &'a str,
}

impl Place<'_> {
    /// The associated data: the header, then each part with its length (so no two places
    /// encode alike).
    fn aad(&self, header: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(header.len() + 64);
        out.extend_from_slice(b"cell-encrypted\0");
        out.extend_from_slice(header);
        for part in [self.table, self.column, self.row] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// A key that encrypts values. Its bytes never appear in `Debug` output.
pub struct DataKey {
    id: KeyId,
    bytes: [u8; 32],
    key: LessSafeKey,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({}, [redacted])", self.id)
    }
}

impl DataKey {
    /// A new random key with a new random id.
    pub fn generate() -> DataKey {
        DataKey::from_parts(KeyId(random()), random())
    }

    fn from_parts(id: KeyId, bytes: [u8; 32]) -> DataKey {
        DataKey {
            id,
            key: aead_key(&bytes),
            bytes,
        }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// This key's bytes as a blind-index key (for a key of purpose `index` only: one key
    /// never serves both).
    pub fn index_key(&self) -> IndexKey {
        IndexKey::new(&self.bytes)
    }

    /// `plaintext` encrypted for `place`, in the stored layout, under a fresh random nonce.
    pub fn seal(&self, place: &Place<'_>, plaintext: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = random();
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&nonce);
        let aad = place.aad(&out[..1 + KEY_ID_LEN]);
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .expect("a value fits AES-GCM's limits");
        out.extend_from_slice(&sealed);
        out
    }

    /// Wrapped under `kek` for the database.
    pub fn wrap(&self, kek: &Kek) -> WrappedKey {
        let nonce: [u8; NONCE_LEN] = random();
        let mut sealed = self.bytes.to_vec();
        kek.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrap_aad(self.id)),
                &mut sealed,
            )
            .expect("a key fits AES-GCM's limits");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        WrappedKey {
            id: self.id,
            kek: kek.id.clone(),
            bytes,
        }
    }
}

fn wrap_aad(id: KeyId) -> Vec<u8> {
    let mut aad = b"cell-data-key\0".to_vec();
    aad.extend_from_slice(&id.0);
    aad
}

/// The header of a stored value, read without any key: which data key opens it.
pub fn key_id(stored: &[u8]) -> Result<KeyId, OpenError> {
    if stored.len() < MIN_LEN {
        return Err(OpenError::Truncated { len: stored.len() });
    }
    if stored[0] != VERSION {
        return Err(OpenError::Version(stored[0]));
    }
    Ok(KeyId(
        stored[1..1 + KEY_ID_LEN]
            .try_into()
            .expect("the header's length"),
    ))
}

/// Why a stored value did not decrypt. No variant carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the value is {len} bytes, shorter than any encrypted value ({MIN_LEN})")]
    Truncated { len: usize },
    #[error("the value is in format version {0}, which this cargo-cell does not read")]
    Version(u8),
    #[error("the value is encrypted under data key {0}, which is not in the key ring")]
    UnknownKey(KeyId),
    #[error(
        "the value does not decrypt for {table}.{column} of row {row}: it was changed, or copied from another row, column or table"
    )]
    Mismatch {
        table: String,
        column: String,
        row: String,
    },
}

impl DataKey {
    /// The plaintext of `stored` (which this key sealed) for `place`.
    pub fn open(&self, place: &Place<'_>, stored: &[u8]) -> Result<Vec<u8>, OpenError> {
        let id = key_id(stored)?;
        if id != self.id {
            return Err(OpenError::UnknownKey(id));
        }
        let nonce: [u8; NONCE_LEN] = stored[1 + KEY_ID_LEN..HEADER_LEN]
            .try_into()
            .expect("the header's length");
        let aad = place.aad(&stored[..1 + KEY_ID_LEN]);
        let mut buf = stored[HEADER_LEN..].to_vec();
        let mismatch = || OpenError::Mismatch {
            table: place.table.into(),
            column: place.column.into(),
            row: place.row.into(),
        };
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| mismatch())?;
        Ok(plain.to_vec())
    }
}

/// A data key as the database keeps it: under a KEK.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub id: KeyId,
    /// The KEK's id.
    pub kek: String,
    /// Nonce, then the sealed key and its tag.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappedKey({} under {})", self.id, self.kek)
    }
}

/// Why a wrapped data key did not unwrap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    #[error(
        "data key {key} is wrapped under the key-encryption key `{kek}`, which {KEYS_ENV} does not hold"
    )]
    MissingKek { key: KeyId, kek: String },
    #[error(
        "data key {key} does not unwrap under the key-encryption key `{kek}`: the key or its row was changed"
    )]
    Mismatch { key: KeyId, kek: String },
}

impl WrappedKey {
    pub fn unwrap_with(&self, ring: &KeyRing) -> Result<DataKey, UnwrapError> {
        let kek = ring.get(&self.kek).ok_or_else(|| UnwrapError::MissingKek {
            key: self.id,
            kek: self.kek.clone(),
        })?;
        let mismatch = || UnwrapError::Mismatch {
            key: self.id,
            kek: self.kek.clone(),
        };
        if self.bytes.len() != NONCE_LEN + 32 + TAG_LEN {
            return Err(mismatch());
        }
        let nonce: [u8; NONCE_LEN] = self.bytes[..NONCE_LEN].try_into().expect("checked");
        let mut buf = self.bytes[NONCE_LEN..].to_vec();
        let plain = kek
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrap_aad(self.id)),
                &mut buf,
            )
            .map_err(|_| mismatch())?;
        let bytes: [u8; 32] = plain.try_into().map_err(|_| mismatch())?;
        Ok(DataKey::from_parts(self.id, bytes))
    }
}

/// A key-encryption key. Its bytes never appear in `Debug` output.
pub struct Kek {
    id: String,
    key: LessSafeKey,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({}, [redacted])", self.id)
    }
}

impl Kek {
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The key-encryption keys, the current one first.
#[derive(Debug)]
pub struct KeyRing {
    keks: Vec<Kek>,
}

/// Why `CELL_ENCRYPTION_KEYS` was refused. The text names the entry, never its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{KEYS_ENV}: {0}")]
pub struct KeyRingError(String);

/// A KEK's id: `[a-z0-9_-]`, 1 to 32 characters.
fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl KeyRing {
    /// From `id:hex,id:hex` (the current key first), each key 32 bytes (64 hex digits).
    pub fn parse(text: &str) -> Result<KeyRing, KeyRingError> {
        let mut keks: Vec<Kek> = Vec::new();
        for (n, entry) in text.split(',').map(str::trim).enumerate() {
            let place = n + 1;
            let Some((id, hex_key)) = entry.split_once(':') else {
                return Err(KeyRingError(format!(
                    "entry {place} is not `id:hex` (write `{KEYS_ENV}=k2:<64 hex digits>,k1:<64 hex digits>`, the current key first)"
                )));
            };
            if !valid_id(id) {
                return Err(KeyRingError(format!(
                    "entry {place}: `{id}` is not a key id (lowercase letters, digits, `_` and `-`, up to 32)"
                )));
            }
            let bytes: [u8; 32] = hex::decode(hex_key.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    KeyRingError(format!(
                        "the key `{id}` is not 32 bytes of hex (64 hex digits)"
                    ))
                })?;
            if keks.iter().any(|k| k.id == id) {
                return Err(KeyRingError(format!("the key id `{id}` appears twice")));
            }
            keks.push(Kek {
                id: id.to_string(),
                key: aead_key(&bytes),
            });
        }
        Ok(KeyRing { keks })
    }

    /// A new KEK entry for the dev state: `id:hex`.
    pub fn generate_entry(id: &str) -> String {
        format!("{id}:{}", hex::encode(random::<32>()))
    }

    /// The KEK new data keys are wrapped under.
    pub fn current(&self) -> &Kek {
        &self.keks[0]
    }

    pub fn get(&self, id: &str) -> Option<&Kek> {
        self.keks.iter().find(|k| k.id == id)
    }
}

/// How a value is normalised before its blind index is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalise {
    /// As it is.
    Exact,
    /// Trimmed and lowercased (e-mail addresses, handles).
    CaseInsensitive,
}

/// A key for blind indexes. Its bytes never appear in `Debug` output.
pub struct IndexKey(hmac::Key);

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey([redacted])")
    }
}

impl IndexKey {
    pub fn new(bytes: &[u8; 32]) -> IndexKey {
        IndexKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The blind index of `value` in `table.column`: equal values in one column match,
    /// the same value in another column does not.
    pub fn blind_index(&self, table: &str, column: &str, value: &str, how: Normalise) -> Vec<u8> {
        let value = match how {
            Normalise::Exact => value.to_string(),
            Normalise::CaseInsensitive => value.trim().to_lowercase(),
        };
        let mut ctx = hmac::Context::with_key(&self.0);
        for part in [table, column, value.as_str()] {
            ctx.update(&(part.len() as u32).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        ctx.sign().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW_7: Place<'static> = Place {
        table: "users",
        column: "email",
        row: "7",
    };

    #[test]
    fn a_value_opens_only_in_its_place() {
        let key = DataKey::generate();
        let stored = key.seal(&ROW_7, b"ada@example.com");
        assert_eq!(stored.len(), MIN_LEN + 15);
        assert_eq!(stored[0], VERSION);
        assert_eq!(key_id(&stored), Ok(key.id()));
        assert_eq!(key.open(&ROW_7, &stored).unwrap(), b"ada@example.com");
        assert!(
            !stored.windows(3).any(|w| w == b"ada"),
            "no plaintext in the stored value"
        );
        // Two seals of one value differ (a fresh nonce each).
        assert_ne!(stored, key.seal(&ROW_7, b"ada@example.com"));
        for other in [
            Place { row: "8", ..ROW_7 },
            Place {
                column: "name",
                ..ROW_7
            },
            Place {
                table: "admins",
                ..ROW_7
            },
        ] {
            let e = key.open(&other, &stored).unwrap_err();
            assert!(matches!(e, OpenError::Mismatch { .. }), "{e}");
        }
        assert_eq!(
            key.open(&Place { row: "8", ..ROW_7 }, &stored)
                .unwrap_err()
                .to_string(),
            "the value does not decrypt for users.email of row 8: it was changed, or copied from another row, column or table"
        );
    }

    #[test]
    fn a_changed_header_or_body_is_refused() {
        let key = DataKey::generate();
        let stored = key.seal(&ROW_7, b"x");
        let mut flipped = stored.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            key.open(&ROW_7, &flipped),
            Err(OpenError::Mismatch { .. })
        ));
        let mut version = stored.clone();
        version[0] = 2;
        assert_eq!(key.open(&ROW_7, &version), Err(OpenError::Version(2)));
        assert_eq!(
            key.open(&ROW_7, &stored[..10]),
            Err(OpenError::Truncated { len: 10 })
        );
        let other = DataKey::generate();
        assert_eq!(
            other.open(&ROW_7, &stored),
            Err(OpenError::UnknownKey(key.id()))
        );
    }

    #[test]
    fn data_keys_travel_wrapped_and_unwrap_with_their_kek() {
        let ring = KeyRing::parse(&format!(
            "{},{}",
            KeyRing::generate_entry("k2"),
            KeyRing::generate_entry("k1")
        ))
        .unwrap();
        assert_eq!(ring.current().id(), "k2");
        let key = DataKey::generate();
        let stored = key.seal(&ROW_7, b"secret");
        let wrapped = key.wrap(ring.get("k1").unwrap());
        assert_eq!(wrapped.kek, "k1");
        let back = wrapped.unwrap_with(&ring).unwrap();
        assert_eq!(back.open(&ROW_7, &stored).unwrap(), b"secret");

        let only_k2 = KeyRing::parse(&KeyRing::generate_entry("k2")).unwrap();
        assert_eq!(
            wrapped.unwrap_with(&only_k2).unwrap_err(),
            UnwrapError::MissingKek {
                key: key.id(),
                kek: "k1".into()
            }
        );
        let mut changed = wrapped.clone();
        changed.id = DataKey::generate().id();
        assert!(matches!(
            changed.unwrap_with(&ring),
            Err(UnwrapError::Mismatch { .. })
        ));
    }

    #[test]
    fn a_key_ring_names_the_bad_entry_and_never_its_key() {
        let secret = "ab".repeat(31);
        for (text, says) in [
            ("k1", "entry 1 is not `id:hex`"),
            ("K1:00", "`K1` is not a key id"),
            (
                &format!("k1:{secret}"),
                "the key `k1` is not 32 bytes of hex",
            ),
            (
                &format!("{},k1:{}", KeyRing::generate_entry("k1"), "cd".repeat(32)),
                "the key id `k1` appears twice",
            ),
        ] {
            let e = KeyRing::parse(text).unwrap_err().to_string();
            assert!(
                e.starts_with("CELL_ENCRYPTION_KEYS: ") && e.contains(says),
                "{e}"
            );
            assert!(!e.contains(&secret) && !e.contains(&"cd".repeat(32)), "{e}");
        }
        let ring = KeyRing::parse(&KeyRing::generate_entry("k1")).unwrap();
        assert_eq!(
            format!("{ring:?}"),
            "KeyRing { keks: [Kek(k1, [redacted])] }"
        );
        assert!(format!("{:?}", DataKey::generate()).ends_with(", [redacted])"));
    }

    #[test]
    fn blind_indexes_match_equal_values_in_one_column_only() {
        let key = IndexKey::new(&[7; 32]);
        let a = key.blind_index(
            "users",
            "email",
            " Ada@Example.com",
            Normalise::CaseInsensitive,
        );
        let b = key.blind_index(
            "users",
            "email",
            "ada@example.com",
            Normalise::CaseInsensitive,
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        assert_ne!(
            a,
            key.blind_index(
                "users",
                "backup_email",
                "ada@example.com",
                Normalise::CaseInsensitive
            )
        );
        assert_ne!(
            key.blind_index("users", "email", "Ada", Normalise::Exact),
            key.blind_index("users", "email", "ada", Normalise::Exact)
        );
        assert_ne!(
            a,
            IndexKey::new(&[8; 32]).blind_index(
                "users",
                "email",
                "ada@example.com",
                Normalise::CaseInsensitive
            )
        );
    }
}
