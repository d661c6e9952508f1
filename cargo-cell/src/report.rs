//! The plan as one document: every Cell's entry under `cells`, for machines (`plan --format
//! json`) and as the saved-plan file that `cargo cell apply PLAN` takes. The format is
//! documented in docs/plan-format.md; each Cell writes its own entry (`CellPlan::to_json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use cell_core::CellPlan;

/// Bumped on any incompatible change of [`PlanReport`].
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanReport {
    pub format_version: u32,
    pub tool_version: String,
    /// `dev` for the Docker Cells, else the `--env` name.
    pub environment: String,
    /// Whether applying would change anything (changes or drift to revert).
    pub changes: bool,
    /// One entry per Cell that has something to say, by Cell name.
    pub cells: BTreeMap<String, serde_json::Value>,
}

impl PlanReport {
    pub fn new(environment: &str) -> PlanReport {
        PlanReport {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            environment: environment.to_string(),
            changes: false,
            cells: BTreeMap::new(),
        }
    }

    /// Adds `cell`'s plan: its entry (when it has one), and its changes count as changes.
    pub fn add(&mut self, cell: &str, plan: &dyn CellPlan) {
        self.changes |= !plan.is_empty();
        if let Some(entry) = plan.to_json() {
            self.cells.insert(cell.to_string(), entry);
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("report serialises");
        s.push('\n');
        s
    }

    pub fn parse(bytes: &[u8]) -> Result<PlanReport, Box<dyn std::error::Error + Send + Sync>> {
        let report: PlanReport = serde_json::from_slice(bytes)?;
        if report.format_version != FORMAT_VERSION {
            return Err(format!(
                "plan format version {} (this cargo-cell reads version {FORMAT_VERSION})",
                report.format_version
            )
            .into());
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_core::plan::{Action, Summary};
    use cell_telemetry::lock::Plan as TelemetryPlan;
    use cell_telemetry::report::TelemetryReport;

    #[test]
    fn report_round_trips_and_checks_its_version() {
        let report = PlanReport::new("prod");
        let json = report.to_json();
        let back = PlanReport::parse(json.as_bytes()).unwrap();
        assert_eq!(back.environment, "prod");
        assert!(!back.changes);
        let newer = json.replace("\"format_version\": 1", "\"format_version\": 2");
        assert!(PlanReport::parse(newer.as_bytes()).is_err());
    }

    fn telemetry_lock(with_charges: bool, tier_labels: &[&str]) -> cell_telemetry::lock::Lock {
        use cell_telemetry::declare::{FnDecl, MetricDecl, MetricKind, SpanDecl};
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
        }
        if !with_charges {
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
        cell_telemetry::lock::Lock::from_decls(&decls).unwrap()
    }

    #[test]
    fn telemetry_changes_are_in_the_json_plan_and_count_as_changes() {
        // From the lock (charges, labels [tier]) to the code (refunds instead of charges,
        // labels [tier, region]).
        let old = telemetry_lock(true, &["tier"]);
        let new = telemetry_lock(false, &["tier", "region"]);
        let plan = TelemetryPlan::between(&old, &new);
        let cell_plan = cell_telemetry::plan::TelemetryPlan {
            plan: plan.clone(),
            desired: new.clone(),
        };
        let mut report = PlanReport::new("dev");
        assert!(!report.changes);
        report.add("telemetry", &cell_plan);
        assert!(
            report.changes,
            "telemetry changes count for --detailed-exitcode"
        );
        let json = report.to_json();
        insta::assert_snapshot!(json);

        // It reads back, and says what the human plan says.
        let back = PlanReport::parse(json.as_bytes()).unwrap();
        let telemetry: TelemetryReport =
            serde_json::from_value(back.cells["telemetry"].clone()).expect("a telemetry entry");
        let human = plan.render();
        for change in &telemetry.changes {
            let sign = match change.action {
                Action::Create => "+",
                Action::Delete => "-",
                _ => "~",
            };
            let line = format!("  {sign} {}\n", change.description);
            assert!(human.contains(&line), "`{line}` not in\n{human}");
        }
        assert_eq!(telemetry.changes.len(), human.lines().count() - 1);
        assert_eq!(
            telemetry.summary,
            Summary {
                add: 1,
                change: 2,
                destroy: 2
            }
        );
    }

    #[test]
    fn unchanged_telemetry_is_listed_without_changes() {
        let lock = telemetry_lock(true, &["tier"]);
        let mut report = PlanReport::new("dev");
        report.add(
            "telemetry",
            &cell_telemetry::plan::TelemetryPlan {
                plan: TelemetryPlan::between(&lock, &lock),
                desired: lock.clone(),
            },
        );
        assert!(!report.changes);
        let telemetry: TelemetryReport =
            serde_json::from_value(report.cells["telemetry"].clone()).unwrap();
        assert!(telemetry.changes.is_empty());
    }
}
