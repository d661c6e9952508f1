//! The Postgres plan for people (Terraform-style text) and for machines (its entry of
//! `plan --format json`, which `cargo cell apply PLAN` reads back). docs/plan-format.md
//! documents the JSON.

use std::collections::BTreeMap;

use cell_core::plan::{Action, Safety, Style, Summary};
use serde::{Deserialize, Serialize};

use super::Planned;
use crate::plan::{Plan, Step};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresReport {
    /// The fingerprint of the live schema the plan was made from. `apply PLAN` refuses the
    /// plan when the database no longer has it.
    pub live_fingerprint: String,
    /// The fingerprint of the declared schema (what the lock records as `declared`).
    pub declared_fingerprint: String,
    pub summary: Summary,
    /// The code's changes, in order, as people read them.
    pub changes: Vec<ChangeReport>,
    /// Changes made to the database outside cargo-cell since the lock was written.
    pub drift: Vec<ChangeReport>,
    /// Steps that would be refused as things stand (without `--allow-destructive`).
    pub refusals: Vec<RefusalReport>,
    /// The exact steps, as `apply PLAN` runs them.
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeReport {
    pub action: Action,
    pub description: String,
    pub safety: Safety,
    /// Indexes into `steps`.
    pub steps: Vec<usize>,
    /// Rows the data decides about (NULLs, duplicates, orphans, values lost), if counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub sql: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefusalReport {
    pub step: usize,
    pub message: String,
    pub help: String,
    /// Whether `--allow-destructive` lifts it.
    pub overridable: bool,
}

pub(super) fn summary(plan: &Plan) -> Summary {
    Summary::of(plan.changes().into_iter().map(|c| c.action))
}

fn changes(plan: &Plan, counts: &BTreeMap<usize, i64>) -> Vec<ChangeReport> {
    plan.changes()
        .into_iter()
        .map(|c| {
            let rows = c.steps.iter().find_map(|i| counts.get(i).copied());
            let note = c.steps.iter().find_map(|i| {
                counts
                    .get(i)
                    .and_then(|&n| crate::safety::note(&plan.steps[*i], n))
            });
            ChangeReport {
                action: c.action,
                description: c.description,
                safety: c.safety,
                sql: c.steps.iter().map(|&i| plan.steps[i].sql()).collect(),
                steps: c.steps,
                rows,
                note,
            }
        })
        .collect()
}

pub fn postgres_report(planned: &Planned) -> PostgresReport {
    PostgresReport {
        live_fingerprint: planned.live.fingerprint(),
        declared_fingerprint: planned.declared_fingerprint.clone(),
        summary: summary(&planned.plan),
        changes: changes(&planned.plan, &planned.counts),
        drift: changes(&planned.drift, &BTreeMap::new()),
        refusals: planned
            .refusals(false)
            .into_iter()
            .map(|r| RefusalReport {
                step: r.step,
                message: r.message,
                help: r.help,
                overridable: r.overridable,
            })
            .collect(),
        steps: planned.plan.steps.clone(),
    }
}

/// The plan for people: the code's changes, then drift, then what would be refused.
pub fn render(planned: &Planned, with_sql: bool, style: &dyn Style) -> String {
    let mut out = String::new();
    if planned.plan.is_empty() {
        out.push_str("postgres: No changes. The database matches the code.\n");
    } else {
        out.push_str(&format!("postgres: {}\n", planned.plan.summary()));
        out.push_str(
            &planned
                .plan
                .render_styled(with_sql, style, &planned.notes()),
        );
    }
    if !planned.drift.is_empty() {
        out.push_str(
            "\npostgres: drift: the database changed outside cargo-cell since the lock was written:\n",
        );
        out.push_str(&planned.drift.render_styled(false, style, &BTreeMap::new()));
        out.push_str("  (the plan above takes the database back to what the code declares)\n");
    }
    let refusals = planned.refusals(false);
    if !refusals.is_empty() {
        out.push_str("\nThese steps would be refused:\n");
        for r in &refusals {
            out.push_str(&format!("  {}\n      help: {}\n", r.message, r.help));
        }
    }
    out
}
