//! Roles to bit positions. The lock's sorted role list is the table: the guard's mask and
//! the runtime's role set are built from the same positions.

/// A role set is a `u64`.
pub const MAX_ROLES: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleTable {
    roles: Vec<String>,
}

impl RoleTable {
    /// `roles` sorted and unique (the lock guarantees it).
    pub fn new(roles: Vec<String>) -> RoleTable {
        RoleTable { roles }
    }

    pub fn bit(&self, role: &str) -> Option<u32> {
        self.roles
            .binary_search_by(|r| r.as_str().cmp(role))
            .ok()
            .map(|i| i as u32)
    }

    /// The mask of `roles`, or the first role the table does not hold.
    pub fn mask<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> Result<u64, &'a str> {
        roles.into_iter().try_fold(0u64, |mask, r| {
            self.bit(r).map(|b| mask | (1u64 << b)).ok_or(r)
        })
    }

    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_positions_in_the_sorted_list() {
        let t = RoleTable::new(vec!["admin".into(), "billing".into(), "support".into()]);
        assert_eq!(t.bit("admin"), Some(0));
        assert_eq!(t.bit("support"), Some(2));
        assert_eq!(t.bit("root"), None);
        assert_eq!(t.mask(["admin", "support"]), Ok(0b101));
        assert_eq!(t.mask(["admin", "root"]), Err("root"));
    }
}
