//! How a plan is shown: Terraform-style text for people (coloured on a terminal), and a
//! versioned JSON document for machines, which is also the saved-plan file that
//! `cargo cell apply PLAN` takes. The JSON format is documented in docs/plan-format.md.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use serde::{Deserialize, Serialize};

use cell_postgres::plan::{Action, Plan, Safety, Step, Style};
use cell_telemetry::lock::{
    LockedMetric, LockedSpan, Plan as TelemetryPlan, Step as TelemetryStep,
};

use crate::postgres::Planned;

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
    /// One entry per Cell: `postgres`, `redis`, `auth`, `telemetry`.
    pub cells: BTreeMap<String, serde_json::Value>,
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
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

/// `cells.telemetry`: the metrics and spans the code adds, removes and changes since
/// `.cell/telemetry.lock.json`, in the order the human plan lists them.
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
    fn action(&self) -> Action {
        match (&self.from, &self.to) {
            (None, _) => Action::Create,
            (_, None) => Action::Delete,
            _ => Action::Update,
        }
    }
}

impl Summary {
    fn of(actions: impl IntoIterator<Item = Action>) -> Summary {
        let mut s = Summary {
            add: 0,
            change: 0,
            destroy: 0,
        };
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
}

pub fn telemetry_report(plan: &TelemetryPlan) -> TelemetryReport {
    let changes: Vec<TelemetryChange> = plan
        .steps
        .iter()
        .map(|step| {
            let (item, action) = match step.clone() {
                TelemetryStep::AddMetric(m) => metric(None, Some(m)),
                TelemetryStep::RemoveMetric(m) => metric(Some(m), None),
                TelemetryStep::ChangeMetric { from, to } => metric(Some(from), Some(to)),
                TelemetryStep::AddSpan(s) => span(None, Some(s)),
                TelemetryStep::RemoveSpan(s) => span(Some(s), None),
                TelemetryStep::ChangeSpan { from, to } => span(Some(from), Some(to)),
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

fn summary(plan: &Plan) -> Summary {
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
                    .and_then(|&n| cell_postgres::safety::note(&plan.steps[*i], n))
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

impl PlanReport {
    pub fn new(environment: &str, postgres: Option<&Planned>) -> PlanReport {
        let mut cells = BTreeMap::new();
        let mut changes = false;
        if let Some(p) = postgres {
            changes |= !p.plan.is_empty() || !p.drift.is_empty();
            cells.insert(
                "postgres".to_string(),
                serde_json::to_value(postgres_report(p)).expect("report serialises"),
            );
        }
        PlanReport {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            environment: environment.to_string(),
            changes,
            cells,
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

    pub fn postgres(&self) -> Result<Option<PostgresReport>, serde_json::Error> {
        self.cells
            .get("postgres")
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
    }

    /// Adds the Telemetry Cell's entry; its changes count as changes.
    pub fn add_telemetry(&mut self, plan: &TelemetryPlan) {
        self.changes |= !plan.is_empty();
        self.cells.insert(
            "telemetry".to_string(),
            serde_json::to_value(telemetry_report(plan)).expect("report serialises"),
        );
    }

    pub fn telemetry(&self) -> Result<Option<TelemetryReport>, serde_json::Error> {
        self.cells
            .get("telemetry")
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
    }
}

/// Colours for a terminal that wants them (stdout is a terminal, `NO_COLOR` unset).
pub struct Colours;

impl Colours {
    pub fn wanted() -> bool {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    }
}

impl Style for Colours {
    fn action(&self, action: Action, text: &str) -> String {
        let s = console::style(text);
        match action {
            Action::Create => s.green(),
            Action::Update => s.yellow(),
            Action::Delete => s.red(),
            Action::Replace => s.magenta(),
        }
        .force_styling(true)
        .to_string()
    }

    fn warning(&self, safety: Safety, text: &str) -> String {
        match safety {
            Safety::Safe => text.to_string(),
            Safety::DataDependent => console::style(text)
                .yellow()
                .force_styling(true)
                .to_string(),
            Safety::Destructive => console::style(text)
                .red()
                .bold()
                .force_styling(true)
                .to_string(),
        }
    }

    fn dim(&self, text: &str) -> String {
        console::style(text).dim().force_styling(true).to_string()
    }
}

/// The plan for people: the code's changes, then drift, then what would be refused.
pub fn render_postgres(planned: &Planned, with_sql: bool, colour: bool) -> String {
    let style: &dyn Style = if colour {
        &Colours
    } else {
        &cell_postgres::plan::Plain
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips_and_checks_its_version() {
        let report = PlanReport::new("prod", None);
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
        let mut report = PlanReport::new("dev", None);
        assert!(!report.changes);
        report.add_telemetry(&plan);
        assert!(
            report.changes,
            "telemetry changes count for --detailed-exitcode"
        );
        let json = report.to_json();
        insta::assert_snapshot!(json);

        // It reads back, and says what the human plan says.
        let back = PlanReport::parse(json.as_bytes()).unwrap();
        let telemetry = back.telemetry().unwrap().expect("a telemetry entry");
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
        let mut report = PlanReport::new("dev", None);
        report.add_telemetry(&TelemetryPlan::between(&lock, &lock));
        assert!(!report.changes);
        let telemetry = report.telemetry().unwrap().unwrap();
        assert!(telemetry.changes.is_empty());
    }
}
