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
}
