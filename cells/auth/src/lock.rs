//! `.cell/auth.lock.json`: every guarded function with its rule, and the role table.
//! Committed; reviewed through `cargo cell plan`; read by the expansion (role bits, and the
//! check that a guard is the one the lock holds); rewritten only when its bytes change.

use std::collections::{BTreeMap, BTreeSet};

pub use cell_core::lockfile::{LockError, LockFile};
use serde::{Deserialize, Serialize};

use crate::roles::{MAX_ROLES, RoleTable};
use crate::rule::{GuardDecl, Rule};

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// Every role a guard names, sorted: a role's bit is its position here.
    pub roles: Vec<String>,
    /// Guarded functions by path.
    pub guards: BTreeMap<String, Rule>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the guards name {count} roles, but a role set holds at most {MAX_ROLES}: {roles}")]
pub struct TooManyRoles {
    pub count: usize,
    pub roles: String,
}

impl Lock {
    /// The lock for these guards. Roles are collected from the rules and sorted.
    pub fn from_guards(guards: &[GuardDecl]) -> Result<Lock, TooManyRoles> {
        let roles: BTreeSet<String> = guards
            .iter()
            .flat_map(|g| g.rule.roles().map(str::to_string))
            .collect();
        if roles.len() > MAX_ROLES {
            return Err(TooManyRoles {
                count: roles.len(),
                roles: roles.into_iter().collect::<Vec<_>>().join(", "),
            });
        }
        Ok(Lock {
            version: LOCK_VERSION,
            roles: roles.into_iter().collect(),
            guards: guards
                .iter()
                .map(|g| (g.path.clone(), g.rule.clone()))
                .collect(),
        })
    }

    pub fn role_table(&self) -> RoleTable {
        RoleTable::new(self.roles.clone())
    }
}

impl LockFile for Lock {
    const VERSION: u32 = LOCK_VERSION;
    const CELL: &'static str = "Auth";

    /// A hand-edited lock must not shift bits between the guards and the runtime.
    fn validate(&self) -> Result<(), String> {
        let sorted = self.roles.windows(2).all(|w| w[0] < w[1]);
        if !sorted || self.roles.len() > MAX_ROLES {
            return Err(format!(
                "`roles` must be sorted, unique and at most {MAX_ROLES}"
            ));
        }
        for (f, rule) in &self.guards {
            if let Some(r) = rule
                .roles()
                .find(|r| self.roles.binary_search_by(|x| x.as_str().cmp(r)).is_err())
            {
                return Err(format!(
                    "`{f}` requires role `{r}`, which `roles` does not list"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn g(path: &str, rule: Rule) -> GuardDecl {
        GuardDecl {
            path: path.into(),
            rule,
        }
    }

    #[test]
    fn roles_are_sorted_and_unique_and_bytes_round_trip() {
        let lock = Lock::from_guards(&[
            g("app::b", Rule::any(["support", "admin"])),
            g("app::a", Rule::any(["admin"])),
            g("app::c", Rule::Protected),
        ])
        .unwrap();
        assert_eq!(lock.roles, ["admin", "support"]);
        let bytes = lock.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.find("app::a").unwrap() < text.find("app::b").unwrap());
        assert!(text.ends_with("}\n"));
        assert_eq!(Lock::parse(&bytes, Path::new("l")).unwrap(), lock);
    }

    #[test]
    fn refuses_too_many_roles() {
        let roles: Vec<String> = (0..65).map(|i| format!("r{i:02}")).collect();
        let err = Lock::from_guards(&[g("app::f", Rule::any(roles))]).unwrap_err();
        assert_eq!(err.count, 65);
    }

    #[test]
    fn refuses_inconsistent_or_newer_locks() {
        let unsorted = br#"{"version":1,"roles":["b","a"],"guards":{}}"#;
        assert!(matches!(
            Lock::parse(unsorted, Path::new("l")),
            Err(LockError::Inconsistent { .. })
        ));
        let unknown =
            br#"{"version":1,"roles":["a"],"guards":{"x::f":{"kind":"any","roles":["b"]}}}"#;
        let err = Lock::parse(unknown, Path::new("l")).unwrap_err();
        assert!(err.to_string().contains("role `b`"), "{err}");
        let newer = br#"{"version":9,"roles":[],"guards":{}}"#;
        assert!(matches!(
            Lock::parse(newer, Path::new("l")),
            Err(LockError::TooNew { found: 9, .. })
        ));
    }
}
