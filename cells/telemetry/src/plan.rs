//! The Telemetry Cell's plan as cargo-cell sees every plan ([`CellPlan`]): the metrics and
//! spans the code adds, removes and changes since `.cell/telemetry.lock.json`.

use std::any::Any;

use cell_core::plan::{CellPlan, Render, Summary};

use crate::lock::{Lock, Plan};
use crate::report::telemetry_report;

#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryPlan {
    /// From the committed lock (or none) to the code's.
    pub plan: Plan,
    /// The lock the code calls for (what apply writes).
    pub desired: Lock,
}

/// What `plan --check` reports when the plan is not empty.
pub const CHECK_PROBLEM: &str = "the metrics and spans differ from the telemetry lock";

impl CellPlan for TelemetryPlan {
    fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    fn summary(&self) -> Summary {
        self.plan.counts()
    }

    /// `telemetry: no changes`, or `telemetry:` and one line a step; never coloured (as
    /// before).
    fn render(&self, _how: &Render<'_>) -> String {
        self.plan.render()
    }

    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::to_value(telemetry_report(&self.plan)).expect("report serialises"))
    }

    fn problems(&self) -> Vec<String> {
        if self.plan.is_empty() {
            Vec::new()
        } else {
            vec![CHECK_PROBLEM.to_string()]
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {

    use cell_core::plan::Plain;

    use super::*;
    use crate::report::tests::lock;

    fn plan(old: &Lock, new: &Lock) -> TelemetryPlan {
        TelemetryPlan {
            plan: Plan::between(old, new),
            desired: new.clone(),
        }
    }

    #[test]
    fn text_problems_and_summary() {
        let p = plan(&lock(true, &["tier"]), &lock(false, &["tier", "region"]));
        let how = Render {
            style: &Plain,
            with_sql: false,
        };
        assert_eq!(
            p.render(&how),
            "telemetry:\n\
             \x20 ~ metric checkout_seconds (histogram, labels: tier) -> checkout_seconds (histogram, labels: tier, region)\n\
             \x20 ~ metric checkouts_total (counter, labels: tier) -> checkouts_total (counter, labels: tier, region)\n\
             \x20 - metric charges_total (counter)\n\
             \x20 + span refund (fields: cents)\n\
             \x20 - span charge sampled 0.5\n"
        );
        assert_eq!(
            p.summary(),
            Summary {
                add: 1,
                change: 2,
                destroy: 2
            }
        );
        assert_eq!(
            p.problems(),
            ["the metrics and spans differ from the telemetry lock"]
        );
        assert!(p.flags().is_empty());
        assert!(p.as_any().downcast_ref::<TelemetryPlan>().is_some());

        let same = plan(&lock(true, &["tier"]), &lock(true, &["tier"]));
        assert!(same.is_empty());
        assert_eq!(same.render(&how), "telemetry: no changes\n");
        assert!(same.problems().is_empty());
        assert_eq!(
            same.to_json().unwrap(),
            serde_json::json!({"changes": [], "summary": {"add": 0, "change": 0, "destroy": 0}})
        );
    }
}
