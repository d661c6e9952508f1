//! `.cell/kv.lock.json`: the keys as the last apply set them. Committed, rewritten only when
//! its bytes change.

use std::collections::BTreeMap;

use cell_core::lockfile::LockFile;
use serde::{Deserialize, Serialize};

use crate::declare::EntryDecl;

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// Key → value.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

impl LockFile for Lock {
    const VERSION: u32 = LOCK_VERSION;
    const CELL: &'static str = "Kv";

    fn validate(&self) -> Result<(), String> {
        match self.keys.keys().find(|k| !crate::declare::valid_key(k)) {
            Some(k) => Err(format!("`{k}` is not a key `#[Kv::entry]` accepts")),
            None => Ok(()),
        }
    }
}

impl Lock {
    /// The lock the declarations ask for.
    pub fn desired(entries: &[EntryDecl]) -> Lock {
        Lock {
            version: LOCK_VERSION,
            keys: entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_core::lockfile::LockError;
    use std::path::Path;

    #[test]
    fn bytes_are_stable_and_round_trip() {
        let lock = Lock::desired(&[EntryDecl::new("b", "2"), EntryDecl::new("a", "1")]);
        let bytes = lock.to_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "{\n  \"version\": 1,\n  \"keys\": {\n    \"a\": \"1\",\n    \"b\": \"2\"\n  }\n}\n"
        );
        assert_eq!(Lock::parse(&bytes, Path::new("x")).unwrap(), lock);
    }

    #[test]
    fn refuses_a_newer_format_and_a_bad_key() {
        let e = Lock::parse(br#"{"version": 9, "keys": []}"#, Path::new("l")).unwrap_err();
        assert!(matches!(e, LockError::TooNew { found: 9, .. }), "{e}");
        let e =
            Lock::parse(br#"{"version": 1, "keys": {"a/b": "x"}}"#, Path::new("l")).unwrap_err();
        assert!(matches!(e, LockError::Inconsistent { .. }), "{e}");
    }
}
