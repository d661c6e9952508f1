//! Checked queries: `query!`, `query_as!` and `#[Postgres::query]`.
//!
//! A query flows through the same stages as a table, with Postgres as the type checker:
//! the macro records a [`QueryDecl`] in phase 1 → `cargo cell build` prepares each statement
//! on the dev Cell after the schema is applied (`describe`, feature `live`) → the result,
//! with nullability worked out from the statement and the schema ([`nullability`]), goes to
//! `.cell/postgres.queries.lock.json` ([`QueriesLock`]) → the macro expands against that lock
//! with no database (`expand`, feature `macros`).
//!
//! Everything here is pure; the lock is keyed by [`statement_hash`] of the text as written,
//! so an edited statement is a different query until `cargo cell build` describes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use cell_core::lockfile::{LockError, LockFile};

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "live")]
pub mod nullability;

/// The lock file's name inside `.cell/`.
pub const QUERIES_LOCK_FILE: &str = "postgres.queries.lock.json";

pub const QUERIES_LOCK_VERSION: u32 = 1;

/// What the phase-1 expansion of a query not (yet) in the lock says. The record step knows
/// a compilation that failed only with these errors: it describes the queries and records
/// again. Keep the words.
pub const PENDING_MARKER: &str = "cargo-cell: query not described yet";

/// One statement as the code writes it, recorded in phase 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryDecl {
    /// [`statement_hash`] of `sql`.
    pub hash: String,
    pub sql: String,
    /// Where it is written: `src/lib.rs:12` (relative to its crate), for messages.
    pub site: String,
    /// `query!`, `query_as!(Type, ..)`, `#[Postgres::query] fn name`.
    pub form: String,
}

/// The hash a query is locked under: the statement's text exactly as written.
pub fn statement_hash(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    hex::encode(&digest[..8])
}

/// `.cell/postgres.queries.lock.json`: what Postgres said of every recorded statement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueriesLock {
    pub version: u32,
    /// By [`statement_hash`].
    pub queries: BTreeMap<String, LockedQuery>,
}

impl LockFile for QueriesLock {
    const VERSION: u32 = QUERIES_LOCK_VERSION;
    const CELL: &'static str = "Postgres queries";

    fn validate(&self) -> Result<(), String> {
        for (hash, q) in &self.queries {
            if statement_hash(&q.sql) != *hash {
                return Err(format!(
                    "the query locked as `{hash}` has another text's hash (edited by hand?)"
                ));
            }
        }
        Ok(())
    }
}

/// One statement as Postgres described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedQuery {
    pub sql: String,
    /// Where the code writes it (every place, sorted).
    pub sites: Vec<String>,
    #[serde(flatten)]
    pub described: Described,
}

/// What preparing the statement gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Described {
    /// Postgres accepted it.
    Ok {
        /// `$1`, `$2`, ... in order.
        params: Vec<PgType>,
        columns: Vec<Column>,
        /// The table columns it reads (`table.column`), so a plan can tell which schema
        /// changes break it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        uses: Vec<String>,
        /// Tables it names.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tables: Vec<String>,
    },
    /// Postgres refused it: the macro turns this into a compile error at the literal.
    Rejected {
        message: String,
        /// 1-based character position in the text, as Postgres gives it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
}

/// A Postgres type as `pg_type` names it (`int8`, `timestamptz`, `_text` for `text[]`),
/// with whether it is an enum (the Rust type then comes from an override or the enum's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgType {
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_enum: bool,
}

impl PgType {
    pub fn new(name: &str) -> PgType {
        PgType {
            name: name.to_string(),
            is_enum: false,
        }
    }
}

/// One result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The name Postgres gives it, overrides included (`customers!`).
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PgType,
    pub nullable: bool,
}

/// A column name with sqlx's override syntax taken apart: `name!` (never NULL), `name?`
/// (may be NULL), `name: Type` (this Rust type), `name!: Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnName {
    pub field: String,
    pub nullable: Option<bool>,
    pub rust_type: Option<String>,
}

impl ColumnName {
    pub fn parse(name: &str) -> ColumnName {
        let (head, rust_type) = match name.split_once(':') {
            Some((h, t)) => (h.trim(), Some(t.trim().to_string())),
            None => (name.trim(), None),
        };
        let (field, nullable) = if let Some(f) = head.strip_suffix('!') {
            (f, Some(false))
        } else if let Some(f) = head.strip_suffix('?') {
            (f, Some(true))
        } else {
            (head, None)
        };
        ColumnName {
            field: field.trim().to_string(),
            nullable,
            rust_type: rust_type.filter(|t| !t.is_empty()),
        }
    }
}

/// The Rust type a Postgres type decodes to, as a path from the application's point of view
/// (`::cell_runtime::__private::` prefixes are the expansion's business); `None` for a type
/// without a mapping (an enum, a domain): the column then needs a `name: Type` override.
pub fn rust_type_of(pg: &PgType) -> Option<String> {
    if pg.is_enum {
        return None;
    }
    if let Some(elem) = pg.name.strip_prefix('_') {
        let inner = rust_type_of(&PgType::new(elem))?;
        return Some(format!("Vec<{inner}>"));
    }
    let t = match pg.name.as_str() {
        "bool" => "bool",
        "int2" => "i16",
        "int4" => "i32",
        "int8" => "i64",
        "float4" => "f32",
        "float8" => "f64",
        "text" | "varchar" | "bpchar" | "name" | "citext" => "String",
        "uuid" => "Uuid",
        "timestamptz" => "DateTime<Utc>",
        "timestamp" => "NaiveDateTime",
        "date" => "NaiveDate",
        "time" => "NaiveTime",
        "numeric" => "Decimal",
        "json" | "jsonb" => "JsonValue",
        "bytea" => "Vec<u8>",
        "oid" => "u32",
        "char" => "i8",
        _ => return None,
    };
    Some(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn overrides_are_taken_apart() {
        assert_eq!(
            ColumnName::parse("customers!"),
            ColumnName {
                field: "customers".into(),
                nullable: Some(false),
                rust_type: None
            }
        );
        assert_eq!(ColumnName::parse("total?").nullable, Some(true));
        let c = ColumnName::parse("status!: OrderStatus");
        assert_eq!(
            (c.field.as_str(), c.nullable, c.rust_type.as_deref()),
            ("status", Some(false), Some("OrderStatus"))
        );
        let c = ColumnName::parse("slug");
        assert_eq!((c.nullable, c.rust_type), (None, None));
    }

    #[test]
    fn types_map_and_arrays_nest() {
        assert_eq!(rust_type_of(&PgType::new("int8")).as_deref(), Some("i64"));
        assert_eq!(
            rust_type_of(&PgType::new("_text")).as_deref(),
            Some("Vec<String>")
        );
        assert_eq!(rust_type_of(&PgType::new("tsvector")), None);
        let e = PgType {
            name: "order_status".into(),
            is_enum: true,
        };
        assert_eq!(rust_type_of(&e), None);
    }

    #[test]
    fn lock_round_trips_and_checks_its_hashes() {
        let sql = "SELECT 1 AS one";
        let mut lock = QueriesLock {
            version: QUERIES_LOCK_VERSION,
            queries: BTreeMap::new(),
        };
        lock.queries.insert(
            statement_hash(sql),
            LockedQuery {
                sql: sql.into(),
                sites: vec!["src/lib.rs:3".into()],
                described: Described::Ok {
                    params: vec![],
                    columns: vec![Column {
                        name: "one".into(),
                        ty: PgType::new("int4"),
                        nullable: false,
                    }],
                    uses: vec![],
                    tables: vec![],
                },
            },
        );
        let bytes = lock.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"ok\""), "{text}");
        assert_eq!(QueriesLock::parse(&bytes, Path::new("q")).unwrap(), lock);

        let edited = text.replace("SELECT 1 AS one", "SELECT 2 AS one");
        let err = QueriesLock::parse(edited.as_bytes(), Path::new("q")).unwrap_err();
        assert!(matches!(err, LockError::Inconsistent { .. }), "{err}");
    }

    #[test]
    fn the_hash_is_of_the_text_as_written() {
        assert_eq!(statement_hash("SELECT 1"), statement_hash("SELECT 1"));
        assert_ne!(statement_hash("SELECT 1"), statement_hash("SELECT  1"));
        assert_eq!(statement_hash("x").len(), 16);
    }
}
