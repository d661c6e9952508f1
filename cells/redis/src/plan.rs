//! What applying the code's cache declarations changes: caches added, dropped or changed
//! (from the previous lock) and settings to set (from the live Cell). Redis has no schema,
//! so nothing here loses data a database would keep: a moved namespace leaves the old
//! entries to expire by their TTL, unread.

use std::collections::BTreeMap;

use crate::lock::{FunctionEntry, Lock, TableEntry};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    AddTable(String, TableEntry),
    DropTable(String, TableEntry),
    ChangeTable {
        table: String,
        from: TableEntry,
        to: TableEntry,
    },
    AddFunction(String, FunctionEntry),
    DropFunction(String, FunctionEntry),
    ChangeFunction {
        function: String,
        from: FunctionEntry,
        to: FunctionEntry,
    },
    /// `CONFIG SET name to` (the live value is `from`).
    Setting {
        name: String,
        from: Option<String>,
        to: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

/// The changes from `previous` (the lock, if any) and the `live` settings to `desired`.
pub fn diff(previous: Option<&Lock>, desired: &Lock, live: &BTreeMap<String, String>) -> Plan {
    let empty = Lock::default();
    let prev = previous.unwrap_or(&empty);
    let mut changes = Vec::new();
    for (name, to) in &desired.tables {
        match prev.tables.get(name) {
            None => changes.push(Change::AddTable(name.clone(), to.clone())),
            Some(from) if from != to => changes.push(Change::ChangeTable {
                table: name.clone(),
                from: from.clone(),
                to: to.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, from) in &prev.tables {
        if !desired.tables.contains_key(name) {
            changes.push(Change::DropTable(name.clone(), from.clone()));
        }
    }
    for (name, to) in &desired.functions {
        match prev.functions.get(name) {
            None => changes.push(Change::AddFunction(name.clone(), to.clone())),
            Some(from) if from != to => changes.push(Change::ChangeFunction {
                function: name.clone(),
                from: from.clone(),
                to: to.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, from) in &prev.functions {
        if !desired.functions.contains_key(name) {
            changes.push(Change::DropFunction(name.clone(), from.clone()));
        }
    }
    for (name, to) in &desired.settings {
        let from = live.get(name);
        if from != Some(to) {
            changes.push(Change::Setting {
                name: name.clone(),
                from: from.cloned(),
                to: to.clone(),
            });
        }
    }
    Plan { changes }
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// `CONFIG SET` pairs to run.
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.changes.iter().filter_map(|c| match c {
            Change::Setting { name, to, .. } => Some((name.as_str(), to.as_str())),
            _ => None,
        })
    }

    pub fn summary(&self) -> String {
        match self.changes.len() {
            1 => "1 change".into(),
            n => format!("{n} changes"),
        }
    }

    /// One line per change, `+` added, `-` dropped, `~` changed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let line = match c {
                Change::AddTable(t, e) => format!(
                    "+ cache table {t}: ttl {}, keys {}, namespace {}",
                    e.ttl,
                    e.keys.join(", "),
                    e.namespace
                ),
                Change::DropTable(t, e) => format!(
                    "- cache table {t} (entries under {} expire within {})",
                    e.namespace, e.ttl
                ),
                Change::ChangeTable { table, from, to } => {
                    let mut what = Vec::new();
                    if from.namespace != to.namespace {
                        what.push(format!(
                            "namespace {} -> {} (the row's shape changed: old entries are never read and expire within {})",
                            from.namespace, to.namespace, from.ttl
                        ));
                    }
                    if from.ttl != to.ttl {
                        what.push(format!("ttl {} -> {}", from.ttl, to.ttl));
                    }
                    if from.keys != to.keys {
                        what.push(format!(
                            "keys {} -> {}",
                            from.keys.join(", "),
                            to.keys.join(", ")
                        ));
                    }
                    format!("~ cache table {table}: {}", what.join("; "))
                }
                Change::AddFunction(f, e) => format!("+ memoize {f}: {}", function_text(e)),
                Change::DropFunction(f, e) => format!(
                    "- memoize {f} (entries under {} expire within {})",
                    e.namespace, e.ttl
                ),
                Change::ChangeFunction { function, from, to } => format!(
                    "~ memoize {function}: {} -> {}",
                    function_text(from),
                    function_text(to)
                ),
                Change::Setting { name, from, to } => format!(
                    "~ setting {name}: {} -> {to}",
                    from.as_deref().unwrap_or("(unset)")
                ),
            };
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

fn function_text(e: &FunctionEntry) -> String {
    let mut s = format!("ttl {}", e.ttl);
    if let Some(swr) = &e.stale_while_revalidate {
        s.push_str(&format!(", stale_while_revalidate {swr}"));
    }
    if !e.tags.is_empty() {
        s.push_str(&format!(", tags {}", e.tags.join(", ")));
    }
    s.push_str(&format!(", namespace {}", e.namespace));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::fixtures;

    fn lock(ns: &str, ttl: u64) -> Lock {
        Lock::desired(
            &[fixtures::products(ns, ttl)],
            &[fixtures::get_user(300, &["user:{id}"])],
            crate::cell::default_settings(),
        )
    }

    fn live_ok() -> BTreeMap<String, String> {
        crate::cell::default_settings()
    }

    #[test]
    fn first_plan_adds_everything_and_sets_settings() {
        let desired = lock("cell:shop:t:products:aa", 3600);
        let plan = diff(
            None,
            &desired,
            &BTreeMap::from([("maxmemory-policy".into(), "noeviction".into())]),
        );
        let text = plan.render();
        assert_eq!(
            text,
            "  + cache table products: ttl 1h, keys id, sku, namespace cell:shop:t:products:aa\n\
             \x20 + memoize shop::get_user: ttl 5m, stale_while_revalidate 1h, tags user:{id}, namespace cell:shop:m:0011\n\
             \x20 ~ setting maxmemory-policy: noeviction -> allkeys-lru\n"
        );
        assert_eq!(
            plan.settings().collect::<Vec<_>>(),
            [("maxmemory-policy", "allkeys-lru")]
        );
        assert_eq!(plan.summary(), "3 changes");
    }

    #[test]
    fn unchanged_is_empty() {
        let l = lock("cell:shop:t:products:aa", 3600);
        assert!(diff(Some(&l), &l, &live_ok()).is_empty());
    }

    #[test]
    fn a_schema_change_moves_the_namespace() {
        let old = lock("cell:shop:t:products:aa", 3600);
        let new = lock("cell:shop:t:products:bb", 60);
        let plan = diff(Some(&old), &new, &live_ok());
        let text = plan.render();
        assert_eq!(plan.changes.len(), 1, "{text}");
        assert!(text.contains("namespace cell:shop:t:products:aa -> cell:shop:t:products:bb (the row's shape changed"), "{text}");
        assert!(text.contains("ttl 1h -> 1m"), "{text}");
    }

    #[test]
    fn removed_caches_are_dropped() {
        let old = lock("cell:shop:t:products:aa", 3600);
        let new = Lock::desired(&[], &[], crate::cell::default_settings());
        let text = diff(Some(&old), &new, &live_ok()).render();
        assert!(
            text.contains(
                "- cache table products (entries under cell:shop:t:products:aa expire within 1h)"
            ),
            "{text}"
        );
        assert!(text.contains("- memoize shop::get_user"), "{text}");
    }
}
