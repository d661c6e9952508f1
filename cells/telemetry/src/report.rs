//! `cells.telemetry` of `cargo cell plan --format json` (docs/plan-format.md): the metrics and
//! spans the code adds, removes and changes since `.cell/telemetry.lock.json`, in the order
//! the human plan lists them.

use cell_core::plan::{Action, Summary};
use serde::{Deserialize, Serialize};

use crate::lock::{LockedMetric, LockedSpan, Plan, Step};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryReport {
    pub summary: Summary,
    pub changes: Vec<TelemetryChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryChange {
    /// `create`, `update` or `delete`.
    pub action: Action,
    /// The line of the human plan, without its sign.
    pub description: String,
    /// `metric` or `span`, with the locked entry before (`from`) and after (`to`).
    #[serde(flatten)]
    pub item: TelemetryItem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TelemetryItem {
    Metric(FromTo<LockedMetric>),
    Span(FromTo<LockedSpan>),
}

/// What the lock has (`from`, absent for an addition) and what the code declares (`to`,
/// absent for a removal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FromTo<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<T>,
}

impl<T> FromTo<T> {
    /// Create (nothing locked), delete (nothing declared) or update (both).
    pub fn action(&self) -> Action {
        match (&self.from, &self.to) {
            (None, _) => Action::Create,
            (_, None) => Action::Delete,
            _ => Action::Update,
        }
    }
}

/// The JSON model of `plan`.
pub fn telemetry_report(plan: &Plan) -> TelemetryReport {
    let changes: Vec<TelemetryChange> = plan
        .steps
        .iter()
        .map(|step| {
            let (item, action) = match step.clone() {
                Step::AddMetric(m) => metric(None, Some(m)),
                Step::RemoveMetric(m) => metric(Some(m), None),
                Step::ChangeMetric { from, to } => metric(Some(from), Some(to)),
                Step::AddSpan(s) => span(None, Some(s)),
                Step::RemoveSpan(s) => span(Some(s), None),
                Step::ChangeSpan { from, to } => span(Some(from), Some(to)),
            };
            TelemetryChange {
                action,
                description: step.description(),
                item,
            }
        })
        .collect();
    TelemetryReport {
        summary: Summary::of(changes.iter().map(|c| c.action)),
        changes,
    }
}

fn metric(from: Option<LockedMetric>, to: Option<LockedMetric>) -> (TelemetryItem, Action) {
    let change = FromTo { from, to };
    let action = change.action();
    (TelemetryItem::Metric(change), action)
}

fn span(from: Option<LockedSpan>, to: Option<LockedSpan>) -> (TelemetryItem, Action) {
    let change = FromTo { from, to };
    let action = change.action();
    (TelemetryItem::Span(change), action)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::declare::{FnDecl, MetricDecl, MetricKind, SpanDecl};
    use crate::lock::Lock;

    /// The declarations of cargo-cell's old report test: with charges and labels [tier] (the
    /// lock), or refunds instead of charges and the given labels (the code).
    pub(crate) fn decls(with_charges: bool, tier_labels: &[&str]) -> Vec<FnDecl> {
        let labels: Vec<String> = tier_labels.iter().map(|s| s.to_string()).collect();
        let mut decls = vec![FnDecl {
            function: "shop::checkout".into(),
            span: Some(SpanDecl {
                name: "checkout_flow".into(),
                fields: vec!["tier".into(), "items".into()],
                sampled: None,
                is_async: true,
            }),
            metrics: vec![
                MetricDecl {
                    name: "checkouts_total".into(),
                    kind: MetricKind::Counter,
                    labels: labels.clone(),
                },
                MetricDecl {
                    name: "checkout_seconds".into(),
                    kind: MetricKind::Histogram,
                    labels,
                },
            ],
        }];
        if with_charges {
            decls.push(FnDecl {
                function: "shop::charge".into(),
                span: Some(SpanDecl {
                    name: "charge".into(),
                    fields: vec![],
                    sampled: Some(0.5),
                    is_async: false,
                }),
                metrics: vec![MetricDecl {
                    name: "charges_total".into(),
                    kind: MetricKind::Counter,
                    labels: vec![],
                }],
            });
        } else {
            // The code that replaced `charge`.
            decls.push(FnDecl {
                function: "shop::refund".into(),
                span: Some(SpanDecl {
                    name: "refund".into(),
                    fields: vec!["cents".into()],
                    sampled: None,
                    is_async: false,
                }),
                metrics: vec![],
            });
        }
        decls
    }

    pub(crate) fn lock(with_charges: bool, tier_labels: &[&str]) -> Lock {
        Lock::from_decls(&decls(with_charges, tier_labels)).unwrap()
    }

    #[test]
    fn each_change_says_what_the_human_plan_says() {
        let plan = Plan::between(&lock(true, &["tier"]), &lock(false, &["tier", "region"]));
        let report = telemetry_report(&plan);
        let human = plan.render();
        for change in &report.changes {
            let line = format!("  {} {}\n", change.action.symbol(), change.description);
            assert!(human.contains(&line), "`{line}` not in\n{human}");
        }
        assert_eq!(report.changes.len(), human.lines().count() - 1);
        assert_eq!(
            report.summary,
            Summary {
                add: 1,
                change: 2,
                destroy: 2
            }
        );
        assert_eq!(report.summary, plan.counts());
        let back: TelemetryReport =
            serde_json::from_value(serde_json::to_value(&report).unwrap()).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn unchanged_is_listed_without_changes() {
        let lock = lock(true, &["tier"]);
        let report = telemetry_report(&Plan::between(&lock, &lock));
        assert!(report.changes.is_empty());
        assert_eq!(report.summary, Summary::default());
    }
}
