//! `.cell/postgres.lock.json`: the live schema of every declared table, as introspected
//! after apply. Committed; read by the expansion; rewritten only when its bytes change so
//! that cargo (which tracks it through `include_bytes!`) rebuilds only then.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

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
    /// The fingerprint of the declared schema this lock was applied from (before Postgres
    /// normalised its defaults), so code and lock are compared without a database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} is not a valid lock file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "{path} has lock format version {found}, but this cargo-cell understands up to {LOCK_VERSION}"
    )]
    TooNew { path: String, found: u32 },
}

impl Lock {
    pub fn from_schema(schema: Schema) -> Lock {
        Lock {
            version: LOCK_VERSION,
            tables: schema.tables,
            enums: schema.enums,
            declared: None,
        }
    }

    /// The schema this lock holds (what the previous apply left, as far as the code's
    /// tables and enums go).
    pub fn schema(&self) -> Schema {
        Schema {
            tables: self.tables.clone(),
            enums: self.enums.clone(),
        }
    }

    /// Stable formatting: sorted keys (the maps are ordered), two-space indent, final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("lock serialises");
        bytes.push(b'\n');
        bytes
    }

    pub fn parse(bytes: &[u8], path: &Path) -> Result<Lock, LockError> {
        let lock: Lock = serde_json::from_slice(bytes).map_err(|source| LockError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        if lock.version > LOCK_VERSION {
            return Err(LockError::TooNew {
                path: path.display().to_string(),
                found: lock.version,
            });
        }
        Ok(lock)
    }

    /// `None` when the file does not exist.
    pub fn read(path: &Path) -> Result<Option<Lock>, LockError> {
        match std::fs::read(path) {
            Ok(bytes) => Lock::parse(&bytes, path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LockError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// Writes `bytes` to `path` unless it already holds exactly them; atomically (temp file and
/// rename) so a concurrent reader never sees half a file. Returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{desired_schema, fixtures};

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

    #[test]
    fn writes_only_when_bytes_change() {
        let dir = std::env::temp_dir().join(format!("cell-lock-test-{}", std::process::id()));
        let path = dir.join("x.json");
        assert!(write_if_changed(&path, b"a").unwrap());
        assert!(!write_if_changed(&path, b"a").unwrap());
        assert!(write_if_changed(&path, b"b").unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
