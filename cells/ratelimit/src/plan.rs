//! What changes between the lock and the code's limits, and which changes loosen one.
//!
//! A change *loosens* when some request is admitted that was refused before: a limit
//! removed, a faster rate, a larger burst, `fail = "closed"` turned into `"open"`. Those
//! are flagged `LOOSENED: needs review` ([`ReviewFlag::Loosened`]), as a loosened Auth guard
//! is.

use std::any::Any;

use cell_core::plan::{
    Action, CellPlan, Render, ReviewFlag, ReviewedChange, Summary, render_reviewed, reviewed_flags,
    reviewed_json,
};
use serde::Serialize;

use crate::declare::LimitDecl;
use crate::lock::Lock;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    Added { now: LimitDecl },
    Removed { was: LimitDecl },
    Tightened { was: LimitDecl, now: LimitDecl },
    Loosened { was: LimitDecl, now: LimitDecl },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `app::search/per_user`.
    pub name: String,
    #[serde(flatten)]
    pub kind: ChangeKind,
}

impl ReviewedChange for Change {
    fn action(&self) -> Action {
        match self.kind {
            ChangeKind::Added { .. } => Action::Create,
            ChangeKind::Removed { .. } => Action::Delete,
            ChangeKind::Tightened { .. } | ChangeKind::Loosened { .. } => Action::Update,
        }
    }

    fn needs_review(&self) -> bool {
        matches!(
            self.kind,
            ChangeKind::Removed { .. } | ChangeKind::Loosened { .. }
        )
    }

    /// `+ app::f/per_user: 100 per 1m, burst 100, fail open`.
    fn line(&self) -> String {
        let mut line = match &self.kind {
            ChangeKind::Added { now } => format!("  + {}: {}", self.name, now.describe()),
            ChangeKind::Removed { was } => format!(
                "  - {}: limit removed (was {}; now unlimited)",
                self.name,
                was.describe()
            ),
            ChangeKind::Tightened { was, now } => format!(
                "  ~ {}: {} -> {} (tightened)",
                self.name,
                was.describe(),
                now.describe()
            ),
            ChangeKind::Loosened { was, now } => {
                format!(
                    "  ~ {}: {} -> {}",
                    self.name,
                    was.describe(),
                    now.describe()
                )
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
    /// Sorted by name.
    pub changes: Vec<Change>,
}

/// From `lock` (none: every limit is new) to the limits the code declares.
pub fn diff(lock: Option<&Lock>, declared: &[LimitDecl]) -> Plan {
    let was: Vec<LimitDecl> = lock.map(Lock::declarations).unwrap_or_default();
    let mut changes = Vec::new();
    for now in declared {
        let name = now.name();
        match was.iter().find(|w| w.name() == name) {
            None => changes.push(Change {
                name,
                kind: ChangeKind::Added { now: now.clone() },
            }),
            Some(w) if w == now => {}
            Some(w) => {
                let kind = if now.looser_than(w) {
                    ChangeKind::Loosened {
                        was: w.clone(),
                        now: now.clone(),
                    }
                } else {
                    ChangeKind::Tightened {
                        was: w.clone(),
                        now: now.clone(),
                    }
                };
                changes.push(Change { name, kind });
            }
        }
    }
    for w in &was {
        let name = w.name();
        if !declared.iter().any(|d| d.name() == name) {
            changes.push(Change {
                name,
                kind: ChangeKind::Removed { was: w.clone() },
            });
        }
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    changes.dedup_by(|a, b| a.name == b.name);
    Plan { changes }
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn loosened(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.needs_review())
    }

    /// `2 limit changes (1 loosened: needs review)`.
    pub fn summary(&self) -> String {
        let n = self.changes.len();
        let loose = self.loosened().count();
        let mut s = format!("{n} limit change{}", if n == 1 { "" } else { "s" });
        if loose > 0 {
            s.push_str(&format!(" ({loose} loosened: needs review)"));
        }
        s
    }
}

/// The note under a plan that loosens a limit.
pub const LOOSENED_NOTE: &str = "Loosened rate limits admit requests that were refused before: review them before `cargo cell build` locks them.";

/// The RateLimit Cell's plan as cargo-cell sees every plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitPlan {
    pub plan: Plan,
    /// The lock apply writes.
    pub desired: Lock,
}

impl CellPlan for RateLimitPlan {
    fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    fn summary(&self) -> Summary {
        Summary::of(self.plan.changes.iter().map(Change::action))
    }

    /// `ratelimit: No changes. ...`, or `ratelimit: <summary>`, a line per change and the
    /// note on loosened limits. Not coloured, as the Auth Cell's.
    fn render(&self, _how: &Render<'_>) -> String {
        render_reviewed(
            "ratelimit",
            &self.plan.summary(),
            &self.plan.changes,
            "No changes. The rate limits match the code.",
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
                "rate limits differ from the ratelimit lock: {}",
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
    use crate::declare::Scope;
    use crate::declare::fixtures::limit;
    use cell_core::plan::Plain;

    fn plan(old: &[LimitDecl], new: &[LimitDecl]) -> RateLimitPlan {
        let lock = Lock::desired(old);
        RateLimitPlan {
            plan: diff(Some(&lock), new),
            desired: Lock::desired(new),
        }
    }

    fn text(p: &RateLimitPlan) -> String {
        p.render(&Render {
            style: &Plain,
            with_sql: false,
        })
    }

    #[test]
    fn raised_and_removed_limits_need_review() {
        let old = [
            limit("app::search", Scope::User, 100, 60),
            limit("app::login", Scope::Ip, 5, 60),
            limit("app::export", Scope::Global, 10, 3600),
        ];
        let new = [
            limit("app::search", Scope::User, 200, 60),
            limit("app::export", Scope::Global, 5, 3600),
            limit("app::upload", Scope::User, 3, 1),
        ];
        let p = plan(&old, &new);
        assert_eq!(
            text(&p),
            "ratelimit: 4 limit changes (2 loosened: needs review)\n\
             \x20 ~ app::export/global: 10 per 1h, burst 10, fail open -> 5 per 1h, burst 5, fail open (tightened)\n\
             \x20 - app::login/per_ip: limit removed (was 5 per 1m, burst 5, fail open; now unlimited)   LOOSENED: needs review\n\
             \x20 ~ app::search/per_user: 100 per 1m, burst 100, fail open -> 200 per 1m, burst 200, fail open   LOOSENED: needs review\n\
             \x20 + app::upload/per_user: 3 per 1s, burst 3, fail open\n\
             \n\
             Loosened rate limits admit requests that were refused before: review them before `cargo cell build` locks them.\n"
        );
        assert_eq!(p.flags(), [ReviewFlag::Loosened]);
        assert_eq!(
            p.summary(),
            Summary {
                add: 1,
                change: 2,
                destroy: 1
            }
        );
        assert_eq!(
            p.problems(),
            [
                "rate limits differ from the ratelimit lock: 4 limit changes (2 loosened: needs review)"
            ]
        );
    }

    #[test]
    fn a_tightened_or_new_limit_needs_no_review() {
        let p = plan(
            &[limit("app::search", Scope::User, 100, 60)],
            &[
                limit("app::search", Scope::User, 50, 60),
                limit("app::new", Scope::Ip, 1, 1),
            ],
        );
        assert!(p.flags().is_empty());
        assert!(!p.is_empty());
        let same = plan(
            &[limit("a::f", Scope::User, 1, 1)],
            &[limit("a::f", Scope::User, 1, 1)],
        );
        assert!(same.is_empty());
        assert_eq!(
            text(&same),
            "ratelimit: No changes. The rate limits match the code.\n"
        );
        assert!(same.problems().is_empty());
        let first = diff(None, &[limit("a::f", Scope::User, 1, 1)]);
        assert_eq!(first.changes.len(), 1);
        assert!(!first.changes[0].needs_review());
    }

    #[test]
    fn json_names_each_change_and_its_review() {
        let p = plan(
            &[limit("a::f", Scope::User, 1, 1)],
            &[limit("a::f", Scope::User, 2, 1)],
        );
        let json = p.to_json().unwrap();
        assert_eq!(
            json["summary"],
            serde_json::json!({"add": 0, "change": 1, "destroy": 0})
        );
        let c = &json["changes"][0];
        assert_eq!(c["name"], "a::f/per_user");
        assert_eq!(c["change"], "loosened");
        assert_eq!(c["needs_review"], true);
        assert_eq!(c["was"]["limit"], 1);
        assert_eq!(c["now"]["limit"], 2);
        assert!(
            c["description"]
                .as_str()
                .unwrap()
                .starts_with("a::f/per_user: 1 per 1s")
        );
        assert_eq!(c["action"], serde_json::to_value(Action::Update).unwrap());
    }
}
