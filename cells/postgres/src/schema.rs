//! The schema model shared by the declared side (from code) and the live side (from the
//! catalogs). Maps are ordered so that serialisation, and so the lock file, is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    /// Enum types by name, with their labels in declaration order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enums: BTreeMap<String, Vec<String>>,
    /// Extensions the declared objects need (`pg_trgm` for trigram indexes). Created when
    /// missing, never dropped: other objects in the database may use them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub extensions: BTreeSet<String>,
}

/// The renames the code declares with `#[Postgres::renamed_from("old")]`, keyed by the new
/// name. They are hints for the diff, not part of any schema's shape: a rename is planned
/// only when the old name exists live and the new one does not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renames {
    /// New table name → old table name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, String>,
    /// Table (new name) → new column name → old column name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, BTreeMap<String, String>>,
}

impl Schema {
    /// A short, stable hash of the whole schema: a saved plan carries the live schema's,
    /// and is refused when the database no longer has it; the lock carries the declared
    /// schema's, so `cargo cell check` knows without a database whether the code changed.
    pub fn fingerprint(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("schema serialises");
        let digest = Sha256::digest(&bytes);
        hex::encode(&digest[..8])
    }
}

impl Renames {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.columns.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub columns: BTreeMap<String, Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// Secondary indexes by name (the primary key's index is not listed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<String, Index>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub foreign_keys: BTreeMap<String, ForeignKey>,
    /// CHECK constraints by name. On the declared side the expression as written; on the
    /// live side as `pg_get_constraintdef` prints it. Names are derived from the declared
    /// expression's text (see `declare::check_name`), so the diff compares names, never
    /// expression text that Postgres rewrites.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, String>,
    /// Live side only: indexes left invalid by an interrupted `CREATE INDEX CONCURRENTLY`
    /// and constraints added `NOT VALID` and not validated yet. Never in a lock.
    #[serde(skip)]
    pub unfinished: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The type as Postgres' `format_type` prints it: `integer`, `timestamp with time zone`.
    #[serde(rename = "type")]
    pub sql_type: String,
    pub nullable: bool,
    /// The default expression; on the live side as Postgres stores it (`now()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// A stored generated column's expression (`GENERATED ALWAYS AS (...) STORED`): its
    /// values derive from the row's other columns, so dropping it loses nothing. On the
    /// declared side as written, normalised by Postgres before the diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub columns: Vec<String>,
    pub unique: bool,
    /// The columns (of `columns`) sorted descending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descending: Vec<String>,
    /// The access method when not a B-tree: `gin` for a `tsvector` or trigram index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    /// The operator class of every column, when not the type's default (`gin_trgm_ops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<String>,
}

impl Index {
    /// The method (when not a B-tree) and the keys: `USING gin ("a" gin_trgm_ops, "b" DESC)`,
    /// each column written by `column` (quoted for SQL, or as is for people). `lower` writes
    /// the keywords as the plan shows them (`using gin (a, b desc)`).
    pub fn keys(&self, column: impl Fn(&str) -> String, lower: bool) -> String {
        let word = |w: &str| {
            if lower {
                w.to_lowercase()
            } else {
                w.to_string()
            }
        };
        let keys: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut key = column(c);
                if let Some(op) = &self.opclass {
                    key.push(' ');
                    key.push_str(op);
                }
                if self.descending.contains(c) {
                    key.push(' ');
                    key.push_str(&word("DESC"));
                }
                key
            })
            .collect();
        let using = self
            .using
            .as_ref()
            .map(|m| format!("{} {m} ", word("USING")))
            .unwrap_or_default();
        format!("{using}({})", keys.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub references: String,
    pub ref_columns: Vec<String>,
    pub on_delete: FkAction,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    pub const ALL: [FkAction; 5] = [
        FkAction::NoAction,
        FkAction::Restrict,
        FkAction::Cascade,
        FkAction::SetNull,
        FkAction::SetDefault,
    ];

    /// The SQL spelling: `NO ACTION`, `CASCADE`, ...
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// Parses what a user writes in `on_delete = "..."`: `cascade`, `set null`, `set_null`, ...
    pub fn parse(text: &str) -> Option<FkAction> {
        let norm = text.trim().to_ascii_lowercase().replace(['_', '-'], " ");
        FkAction::ALL
            .into_iter()
            .find(|a| a.sql().eq_ignore_ascii_case(&norm))
    }

    /// `pg_constraint.confdeltype`.
    pub fn from_catalog(code: i8) -> Option<FkAction> {
        Some(match code as u8 {
            b'a' => FkAction::NoAction,
            b'r' => FkAction::Restrict,
            b'c' => FkAction::Cascade,
            b'n' => FkAction::SetNull,
            b'd' => FkAction::SetDefault,
            _ => return None,
        })
    }
}

impl Table {
    /// A short, stable hash of this table's shape. The runtime compares the fingerprint
    /// embedded at compile time (from the lock) with one computed from the live catalogs.
    pub fn fingerprint(&self, name: &str) -> String {
        let bytes = serde_json::to_vec(&(name, self)).expect("schema serialises");
        let digest = Sha256::digest(&bytes);
        hex::encode(&digest[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fk_actions_parse_as_users_write_them() {
        assert_eq!(FkAction::parse("cascade"), Some(FkAction::Cascade));
        assert_eq!(FkAction::parse("SET NULL"), Some(FkAction::SetNull));
        assert_eq!(FkAction::parse("set_null"), Some(FkAction::SetNull));
        assert_eq!(FkAction::parse("no-action"), Some(FkAction::NoAction));
        assert_eq!(FkAction::parse("explode"), None);
    }

    #[test]
    fn fingerprint_depends_on_shape_and_name() {
        let mut t = Table::default();
        t.columns.insert(
            "id".into(),
            Column {
                sql_type: "uuid".into(),
                nullable: false,
                default: None,
                generated: None,
            },
        );
        let a = t.fingerprint("users");
        assert_eq!(a, t.fingerprint("users"));
        assert_ne!(a, t.fingerprint("people"));
        t.columns.get_mut("id").unwrap().nullable = true;
        assert_ne!(a, t.fingerprint("users"));
        assert_eq!(a.len(), 16);
    }
}
