//! The diff engine: a pure function from (desired schema, live schema) to an ordered plan.
//!
//! Order: tables are created first (without foreign keys), then columns change, then
//! indexes, then foreign keys, so a referenced table always exists before its key and
//! cycles between tables need no special case. Tables the code does not declare are left
//! alone unless they were `managed` (listed in the previous lock): those are dropped, which
//! is destructive.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::ident::quote;
use crate::schema::{Column, ForeignKey, Index, Schema, Table};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    CreateTable {
        table: String,
        def: Table,
    },
    DropTable {
        table: String,
    },
    AddColumn {
        table: String,
        column: String,
        def: Column,
    },
    DropColumn {
        table: String,
        column: String,
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
    },
    DropIndex {
        table: String,
        name: String,
    },
    AddForeignKey {
        table: String,
        name: String,
        fk: ForeignKey,
    },
    DropForeignKey {
        table: String,
        name: String,
    },
}

/// How much a step can hurt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// Never loses data, never fails because of data.
    Safe,
    /// Loses no data, but fails when existing rows violate it (NOT NULL, UNIQUE, FK).
    DataDependent,
    /// Loses data (drops, narrowing type changes).
    Destructive,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
];

impl Step {
    pub fn table(&self) -> &str {
        match self {
            Step::CreateTable { table, .. }
            | Step::DropTable { table }
            | Step::AddColumn { table, .. }
            | Step::DropColumn { table, .. }
            | Step::AlterType { table, .. }
            | Step::SetNotNull { table, .. }
            | Step::DropNotNull { table, .. }
            | Step::SetDefault { table, .. }
            | Step::DropDefault { table, .. }
            | Step::CreateIndex { table, .. }
            | Step::DropIndex { table, .. }
            | Step::AddForeignKey { table, .. }
            | Step::DropForeignKey { table, .. } => table,
        }
    }

    pub fn safety(&self) -> Safety {
        match self {
            Step::DropTable { .. } | Step::DropColumn { .. } => Safety::Destructive,
            Step::AlterType { from, to, .. } => {
                if WIDENINGS.contains(&(from.as_str(), to.as_str())) {
                    Safety::Safe
                } else {
                    Safety::Destructive
                }
            }
            Step::AddColumn { def, .. } if !def.nullable && def.default.is_none() => {
                Safety::DataDependent
            }
            Step::SetNotNull { .. } | Step::AddForeignKey { .. } => Safety::DataDependent,
            Step::CreateIndex { index, .. } if index.unique => Safety::DataDependent,
            _ => Safety::Safe,
        }
    }

    /// One SQL statement.
    pub fn sql(&self) -> String {
        match self {
            Step::CreateTable { table, def } => {
                let mut cols: Vec<String> = def
                    .columns
                    .iter()
                    .map(|(name, c)| column_sql(name, c))
                    .collect();
                if !def.primary_key.is_empty() {
                    cols.push(format!("PRIMARY KEY ({})", quote_list(&def.primary_key)));
                }
                format!(
                    "CREATE TABLE {} (\n    {}\n)",
                    quote(table),
                    cols.join(",\n    ")
                )
            }
            Step::DropTable { table } => format!("DROP TABLE {}", quote(table)),
            Step::AddColumn { table, column, def } => {
                format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote(table),
                    column_sql(column, def)
                )
            }
            Step::DropColumn { table, column } => {
                format!("ALTER TABLE {} DROP COLUMN {}", quote(table), quote(column))
            }
            Step::AlterType {
                table, column, to, ..
            } => format!(
                "ALTER TABLE {} ALTER COLUMN {} TYPE {to} USING {}::{to}",
                quote(table),
                quote(column),
                quote(column)
            ),
            Step::SetNotNull { table, column } => {
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL",
                    quote(table),
                    quote(column)
                )
            }
            Step::DropNotNull { table, column } => {
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL",
                    quote(table),
                    quote(column)
                )
            }
            Step::SetDefault {
                table,
                column,
                default,
            } => format!(
                "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {default}",
                quote(table),
                quote(column)
            ),
            Step::DropDefault { table, column } => {
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                    quote(table),
                    quote(column)
                )
            }
            Step::CreateIndex { table, name, index } => format!(
                "CREATE {}INDEX {} ON {} ({})",
                if index.unique { "UNIQUE " } else { "" },
                quote(name),
                quote(table),
                quote_list(&index.columns)
            ),
            Step::DropIndex { name, .. } => format!("DROP INDEX {}", quote(name)),
            Step::AddForeignKey { table, name, fk } => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
                quote(table),
                quote(name),
                quote_list(&fk.columns),
                quote(&fk.references),
                quote_list(&fk.ref_columns),
                fk.on_delete.sql()
            ),
            Step::DropForeignKey { table, name } => {
                format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    quote(table),
                    quote(name)
                )
            }
        }
    }

    /// One line for people: `+ table users`, `~ column users.age: integer → bigint`.
    pub fn describe(&self) -> String {
        match self {
            Step::CreateTable { table, def } => {
                let mut s = format!("+ table {table}");
                for (name, c) in &def.columns {
                    let pk = if def.primary_key.contains(name) {
                        ", primary key"
                    } else {
                        ""
                    };
                    let _ = write!(s, "\n    + {name} {}{pk}", column_summary(c));
                }
                s
            }
            Step::DropTable { table } => format!("- table {table}"),
            Step::AddColumn { table, column, def } => {
                format!("+ column {table}.{column} {}", column_summary(def))
            }
            Step::DropColumn { table, column } => format!("- column {table}.{column}"),
            Step::AlterType {
                table,
                column,
                from,
                to,
            } => {
                format!("~ column {table}.{column} type {from} → {to}")
            }
            Step::SetNotNull { table, column } => {
                format!("~ column {table}.{column} NULL → NOT NULL")
            }
            Step::DropNotNull { table, column } => {
                format!("~ column {table}.{column} NOT NULL → NULL")
            }
            Step::SetDefault {
                table,
                column,
                default,
            } => {
                format!("~ column {table}.{column} default → {default}")
            }
            Step::DropDefault { table, column } => {
                format!("~ column {table}.{column} drop default")
            }
            Step::CreateIndex { table, name, index } => format!(
                "+ {}index {name} on {table} ({})",
                if index.unique { "unique " } else { "" },
                index.columns.join(", ")
            ),
            Step::DropIndex { table, name } => format!("- index {name} on {table}"),
            Step::AddForeignKey { table, name, fk } => format!(
                "+ foreign key {name}: {table}({}) → {}({}) on delete {}",
                fk.columns.join(", "),
                fk.references,
                fk.ref_columns.join(", "),
                fk.on_delete.sql().to_lowercase()
            ),
            Step::DropForeignKey { table, name } => format!("- foreign key {name} on {table}"),
        }
    }
}

fn column_sql(name: &str, c: &Column) -> String {
    let mut s = format!("{} {}", quote(name), c.sql_type);
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

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Steps that need `--allow-destructive`, or data checks, before they may run.
    pub fn unsafe_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.safety() == Safety::Destructive)
    }

    /// `N to add, N to change, N to destroy`, like Terraform.
    pub fn summary(&self) -> String {
        let (mut add, mut change, mut destroy) = (0, 0, 0);
        for s in &self.steps {
            match s {
                Step::CreateTable { .. }
                | Step::AddColumn { .. }
                | Step::CreateIndex { .. }
                | Step::AddForeignKey { .. } => add += 1,
                Step::DropTable { .. }
                | Step::DropColumn { .. }
                | Step::DropIndex { .. }
                | Step::DropForeignKey { .. } => destroy += 1,
                _ => change += 1,
            }
        }
        format!("{add} to add, {change} to change, {destroy} to destroy")
    }

    /// The plan for people, one step per line (tables expand to their columns).
    pub fn render(&self, with_sql: bool) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let marker = match s.safety() {
                Safety::Destructive => "   (destructive: loses data)",
                Safety::DataDependent => "   (fails if existing rows violate it)",
                Safety::Safe => "",
            };
            let _ = writeln!(out, "  {}{marker}", s.describe().replace('\n', "\n  "));
            if with_sql {
                for line in format!("{};", s.sql()).lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        out
    }
}

/// The steps that take `live` to `desired`. `managed` lists the tables the previous lock
/// held: a managed table no longer declared is dropped; any other undeclared table is
/// somebody else's and left alone.
pub fn diff(desired: &Schema, live: &Schema, managed: &BTreeSet<String>) -> Plan {
    let mut creates = Vec::new();
    let mut columns = Vec::new();
    let mut drop_indexes = Vec::new();
    let mut indexes = Vec::new();
    let mut drop_fks = Vec::new();
    let mut fks = Vec::new();
    let mut drops = Vec::new();

    for (name, want) in &desired.tables {
        let Some(have) = live.tables.get(name) else {
            let mut def = want.clone();
            def.indexes.clear();
            def.foreign_keys.clear();
            creates.push(Step::CreateTable {
                table: name.clone(),
                def,
            });
            for (ix_name, ix) in &want.indexes {
                indexes.push(Step::CreateIndex {
                    table: name.clone(),
                    name: ix_name.clone(),
                    index: ix.clone(),
                });
            }
            for (fk_name, fk) in &want.foreign_keys {
                fks.push(Step::AddForeignKey {
                    table: name.clone(),
                    name: fk_name.clone(),
                    fk: fk.clone(),
                });
            }
            continue;
        };
        diff_columns(name, want, have, &mut columns);
        diff_named(
            &want.indexes,
            &have.indexes,
            |n, ix| Step::CreateIndex {
                table: name.clone(),
                name: n.clone(),
                index: ix.clone(),
            },
            |n| Step::DropIndex {
                table: name.clone(),
                name: n.clone(),
            },
            &mut indexes,
            &mut drop_indexes,
        );
        diff_named(
            &want.foreign_keys,
            &have.foreign_keys,
            |n, fk| Step::AddForeignKey {
                table: name.clone(),
                name: n.clone(),
                fk: fk.clone(),
            },
            |n| Step::DropForeignKey {
                table: name.clone(),
                name: n.clone(),
            },
            &mut fks,
            &mut drop_fks,
        );
    }
    for name in managed {
        if !desired.tables.contains_key(name) && live.tables.contains_key(name) {
            drops.push(Step::DropTable {
                table: name.clone(),
            });
        }
    }

    let mut steps = Vec::new();
    // Constraints that go away are dropped first: a column change may depend on it.
    steps.extend(drop_fks);
    steps.extend(drop_indexes);
    steps.extend(creates);
    steps.extend(columns);
    steps.extend(indexes);
    steps.extend(fks);
    steps.extend(drops);
    Plan { steps }
}

/// Named objects (indexes, constraints): a changed one is dropped and created again.
fn diff_named<T: PartialEq>(
    want: &std::collections::BTreeMap<String, T>,
    have: &std::collections::BTreeMap<String, T>,
    create: impl Fn(&String, &T) -> Step,
    drop: impl Fn(&String) -> Step,
    creates: &mut Vec<Step>,
    drops: &mut Vec<Step>,
) {
    for (name, w) in want {
        match have.get(name) {
            Some(h) if h == w => {}
            Some(_) => {
                drops.push(drop(name));
                creates.push(create(name, w));
            }
            None => creates.push(create(name, w)),
        }
    }
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        drops.push(drop(name));
    }
}

fn diff_columns(table: &str, want: &Table, have: &Table, out: &mut Vec<Step>) {
    let t = || table.to_string();
    for (name, w) in &want.columns {
        let c = || name.clone();
        let Some(h) = have.columns.get(name) else {
            out.push(Step::AddColumn {
                table: t(),
                column: c(),
                def: w.clone(),
            });
            continue;
        };
        if w.sql_type != h.sql_type {
            out.push(Step::AlterType {
                table: t(),
                column: c(),
                from: h.sql_type.clone(),
                to: w.sql_type.clone(),
            });
        }
        if w.default != h.default {
            match &w.default {
                Some(d) => out.push(Step::SetDefault {
                    table: t(),
                    column: c(),
                    default: d.clone(),
                }),
                None => out.push(Step::DropDefault {
                    table: t(),
                    column: c(),
                }),
            }
        }
        match (w.nullable, h.nullable) {
            (false, true) => out.push(Step::SetNotNull {
                table: t(),
                column: c(),
            }),
            (true, false) => out.push(Step::DropNotNull {
                table: t(),
                column: c(),
            }),
            _ => {}
        }
    }
    for name in have
        .columns
        .keys()
        .filter(|n| !want.columns.contains_key(*n))
    {
        out.push(Step::DropColumn {
            table: t(),
            column: name.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{desired_schema, fixtures};

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    #[test]
    fn from_nothing_creates_tables_then_indexes_then_foreign_keys() {
        let desired = desired_schema(&fixtures::users());
        let plan = diff(&desired, &Schema::default(), &none());
        let kinds: Vec<&str> = plan
            .steps
            .iter()
            .map(|s| match s {
                Step::CreateTable { .. } => "table",
                Step::CreateIndex { .. } => "index",
                Step::AddForeignKey { .. } => "fk",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["table", "table", "index", "fk"]);
        let sql = plan.steps[1].sql();
        assert!(sql.starts_with("CREATE TABLE \"users\""), "{sql}");
        assert!(
            sql.contains("\"created_at\" timestamp with time zone NOT NULL DEFAULT NOW()"),
            "{sql}"
        );
        assert!(
            sql.contains("\"nickname\" text,") || sql.contains("\"nickname\" text\n"),
            "{sql}"
        );
        assert!(sql.contains("PRIMARY KEY (\"id\")"), "{sql}");
        assert_eq!(
            plan.steps[3].sql(),
            "ALTER TABLE \"users\" ADD CONSTRAINT \"users_org_id_fkey\" FOREIGN KEY (\"org_id\") REFERENCES \"organizations\" (\"id\") ON DELETE CASCADE"
        );
        assert_eq!(plan.summary(), "4 to add, 0 to change, 0 to destroy");
    }

    #[test]
    fn equal_schemas_need_nothing() {
        let desired = desired_schema(&fixtures::users());
        assert!(diff(&desired, &desired, &none()).is_empty());
    }

    #[test]
    fn a_new_field_adds_a_column() {
        let live = desired_schema(&fixtures::users());
        let mut desired = live.clone();
        desired.tables.get_mut("users").unwrap().columns.insert(
            "age".into(),
            Column {
                sql_type: "integer".into(),
                nullable: true,
                default: None,
            },
        );
        let plan = diff(&desired, &live, &none());
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(
            plan.steps[0].sql(),
            "ALTER TABLE \"users\" ADD COLUMN \"age\" integer"
        );
        assert_eq!(plan.steps[0].safety(), Safety::Safe);
    }

    #[test]
    fn widening_is_safe_and_narrowing_destructive() {
        let widen = Step::AlterType {
            table: "t".into(),
            column: "c".into(),
            from: "integer".into(),
            to: "bigint".into(),
        };
        let narrow = Step::AlterType {
            table: "t".into(),
            column: "c".into(),
            from: "bigint".into(),
            to: "integer".into(),
        };
        assert_eq!(widen.safety(), Safety::Safe);
        assert_eq!(narrow.safety(), Safety::Destructive);
    }

    #[test]
    fn unmanaged_tables_are_left_alone_and_managed_ones_dropped() {
        let desired = Schema::default();
        let live = desired_schema(&fixtures::users());
        assert!(diff(&desired, &live, &none()).is_empty());
        let managed: BTreeSet<String> = ["users".to_string()].into();
        let plan = diff(&desired, &live, &managed);
        assert_eq!(
            plan.steps,
            vec![Step::DropTable {
                table: "users".into()
            }]
        );
        assert_eq!(plan.steps[0].safety(), Safety::Destructive);
    }

    #[test]
    fn removed_field_drops_the_column_destructively() {
        let live = desired_schema(&fixtures::users());
        let mut desired = live.clone();
        desired
            .tables
            .get_mut("users")
            .unwrap()
            .columns
            .remove("nickname");
        let plan = diff(&desired, &live, &none());
        assert_eq!(
            plan.steps,
            vec![Step::DropColumn {
                table: "users".into(),
                column: "nickname".into()
            }]
        );
        assert_eq!(plan.unsafe_steps().count(), 1);
    }

    #[test]
    fn on_delete_change_replaces_the_foreign_key() {
        let live = desired_schema(&fixtures::users());
        let mut desired = live.clone();
        desired
            .tables
            .get_mut("users")
            .unwrap()
            .foreign_keys
            .get_mut("users_org_id_fkey")
            .unwrap()
            .on_delete = crate::schema::FkAction::Restrict;
        let plan = diff(&desired, &live, &none());
        assert!(matches!(plan.steps[0], Step::DropForeignKey { .. }));
        assert!(matches!(plan.steps[1], Step::AddForeignKey { .. }));
    }
}
