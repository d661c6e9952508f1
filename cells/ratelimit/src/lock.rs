//! `.cell/ratelimit.lock.json`: every limit the code declared when it was last built.
//! Committed, so a review shows a raised limit beside the code that raised it; rewritten
//! only when its bytes change.

use std::collections::BTreeMap;

pub use cell_core::lockfile::{LockError, LockFile};
use serde::{Deserialize, Serialize};

use crate::declare::{Fail, LimitDecl, Scope};
use crate::rate::{format_period, parse_period};

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// By [`LimitDecl::name`] (`app::search/per_user`).
    #[serde(default)]
    pub limits: BTreeMap<String, LockedLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedLimit {
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub limit: u64,
    /// As `1m`.
    pub per: String,
    pub burst: u64,
    pub fail: Fail,
}

impl LockFile for Lock {
    const VERSION: u32 = LOCK_VERSION;
    const CELL: &'static str = "RateLimit";
}

impl Lock {
    /// The lock the declarations ask for.
    pub fn desired(limits: &[LimitDecl]) -> Lock {
        let mut lock = Lock {
            version: LOCK_VERSION,
            ..Lock::default()
        };
        for d in limits {
            lock.limits.insert(
                d.name(),
                LockedLimit {
                    scope: d.scope,
                    key: d.key.clone(),
                    limit: d.limit,
                    per: format_period(d.per_secs),
                    burst: d.burst,
                    fail: d.fail,
                },
            );
        }
        lock
    }

    /// The locked limits as declarations (a `per` the lock cannot parse reads as 1 s, the
    /// strictest reading: a hand-edited lock never hides a loosened limit).
    pub fn declarations(&self) -> Vec<LimitDecl> {
        self.limits
            .iter()
            .map(|(name, l)| LimitDecl {
                function: name
                    .rsplit_once('/')
                    .map(|(f, _)| f.to_string())
                    .unwrap_or_else(|| name.clone()),
                scope: l.scope,
                key: l.key.clone(),
                limit: l.limit,
                per_secs: parse_period(&l.per).unwrap_or(1),
                burst: l.burst,
                fail: l.fail,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::fixtures::limit;
    use std::path::Path;

    #[test]
    fn bytes_are_stable_and_round_trip() {
        let decls = [
            limit("app::search", Scope::User, 100, 60),
            limit("app::login", Scope::Ip, 5, 60),
        ];
        let lock = Lock::desired(&decls);
        let text = String::from_utf8(lock.to_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{
  "version": 1,
  "limits": {
    "app::login/per_ip": {
      "scope": "ip",
      "limit": 5,
      "per": "1m",
      "burst": 5,
      "fail": "open"
    },
    "app::search/per_user": {
      "scope": "user",
      "limit": 100,
      "per": "1m",
      "burst": 100,
      "fail": "open"
    }
  }
}
"#
        );
        let back = Lock::parse(text.as_bytes(), Path::new("x")).unwrap();
        assert_eq!(back, lock);
        let mut again = back.declarations();
        again.sort_by_key(|d| d.name());
        let mut want = decls.to_vec();
        want.sort_by_key(|d| d.name());
        assert_eq!(again, want);
    }

    #[test]
    fn refuses_a_newer_format() {
        let e = Lock::parse(br#"{"version": 9}"#, Path::new("l")).unwrap_err();
        assert!(matches!(e, LockError::TooNew { found: 9, .. }));
    }
}
