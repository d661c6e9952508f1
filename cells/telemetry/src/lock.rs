//! `.cell/telemetry.lock.json`: every metric (name, type, labels) and span the workspace
//! declares, and the plan between two of them (metrics and spans added, removed, changed).

use std::collections::BTreeMap;

pub use cell_core::lockfile::{LockError, LockFile};
use cell_core::plan::{Action, Summary};
use serde::{Deserialize, Serialize};

use crate::declare::{FnDecl, MetricKind};

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// Sorted by name.
    pub metrics: Vec<LockedMetric>,
    /// Sorted by name.
    pub spans: Vec<LockedSpan>,
}

impl Default for Lock {
    fn default() -> Self {
        Lock {
            version: LOCK_VERSION,
            metrics: vec![],
            spans: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedMetric {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MetricKind,
    pub labels: Vec<String>,
    /// The functions that update it.
    pub functions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedSpan {
    pub name: String,
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled: Option<f64>,
    pub functions: Vec<String>,
}

/// Two functions declare one metric with different types or labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub metric: String,
    pub first: String,
    pub second: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "metric `{}` is declared differently by {} and by {}",
            self.metric, self.first, self.second
        )
    }
}

impl Lock {
    /// The lock the declarations call for.
    pub fn from_decls<'a>(decls: impl IntoIterator<Item = &'a FnDecl>) -> Result<Lock, Conflict> {
        let mut metrics: BTreeMap<String, LockedMetric> = BTreeMap::new();
        let mut spans: BTreeMap<String, LockedSpan> = BTreeMap::new();
        for d in decls {
            for m in &d.metrics {
                match metrics.get_mut(&m.name) {
                    Some(e) if e.kind == m.kind && e.labels == m.labels => {
                        if !e.functions.contains(&d.function) {
                            e.functions.push(d.function.clone());
                            e.functions.sort();
                        }
                    }
                    Some(e) => {
                        return Err(Conflict {
                            metric: m.name.clone(),
                            first: format!(
                                "`{}` ({}, labels [{}])",
                                e.functions.join("`, `"),
                                e.kind.as_str(),
                                e.labels.join(", ")
                            ),
                            second: format!(
                                "`{}` ({}, labels [{}])",
                                d.function,
                                m.kind.as_str(),
                                m.labels.join(", ")
                            ),
                        });
                    }
                    None => {
                        metrics.insert(
                            m.name.clone(),
                            LockedMetric {
                                name: m.name.clone(),
                                kind: m.kind,
                                labels: m.labels.clone(),
                                functions: vec![d.function.clone()],
                            },
                        );
                    }
                }
            }
            if let Some(s) = &d.span {
                let e = spans.entry(s.name.clone()).or_insert_with(|| LockedSpan {
                    name: s.name.clone(),
                    fields: s.fields.clone(),
                    sampled: s.sampled,
                    functions: vec![],
                });
                for f in &s.fields {
                    if !e.fields.contains(f) {
                        e.fields.push(f.clone());
                    }
                }
                if !e.functions.contains(&d.function) {
                    e.functions.push(d.function.clone());
                    e.functions.sort();
                }
            }
        }
        Ok(Lock {
            version: LOCK_VERSION,
            metrics: metrics.into_values().collect(),
            spans: spans.into_values().collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.spans.is_empty()
    }
}

impl LockFile for Lock {
    const VERSION: u32 = LOCK_VERSION;
    const CELL: &'static str = "Telemetry";
}

/// What changes between the locked declarations and the code's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    AddMetric(LockedMetric),
    RemoveMetric(LockedMetric),
    /// Same name, another type or other labels: Prometheus sees a new series set.
    ChangeMetric {
        from: LockedMetric,
        to: LockedMetric,
    },
    AddSpan(LockedSpan),
    RemoveSpan(LockedSpan),
    ChangeSpan {
        from: LockedSpan,
        to: LockedSpan,
    },
}

impl Plan {
    pub fn between(old: &Lock, new: &Lock) -> Plan {
        let mut steps = Vec::new();
        let old_m: BTreeMap<_, _> = old.metrics.iter().map(|m| (&m.name, m)).collect();
        let new_m: BTreeMap<_, _> = new.metrics.iter().map(|m| (&m.name, m)).collect();
        for (name, m) in &new_m {
            match old_m.get(name) {
                None => steps.push(Step::AddMetric((*m).clone())),
                Some(o) if o.kind != m.kind || o.labels != m.labels => {
                    steps.push(Step::ChangeMetric {
                        from: (*o).clone(),
                        to: (*m).clone(),
                    })
                }
                Some(_) => {}
            }
        }
        for (name, o) in &old_m {
            if !new_m.contains_key(name) {
                steps.push(Step::RemoveMetric((*o).clone()));
            }
        }
        let old_s: BTreeMap<_, _> = old.spans.iter().map(|s| (&s.name, s)).collect();
        let new_s: BTreeMap<_, _> = new.spans.iter().map(|s| (&s.name, s)).collect();
        for (name, s) in &new_s {
            match old_s.get(name) {
                None => steps.push(Step::AddSpan((*s).clone())),
                Some(o) if o.fields != s.fields || o.sampled != s.sampled => {
                    steps.push(Step::ChangeSpan {
                        from: (*o).clone(),
                        to: (*s).clone(),
                    })
                }
                Some(_) => {}
            }
        }
        for (name, o) in &old_s {
            if !new_s.contains_key(name) {
                steps.push(Step::RemoveSpan((*o).clone()));
            }
        }
        Plan { steps }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many metrics and spans it adds, changes and removes.
    pub fn counts(&self) -> Summary {
        Summary::of(self.steps.iter().map(Step::action))
    }

    /// `1 to add, 2 to change, 2 to destroy`: the counts of the JSON plan's `summary`, in the
    /// words the Postgres plan uses.
    pub fn summary(&self) -> String {
        let Summary {
            add,
            change,
            destroy,
        } = self.counts();
        format!("{add} to add, {change} to change, {destroy} to destroy")
    }

    /// The plan as `cargo cell plan` prints it, one line per step.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            out.push_str("telemetry: no changes\n");
            return out;
        }
        out.push_str("telemetry:\n");
        for step in &self.steps {
            out.push_str(&format!("  {} {}\n", step.sign(), step.description()));
        }
        out
    }
}

impl Step {
    /// Create (added), delete (removed) or update (changed).
    pub fn action(&self) -> Action {
        match self {
            Step::AddMetric(_) | Step::AddSpan(_) => Action::Create,
            Step::RemoveMetric(_) | Step::RemoveSpan(_) => Action::Delete,
            Step::ChangeMetric { .. } | Step::ChangeSpan { .. } => Action::Update,
        }
    }

    /// `+` added, `-` removed, `~` changed.
    pub fn sign(&self) -> &'static str {
        match self {
            Step::AddMetric(_) | Step::AddSpan(_) => "+",
            Step::RemoveMetric(_) | Step::RemoveSpan(_) => "-",
            Step::ChangeMetric { .. } | Step::ChangeSpan { .. } => "~",
        }
    }

    /// The step as the plan shows it after its sign:
    /// `metric checkouts_total (counter, labels: tier)`.
    pub fn description(&self) -> String {
        match self {
            Step::AddMetric(m) | Step::RemoveMetric(m) => format!("metric {}", metric(m)),
            Step::ChangeMetric { from, to } => format!("metric {} -> {}", metric(from), metric(to)),
            Step::AddSpan(s) | Step::RemoveSpan(s) => format!("span {}", span(s)),
            Step::ChangeSpan { from, to } => format!("span {} -> {}", span(from), span(to)),
        }
    }
}

fn metric(m: &LockedMetric) -> String {
    if m.labels.is_empty() {
        format!("{} ({})", m.name, m.kind.as_str())
    } else {
        format!(
            "{} ({}, labels: {})",
            m.name,
            m.kind.as_str(),
            m.labels.join(", ")
        )
    }
}

fn span(s: &LockedSpan) -> String {
    let mut out = s.name.clone();
    if !s.fields.is_empty() {
        out.push_str(&format!(" (fields: {})", s.fields.join(", ")));
    }
    if let Some(r) = s.sampled {
        out.push_str(&format!(" sampled {r}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{MetricDecl, SpanDecl};

    fn checkout(labels: &[&str]) -> FnDecl {
        FnDecl {
            function: "shop::checkout".into(),
            span: Some(SpanDecl {
                name: "checkout_flow".into(),
                fields: vec!["tier".into()],
                sampled: None,
                is_async: true,
            }),
            metrics: vec![
                MetricDecl {
                    name: "checkouts_total".into(),
                    kind: MetricKind::Counter,
                    labels: labels.iter().map(|s| s.to_string()).collect(),
                },
                MetricDecl {
                    name: "checkout_seconds".into(),
                    kind: MetricKind::Histogram,
                    labels: labels.iter().map(|s| s.to_string()).collect(),
                },
            ],
        }
    }

    #[test]
    fn lock_lists_metrics_and_spans_sorted() {
        let lock = Lock::from_decls([&checkout(&["tier"])]).unwrap();
        let names: Vec<_> = lock.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["checkout_seconds", "checkouts_total"]);
        assert_eq!(lock.spans[0].name, "checkout_flow");
        let back: Lock = serde_json::from_slice(&lock.to_bytes()).unwrap();
        assert_eq!(back, lock);
        let text = String::from_utf8(lock.to_bytes()).unwrap();
        assert!(text.contains("\"type\": \"counter\""), "{text}");
    }

    #[test]
    fn one_metric_from_two_functions() {
        let mut other = checkout(&["tier"]);
        other.function = "shop::retry".into();
        other.span = None;
        let lock = Lock::from_decls([&checkout(&["tier"]), &other]).unwrap();
        assert_eq!(lock.metrics[1].functions, ["shop::checkout", "shop::retry"]);
    }

    #[test]
    fn conflicting_labels_are_an_error() {
        let mut other = checkout(&["region"]);
        other.function = "shop::retry".into();
        let err = Lock::from_decls([&checkout(&["tier"]), &other]).unwrap_err();
        assert_eq!(err.metric, "checkouts_total");
        assert!(err.to_string().contains("labels [tier]"), "{err}");
    }

    #[test]
    fn plan_shows_metrics_added_removed_and_changed() {
        let empty = Lock::default();
        let one = Lock::from_decls([&checkout(&["tier"])]).unwrap();
        let plan = Plan::between(&empty, &one);
        assert_eq!(
            plan.render(),
            "telemetry:\n  + metric checkout_seconds (histogram, labels: tier)\n  + metric checkouts_total (counter, labels: tier)\n  + span checkout_flow (fields: tier)\n"
        );
        assert!(Plan::between(&one, &one).is_empty());
        assert_eq!(
            Plan::between(&one, &one).render(),
            "telemetry: no changes\n"
        );
        let two = Lock::from_decls([&checkout(&["tier", "region"])]).unwrap();
        let plan = Plan::between(&one, &two).render();
        assert!(
            plan.contains("~ metric checkouts_total (counter, labels: tier) -> checkouts_total (counter, labels: tier, region)"),
            "{plan}"
        );
        let plan = Plan::between(&one, &empty).render();
        assert!(plan.contains("- metric checkouts_total"), "{plan}");
        assert!(plan.contains("- span checkout_flow"), "{plan}");
    }

    #[test]
    fn summary_counts_what_is_added_changed_and_removed() {
        let one = Lock::from_decls([&checkout(&["tier"])]).unwrap();
        let two = Lock::from_decls([&checkout(&["tier", "region"])]).unwrap();
        assert_eq!(
            Plan::between(&Lock::default(), &one).summary(),
            "3 to add, 0 to change, 0 to destroy"
        );
        assert_eq!(
            Plan::between(&one, &two).summary(),
            "0 to add, 2 to change, 0 to destroy"
        );
        assert_eq!(
            Plan::between(&one, &Lock::default()).summary(),
            "0 to add, 0 to change, 3 to destroy"
        );
        for step in &Plan::between(&one, &two).steps {
            assert_eq!(step.action().symbol(), step.sign());
        }
    }
}
