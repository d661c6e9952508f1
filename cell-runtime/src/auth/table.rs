//! The role table of this binary: every guard compiled against the lock registers the
//! positions of its roles; a verified token's roles are mapped through them once.

use std::collections::HashMap;
use std::sync::OnceLock;

/// One role's bit, as a guard was compiled with it.
#[derive(Debug)]
pub struct RoleBit {
    pub role: &'static str,
    pub bit: u32,
}
inventory::collect!(RoleBit);

/// `None` when guards disagree (compiled against different locks): then no role maps to a
/// bit, and every role guard refuses (fail closed) until the program is rebuilt.
fn table() -> Option<&'static HashMap<&'static str, u32>> {
    static TABLE: OnceLock<Option<HashMap<&'static str, u32>>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut map: HashMap<&'static str, u32> = HashMap::new();
            let mut by_bit: HashMap<u32, &'static str> = HashMap::new();
            for rb in inventory::iter::<RoleBit> {
                let clash = map.insert(rb.role, rb.bit).is_some_and(|b| b != rb.bit)
                    || by_bit.insert(rb.bit, rb.role).is_some_and(|r| r != rb.role)
                    || rb.bit >= 64;
                if clash {
                    eprintln!(
                        "cell-runtime: the guards of this program were compiled against different .cell/auth.lock.json versions (role `{}`); every role check refuses until `cargo cell build` rebuilds them",
                        rb.role
                    );
                    return None;
                }
            }
            Some(map)
        })
        .as_ref()
}

/// The bitset of `roles`; roles no guard names have no bit (they are still kept by name).
pub fn bits<'a>(roles: impl IntoIterator<Item = &'a str>) -> u64 {
    let Some(table) = table() else { return 0 };
    roles
        .into_iter()
        .filter_map(|r| table.get(r))
        .fold(0, |acc, b| acc | (1u64 << b))
}
