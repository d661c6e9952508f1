//! `.cell/audit.lock.json`: every audited function when the code was last built. Committed,
//! so a review shows an audit removed or a sensitive field exposed beside the code that did it.

use std::collections::BTreeMap;

pub use cell_core::lockfile::{LockError, LockFile};
use serde::{Deserialize, Serialize};

use crate::declare::AuditDecl;

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// By function (`app::users::delete`).
    #[serde(default)]
    pub audits: BTreeMap<String, LockedAudit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedAudit {
    pub event: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
    pub retention: String,
}

impl LockFile for Lock {
    const VERSION: u32 = LOCK_VERSION;
    const CELL: &'static str = "Audit";
}

impl Lock {
    /// The lock the declarations ask for.
    pub fn desired(audits: &[AuditDecl]) -> Lock {
        Lock {
            version: LOCK_VERSION,
            audits: audits
                .iter()
                .map(|d| {
                    (
                        d.name(),
                        LockedAudit {
                            event: d.event.clone(),
                            args: d.args.clone(),
                            sensitive: d.sensitive.clone(),
                            retention: d.retention.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn declarations(&self) -> Vec<AuditDecl> {
        self.audits
            .iter()
            .map(|(function, a)| AuditDecl {
                function: function.clone(),
                event: a.event.clone(),
                args: a.args.clone(),
                sensitive: a.sensitive.clone(),
                retention: a.retention.clone(),
            })
            .collect()
    }

    /// The longest retention in days (what `cargo cell audit prune` keeps); `None` without
    /// audits or with a retention the lock cannot parse (then nothing is pruned).
    pub fn longest_retention_days(&self) -> Option<u32> {
        let mut longest = None;
        for a in self.audits.values() {
            let days = crate::declare::retention_days(&a.retention).ok()?;
            longest = longest.max(Some(days));
        }
        longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::fixtures::audit;

    #[test]
    fn the_lock_round_trips_and_keeps_the_longest_retention() {
        let mut short = audit("app::login", "login", &["user"], &[]);
        short.retention = "90d".into();
        let decls = [
            audit("app::delete", "user_deleted", &["id"], &["email"]),
            short,
        ];
        let lock = Lock::desired(&decls);
        let text = String::from_utf8(lock.to_bytes()).unwrap();
        assert!(text.contains("\"app::delete\""), "{text}");
        assert_eq!(
            Lock::parse(text.as_bytes(), std::path::Path::new("audit.lock.json")).unwrap(),
            lock
        );
        let mut back = lock.declarations();
        back.sort_by_key(|d| d.function.clone());
        assert_eq!(back[0], decls[0]);
        assert_eq!(lock.longest_retention_days(), Some(7 * 366));
        assert_eq!(Lock::desired(&[]).longest_retention_days(), None);
    }
}
