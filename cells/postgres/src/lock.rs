//! `.cell/postgres.lock.json`: the live schema of every declared table, as introspected
//! after apply. Committed; read by the expansion; rewritten only when its bytes change so
//! that cargo (which tracks it through `include_bytes!`) rebuilds only then.

use std::collections::{BTreeMap, BTreeSet};

pub use cell_core::lockfile::{LockError, LockFile};
use serde::{Deserialize, Serialize};

use crate::schema::{Schema, Table};

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    pub tables: BTreeMap<String, Table>,
    /// Enum types the code declares, with their labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enums: BTreeMap<String, Vec<String>>,
    /// Extensions the declared objects need, as installed.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub extensions: BTreeSet<String>,
    /// The fingerprint of the declared schema this lock was applied from (before Postgres
    /// normalised its defaults), so code and lock are compared without a database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<String>,
}

impl LockFile for Lock {
    const VERSION: u32 = LOCK_VERSION;
    const CELL: &'static str = "Postgres";
}

impl Lock {
    pub fn from_schema(schema: Schema) -> Lock {
        Lock {
            version: LOCK_VERSION,
            tables: schema.tables,
            enums: schema.enums,
            extensions: schema.extensions,
            declared: None,
        }
    }

    /// The schema this lock holds (what the previous apply left, as far as the code's
    /// tables and enums go).
    pub fn schema(&self) -> Schema {
        Schema {
            tables: self.tables.clone(),
            enums: self.enums.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{desired_schema, fixtures};
    use std::path::Path;

    #[test]
    fn bytes_are_deterministic_and_round_trip() {
        let lock = Lock::from_schema(desired_schema(&fixtures::users()));
        let a = lock.to_bytes();
        assert_eq!(a, lock.clone().to_bytes());
        let back = Lock::parse(&a, Path::new("x")).unwrap();
        assert_eq!(back, lock);
        let text = String::from_utf8(a).unwrap();
        assert!(text.find("\"organizations\"").unwrap() < text.find("\"users\"").unwrap());
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn refuses_a_newer_format() {
        let err = Lock::parse(br#"{"version": 99, "tables": {}}"#, Path::new("l")).unwrap_err();
        assert!(matches!(err, LockError::TooNew { found: 99, .. }));
    }
}
