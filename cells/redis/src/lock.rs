//! `.cell/redis.lock.json`: the Redis Cell as the code declared it and as it was applied:
//! every cache's key namespace, TTL and tags, and the Cell's settings. Committed, so a
//! review shows cache changes beside schema changes; rewritten only when its bytes change.

use std::collections::BTreeMap;

pub use cell_core::lockfile::{LockError, LockFile};
use serde::{Deserialize, Serialize};

use crate::declare::{MemoizeDecl, TableCacheDecl};
use crate::duration;

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// Applied with `CONFIG SET`, such as `maxmemory-policy`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// By table name.
    #[serde(default)]
    pub tables: BTreeMap<String, TableEntry>,
    /// By `{app}::{fn}`.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub namespace: String,
    /// As `1h`.
    pub ttl: String,
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionEntry {
    pub namespace: String,
    pub ttl: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_while_revalidate: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl LockFile for Lock {
    const VERSION: u32 = LOCK_VERSION;
    const CELL: &'static str = "Redis";
}

impl Lock {
    /// The lock the declarations and settings ask for.
    pub fn desired(
        tables: &[TableCacheDecl],
        functions: &[MemoizeDecl],
        settings: BTreeMap<String, String>,
    ) -> Lock {
        let mut lock = Lock {
            version: LOCK_VERSION,
            settings,
            ..Lock::default()
        };
        for t in tables {
            lock.tables.insert(
                t.table.clone(),
                TableEntry {
                    namespace: t.namespace.clone(),
                    ttl: duration::format(t.ttl_secs),
                    keys: t.keys.clone(),
                },
            );
        }
        for f in functions {
            let entry = FunctionEntry {
                namespace: f.namespace.clone(),
                ttl: duration::format(f.ttl_secs),
                stale_while_revalidate: f.stale_while_revalidate_secs.map(duration::format),
                tags: f.tags.clone(),
            };
            // Two functions of one name in different modules of a crate: both are kept.
            let mut name = f.function.clone();
            let mut n = 2;
            while lock.functions.get(&name).is_some_and(|e| *e != entry) {
                name = format!("{}#{n}", f.function);
                n += 1;
            }
            lock.functions.insert(name, entry);
        }
        lock
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.functions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::fixtures;
    use std::path::Path;

    #[test]
    fn bytes_are_stable_and_round_trip() {
        let lock = Lock::desired(
            &[fixtures::products("cell:shop:t:products:aa", 3600)],
            &[fixtures::get_user(300, &["user:{id}"])],
            crate::cell::default_settings(),
        );
        let bytes = lock.to_bytes();
        assert_eq!(bytes, lock.clone().to_bytes());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"ttl\": \"1h\""), "{text}");
        assert!(
            text.contains("\"stale_while_revalidate\": \"1h\""),
            "{text}"
        );
        assert!(
            text.contains("\"maxmemory-policy\": \"allkeys-lru\""),
            "{text}"
        );
        assert_eq!(Lock::parse(&bytes, Path::new("x")).unwrap(), lock);
    }

    #[test]
    fn refuses_a_newer_format() {
        let e = Lock::parse(br#"{"version": 9}"#, Path::new("l")).unwrap_err();
        assert!(matches!(e, LockError::TooNew { found: 9, .. }));
    }

    #[test]
    fn same_function_name_twice_keeps_both() {
        let a = fixtures::get_user(300, &[]);
        let mut b = a.clone();
        b.namespace = "cell:shop:m:ff".into();
        let lock = Lock::desired(&[], &[a, b], Default::default());
        assert_eq!(
            lock.functions.keys().collect::<Vec<_>>(),
            ["shop::get_user", "shop::get_user#2"]
        );
    }
}
