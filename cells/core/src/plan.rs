//! One face for every Cell's plan: whether it changes anything, how many things it adds,
//! changes and destroys, its text for people (the same symbols and colours for every Cell),
//! its section of `plan --format json`, what `plan --check` reports, and flags a reviewer
//! must see (a loosened permission). cargo-cell renders and counts plans through
//! [`CellPlan`] alone, whichever Cell made them (as Terraform's core does with providers).

use std::any::Any;

use serde::{Deserialize, Serialize};

/// What a change does to its object, as Terraform shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `+`
    Create,
    /// `~`
    Update,
    /// `-`
    Delete,
    /// `-/+`: dropped and created again (an index or constraint whose definition changed).
    Replace,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
        }
    }
}

/// How much a change can hurt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// Never loses data, never fails because of data.
    Safe,
    /// Loses no data, but fails when existing rows violate it (NOT NULL, UNIQUE, FK, CHECK).
    DataDependent,
    /// Loses data (drops, narrowing type changes).
    Destructive,
}

/// How rendered text is decorated: colours on a terminal, nothing otherwise.
pub trait Style {
    fn action(&self, action: Action, text: &str) -> String;
    fn warning(&self, safety: Safety, text: &str) -> String;
    fn dim(&self, text: &str) -> String;
}

/// No decoration.
pub struct Plain;

impl Style for Plain {
    fn action(&self, _: Action, text: &str) -> String {
        text.to_string()
    }
    fn warning(&self, _: Safety, text: &str) -> String {
        text.to_string()
    }
    fn dim(&self, text: &str) -> String {
        text.to_string()
    }
}

/// How many things a plan adds, changes and destroys (a replacement is one of each side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Summary {
    pub fn of(actions: impl IntoIterator<Item = Action>) -> Summary {
        let mut s = Summary::default();
        for action in actions {
            match action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.destroy += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        *self == Summary::default()
    }
}

/// How the text of a plan is asked for.
pub struct Render<'a> {
    /// Colours, or [`Plain`].
    pub style: &'a dyn Style,
    /// `plan --sql`: each step's statements (for the Cells that have any).
    pub with_sql: bool,
}

/// A flag on a plan that a reviewer must see before it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewFlag {
    /// A permission admits callers it refused before.
    Loosened,
    /// A step loses data.
    Destructive,
    /// The live Cell changed outside cargo-cell since the lock was written.
    Drift,
}

/// The plan of one Cell, as every command sees it.
pub trait CellPlan: Send + Sync {
    /// Nothing to apply (`plan --detailed-exitcode` exits 0 when every plan is empty).
    fn is_empty(&self) -> bool;

    /// What it adds, changes and destroys.
    fn summary(&self) -> Summary;

    /// The Cell's part of `cargo cell plan`'s text, each line ending in a newline; empty for
    /// a Cell that has nothing to say.
    fn render(&self, how: &Render<'_>) -> String;

    /// The Cell's entry of `cells` in `plan --format json` (docs/plan-format.md); `None`
    /// leaves it out.
    fn to_json(&self) -> Option<serde_json::Value>;

    /// What `plan --check` reports, one line a problem; empty when code, lock and the live
    /// Cell agree.
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }

    /// Flags a reviewer must see.
    fn flags(&self) -> Vec<ReviewFlag> {
        Vec::new()
    }

    /// The plan as its Cell's own type (a Cell's apply takes back the plan it made).
    fn as_any(&self) -> &dyn Any;
}

/// A change of a Cell whose plan is a list of reviewed changes (RateLimit, Audit): a line for
/// `cargo cell plan`, its action, and whether it loosens something a reviewer must see.
pub trait ReviewedChange: Serialize {
    fn action(&self) -> Action;
    /// `  + name: ...`, indented by two spaces, ending in `   LOOSENED: needs review` when
    /// [`ReviewedChange::needs_review`].
    fn line(&self) -> String;
    fn needs_review(&self) -> bool;
}

/// `<cell>: <summary>`, a line per change and, when one needs review, `note`; or
/// `no_changes` alone.
pub fn render_reviewed<C: ReviewedChange>(
    cell: &str,
    summary: &str,
    changes: &[C],
    no_changes: &str,
    note: &str,
) -> String {
    if changes.is_empty() {
        return format!("{cell}: {no_changes}\n");
    }
    let mut out = format!("{cell}: {summary}\n");
    for c in changes {
        out.push_str(&c.line());
        out.push('\n');
    }
    if changes.iter().any(ReviewedChange::needs_review) {
        out.push('\n');
        out.push_str(note);
        out.push('\n');
    }
    out
}

/// `{"summary": {...}, "changes": [{"action", "description", "needs_review", ...}]}`
/// (docs/plan-format.md): each change's own fields, its action, and its line without indent
/// and sign as the description.
pub fn reviewed_json<C: ReviewedChange>(summary: Summary, changes: &[C]) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).expect("a change serialises");
            let obj = v.as_object_mut().expect("a change is an object");
            obj.insert(
                "action".into(),
                serde_json::to_value(c.action()).expect("action"),
            );
            let line = c.line();
            let description = line.trim_start().get(2..).unwrap_or_default();
            obj.insert("description".into(), description.into());
            obj.insert("needs_review".into(), c.needs_review().into());
            v
        })
        .collect();
    serde_json::json!({"summary": summary, "changes": changes})
}

/// [`ReviewFlag::Loosened`] when any change needs review.
pub fn reviewed_flags<C: ReviewedChange>(changes: &[C]) -> Vec<ReviewFlag> {
    if changes.iter().any(ReviewedChange::needs_review) {
        vec![ReviewFlag::Loosened]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_counts_on_both_sides() {
        let s = Summary::of([Action::Create, Action::Replace, Action::Update]);
        assert_eq!(
            s,
            Summary {
                add: 2,
                change: 1,
                destroy: 1
            }
        );
        assert!(!s.is_empty());
        assert!(Summary::of([]).is_empty());
    }

    #[test]
    fn review_flags_are_shouted() {
        assert_eq!(
            serde_json::to_value(ReviewFlag::Loosened).unwrap(),
            serde_json::json!("LOOSENED")
        );
    }
}
