//! The plan: ordered [`Step`]s, each one SQL statement with a [`Safety`] class, and how a
//! plan reads to people ([`Plan::render`]) and to machines ([`Plan::to_json`]).
//!
//! The diff that makes a plan is in [`crate::diff`]; what the data says about a plan's
//! risky steps is in [`crate::safety`].

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::ident::quote;
use crate::schema::{Column, ForeignKey, Index, Table};

pub use crate::diff::diff;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// `CREATE EXTENSION IF NOT EXISTS`: what trigram indexes need. Never dropped.
    CreateExtension {
        name: String,
    },
    CreateEnum {
        name: String,
        variants: Vec<String>,
    },
    /// `ALTER TYPE .. ADD VALUE`: appends a label, or inserts it before an existing one.
    AddEnumValue {
        name: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<String>,
    },
    /// Labels removed or reordered: a new type replaces the old one, and every column of
    /// that type is converted through its text. Rows holding a removed label fail it.
    RecreateEnum {
        name: String,
        variants: Vec<String>,
        /// `(table, column)` pairs of that type.
        columns: Vec<(String, String)>,
    },
    DropEnum {
        name: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    CreateTable {
        table: String,
        def: Table,
    },
    DropTable {
        table: String,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: String,
        def: Column,
    },
    DropColumn {
        table: String,
        column: String,
        /// A generated column: its values derive from the other columns, so nothing is lost.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        derived: bool,
    },
    /// A generated column whose expression changed: dropped and added again (Postgres 15
    /// cannot alter a generation expression), which rewrites the table. Its indexes are
    /// dropped with it; the plan creates them again after.
    RegenerateColumn {
        table: String,
        column: String,
        def: Column,
    },
    AlterType {
        table: String,
        column: String,
        from: String,
        to: String,
    },
    SetNotNull {
        table: String,
        column: String,
    },
    DropNotNull {
        table: String,
        column: String,
    },
    SetDefault {
        table: String,
        column: String,
        default: String,
    },
    DropDefault {
        table: String,
        column: String,
    },
    CreateIndex {
        table: String,
        name: String,
        index: Index,
        /// Built with `CREATE INDEX CONCURRENTLY`, outside the transaction, so a large
        /// table stays writable. Journalled: an interrupted build leaves an invalid index
        /// that the next plan drops and builds again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        concurrently: bool,
    },
    DropIndex {
        table: String,
        name: String,
    },
    RenameIndex {
        table: String,
        from: String,
        to: String,
    },
    AddForeignKey {
        table: String,
        name: String,
        fk: ForeignKey,
        /// Added `NOT VALID` inside the transaction (instant) and validated by a following
        /// [`Step::ValidateConstraint`] outside it (a weaker lock), for large tables.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        not_valid: bool,
    },
    DropForeignKey {
        table: String,
        name: String,
    },
    /// `ALTER TABLE .. VALIDATE CONSTRAINT`: checks the existing rows of a constraint added
    /// `NOT VALID` (here or by an interrupted earlier apply).
    ValidateConstraint {
        table: String,
        name: String,
    },
    AddCheck {
        table: String,
        name: String,
        expr: String,
    },
    DropCheck {
        table: String,
        name: String,
    },
    RenameConstraint {
        table: String,
        from: String,
        to: String,
    },
}

pub use cell_core::plan::{Action, Plain, Safety, Style};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// Type changes that keep every value: Postgres converts them implicitly and exactly.
const WIDENINGS: &[(&str, &str)] = &[
    ("smallint", "integer"),
    ("smallint", "bigint"),
    ("integer", "bigint"),
    ("real", "double precision"),
    ("timestamp without time zone", "timestamp with time zone"),
    ("character varying", "text"),
];

/// Whether every value of `from` converts to `to` exactly.
pub fn is_widening(from: &str, to: &str) -> bool {
    if WIDENINGS.contains(&(from, to)) {
        return true;
    }
    // varchar(n) → varchar(m ≥ n), varchar(n) → varchar, varchar(n) → text.
    let varchar = |t: &str| -> Option<Option<u32>> {
        let rest = t.strip_prefix("character varying")?;
        if rest.is_empty() {
            return Some(None);
        }
        rest.strip_prefix('(')?
            .strip_suffix(')')?
            .parse()
            .ok()
            .map(Some)
    };
    match (varchar(from), varchar(to)) {
        (Some(Some(n)), Some(Some(m))) => m >= n,
        (Some(_), Some(None)) => true,
        (Some(_), None) => to == "text",
        _ => false,
    }
}

impl Step {
    /// The table the step is about (`None` for enum types).
    pub fn table(&self) -> Option<&str> {
        match self {
            Step::CreateExtension { .. }
            | Step::CreateEnum { .. }
            | Step::AddEnumValue { .. }
            | Step::RecreateEnum { .. }
            | Step::DropEnum { .. } => None,
            Step::RenameTable { to, .. } => Some(to),
            Step::CreateTable { table, .. }
            | Step::DropTable { table }
            | Step::RenameColumn { table, .. }
            | Step::AddColumn { table, .. }
            | Step::DropColumn { table, .. }
            | Step::RegenerateColumn { table, .. }
            | Step::AlterType { table, .. }
            | Step::SetNotNull { table, .. }
            | Step::DropNotNull { table, .. }
            | Step::SetDefault { table, .. }
            | Step::DropDefault { table, .. }
            | Step::CreateIndex { table, .. }
            | Step::DropIndex { table, .. }
            | Step::RenameIndex { table, .. }
            | Step::AddForeignKey { table, .. }
            | Step::DropForeignKey { table, .. }
            | Step::ValidateConstraint { table, .. }
            | Step::AddCheck { table, .. }
            | Step::DropCheck { table, .. }
            | Step::RenameConstraint { table, .. } => Some(table),
        }
    }

    pub fn safety(&self) -> Safety {
        match self {
            Step::DropColumn { derived: true, .. } => Safety::Safe,
            Step::DropTable { .. } | Step::DropColumn { .. } => Safety::Destructive,
            Step::AlterType { from, to, .. } => {
                if is_widening(from, to) {
                    Safety::Safe
                } else {
                    Safety::Destructive
                }
            }
            Step::AddColumn { def, .. }
                if !def.nullable && def.default.is_none() && def.generated.is_none() =>
            {
                Safety::DataDependent
            }
            Step::SetNotNull { .. }
            | Step::AddCheck { .. }
            | Step::RecreateEnum { .. }
            | Step::ValidateConstraint { .. } => Safety::DataDependent,
            Step::AddForeignKey { not_valid, .. } if !not_valid => Safety::DataDependent,
            Step::CreateIndex { index, .. } if index.unique => Safety::DataDependent,
            _ => Safety::Safe,
        }
    }

    pub fn action(&self) -> Action {
        match self {
            Step::CreateExtension { .. }
            | Step::CreateEnum { .. }
            | Step::CreateTable { .. }
            | Step::AddColumn { .. }
            | Step::CreateIndex { .. }
            | Step::AddForeignKey { .. }
            | Step::AddCheck { .. } => Action::Create,
            Step::DropEnum { .. }
            | Step::DropTable { .. }
            | Step::DropColumn { .. }
            | Step::DropIndex { .. }
            | Step::DropForeignKey { .. }
            | Step::DropCheck { .. } => Action::Delete,
            Step::RecreateEnum { .. } | Step::RegenerateColumn { .. } => Action::Replace,
            _ => Action::Update,
        }
    }

    /// Whether the step may run inside the plan's transaction. The others run after it
    /// commits, one by one, journalled.
    pub fn transactional(&self) -> bool {
        !matches!(
            self,
            Step::CreateIndex {
                concurrently: true,
                ..
            } | Step::ValidateConstraint { .. }
        )
    }

    /// The name of the object the step creates or drops, for pairing a drop with the
    /// create of the same name into one `-/+` line.
    fn object(&self) -> Option<(&'static str, &str, &str)> {
        match self {
            Step::CreateIndex { table, name, .. } | Step::DropIndex { table, name } => {
                Some(("index", table, name))
            }
            Step::AddForeignKey { table, name, .. } | Step::DropForeignKey { table, name } => {
                Some(("foreign key", table, name))
            }
            Step::AddCheck { table, name, .. } | Step::DropCheck { table, name } => {
                Some(("check", table, name))
            }
            _ => None,
        }
    }

    /// One SQL statement.
    pub fn sql(&self) -> String {
        let alter_column = |table: &str, column: &str, what: &str| {
            format!(
                "ALTER TABLE {} ALTER COLUMN {} {what}",
                quote(table),
                quote(column)
            )
        };
        match self {
            Step::CreateExtension { name } => {
                format!("CREATE EXTENSION IF NOT EXISTS {}", quote(name))
            }
            Step::CreateEnum { name, variants } => format!(
                "CREATE TYPE {} AS ENUM ({})",
                quote(name),
                literal_list(variants)
            ),
            Step::AddEnumValue {
                name,
                value,
                before,
            } => {
                let mut s = format!("ALTER TYPE {} ADD VALUE {}", quote(name), literal(value));
                if let Some(b) = before {
                    let _ = write!(s, " BEFORE {}", literal(b));
                }
                s
            }
            Step::RecreateEnum {
                name,
                variants,
                columns,
            } => {
                let old = crate::ident::truncate(format!("{name}__cell_old"));
                let mut s = format!(
                    "ALTER TYPE {} RENAME TO {};
CREATE TYPE {} AS ENUM ({})",
                    quote(name),
                    quote(&old),
                    quote(name),
                    literal_list(variants)
                );
                for (t, c) in columns {
                    let _ = write!(
                        s,
                        ";
ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::text::{}",
                        quote(t),
                        quote(c),
                        quote(name),
                        quote(c),
                        quote(name)
                    );
                }
                let _ = write!(
                    s,
                    ";
DROP TYPE {}",
                    quote(&old)
                );
                s
            }
            Step::DropEnum { name } => format!("DROP TYPE {}", quote(name)),
            Step::RenameTable { from, to } => {
                format!("ALTER TABLE {} RENAME TO {}", quote(from), quote(to))
            }
            Step::CreateTable { table, def } => {
                let mut cols: Vec<String> = def
                    .columns
                    .iter()
                    .map(|(name, c)| column_sql(name, c))
                    .collect();
                if !def.primary_key.is_empty() {
                    cols.push(format!("PRIMARY KEY ({})", quote_list(&def.primary_key)));
                }
                for (name, expr) in &def.checks {
                    cols.push(format!("CONSTRAINT {} CHECK ({expr})", quote(name)));
                }
                format!(
                    "CREATE TABLE {} (\n    {}\n)",
                    quote(table),
                    cols.join(",\n    ")
                )
            }
            Step::DropTable { table } => format!("DROP TABLE {}", quote(table)),
            Step::RenameColumn { table, from, to } => format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                quote(table),
                quote(from),
                quote(to)
            ),
            Step::AddColumn { table, column, def } => {
                format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote(table),
                    column_sql(column, def)
                )
            }
            Step::DropColumn { table, column, .. } => {
                format!("ALTER TABLE {} DROP COLUMN {}", quote(table), quote(column))
            }
            Step::RegenerateColumn { table, column, def } => format!(
                "ALTER TABLE {} DROP COLUMN {}, ADD COLUMN {}",
                quote(table),
                quote(column),
                column_sql(column, def)
            ),
            Step::AlterType {
                table, column, to, ..
            } => alter_column(
                table,
                column,
                &format!("TYPE {to} USING {}::{to}", quote(column)),
            ),
            Step::SetNotNull { table, column } => alter_column(table, column, "SET NOT NULL"),
            Step::DropNotNull { table, column } => alter_column(table, column, "DROP NOT NULL"),
            Step::SetDefault {
                table,
                column,
                default,
            } => alter_column(table, column, &format!("SET DEFAULT {default}")),
            Step::DropDefault { table, column } => alter_column(table, column, "DROP DEFAULT"),
            Step::CreateIndex {
                table,
                name,
                index,
                concurrently,
            } => format!(
                "CREATE {}INDEX {}{} ON {} {}",
                if index.unique { "UNIQUE " } else { "" },
                if *concurrently { "CONCURRENTLY " } else { "" },
                quote(name),
                quote(table),
                index.keys(quote, false)
            ),
            Step::DropIndex { name, .. } => format!("DROP INDEX {}", quote(name)),
            Step::RenameIndex { from, to, .. } => {
                format!("ALTER INDEX {} RENAME TO {}", quote(from), quote(to))
            }
            Step::AddForeignKey {
                table,
                name,
                fk,
                not_valid,
            } => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}{}",
                quote(table),
                quote(name),
                quote_list(&fk.columns),
                quote(&fk.references),
                quote_list(&fk.ref_columns),
                fk.on_delete.sql(),
                if *not_valid { " NOT VALID" } else { "" }
            ),
            Step::ValidateConstraint { table, name } => format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                quote(table),
                quote(name)
            ),
            Step::AddCheck { table, name, expr } => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({expr})",
                quote(table),
                quote(name)
            ),
            Step::DropForeignKey { table, name } | Step::DropCheck { table, name } => {
                format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    quote(table),
                    quote(name)
                )
            }
            Step::RenameConstraint { table, from, to } => format!(
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                quote(table),
                quote(from),
                quote(to)
            ),
        }
    }

    /// What the step does, for people, without its `+`/`~`/`-` marker:
    /// `table users`, `column users.age: integer → bigint`.
    pub fn describe(&self) -> String {
        match self {
            Step::CreateExtension { name } => format!("extension {name}"),
            Step::CreateEnum { name, variants } => {
                format!("enum {name} ({})", variants.join(", "))
            }
            Step::AddEnumValue {
                name,
                value,
                before,
            } => match before {
                Some(b) => format!("enum {name}: add value {value} before {b}"),
                None => format!("enum {name}: add value {value}"),
            },
            Step::RecreateEnum { name, variants, .. } => {
                format!("enum {name} → ({})", variants.join(", "))
            }
            Step::DropEnum { name } => format!("enum {name}"),
            Step::RenameTable { from, to } => format!("table {from} → {to} (renamed)"),
            Step::CreateTable { table, def } => {
                let mut s = format!("table {table}");
                for (name, c) in &def.columns {
                    let pk = if def.primary_key.contains(name) {
                        ", primary key"
                    } else {
                        ""
                    };
                    let _ = write!(s, "\n    + {name} {}{pk}", column_summary(c));
                }
                for expr in def.checks.values() {
                    let _ = write!(s, "\n    + check ({expr})");
                }
                s
            }
            Step::DropTable { table } => format!("table {table}"),
            Step::RenameColumn { table, from, to } => {
                format!("column {table}.{from} → {to} (renamed)")
            }
            Step::AddColumn { table, column, def } => {
                format!("column {table}.{column} {}", column_summary(def))
            }
            Step::DropColumn {
                table,
                column,
                derived,
            } => format!(
                "column {table}.{column}{}",
                if *derived { " (generated)" } else { "" }
            ),
            Step::RegenerateColumn { table, column, def } => {
                format!("column {table}.{column} {}", column_summary(def))
            }
            Step::AlterType {
                table,
                column,
                from,
                to,
            } => format!("column {table}.{column} type {from} → {to}"),
            Step::SetNotNull { table, column } => {
                format!("column {table}.{column} NULL → NOT NULL")
            }
            Step::DropNotNull { table, column } => {
                format!("column {table}.{column} NOT NULL → NULL")
            }
            Step::SetDefault {
                table,
                column,
                default,
            } => format!("column {table}.{column} default → {default}"),
            Step::DropDefault { table, column } => {
                format!("column {table}.{column} default dropped")
            }
            Step::CreateIndex {
                table,
                name,
                index,
                concurrently,
            } => format!(
                "{}index {name} on {table} {}{}",
                if index.unique { "unique " } else { "" },
                index.keys(str::to_string, true),
                if *concurrently {
                    ", built concurrently"
                } else {
                    ""
                }
            ),
            Step::DropIndex { table, name } => format!("index {name} on {table}"),
            Step::RenameIndex { table, from, to } => {
                format!("index {from} → {to} on {table} (renamed)")
            }
            Step::AddForeignKey {
                table,
                name,
                fk,
                not_valid,
            } => format!(
                "foreign key {name}: {table}({}) → {}({}) on delete {}{}",
                fk.columns.join(", "),
                fk.references,
                fk.ref_columns.join(", "),
                fk.on_delete.sql().to_lowercase(),
                if *not_valid { ", validated after" } else { "" }
            ),
            Step::DropForeignKey { table, name } => format!("foreign key {name} on {table}"),
            Step::ValidateConstraint { table, name } => {
                format!("constraint {name} on {table}: validate existing rows")
            }
            Step::AddCheck { table, name, expr } => {
                format!("check {name} on {table}: {expr}")
            }
            Step::DropCheck { table, name } => format!("check {name} on {table}"),
            Step::RenameConstraint { table, from, to } => {
                format!("constraint {from} → {to} on {table} (renamed)")
            }
        }
    }

    /// Why a risky step is risky, in words.
    pub fn risk(&self) -> Option<&'static str> {
        Some(match (self, self.safety()) {
            (_, Safety::Safe) => return None,
            (Step::DropTable { .. }, _) => "destroys the table and every row in it",
            (Step::DropColumn { .. }, _) => "destroys the column's values in every row",
            (Step::AlterType { .. }, _) => {
                "narrowing or incompatible type change: values that do not fit are lost or make it fail"
            }
            (Step::AddColumn { .. }, _) => {
                "NOT NULL without a default: fails on a table that has rows"
            }
            (Step::SetNotNull { .. }, _) => "fails if any row holds NULL",
            (Step::CreateIndex { .. }, _) => "fails if existing rows hold duplicates",
            (Step::AddForeignKey { .. }, _) => {
                "fails if existing rows reference missing rows (orphans)"
            }
            (Step::ValidateConstraint { .. }, _) => "fails if existing rows violate it",
            (Step::AddCheck { .. }, _) => "fails if existing rows violate the check",
            (Step::RecreateEnum { .. }, _) => "fails if rows hold a removed label",
            (_, Safety::Destructive) => "loses data",
            (_, Safety::DataDependent) => "fails if existing rows violate it",
        })
    }
}

fn column_sql(name: &str, c: &Column) -> String {
    let mut s = format!("{} {}", quote(name), c.sql_type);
    if let Some(g) = &c.generated {
        let _ = write!(s, " GENERATED ALWAYS AS ({g}) STORED");
        return s;
    }
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        let _ = write!(s, " DEFAULT {d}");
    }
    s
}

fn column_summary(c: &Column) -> String {
    let mut s = c.sql_type.clone();
    if let Some(g) = &c.generated {
        let _ = write!(s, " GENERATED ALWAYS AS ({g}) STORED");
        return s;
    }
    s.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
    if let Some(d) = &c.default {
        let _ = write!(s, " DEFAULT {d}");
    }
    s
}

fn quote_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

pub use cell_core::sql::literal;

fn literal_list(items: &[String]) -> String {
    items
        .iter()
        .map(|v| literal(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line of a rendered plan: a step, or a drop and create of the same object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    /// Indexes into [`Plan::steps`].
    pub steps: Vec<usize>,
    pub description: String,
    pub safety: Safety,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Steps that lose data and need `--allow-destructive`.
    pub fn unsafe_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.safety() == Safety::Destructive)
    }

    /// The steps as people read them: a drop followed later by the create of the same
    /// index or constraint is one `-/+` change.
    pub fn changes(&self) -> Vec<Change> {
        let mut paired = vec![None; self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            if s.action() != Action::Delete {
                continue;
            }
            let Some(obj) = s.object() else { continue };
            if let Some(j) = self
                .steps
                .iter()
                .enumerate()
                .skip(i + 1)
                .find_map(|(j, t)| {
                    (t.action() == Action::Create && t.object() == Some(obj)).then_some(j)
                })
            {
                paired[i] = Some(j);
                paired[j] = Some(i);
            }
        }
        let mut out = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            match paired[i] {
                Some(j) if j > i => {} // the drop half: shown with its create
                Some(j) => out.push(Change {
                    action: Action::Replace,
                    steps: vec![j, i],
                    description: s.describe(),
                    safety: s.safety().max(self.steps[j].safety()),
                }),
                None => out.push(Change {
                    action: s.action(),
                    steps: vec![i],
                    description: s.describe(),
                    safety: s.safety(),
                }),
            }
        }
        out
    }

    /// `N to add, N to change, N to destroy`, like Terraform (a replace counts as both
    /// an add and a destroy).
    pub fn summary(&self) -> String {
        let (mut add, mut change, mut destroy) = (0, 0, 0);
        for c in self.changes() {
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Delete => destroy += 1,
                Action::Replace => {
                    add += 1;
                    destroy += 1
                }
            }
        }
        format!("{add} to add, {change} to change, {destroy} to destroy")
    }

    /// The plan for people, one change per line (tables expand to their columns), risky
    /// changes marked and explained; the SQL under each with `with_sql`.
    pub fn render(&self, with_sql: bool) -> String {
        self.render_styled(with_sql, &Plain, &Default::default())
    }

    /// `notes` are shown beside their step (row counts: `3 rows hold NULL`).
    pub fn render_styled(
        &self,
        with_sql: bool,
        style: &dyn Style,
        notes: &std::collections::BTreeMap<usize, String>,
    ) -> String {
        let mut out = String::new();
        for c in self.changes() {
            let first = &self.steps[c.steps[c.steps.len() - 1]];
            let these: Vec<&String> = c.steps.iter().filter_map(|i| notes.get(i)).collect();
            let note: String = these.iter().map(|n| format!(" ({n})")).collect();
            let marker = match (c.safety, first.risk()) {
                // A safe step's note is a warning of its own (a table rewritten under lock).
                (Safety::Safe, _) if these.is_empty() => String::new(),
                (Safety::Safe, _) => format!(
                    "   # {}",
                    these
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                (Safety::Destructive, Some(why)) => format!("   # destructive: {why}{note}"),
                (_, Some(why)) => format!("   # {why}{note}"),
                (_, None) => note,
            };
            let line = format!(
                "{:>3} {}",
                c.action.symbol(),
                c.description.replace('\n', "\n  ")
            );
            let _ = writeln!(
                out,
                "  {}{}",
                style.action(c.action, &line),
                style.warning(c.safety, &marker)
            );
            if with_sql {
                for &i in &c.steps {
                    for line in format!("{};", self.steps[i].sql()).lines() {
                        let _ = writeln!(out, "        {}", style.dim(line));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FkAction;

    fn index(cols: &[&str], unique: bool) -> Index {
        Index {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            unique,
            descending: vec![],
            opclass: None,
            using: None,
        }
    }

    #[test]
    fn widenings_keep_every_value() {
        assert!(is_widening("integer", "bigint"));
        assert!(is_widening(
            "character varying(20)",
            "character varying(40)"
        ));
        assert!(is_widening("character varying(20)", "text"));
        assert!(!is_widening(
            "character varying(40)",
            "character varying(20)"
        ));
        assert!(!is_widening("bigint", "integer"));
        assert!(!is_widening("text", "integer"));
    }

    #[test]
    fn sql_of_composite_descending_index_and_enum_steps() {
        let mut ix = index(&["org_id", "created_at"], false);
        ix.descending = vec!["created_at".into()];
        let step = Step::CreateIndex {
            table: "users".into(),
            name: "users_org_id_created_at_idx".into(),
            index: ix,
            concurrently: true,
        };
        assert_eq!(
            step.sql(),
            "CREATE INDEX CONCURRENTLY \"users_org_id_created_at_idx\" ON \"users\" (\"org_id\", \"created_at\" DESC)"
        );
        assert!(!step.transactional());
        let add = Step::AddEnumValue {
            name: "status".into(),
            value: "it's".into(),
            before: Some("done".into()),
        };
        assert_eq!(
            add.sql(),
            "ALTER TYPE \"status\" ADD VALUE 'it''s' BEFORE 'done'"
        );
    }

    #[test]
    fn a_drop_and_create_of_one_object_is_one_replace() {
        let fk = ForeignKey {
            columns: vec!["org_id".into()],
            references: "orgs".into(),
            ref_columns: vec!["id".into()],
            on_delete: FkAction::Restrict,
        };
        let plan = Plan {
            steps: vec![
                Step::DropForeignKey {
                    table: "users".into(),
                    name: "users_org_id_fkey".into(),
                },
                Step::AddColumn {
                    table: "users".into(),
                    column: "age".into(),
                    def: Column {
                        sql_type: "integer".into(),
                        nullable: true,
                        default: None,
                        generated: None,
                    },
                },
                Step::AddForeignKey {
                    table: "users".into(),
                    name: "users_org_id_fkey".into(),
                    fk,
                    not_valid: false,
                },
            ],
        };
        let changes = plan.changes();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[1].action, Action::Replace);
        assert_eq!(changes[1].steps, vec![0, 2]);
        assert_eq!(plan.summary(), "2 to add, 0 to change, 1 to destroy");
    }
}
