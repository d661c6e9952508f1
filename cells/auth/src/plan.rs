//! Permission changes between the lock and the code, and which of them loosen a rule.
//!
//! A rule admits a set of callers; a change *loosens* when someone is admitted who was not
//! before: a guard removed (the function is public now), `require` turned into `protected`,
//! a role added to `any`. Loosened changes need review; `cargo cell plan
//! --detailed-exitcode` exits 2 for every change.

use std::any::Any;
use std::fmt::Write;

use cell_core::plan::{Action, CellPlan, Render, ReviewFlag, Summary};

use crate::lock::Lock;
use crate::rule::{GuardDecl, Rule};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new guarded function (nobody gains access).
    Added { rule: Rule },
    /// The guard is gone: the function (if it still exists) is unguarded.
    Removed { was: Rule },
    /// Fewer callers are admitted.
    Tightened { was: Rule, now: Rule },
    /// Some caller is admitted who was not.
    Loosened { was: Rule, now: Rule },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

impl Change {
    /// What the change does to the guard, as every Cell's plan counts it.
    pub fn action(&self) -> Action {
        match self.kind {
            ChangeKind::Added { .. } => Action::Create,
            ChangeKind::Removed { .. } => Action::Delete,
            ChangeKind::Tightened { .. } | ChangeKind::Loosened { .. } => Action::Update,
        }
    }

    /// Whether the change admits a caller who was refused before.
    pub fn needs_review(&self) -> bool {
        matches!(
            self.kind,
            ChangeKind::Removed { .. } | ChangeKind::Loosened { .. }
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// Sorted by path.
    pub changes: Vec<Change>,
}

/// The changes from `lock` (none: every guard is new) to the guards the code declares.
pub fn diff(lock: Option<&Lock>, declared: &[GuardDecl]) -> Plan {
    let empty = Lock::default();
    let lock = lock.unwrap_or(&empty);
    let mut changes = Vec::new();
    for g in declared {
        match lock.guards.get(&g.path) {
            None => changes.push(Change {
                path: g.path.clone(),
                kind: ChangeKind::Added {
                    rule: g.rule.clone(),
                },
            }),
            Some(was) if *was == g.rule => {}
            Some(was) => {
                let kind = if g.rule.is_at_least_as_strict_as(was) {
                    ChangeKind::Tightened {
                        was: was.clone(),
                        now: g.rule.clone(),
                    }
                } else {
                    ChangeKind::Loosened {
                        was: was.clone(),
                        now: g.rule.clone(),
                    }
                };
                changes.push(Change {
                    path: g.path.clone(),
                    kind,
                });
            }
        }
    }
    for (path, was) in &lock.guards {
        if !declared.iter().any(|g| &g.path == path) {
            changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::Removed { was: was.clone() },
            });
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Plan { changes }
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn loosened(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.needs_review())
    }

    /// `2 permission changes (1 loosened: needs review)`.
    pub fn summary(&self) -> String {
        let n = self.changes.len();
        let loose = self.loosened().count();
        let mut s = format!("{n} permission change{}", if n == 1 { "" } else { "s" });
        if loose > 0 {
            write!(s, " ({loose} loosened: needs review)").expect("write to String");
        }
        s
    }

    /// One line per change: `+` added, `-` removed, `~` changed; loosened ones are marked.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let line = match &c.kind {
                ChangeKind::Added { rule } => {
                    format!("  + {}: requires {}", c.path, rule.describe())
                }
                ChangeKind::Removed { was } => format!(
                    "  - {}: guard removed (required {}; now anyone can call it)",
                    c.path,
                    was.describe()
                ),
                ChangeKind::Tightened { was, now } => format!(
                    "  ~ {}: {} -> {} (tightened)",
                    c.path,
                    was.describe(),
                    now.describe()
                ),
                ChangeKind::Loosened { was, now } => {
                    format!("  ~ {}: {} -> {}", c.path, was.describe(), now.describe())
                }
            };
            out.push_str(&line);
            if c.needs_review() {
                out.push_str("   LOOSENED: needs review");
            }
            out.push('\n');
        }
        out
    }
}

/// The Auth Cell's plan as cargo-cell sees it ([`CellPlan`]): the permission changes, and
/// whether the code declares any guard (the JSON report has an `auth` entry only then, or
/// when something changes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthPlan {
    pub plan: Plan,
    /// The code declares at least one guard.
    pub declared: bool,
}

/// The note under a plan that loosens a permission.
pub const LOOSENED_NOTE: &str = "Loosened permissions admit callers who were refused before: review them before `cargo cell build` locks them.";

impl CellPlan for AuthPlan {
    fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    fn summary(&self) -> Summary {
        Summary::of(self.plan.changes.iter().map(Change::action))
    }

    /// `auth: No changes. ...`, or `auth: <summary>`, one line per change, and the note on
    /// loosened permissions. Never coloured (as before the Cells had one plan face).
    fn render(&self, _how: &Render<'_>) -> String {
        if self.plan.is_empty() {
            return "auth: No changes. The permissions match the code.\n".to_string();
        }
        let mut out = format!("auth: {}\n{}", self.plan.summary(), self.plan.render());
        if self.plan.loosened().next().is_some() {
            out.push('\n');
            out.push_str(LOOSENED_NOTE);
            out.push('\n');
        }
        out
    }

    /// `{"changes": [...]}` (docs/plan-format.md), when the code declares guards or something
    /// changes.
    fn to_json(&self) -> Option<serde_json::Value> {
        (self.declared || !self.plan.is_empty())
            .then(|| serde_json::to_value(&self.plan).expect("auth plan serialises"))
    }

    fn problems(&self) -> Vec<String> {
        if self.plan.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "permissions differ from the auth lock: {}",
                self.plan.summary()
            )]
        }
    }

    fn flags(&self) -> Vec<ReviewFlag> {
        if self.plan.loosened().next().is_some() {
            vec![ReviewFlag::Loosened]
        } else {
            Vec::new()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(path: &str, rule: Rule) -> GuardDecl {
        GuardDecl {
            path: path.into(),
            rule,
        }
    }

    fn lock() -> Lock {
        Lock::from_guards(&[
            g("app::admin", Rule::any(["admin"])),
            g("app::me", Rule::Protected),
            g("app::ops", Rule::any(["admin", "support"])),
            g("app::gone", Rule::any(["admin"])),
        ])
        .unwrap()
    }

    #[test]
    fn no_changes_when_the_code_matches_the_lock() {
        let l = lock();
        let declared: Vec<GuardDecl> = l.guards.iter().map(|(p, r)| g(p, r.clone())).collect();
        assert!(diff(Some(&l), &declared).is_empty());
    }

    #[test]
    fn classifies_every_kind_of_change() {
        let plan = diff(
            Some(&lock()),
            &[
                g("app::admin", Rule::Protected),
                g("app::me", Rule::any(["admin"])),
                g("app::ops", Rule::any(["admin"])),
                g("app::new", Rule::any(["billing"])),
            ],
        );
        let kinds: Vec<(&str, bool)> = plan
            .changes
            .iter()
            .map(|c| (c.path.as_str(), c.needs_review()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("app::admin", true),
                ("app::gone", true),
                ("app::me", false),
                ("app::new", false),
                ("app::ops", false),
            ]
        );
        assert_eq!(
            plan.summary(),
            "5 permission changes (2 loosened: needs review)"
        );
        assert_eq!(
            plan.render(),
            "  ~ app::admin: role admin -> any authenticated caller   LOOSENED: needs review\n\
             \x20 - app::gone: guard removed (required role admin; now anyone can call it)   LOOSENED: needs review\n\
             \x20 ~ app::me: any authenticated caller -> role admin (tightened)\n\
             \x20 + app::new: requires role billing\n\
             \x20 ~ app::ops: any of admin, support -> role admin (tightened)\n"
        );
    }

    #[test]
    fn adding_a_role_to_any_loosens() {
        let plan = diff(
            Some(&lock()),
            &[
                g("app::admin", Rule::any(["admin", "support"])),
                g("app::me", Rule::Protected),
                g("app::ops", Rule::any(["admin", "support"])),
                g("app::gone", Rule::any(["admin"])),
            ],
        );
        assert_eq!(plan.changes.len(), 1);
        assert!(plan.changes[0].needs_review());
    }

    #[test]
    fn without_a_lock_every_guard_is_added() {
        let plan = diff(None, &[g("app::a", Rule::Protected)]);
        assert_eq!(plan.summary(), "1 permission change");
        assert!(plan.loosened().next().is_none());
    }

    fn face(plan: Plan, declared: bool) -> AuthPlan {
        AuthPlan { plan, declared }
    }

    fn text(plan: &AuthPlan) -> String {
        plan.render(&Render {
            style: &cell_core::plan::Plain,
            with_sql: false,
        })
    }

    #[test]
    fn an_empty_plan_says_so() {
        let l = lock();
        let declared: Vec<GuardDecl> = l.guards.iter().map(|(p, r)| g(p, r.clone())).collect();
        let plan = face(diff(Some(&l), &declared), true);
        assert!(CellPlan::is_empty(&plan));
        assert_eq!(
            text(&plan),
            "auth: No changes. The permissions match the code.\n"
        );
        assert!(plan.problems().is_empty());
        assert!(plan.flags().is_empty());
        assert!(CellPlan::summary(&plan).is_empty());
        assert_eq!(plan.to_json(), Some(serde_json::json!({"changes": []})));
        // A lock but no guard in the code, and nothing to change: no JSON entry.
        assert_eq!(face(Plan::default(), false).to_json(), None);
    }

    #[test]
    fn the_text_has_the_summary_the_changes_and_the_loosened_note() {
        let plan = face(
            diff(
                Some(&lock()),
                &[
                    g("app::admin", Rule::any(["admin", "support"])),
                    g("app::me", Rule::Protected),
                    g("app::ops", Rule::any(["admin", "support"])),
                    g("app::gone", Rule::any(["admin"])),
                    g("app::stats", Rule::any(["admin"])),
                ],
            ),
            true,
        );
        assert_eq!(
            text(&plan),
            "auth: 2 permission changes (1 loosened: needs review)\n\
             \x20 ~ app::admin: role admin -> any of admin, support   LOOSENED: needs review\n\
             \x20 + app::stats: requires role admin\n\
             \n\
             Loosened permissions admit callers who were refused before: review them before `cargo cell build` locks them.\n"
        );
        assert_eq!(
            plan.problems(),
            [
                "permissions differ from the auth lock: 2 permission changes (1 loosened: needs review)"
            ]
        );
        assert_eq!(plan.flags(), [ReviewFlag::Loosened]);
        assert_eq!(
            CellPlan::summary(&plan),
            Summary {
                add: 1,
                change: 1,
                destroy: 0
            }
        );
    }

    #[test]
    fn without_a_loosened_change_there_is_no_note() {
        let plan = face(diff(None, &[g("app::a", Rule::Protected)]), true);
        assert_eq!(
            text(&plan),
            "auth: 1 permission change\n  + app::a: requires any authenticated caller\n"
        );
        assert!(plan.flags().is_empty());
    }

    #[test]
    fn the_json_entry_is_the_plan_as_before() {
        let plan = face(
            diff(
                Some(&lock()),
                &[
                    g("app::admin", Rule::Protected),
                    g("app::me", Rule::Protected),
                    g("app::ops", Rule::any(["admin", "support"])),
                ],
            ),
            true,
        );
        let json = plan.to_json().unwrap();
        assert_eq!(json, serde_json::to_value(&plan.plan).unwrap());
        assert_eq!(
            json,
            serde_json::json!({"changes": [
                {"path": "app::admin", "kind": {"change": "loosened",
                    "was": {"kind": "any", "roles": ["admin"]}, "now": {"kind": "protected"}}},
                {"path": "app::gone", "kind": {"change": "removed",
                    "was": {"kind": "any", "roles": ["admin"]}}},
            ]})
        );
        assert_eq!(CellPlan::summary(&plan).destroy, 1);
        // Guards all removed: still an entry, since something changes.
        assert!(face(diff(Some(&lock()), &[]), false).to_json().is_some());
    }
}
