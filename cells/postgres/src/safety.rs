//! What the data says about a plan's risky steps, before anything runs.
//!
//! For each step that can lose data or fail on existing rows, [`probe`] gives one SQL query
//! that counts the rows concerned (NULLs under a new NOT NULL, duplicates under a new
//! unique index, orphans under a new foreign key, values a drop destroys, ...). The caller
//! runs them against the live database; [`judge`] turns the counts into refusals, each
//! saying what, how many rows, and what to do. Pure: unit-tested without a database.

use std::collections::BTreeMap;

use crate::ident::quote;
use crate::plan::{Plan, Safety, Step, literal};
use crate::schema::Schema;

/// Ranges of the integer types, for counting the values a narrowing would not keep.
const INT_RANGES: &[(&str, i64, i64)] = &[
    ("smallint", i16::MIN as i64, i16::MAX as i64),
    ("integer", i32::MIN as i64, i32::MAX as i64),
];

/// The query (one `bigint`) counting the rows that `step` would lose or trip over, when
/// the data decides. `None` when there is nothing to count (the step is safe, or its table
/// is created by this plan and so empty).
pub fn probe(step: &Step, live: &Schema) -> Option<String> {
    let exists = |t: &str| live.tables.contains_key(t);
    let count = |t: &str, cond: &str| format!("SELECT count(*) FROM {} WHERE {cond}", quote(t));
    match step {
        Step::DropTable { table } if exists(table) => {
            Some(format!("SELECT count(*) FROM {}", quote(table)))
        }
        Step::DropColumn {
            table,
            column,
            derived: false,
        } if exists(table) => Some(count(table, &format!("{} IS NOT NULL", quote(column)))),
        Step::AlterType {
            table,
            column,
            from,
            to,
        } if exists(table) && step.safety() == Safety::Destructive => {
            let c = quote(column);
            let narrowing = INT_RANGES
                .iter()
                .find(|(t, ..)| t == to)
                .filter(|_| matches!(from.as_str(), "integer" | "bigint" | "smallint" | "numeric"));
            Some(match narrowing {
                Some((_, lo, hi)) => count(table, &format!("{c} NOT BETWEEN {lo} AND {hi}")),
                None => count(table, &format!("{c} IS NOT NULL")),
            })
        }
        Step::AddColumn { table, def, .. }
            if exists(table) && !def.nullable && def.default.is_none() =>
        {
            Some(format!("SELECT count(*) FROM {}", quote(table)))
        }
        // Computing a stored generated column rewrites every row under an ACCESS
        // EXCLUSIVE lock: the plan says how many.
        Step::AddColumn { table, def, .. } | Step::RegenerateColumn { table, def, .. }
            if exists(table) && def.generated.is_some() =>
        {
            Some(format!("SELECT count(*) FROM {}", quote(table)))
        }
        Step::SetNotNull { table, column } if exists(table) => {
            Some(count(table, &format!("{} IS NULL", quote(column))))
        }
        Step::CreateIndex { table, index, .. } if index.unique && exists(table) => {
            let cols: Vec<String> = index.columns.iter().map(|c| quote(c)).collect();
            let not_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
            Some(format!(
                "SELECT coalesce(sum(n), 0)::bigint FROM (SELECT count(*) AS n FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1) AS duplicates",
                quote(table),
                not_null.join(" AND "),
                cols.join(", ")
            ))
        }
        Step::AddForeignKey { table, fk, .. } if exists(table) => {
            let not_null: Vec<String> = fk
                .columns
                .iter()
                .map(|c| format!("t.{} IS NOT NULL", quote(c)))
                .collect();
            let cond = if exists(&fk.references) {
                let matches: Vec<String> = fk
                    .columns
                    .iter()
                    .zip(&fk.ref_columns)
                    .map(|(c, r)| format!("r.{} = t.{}", quote(r), quote(c)))
                    .collect();
                format!(
                    "{} AND NOT EXISTS (SELECT 1 FROM {} AS r WHERE {})",
                    not_null.join(" AND "),
                    quote(&fk.references),
                    matches.join(" AND ")
                )
            } else {
                not_null.join(" AND ")
            };
            Some(format!(
                "SELECT count(*) FROM {} AS t WHERE {cond}",
                quote(table)
            ))
        }
        Step::AddCheck { table, expr, .. } if exists(table) => {
            Some(count(table, &format!("NOT ({expr})")))
        }
        Step::RecreateEnum {
            variants, columns, ..
        } => {
            let kept: Vec<String> = variants.iter().map(|v| literal(v)).collect();
            let parts: Vec<String> = columns
                .iter()
                .filter(|(t, _)| exists(t))
                .map(|(t, c)| {
                    count(
                        t,
                        &format!("{}::text NOT IN ({})", quote(c), kept.join(", ")),
                    )
                })
                .collect();
            (!parts.is_empty()).then(|| {
                format!(
                    "SELECT coalesce(sum(n), 0)::bigint FROM ({}) AS counts(n)",
                    parts.join(" UNION ALL ")
                )
            })
        }
        _ => None,
    }
}

/// A step the plan may not run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Index into [`Plan::steps`].
    pub step: usize,
    pub message: String,
    pub help: String,
    /// `--allow-destructive` lets it run (it loses data but can succeed). Refusals the data
    /// decides (NULLs under NOT NULL, duplicates, orphans) cannot be overridden: the step
    /// would fail anyway; the data must change first.
    pub overridable: bool,
}

/// What a row count means for a step, shown beside it in the plan: `3 rows hold NULL`.
pub fn note(step: &Step, rows: i64) -> Option<String> {
    // `what` is written for many rows; one row takes the verb's singular.
    let n = |what: &str| {
        if rows == 1 {
            let (verb, rest) = what.split_once(' ').unwrap_or((what, ""));
            let verb = match verb {
                "hold" => "holds",
                "exist," => "exists,",
                "reference" => "references",
                "violate" => "violates",
                "are" => "is",
                other => other,
            };
            Some(format!("1 row {verb} {rest}").trim_end().to_string())
        } else {
            Some(format!("{rows} rows {what}"))
        }
    };
    match step {
        Step::DropTable { .. } => n("would be destroyed"),
        Step::DropColumn { .. } => n("hold a value that would be destroyed"),
        Step::AlterType { to, .. } if INT_RANGES.iter().any(|(t, ..)| t == to) => {
            n(&format!("hold values outside {to}'s range"))
        }
        Step::AlterType { .. } => n("hold a value that would be converted"),
        _ if rows == 0 => None,
        Step::AddColumn { def, .. } | Step::RegenerateColumn { def, .. }
            if def.generated.is_some() =>
        {
            n(
                "are rewritten to compute it, under an ACCESS EXCLUSIVE lock: reads and writes of the table wait until it ends",
            )
        }
        Step::AddColumn { .. } => n("exist, and none has a value for the new column"),
        Step::SetNotNull { .. } => n("hold NULL"),
        Step::CreateIndex { .. } => n("hold duplicate values"),
        Step::AddForeignKey { fk, .. } => n(&format!(
            "reference rows missing from {} (orphans)",
            fk.references
        )),
        Step::AddCheck { .. } => n("violate the check"),
        Step::RecreateEnum { .. } => n("hold a removed label"),
        _ => None,
    }
}

/// The refusals for `plan` given the counted rows (`counts[step index]`).
pub fn judge(plan: &Plan, counts: &BTreeMap<usize, i64>, allow_destructive: bool) -> Vec<Refusal> {
    let mut out = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let rows = counts.get(&i).copied();
        let violating = rows.unwrap_or(0) > 0;
        let described = format!("{} {}", step.action().symbol(), step.describe());
        let counted = rows
            .and_then(|r| note(step, r))
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        let refusal = |message: String, help: String, overridable: bool| Refusal {
            step: i,
            message,
            help,
            overridable,
        };
        let blocked = match step {
            Step::AddColumn { table, column, def } if violating && def.generated.is_none() => Some(refusal(
                format!("{described}: NOT NULL without a default, but `{table}` has rows{counted}"),
                format!(
                    "give the field a default (`#[Postgres::default(\"...\")]` on `{column}`), or make it an `Option<_>`; then build again"
                ),
                false,
            )),
            Step::SetNotNull { table, column } if violating => Some(refusal(
                format!("{described}{counted}"),
                format!(
                    "fill those rows first (`UPDATE {} SET {} = ... WHERE {} IS NULL`), or keep the field an `Option<_>`",
                    quote(table),
                    quote(column),
                    quote(column)
                ),
                false,
            )),
            Step::CreateIndex { .. } if violating => Some(refusal(
                format!("{described}{counted}"),
                "remove the duplicates first, or declare the index without `unique`".into(),
                false,
            )),
            Step::AddForeignKey { .. } if violating => Some(refusal(
                format!("{described}{counted}"),
                "delete or fix the orphan rows first, or point the key elsewhere".into(),
                false,
            )),
            Step::AddCheck { .. } if violating => Some(refusal(
                format!("{described}{counted}"),
                "fix the rows that violate it first, or change the check".into(),
                false,
            )),
            Step::RecreateEnum { .. } if violating => Some(refusal(
                format!("{described}{counted}"),
                "move those rows to a label that stays first, or keep the label".into(),
                false,
            )),
            Step::AlterType { .. }
                if violating
                    && note(step, 1).is_some_and(|n| n.contains("range")) =>
            {
                Some(refusal(
                    format!("{described}{counted}"),
                    "those values cannot be stored in the new type: keep the wider type, or change the data first".into(),
                    false,
                ))
            }
            _ if step.safety() == Safety::Destructive && !allow_destructive => Some(refusal(
                format!(
                    "{described}: {}{counted}",
                    step.risk().unwrap_or("loses data")
                ),
                "if losing that data is intended, run again with --allow-destructive".into(),
                true,
            )),
            _ => None,
        };
        out.extend(blocked);
    }
    out
}

/// Turns steps on large existing tables into their online forms: indexes built
/// `CONCURRENTLY` and foreign keys added `NOT VALID` then validated, both outside the
/// transaction so the table stays writable. `rows` holds the live tables' row estimates.
pub fn prefer_online(plan: &mut Plan, rows: &BTreeMap<String, i64>, threshold: i64) {
    let large = |t: &str| rows.get(t).is_some_and(|&n| n >= threshold);
    let mut out = Vec::with_capacity(plan.steps.len());
    let mut validations = Vec::new();
    for mut step in plan.steps.drain(..) {
        match &mut step {
            Step::CreateIndex {
                table,
                concurrently,
                ..
            } if large(table) => *concurrently = true,
            Step::AddForeignKey {
                table,
                name,
                not_valid,
                ..
            } if large(table) => {
                *not_valid = true;
                validations.push(Step::ValidateConstraint {
                    table: table.clone(),
                    name: name.clone(),
                });
            }
            _ => {}
        }
        out.push(step);
    }
    out.extend(validations);
    plan.steps = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{desired, fixtures};
    use crate::schema::{Column, Index};

    fn live() -> Schema {
        desired(&fixtures::users(), &[]).schema
    }

    fn set_not_null() -> Step {
        Step::SetNotNull {
            table: "users".into(),
            column: "nickname".into(),
        }
    }

    #[test]
    fn probes_count_what_the_data_decides() {
        let l = live();
        assert_eq!(
            probe(&set_not_null(), &l).unwrap(),
            "SELECT count(*) FROM \"users\" WHERE \"nickname\" IS NULL"
        );
        let unique = Step::CreateIndex {
            table: "users".into(),
            name: "x".into(),
            index: Index {
                columns: vec!["org_id".into(), "email".into()],
                unique: true,
                descending: vec![],
                opclass: None,
                using: None,
            },
            concurrently: false,
        };
        assert_eq!(
            probe(&unique, &l).unwrap(),
            "SELECT coalesce(sum(n), 0)::bigint FROM (SELECT count(*) AS n FROM \"users\" WHERE \"org_id\" IS NOT NULL AND \"email\" IS NOT NULL GROUP BY \"org_id\", \"email\" HAVING count(*) > 1) AS duplicates"
        );
        let narrow = Step::AlterType {
            table: "users".into(),
            column: "n".into(),
            from: "bigint".into(),
            to: "integer".into(),
        };
        assert_eq!(
            probe(&narrow, &l).unwrap(),
            "SELECT count(*) FROM \"users\" WHERE \"n\" NOT BETWEEN -2147483648 AND 2147483647"
        );
        // A table this plan creates is empty: nothing to count.
        let new_table = Step::SetNotNull {
            table: "fresh".into(),
            column: "c".into(),
        };
        assert_eq!(probe(&new_table, &l), None);
        let safe = Step::DropNotNull {
            table: "users".into(),
            column: "email".into(),
        };
        assert_eq!(probe(&safe, &l), None);
    }

    #[test]
    fn data_refusals_hold_even_when_destruction_is_allowed() {
        let plan = Plan {
            steps: vec![
                set_not_null(),
                Step::DropColumn {
                    table: "users".into(),
                    column: "nickname".into(),
                    derived: false,
                },
                Step::AddColumn {
                    table: "users".into(),
                    column: "age".into(),
                    def: Column {
                        sql_type: "integer".into(),
                        nullable: false,
                        default: None,
                        generated: None,
                    },
                },
            ],
        };
        let counts = BTreeMap::from([(0, 3), (1, 7), (2, 5)]);
        let refused = judge(&plan, &counts, false);
        assert_eq!(refused.len(), 3);
        assert_eq!(
            refused[0].message,
            "~ column users.nickname NULL → NOT NULL: 3 rows hold NULL"
        );
        assert!(!refused[0].overridable);
        assert_eq!(
            refused[1].message,
            "- column users.nickname: destroys the column's values in every row: 7 rows hold a value that would be destroyed"
        );
        assert!(refused[1].overridable);
        assert!(
            refused[2].help.contains("#[Postgres::default"),
            "{}",
            refused[2].help
        );
        let allowed = judge(&plan, &counts, true);
        assert_eq!(
            allowed.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![0, 2]
        );
        // No violating rows: nothing refused but the drop.
        let clean = BTreeMap::from([(0, 0), (1, 0), (2, 0)]);
        assert_eq!(
            judge(&plan, &clean, false)
                .iter()
                .map(|r| r.step)
                .collect::<Vec<_>>(),
            vec![1]
        );
    }

    #[test]
    fn large_tables_get_online_steps() {
        let l = live();
        let desired = crate::declare::Desired {
            schema: l.clone(),
            renames: Default::default(),
        };
        let mut plan = crate::diff::diff(&desired, &Schema::default(), &Schema::default());
        // Pretend `users` exists and is large (as it would be when only indexes are added).
        let rows = BTreeMap::from([("users".to_string(), 5_000_000)]);
        prefer_online(&mut plan, &rows, 1_000_000);
        let online: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| !s.transactional())
            .map(|s| s.sql())
            .collect();
        assert_eq!(
            online,
            [
                "CREATE UNIQUE INDEX CONCURRENTLY \"users_email_key\" ON \"users\" (\"email\")",
                "ALTER TABLE \"users\" VALIDATE CONSTRAINT \"users_org_id_fkey\""
            ]
        );
    }
}
