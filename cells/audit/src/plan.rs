//! What changes between the lock and the code's audits, and which changes audit less.
//!
//! An audit removed from a function, a sensitive field now recorded in the clear or dropped,
//! a shorter retention or a renamed event all *loosen* the trail: they are flagged
//! `LOOSENED: needs review` ([`ReviewFlag::Loosened`]), as a loosened Auth guard is.

use std::any::Any;

use cell_core::plan::{
    Action, CellPlan, Render, ReviewFlag, ReviewedChange, Summary, render_reviewed, reviewed_flags,
    reviewed_json,
};
use serde::Serialize;

use crate::declare::AuditDecl;
use crate::lock::Lock;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    Added {
        now: AuditDecl,
    },
    Removed {
        was: AuditDecl,
    },
    Changed {
        was: AuditDecl,
        now: AuditDecl,
        /// Why the change audits less; empty when it does not.
        loosened: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The function.
    pub name: String,
    #[serde(flatten)]
    pub kind: ChangeKind,
}

impl ReviewedChange for Change {
    fn action(&self) -> Action {
        match self.kind {
            ChangeKind::Added { .. } => Action::Create,
            ChangeKind::Removed { .. } => Action::Delete,
            ChangeKind::Changed { .. } => Action::Update,
        }
    }

    fn needs_review(&self) -> bool {
        match &self.kind {
            ChangeKind::Added { .. } => false,
            ChangeKind::Removed { .. } => true,
            ChangeKind::Changed { loosened, .. } => !loosened.is_empty(),
        }
    }

    /// `+ app::delete: event user_deleted, sensitive email, kept 7y`.
    fn line(&self) -> String {
        let mut line = match &self.kind {
            ChangeKind::Added { now } => format!("  + {}: {}", self.name, now.describe()),
            ChangeKind::Removed { was } => format!(
                "  - {}: audit removed (was {}; calls are no longer recorded)",
                self.name,
                was.describe()
            ),
            ChangeKind::Changed { was, now, loosened } => {
                let mut l = format!(
                    "  ~ {}: {} -> {}",
                    self.name,
                    was.describe(),
                    now.describe()
                );
                if !loosened.is_empty() {
                    l.push_str(&format!(" ({})", loosened.join("; ")));
                }
                l
            }
        };
        if self.needs_review() {
            line.push_str("   LOOSENED: needs review");
        }
        line
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Sorted by function.
    pub changes: Vec<Change>,
}

/// From `lock` (none: every audit is new) to the audits the code declares.
pub fn diff(lock: Option<&Lock>, declared: &[AuditDecl]) -> Plan {
    let was: Vec<AuditDecl> = lock.map(Lock::declarations).unwrap_or_default();
    let mut changes = Vec::new();
    for now in declared {
        let name = now.name();
        match was.iter().find(|w| w.name() == name) {
            None => changes.push(Change {
                name,
                kind: ChangeKind::Added { now: now.clone() },
            }),
            Some(w) if w == now => {}
            Some(w) => changes.push(Change {
                name,
                kind: ChangeKind::Changed {
                    was: w.clone(),
                    now: now.clone(),
                    loosened: now.loosened_from(w),
                },
            }),
        }
    }
    for w in &was {
        if !declared.iter().any(|d| d.name() == w.name()) {
            changes.push(Change {
                name: w.name(),
                kind: ChangeKind::Removed { was: w.clone() },
            });
        }
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    Plan { changes }
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn loosened(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.needs_review())
    }

    /// `2 audit changes (1 loosened: needs review)`.
    pub fn summary(&self) -> String {
        let n = self.changes.len();
        let loose = self.loosened().count();
        let mut s = format!("{n} audit change{}", if n == 1 { "" } else { "s" });
        if loose > 0 {
            s.push_str(&format!(" ({loose} loosened: needs review)"));
        }
        s
    }
}

/// The note under a plan that audits less.
pub const LOOSENED_NOTE: &str =
    "Loosened audits record less than before: review them before `cargo cell build` locks them.";

/// The Audit Cell's plan as cargo-cell sees every plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPlan {
    pub plan: Plan,
    /// The lock apply writes.
    pub desired: Lock,
}

impl CellPlan for AuditPlan {
    fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    fn summary(&self) -> Summary {
        Summary::of(self.plan.changes.iter().map(Change::action))
    }

    fn render(&self, _how: &Render<'_>) -> String {
        render_reviewed(
            "audit",
            &self.plan.summary(),
            &self.plan.changes,
            "No changes. The audited functions match the code.",
            LOOSENED_NOTE,
        )
    }

    /// `{"summary": {...}, "changes": [{"action", "description", "name", "change", ...}]}`
    /// (docs/plan-format.md).
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(reviewed_json(self.summary(), &self.plan.changes))
    }

    fn problems(&self) -> Vec<String> {
        if self.plan.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "audits differ from the audit lock: {}",
                self.plan.summary()
            )]
        }
    }

    fn flags(&self) -> Vec<ReviewFlag> {
        reviewed_flags(&self.plan.changes)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::fixtures::audit;
    use cell_core::plan::Plain;

    fn plan(old: &[AuditDecl], new: &[AuditDecl]) -> AuditPlan {
        AuditPlan {
            plan: diff(Some(&Lock::desired(old)), new),
            desired: Lock::desired(new),
        }
    }

    fn text(p: &AuditPlan) -> String {
        p.render(&Render {
            style: &Plain,
            with_sql: false,
        })
    }

    #[test]
    fn removed_audits_and_exposed_fields_need_review() {
        let delete = audit("app::delete", "user_deleted", &["id"], &["email"]);
        let login = audit("app::login", "login", &["user"], &[]);
        let same = plan(std::slice::from_ref(&delete), std::slice::from_ref(&delete));
        assert!(same.is_empty() && same.flags().is_empty());
        assert_eq!(
            text(&same),
            "audit: No changes. The audited functions match the code.\n"
        );

        let added = plan(
            std::slice::from_ref(&delete),
            &[delete.clone(), login.clone()],
        );
        assert_eq!(
            text(&added),
            "audit: 1 audit change\n  + app::login: event login, args user, kept 7y\n"
        );
        assert!(added.flags().is_empty());

        let exposed = audit("app::delete", "user_deleted", &["id", "email"], &[]);
        let p = plan(&[delete.clone(), login.clone()], &[exposed]);
        assert_eq!(
            text(&p),
            format!(
                "audit: 2 audit changes (2 loosened: needs review)\n\
             \x20 ~ app::delete: event user_deleted, args id, sensitive email, kept 7y -> event user_deleted, args id email, kept 7y (email is no longer hashed)   LOOSENED: needs review\n\
             \x20 - app::login: audit removed (was event login, args user, kept 7y; calls are no longer recorded)   LOOSENED: needs review\n\
             \n{LOOSENED_NOTE}\n"
            )
        );
        assert_eq!(p.flags(), [ReviewFlag::Loosened]);
        let json = p.to_json().unwrap();
        assert_eq!(json["changes"][1]["change"], "removed", "{json}");
        assert_eq!(json["changes"][1]["needs_review"], true, "{json}");
        assert_eq!(json["changes"][1]["action"], "delete", "{json}");
        assert_eq!(
            p.problems(),
            ["audits differ from the audit lock: 2 audit changes (2 loosened: needs review)"]
        );
    }
}
