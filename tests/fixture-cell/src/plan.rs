//! What applying the code's keys changes, against the lock: keys added (`+`), changed (`~`)
//! and removed (`-`), and the plan as every command sees it ([`CellPlan`]).

use std::any::Any;

use cell_core::CellPlan;
use cell_core::plan::{Action, Render, Summary};
use serde::Serialize;

use crate::lock::Lock;

/// One key to set or delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    pub key: String,
    /// The lock's value (absent for a new key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The code's value (absent for a removed key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl Change {
    /// The line `cargo cell plan` prints, without its sign.
    pub fn description(&self) -> String {
        match (&self.from, &self.to) {
            (None, Some(to)) => format!("key {} = {to:?}", self.key),
            (Some(from), Some(to)) => format!("key {}: {from:?} -> {to:?}", self.key),
            (Some(from), None) => format!("key {} (was {from:?})", self.key),
            (None, None) => format!("key {}", self.key),
        }
    }
}

/// The changes from `previous` (the lock, if any) to `desired`, in key order: additions and
/// changes, then removals.
pub fn diff(previous: Option<&Lock>, desired: &Lock) -> Vec<Change> {
    let empty = Lock::default();
    let prev = previous.unwrap_or(&empty);
    let mut changes = Vec::new();
    for (key, to) in &desired.keys {
        let from = prev.keys.get(key);
        if from != Some(to) {
            changes.push(Change {
                action: if from.is_some() {
                    Action::Update
                } else {
                    Action::Create
                },
                key: key.clone(),
                from: from.cloned(),
                to: Some(to.clone()),
            });
        }
    }
    for (key, from) in &prev.keys {
        if !desired.keys.contains_key(key) {
            changes.push(Change {
                action: Action::Delete,
                key: key.clone(),
                from: Some(from.clone()),
                to: None,
            });
        }
    }
    changes
}

/// The Kv Cell's plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvPlan {
    pub changes: Vec<Change>,
}

impl KvPlan {
    pub fn new(previous: Option<&Lock>, desired: &Lock) -> KvPlan {
        KvPlan {
            changes: diff(previous, desired),
        }
    }

    /// `1 change`, `2 changes`.
    pub fn count(&self) -> String {
        match self.changes.len() {
            1 => "1 change".into(),
            n => format!("{n} changes"),
        }
    }
}

impl CellPlan for KvPlan {
    fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    fn summary(&self) -> Summary {
        Summary::of(self.changes.iter().map(|c| c.action))
    }

    /// `kv: No changes. ...`, or `kv: N changes` and one line a change, its sign coloured
    /// by the given style.
    fn render(&self, how: &Render<'_>) -> String {
        if self.changes.is_empty() {
            return "kv: No changes. The keys match the code.\n".to_string();
        }
        let mut out = format!("kv: {}\n", self.count());
        for c in &self.changes {
            let line = format!("{} {}", c.action.symbol(), c.description());
            out.push_str("  ");
            out.push_str(&how.style.action(c.action, &line));
            out.push('\n');
        }
        out
    }

    /// `{"summary": {...}, "changes": [{"action", "description", "key", "from", "to"}]}`.
    fn to_json(&self) -> Option<serde_json::Value> {
        let changes: Vec<serde_json::Value> = self
            .changes
            .iter()
            .map(|c| {
                let mut v = serde_json::to_value(c).expect("a change serialises");
                v["description"] = c.description().into();
                v
            })
            .collect();
        Some(serde_json::json!({
            "summary": self.summary(),
            "changes": changes,
        }))
    }

    fn problems(&self) -> Vec<String> {
        if self.changes.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "the keys differ from .cell/{}: {}",
                crate::LOCK_FILE,
                self.count()
            )]
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::EntryDecl;
    use cell_core::plan::{Plain, Safety, Style};

    fn lock(pairs: &[(&str, &str)]) -> Lock {
        Lock::desired(
            &pairs
                .iter()
                .map(|(k, v)| EntryDecl::new(*k, *v))
                .collect::<Vec<_>>(),
        )
    }

    fn text(plan: &KvPlan) -> String {
        plan.render(&Render {
            style: &Plain,
            with_sql: false,
        })
    }

    #[test]
    fn adds_changes_and_removes_against_the_lock() {
        let first = KvPlan::new(None, &lock(&[("greeting", "hello")]));
        assert_eq!(text(&first), "kv: 1 change\n  + key greeting = \"hello\"\n");
        assert_eq!(
            first.summary(),
            Summary {
                add: 1,
                change: 0,
                destroy: 0
            }
        );

        let old = lock(&[("greeting", "hello"), ("old", "x")]);
        let plan = KvPlan::new(Some(&old), &lock(&[("greeting", "hi"), ("new", "y")]));
        assert_eq!(
            text(&plan),
            "kv: 3 changes\n\
             \x20 ~ key greeting: \"hello\" -> \"hi\"\n\
             \x20 + key new = \"y\"\n\
             \x20 - key old (was \"x\")\n"
        );
        assert_eq!(
            plan.summary(),
            Summary {
                add: 1,
                change: 1,
                destroy: 1
            }
        );
        assert_eq!(
            plan.problems(),
            ["the keys differ from .cell/kv.lock.json: 3 changes"]
        );
        assert!(plan.flags().is_empty());

        let same = KvPlan::new(Some(&old), &old);
        assert!(same.is_empty() && same.problems().is_empty());
        assert_eq!(text(&same), "kv: No changes. The keys match the code.\n");
    }

    #[test]
    fn the_style_decorates_each_line_by_its_action() {
        struct Brackets;
        impl Style for Brackets {
            fn action(&self, action: Action, text: &str) -> String {
                format!("[{action:?}]{text}")
            }
            fn warning(&self, _: Safety, text: &str) -> String {
                text.into()
            }
            fn dim(&self, text: &str) -> String {
                text.into()
            }
        }
        let plan = KvPlan::new(None, &lock(&[("a", "1")]));
        let text = plan.render(&Render {
            style: &Brackets,
            with_sql: false,
        });
        assert_eq!(text, "kv: 1 change\n  [Create]+ key a = \"1\"\n");
    }

    #[test]
    fn json_is_the_entry_of_cells_kv() {
        let plan = KvPlan::new(
            Some(&lock(&[("greeting", "hello"), ("old", "x")])),
            &lock(&[("greeting", "hi")]),
        );
        assert_eq!(
            plan.to_json().unwrap(),
            serde_json::json!({
                "summary": {"add": 0, "change": 1, "destroy": 1},
                "changes": [
                    {"action": "update", "key": "greeting", "from": "hello", "to": "hi",
                     "description": "key greeting: \"hello\" -> \"hi\""},
                    {"action": "delete", "key": "old", "from": "x",
                     "description": "key old (was \"x\")"}
                ]
            })
        );
        assert_eq!(
            KvPlan::default().to_json().unwrap(),
            serde_json::json!({"summary": {"add": 0, "change": 0, "destroy": 0}, "changes": []})
        );
    }
}
