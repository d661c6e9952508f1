//! The diff engine: a pure function from (desired schema and renames, live schema, what the
//! previous lock managed) to an ordered [`Plan`].
//!
//! Order, so every step finds what it needs:
//! 1. enum types are created or extended (columns may use them);
//! 2. tables and columns are renamed (later steps use the new names);
//! 3. foreign keys, checks and indexes that go away are dropped (a column change may
//!    depend on it);
//! 4. tables are created, without foreign keys, so a referenced table exists before its
//!    key and cycles need no special case;
//! 5. columns are added and changed; enums that lost labels are recreated;
//! 6. indexes and constraints are renamed, created, validated;
//! 7. managed tables no longer declared are dropped, then managed enums no longer used.
//!
//! Tables and enums that the code does not declare and that the previous lock did not
//! manage belong to somebody else and are left alone.

use std::collections::{BTreeMap, BTreeSet};

use crate::declare::Desired;
use crate::plan::{Plan, Step};
use crate::schema::{Schema, Table};

#[derive(Default)]
struct Phases {
    enums: Vec<Step>,
    renames: Vec<Step>,
    drop_constraints: Vec<Step>,
    creates: Vec<Step>,
    columns: Vec<Step>,
    recreate_enums: Vec<Step>,
    rename_constraints: Vec<Step>,
    indexes: Vec<Step>,
    constraints: Vec<Step>,
    validations: Vec<Step>,
    drops: Vec<Step>,
    drop_enums: Vec<Step>,
}

/// The steps that take `live` to `desired`. `previous` is the schema of the previous lock:
/// a table or enum it holds that the code no longer declares is dropped.
pub fn diff(desired: &Desired, live: &Schema, previous: &Schema) -> Plan {
    let mut p = Phases::default();
    // Extensions first: an index may need one. Never dropped (others may use them).
    for name in desired.schema.extensions.difference(&live.extensions) {
        p.enums.push(Step::CreateExtension { name: name.clone() });
    }
    diff_enums(desired, live, previous, &mut p);

    for (name, want) in &desired.schema.tables {
        let have = match live.tables.get(name) {
            Some(t) => t,
            None => match desired
                .renames
                .tables
                .get(name)
                .and_then(|old| live.tables.get_key_value(old))
            {
                Some((old, t)) => {
                    p.renames.push(Step::RenameTable {
                        from: old.clone(),
                        to: name.clone(),
                    });
                    t
                }
                None => {
                    create_table(name, want, &mut p);
                    continue;
                }
            },
        };
        let have = rename_columns(name, have, want, desired.renames.columns.get(name), &mut p);
        let have = &have;
        let replaced = diff_columns(name, want, have, &mut p.columns);
        // A column dropped and added again takes its indexes with it: they are created
        // again after it.
        let have_indexes: BTreeMap<String, crate::schema::Index> = have
            .indexes
            .iter()
            .filter(|(_, ix)| !ix.columns.iter().any(|c| replaced.contains(c)))
            .map(|(n, ix)| (n.clone(), ix.clone()))
            .collect();
        diff_named(
            name,
            &want.indexes,
            &have_indexes,
            have,
            Kind::Index,
            &mut p,
        );
        diff_named(
            name,
            &want.foreign_keys,
            &have.foreign_keys,
            have,
            Kind::ForeignKey,
            &mut p,
        );
        diff_named(name, &want.checks, &have.checks, have, Kind::Check, &mut p);
    }
    let renamed_away: BTreeSet<&String> = desired
        .renames
        .tables
        .values()
        .filter(|old| !desired.schema.tables.contains_key(*old))
        .collect();
    for name in previous.tables.keys() {
        if !desired.schema.tables.contains_key(name)
            && live.tables.contains_key(name)
            && !renamed_away.contains(name)
        {
            p.drops.push(Step::DropTable {
                table: name.clone(),
            });
        }
    }

    let mut steps = Vec::new();
    for phase in [
        p.enums,
        p.renames,
        p.drop_constraints,
        p.creates,
        p.columns,
        p.recreate_enums,
        p.rename_constraints,
        p.indexes,
        p.constraints,
        p.validations,
        p.drops,
        p.drop_enums,
    ] {
        steps.extend(phase);
    }
    Plan { steps }
}

fn create_table(name: &str, want: &Table, p: &mut Phases) {
    let mut def = want.clone();
    def.indexes.clear();
    def.foreign_keys.clear();
    p.creates.push(Step::CreateTable {
        table: name.to_string(),
        def,
    });
    for (ix_name, ix) in &want.indexes {
        p.indexes.push(Step::CreateIndex {
            table: name.to_string(),
            name: ix_name.clone(),
            index: ix.clone(),
            concurrently: false,
        });
    }
    for (fk_name, fk) in &want.foreign_keys {
        p.constraints.push(Step::AddForeignKey {
            table: name.to_string(),
            name: fk_name.clone(),
            fk: fk.clone(),
            not_valid: false,
        });
    }
}

fn diff_enums(desired: &Desired, live: &Schema, previous: &Schema, p: &mut Phases) {
    for (name, want) in &desired.schema.enums {
        let Some(have) = live.enums.get(name) else {
            p.enums.push(Step::CreateEnum {
                name: name.clone(),
                variants: want.clone(),
            });
            continue;
        };
        if want == have {
            continue;
        }
        // Only appending or inserting labels keeps the type: the live labels must appear in
        // the desired list in the same order.
        let mut kept = want.iter().filter(|v| have.contains(v));
        let extends = have.iter().all(|h| kept.next() == Some(h));
        if extends {
            for (i, v) in want.iter().enumerate() {
                if !have.contains(v) {
                    let before = want[i + 1..].iter().find(|n| have.contains(n)).cloned();
                    p.enums.push(Step::AddEnumValue {
                        name: name.clone(),
                        value: v.clone(),
                        before,
                    });
                }
            }
        } else {
            let columns = live
                .tables
                .iter()
                .flat_map(|(t, def)| {
                    def.columns
                        .iter()
                        .filter(|(_, c)| enum_of(&c.sql_type) == Some(name.as_str()))
                        .map(move |(c, _)| (t.clone(), c.clone()))
                })
                .collect();
            p.recreate_enums.push(Step::RecreateEnum {
                name: name.clone(),
                variants: want.clone(),
                columns,
            });
        }
    }
    for name in previous.enums.keys() {
        if !desired.schema.enums.contains_key(name) && live.enums.contains_key(name) {
            p.drop_enums.push(Step::DropEnum { name: name.clone() });
        }
    }
}

/// The enum a column type names (`status` or `status[]`), if it is not a builtin.
fn enum_of(sql_type: &str) -> Option<&str> {
    Some(sql_type.strip_suffix("[]").unwrap_or(sql_type))
}

/// The live table as it will be after the declared column renames, which are planned
/// here: a rename happens when the old column exists live and the new one does not.
fn rename_columns(
    table: &str,
    have: &Table,
    want: &Table,
    renames: Option<&BTreeMap<String, String>>,
    p: &mut Phases,
) -> Table {
    let mut applied: BTreeMap<&str, &str> = BTreeMap::new();
    for (new, old) in renames.into_iter().flatten() {
        if want.columns.contains_key(new)
            && !have.columns.contains_key(new)
            && have.columns.contains_key(old)
        {
            p.renames.push(Step::RenameColumn {
                table: table.to_string(),
                from: old.clone(),
                to: new.clone(),
            });
            applied.insert(old.as_str(), new.as_str());
        }
    }
    let map = |c: &String| applied.get(c.as_str()).map_or(c.clone(), |n| n.to_string());
    let mut t = have.clone();
    if !applied.is_empty() {
        t.columns = have
            .columns
            .iter()
            .map(|(k, v)| (map(k), v.clone()))
            .collect();
        t.primary_key = have.primary_key.iter().map(map).collect();
        for ix in t.indexes.values_mut() {
            ix.columns = ix.columns.iter().map(map).collect();
            ix.descending = ix.descending.iter().map(map).collect();
        }
        for fk in t.foreign_keys.values_mut() {
            fk.columns = fk.columns.iter().map(map).collect();
        }
    }
    t
}

#[derive(Clone, Copy)]
enum Kind {
    Index,
    ForeignKey,
    Check,
}

/// Named objects (indexes, constraints): a changed one is dropped and created again; an
/// unchanged one under a new name (its table or column was renamed) is renamed; an
/// unfinished one (invalid index, unvalidated constraint) is rebuilt or validated.
fn diff_named<T: PartialEq + Clone + Into<Def>>(
    table: &str,
    want: &BTreeMap<String, T>,
    have: &BTreeMap<String, T>,
    have_table: &Table,
    kind: Kind,
    p: &mut Phases,
) {
    let t = || table.to_string();
    let create = |name: &String, w: &T| -> Step {
        match (kind, w.clone().into()) {
            (Kind::Index, Def::Index(index)) => Step::CreateIndex {
                table: t(),
                name: name.clone(),
                index,
                concurrently: false,
            },
            (Kind::ForeignKey, Def::ForeignKey(fk)) => Step::AddForeignKey {
                table: t(),
                name: name.clone(),
                fk,
                not_valid: false,
            },
            (_, Def::Check(expr)) => Step::AddCheck {
                table: t(),
                name: name.clone(),
                expr,
            },
            _ => unreachable!("kind and definition agree"),
        }
    };
    let drop = |name: &String| -> Step {
        match kind {
            Kind::Index => Step::DropIndex {
                table: t(),
                name: name.clone(),
            },
            Kind::ForeignKey => Step::DropForeignKey {
                table: t(),
                name: name.clone(),
            },
            Kind::Check => Step::DropCheck {
                table: t(),
                name: name.clone(),
            },
        }
    };
    let unfinished = |name: &String| have_table.unfinished.contains(name);
    // A check's name is derived from its declared text; the live text is Postgres' rewrite
    // of it (`CHECK ((qty >= 0))`). Same name, same check.
    let same = |h: &T, w: &T| matches!(kind, Kind::Check) || h == w;

    // Unchanged definitions under another name: renames (not for checks, whose live text
    // Postgres rewrites, and whose names follow their text anyway).
    let mut renamed_from: BTreeMap<&String, &String> = BTreeMap::new();
    if !matches!(kind, Kind::Check) {
        let mut spare: Vec<&String> = have
            .keys()
            .filter(|n| !want.contains_key(*n) && !unfinished(n))
            .collect();
        for (name, w) in want.iter().filter(|(n, _)| !have.contains_key(*n)) {
            if let Some(pos) = spare.iter().position(|old| &have[*old] == w) {
                renamed_from.insert(name, spare.remove(pos));
            }
        }
    }
    let renamed_old: BTreeSet<&String> = renamed_from.values().copied().collect();

    for (name, w) in want {
        if let Some(old) = renamed_from.get(name) {
            p.rename_constraints.push(match kind {
                Kind::Index => Step::RenameIndex {
                    table: t(),
                    from: (*old).clone(),
                    to: name.clone(),
                },
                _ => Step::RenameConstraint {
                    table: t(),
                    from: (*old).clone(),
                    to: name.clone(),
                },
            });
            continue;
        }
        match have.get(name) {
            Some(h) if same(h, w) && unfinished(name) && matches!(kind, Kind::Index) => {
                p.drop_constraints.push(drop(name));
                p.indexes.push(create(name, w));
            }
            Some(h) if same(h, w) && unfinished(name) => {
                p.validations.push(Step::ValidateConstraint {
                    table: t(),
                    name: name.clone(),
                });
            }
            Some(h) if same(h, w) => {}
            Some(_) => {
                p.drop_constraints.push(drop(name));
                push_create(kind, create(name, w), p);
            }
            None => push_create(kind, create(name, w), p),
        }
    }
    for name in have
        .keys()
        .filter(|n| !want.contains_key(*n) && !renamed_old.contains(n))
    {
        p.drop_constraints.push(drop(name));
    }
}

fn push_create(kind: Kind, step: Step, p: &mut Phases) {
    match kind {
        Kind::Index => p.indexes.push(step),
        _ => p.constraints.push(step),
    }
}

/// A named object's definition, for [`diff_named`].
enum Def {
    Index(crate::schema::Index),
    ForeignKey(crate::schema::ForeignKey),
    Check(String),
}

impl From<crate::schema::Index> for Def {
    fn from(i: crate::schema::Index) -> Def {
        Def::Index(i)
    }
}
impl From<crate::schema::ForeignKey> for Def {
    fn from(f: crate::schema::ForeignKey) -> Def {
        Def::ForeignKey(f)
    }
}
impl From<String> for Def {
    fn from(c: String) -> Def {
        Def::Check(c)
    }
}

/// The column steps; returns the columns dropped and added again (a generated column's
/// expression changed, or a column became or stopped being generated).
fn diff_columns(table: &str, want: &Table, have: &Table, out: &mut Vec<Step>) -> BTreeSet<String> {
    let t = || table.to_string();
    let mut replaced = BTreeSet::new();
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
        match (&w.generated, &h.generated) {
            (None, None) => {}
            (Some(_), Some(_)) if w == h => continue,
            (Some(_), Some(_)) => {
                out.push(Step::RegenerateColumn {
                    table: t(),
                    column: c(),
                    def: w.clone(),
                });
                replaced.insert(c());
                continue;
            }
            // A stored column becomes generated, or the reverse: the old one goes (its
            // values are lost unless it was generated), the new one comes.
            (_, h_generated) => {
                out.push(Step::DropColumn {
                    table: t(),
                    column: c(),
                    derived: h_generated.is_some(),
                });
                out.push(Step::AddColumn {
                    table: t(),
                    column: c(),
                    def: w.clone(),
                });
                replaced.insert(c());
                continue;
            }
        }
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
    for (name, h) in have
        .columns
        .iter()
        .filter(|(n, _)| !want.columns.contains_key(*n))
    {
        out.push(Step::DropColumn {
            table: t(),
            column: name.clone(),
            derived: h.generated.is_some(),
        });
    }
    replaced
}

/// Changes made to the database outside cargo-cell since the previous lock was written:
/// the steps that would take the lock's schema to the live one, for the tables and enums
/// the lock holds. Reported apart from the code's changes.
pub fn drift(previous: &Schema, live: &Schema) -> Plan {
    let mut locked_live = Schema::default();
    for (name, t) in &live.tables {
        if previous.tables.contains_key(name) {
            let mut t = t.clone();
            t.unfinished.clear();
            locked_live.tables.insert(name.clone(), t);
        }
    }
    for (name, e) in &live.enums {
        if previous.enums.contains_key(name) {
            locked_live.enums.insert(name.clone(), e.clone());
        }
    }
    let as_desired = Desired {
        schema: locked_live,
        renames: Default::default(),
    };
    // Tables of the lock missing live show as drops: "previous" = the lock.
    diff(&as_desired, previous, previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{desired, fixtures};
    use crate::plan::{Action, Safety};
    use crate::schema::{Column, FkAction, Index};

    fn want(schema: &Schema) -> Desired {
        Desired {
            schema: schema.clone(),
            renames: Default::default(),
        }
    }

    fn users() -> Schema {
        desired(&fixtures::users(), &[]).schema
    }

    fn none() -> Schema {
        Schema::default()
    }

    fn col(sql_type: &str, nullable: bool) -> Column {
        Column {
            sql_type: sql_type.into(),
            nullable,
            default: None,
            generated: None,
        }
    }

    fn table<'a>(s: &'a mut Schema, name: &str) -> &'a mut Table {
        s.tables.get_mut(name).unwrap()
    }

    /// The plan as `cargo cell plan --sql` shows it, without colours.
    fn shown(plan: &Plan) -> String {
        format!("{}\n{}", plan.summary(), plan.render(true))
    }

    #[test]
    fn from_nothing_creates_tables_then_indexes_then_foreign_keys() {
        let plan = diff(&want(&users()), &none(), &none());
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
        insta::assert_snapshot!(shown(&plan));
    }

    #[test]
    fn equal_schemas_need_nothing() {
        assert!(diff(&want(&users()), &users(), &users()).is_empty());
    }

    #[test]
    fn column_changes() {
        let live = users();
        let mut d = live.clone();
        let t = table(&mut d, "users");
        t.columns.insert("age".into(), col("integer", true));
        t.columns.insert(
            "score".into(),
            Column {
                default: Some("0".into()),
                ..col("bigint", false)
            },
        );
        t.columns.insert("plan".into(), col("text", false));
        t.columns.remove("nickname");
        t.columns.get_mut("email").unwrap().nullable = true;
        t.columns.get_mut("created_at").unwrap().default = None;
        let mut live2 = live.clone();
        let lt = table(&mut live2, "users");
        lt.columns.insert(
            "visits".into(),
            Column {
                default: Some("0".into()),
                ..col("integer", false)
            },
        );
        lt.columns.insert("referrer".into(), col("text", true));
        let t = table(&mut d, "users");
        t.columns.insert(
            "visits".into(),
            Column {
                default: Some("1".into()),
                ..col("bigint", false)
            },
        );
        t.columns.insert("referrer".into(), col("text", false));
        let plan = diff(&want(&d), &live2, &users());
        let safety: Vec<(String, Safety)> = plan
            .steps
            .iter()
            .map(|s| (s.describe(), s.safety()))
            .collect();
        assert!(safety.contains(&("column users.age integer NULL".into(), Safety::Safe)));
        assert!(safety.contains(&(
            "column users.plan text NOT NULL".into(),
            Safety::DataDependent
        )));
        assert!(safety.contains(&(
            "column users.score bigint NOT NULL DEFAULT 0".into(),
            Safety::Safe
        )));
        assert!(safety.contains(&("column users.nickname".into(), Safety::Destructive)));
        assert!(safety.contains(&(
            "column users.visits type integer → bigint".into(),
            Safety::Safe
        )));
        assert!(safety.contains(&(
            "column users.referrer NULL → NOT NULL".into(),
            Safety::DataDependent
        )));
        insta::assert_snapshot!(shown(&plan));
    }

    #[test]
    fn one_new_field_is_one_safe_step_and_one_removed_field_one_unsafe_step() {
        let live = users();
        let mut d = live.clone();
        table(&mut d, "users")
            .columns
            .insert("age".into(), col("integer", true));
        let plan = diff(&want(&d), &live, &live);
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(
            plan.steps[0].sql(),
            "ALTER TABLE \"users\" ADD COLUMN \"age\" integer"
        );
        assert_eq!(plan.steps[0].safety(), Safety::Safe);

        let mut d = live.clone();
        table(&mut d, "users").columns.remove("nickname");
        let plan = diff(&want(&d), &live, &live);
        assert_eq!(
            plan.steps,
            vec![Step::DropColumn {
                table: "users".into(),
                column: "nickname".into(),
                derived: false,
            }]
        );
        assert_eq!(plan.unsafe_steps().count(), 1);
    }

    #[test]
    fn narrowing_is_destructive() {
        let mut live = users();
        table(&mut live, "users")
            .columns
            .insert("n".into(), col("bigint", false));
        let mut d = users();
        table(&mut d, "users")
            .columns
            .insert("n".into(), col("integer", false));
        let plan = diff(&want(&d), &live, &live);
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].safety(), Safety::Destructive);
        assert_eq!(
            plan.steps[0].sql(),
            "ALTER TABLE \"users\" ALTER COLUMN \"n\" TYPE integer USING \"n\"::integer"
        );
    }

    #[test]
    fn indexes_and_checks() {
        let live = users();
        let mut d = live.clone();
        let t = table(&mut d, "users");
        // A unique index over two columns, a descending one, a changed one, a gone one.
        t.indexes.insert(
            "users_org_id_email_key".into(),
            Index {
                columns: vec!["org_id".into(), "email".into()],
                unique: true,
                descending: vec![],
                opclass: None,
                using: None,
            },
        );
        t.indexes.insert(
            "users_created_at_idx".into(),
            Index {
                columns: vec!["created_at".into()],
                unique: false,
                descending: vec!["created_at".into()],
                opclass: None,
                using: None,
            },
        );
        t.indexes.get_mut("users_email_key").unwrap().unique = false;
        t.checks.insert(
            crate::declare::check_name("users", "char_length(email) > 3"),
            "char_length(email) > 3".into(),
        );
        let mut live2 = live.clone();
        table(&mut live2, "users")
            .checks
            .insert("users_check_00000000".into(), "CHECK ((1 = 1))".into());
        let plan = diff(&want(&d), &live2, &live);
        let actions: Vec<Action> = plan.changes().iter().map(|c| c.action).collect();
        assert!(actions.contains(&Action::Replace), "{actions:?}");
        insta::assert_snapshot!(shown(&plan));
    }

    #[test]
    fn a_check_is_known_by_its_name_not_by_postgres_rewrite_of_it() {
        let mut d = users();
        let name = crate::declare::check_name("users", "char_length(email) > 3");
        table(&mut d, "users")
            .checks
            .insert(name.clone(), "char_length(email) > 3".into());
        let mut live = users();
        table(&mut live, "users")
            .checks
            .insert(name, "CHECK ((char_length(email) > 3))".into());
        assert!(diff(&want(&d), &live, &live).is_empty());
    }

    #[test]
    fn on_delete_change_replaces_the_foreign_key() {
        let live = users();
        let mut d = live.clone();
        table(&mut d, "users")
            .foreign_keys
            .get_mut("users_org_id_fkey")
            .unwrap()
            .on_delete = FkAction::Restrict;
        let plan = diff(&want(&d), &live, &live);
        assert!(matches!(plan.steps[0], Step::DropForeignKey { .. }));
        assert!(matches!(plan.steps[1], Step::AddForeignKey { .. }));
        let changes = plan.changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].action, Action::Replace);
        insta::assert_snapshot!(shown(&plan));
    }

    #[test]
    fn unmanaged_tables_are_left_alone_and_managed_ones_dropped() {
        let live = users();
        assert!(diff(&want(&none()), &live, &none()).is_empty());
        let mut managed = none();
        managed
            .tables
            .insert("users".into(), live.tables["users"].clone());
        let plan = diff(&want(&none()), &live, &managed);
        assert_eq!(
            plan.steps,
            vec![Step::DropTable {
                table: "users".into()
            }]
        );
        assert_eq!(plan.steps[0].safety(), Safety::Destructive);
    }

    #[test]
    fn renames_keep_the_data() {
        let live = users();
        // `users` becomes `members`, `nickname` becomes `handle`, `email` becomes `mail`
        // (whose unique index follows under its new name).
        let mut decls = fixtures::users();
        decls[0].name = "members".into();
        decls[0].renamed_from = Some("users".into());
        for c in &mut decls[0].columns {
            if c.name == "nickname" {
                c.name = "handle".into();
                c.renamed_from = Some("nickname".into());
            }
        }
        let d = desired(&decls, &[]);
        let plan = diff(&d, &live, &live);
        assert!(plan.unsafe_steps().next().is_none(), "{}", shown(&plan));
        assert_eq!(
            plan.steps[0],
            Step::RenameTable {
                from: "users".into(),
                to: "members".into()
            }
        );
        assert_eq!(
            plan.steps[1],
            Step::RenameColumn {
                table: "members".into(),
                from: "nickname".into(),
                to: "handle".into()
            }
        );
        // Index and key names derived from the table name follow it by renames.
        assert!(
            plan.steps
                .iter()
                .all(|s| !matches!(s, Step::DropTable { .. } | Step::DropColumn { .. }))
        );
        insta::assert_snapshot!(shown(&plan));
        // Once applied, the rename is a no-op.
        let mut after = d.schema.clone();
        after.enums.clear();
        assert!(diff(&d, &after, &live).is_empty());
    }

    #[test]
    fn enums_are_created_extended_recreated_and_dropped() {
        let mut live = users();
        let mut d = users();
        d.enums
            .insert("status".into(), vec!["new".into(), "paid".into()]);
        table(&mut d, "users")
            .columns
            .insert("status".into(), col("status", false));
        let plan = diff(&want(&d), &live, &live);
        assert!(matches!(&plan.steps[0], Step::CreateEnum { name, .. } if name == "status"));

        live = d.clone();
        // Added labels, one in the middle: extended in place.
        d.enums.insert(
            "status".into(),
            vec!["new".into(), "open".into(), "paid".into(), "shipped".into()],
        );
        let plan = diff(&want(&d), &live, &live);
        assert_eq!(
            plan.steps,
            vec![
                Step::AddEnumValue {
                    name: "status".into(),
                    value: "open".into(),
                    before: Some("paid".into())
                },
                Step::AddEnumValue {
                    name: "status".into(),
                    value: "shipped".into(),
                    before: None
                }
            ]
        );
        // A removed label: the type is recreated, and its columns converted.
        d.enums.insert("status".into(), vec!["paid".into()]);
        let plan = diff(&want(&d), &live, &live);
        assert_eq!(
            plan.steps,
            vec![Step::RecreateEnum {
                name: "status".into(),
                variants: vec!["paid".into()],
                columns: vec![("users".into(), "status".into())]
            }]
        );
        insta::assert_snapshot!(shown(&plan));
        // No longer declared, but managed: dropped after its columns.
        let mut gone = users();
        gone.enums.clear();
        let plan = diff(&want(&gone), &live, &live);
        assert!(matches!(plan.steps.last(), Some(Step::DropEnum { .. })));
    }

    #[test]
    fn unfinished_objects_are_rebuilt_or_validated() {
        let mut live = users();
        let t = table(&mut live, "users");
        t.unfinished.insert("users_email_key".into());
        t.unfinished.insert("users_org_id_fkey".into());
        let plan = diff(&want(&users()), &live, &users());
        let kinds: Vec<String> = plan.steps.iter().map(|s| s.sql()).collect();
        assert_eq!(
            kinds,
            [
                "DROP INDEX \"users_email_key\"",
                "CREATE UNIQUE INDEX \"users_email_key\" ON \"users\" (\"email\")",
                "ALTER TABLE \"users\" VALIDATE CONSTRAINT \"users_org_id_fkey\""
            ]
        );
    }

    #[test]
    fn drift_is_what_changed_outside() {
        let lock = users();
        let mut live = users();
        table(&mut live, "users")
            .columns
            .insert("added_by_hand".into(), col("text", true));
        table(&mut live, "users").indexes.remove("users_email_key");
        let drift = drift(&lock, &live);
        insta::assert_snapshot!(shown(&drift));
        assert!(super::drift(&lock, &lock).is_empty());
    }
}

/// `#[Search::index]` through the schema engine: its objects, planned, applied and gone.
#[cfg(test)]
mod search_tests {
    use super::*;
    use crate::declare::{ColumnDecl, TableDecl, desired, fixtures};
    use crate::plan::{Action, Safety};
    use crate::safety;
    use cell_search::{SearchDecl, Weight};

    fn products(search: Option<SearchDecl>) -> Vec<TableDecl> {
        vec![TableDecl {
            rust_name: "Product".into(),
            name: "products".into(),
            columns: vec![
                ColumnDecl {
                    primary_key: true,
                    ..fixtures::column("id", "uuid")
                },
                fixtures::column("name", "text"),
                ColumnDecl {
                    nullable: true,
                    ..fixtures::column("description", "text")
                },
            ],
            renamed_from: None,
            indexes: Vec::new(),
            checks: Vec::new(),
            search,
        }]
    }

    fn search(fuzzy: bool) -> SearchDecl {
        SearchDecl {
            fields: vec!["name".into(), "description".into()],
            weights: vec![Weight::A, Weight::B],
            language: "english".into(),
            fuzzy,
        }
    }

    fn schema(search: Option<SearchDecl>) -> Schema {
        desired(&products(search), &[]).schema
    }

    fn plan(want: Option<SearchDecl>, live: &Schema) -> Plan {
        let d = desired(&products(want), &[]);
        diff(&d, live, live)
    }

    #[test]
    fn a_search_index_is_a_generated_column_and_a_gin_index() {
        let s = schema(Some(search(false)));
        let t = &s.tables["products"];
        let v = &t.columns["search_vector"];
        assert_eq!(v.sql_type, "tsvector");
        assert!(v.nullable);
        assert!(
            v.generated
                .as_deref()
                .unwrap()
                .starts_with("setweight(to_tsvector('english', coalesce(\"name\", '')), 'A')")
        );
        let ix = &t.indexes["products_search_vector_idx"];
        assert_eq!(ix.columns, ["search_vector"]);
        assert_eq!(ix.using.as_deref(), Some("gin"));
        assert!(s.extensions.is_empty());

        let fuzzy = schema(Some(search(true)));
        let trgm = &fuzzy.tables["products"].indexes["products_name_trgm_idx"];
        assert_eq!(trgm.opclass.as_deref(), Some("gin_trgm_ops"));
        assert!(
            fuzzy.tables["products"]
                .indexes
                .contains_key("products_description_trgm_idx")
        );
        assert_eq!(fuzzy.extensions.iter().collect::<Vec<_>>(), ["pg_trgm"]);
    }

    #[test]
    fn adding_it_to_a_populated_table_adds_the_column_then_the_index_and_says_it_locks() {
        let live = schema(None);
        let p = plan(Some(search(true)), &live);
        let sql: Vec<String> = p.steps.iter().map(Step::sql).collect();
        assert_eq!(sql[0], "CREATE EXTENSION IF NOT EXISTS \"pg_trgm\"");
        assert!(
            sql[1].starts_with("ALTER TABLE \"products\" ADD COLUMN \"search_vector\" tsvector GENERATED ALWAYS AS (setweight("),
            "{sql:?}"
        );
        assert!(sql[1].ends_with(") STORED"), "{sql:?}");
        assert!(sql.contains(&"CREATE INDEX \"products_search_vector_idx\" ON \"products\" USING gin (\"search_vector\")".to_string()), "{sql:?}");
        assert!(sql.contains(&"CREATE INDEX \"products_name_trgm_idx\" ON \"products\" USING gin (\"name\" gin_trgm_ops)".to_string()), "{sql:?}");
        assert_eq!(sql.len(), 5, "{sql:?}");
        assert!(p.steps.iter().all(|s| s.safety() == Safety::Safe));

        // The data says how many rows the rewrite holds under its lock; nothing is refused.
        let probe = safety::probe(&p.steps[1], &live).unwrap();
        assert_eq!(probe, "SELECT count(*) FROM \"products\"");
        let note = safety::note(&p.steps[1], 12_000).unwrap();
        assert_eq!(
            note,
            "12000 rows are rewritten to compute it, under an ACCESS EXCLUSIVE lock: reads and writes of the table wait until it ends"
        );
        let counts = [(1, 12_000)].into_iter().collect();
        assert!(safety::judge(&p, &counts, false).is_empty());
        // A safe step shows its note as a warning of its own.
        let notes = [(1, note)].into_iter().collect();
        let shown = p.render_styled(false, &crate::plan::Plain, &notes);
        assert!(
            shown.contains(") STORED   # 12000 rows are rewritten to compute it, under an ACCESS EXCLUSIVE lock"),
            "{shown}"
        );
    }

    #[test]
    fn applied_it_plans_nothing_more() {
        let live = schema(Some(search(true)));
        let mut live_with_ext = live.clone();
        live_with_ext.extensions.insert("pg_trgm".into());
        assert!(plan(Some(search(true)), &live_with_ext).is_empty());
    }

    #[test]
    fn a_changed_document_regenerates_the_column_and_rebuilds_its_index() {
        let live = schema(Some(search(false)));
        let mut changed = search(false);
        changed.weights = vec![Weight::B, Weight::A];
        let p = plan(Some(changed), &live);
        assert_eq!(p.steps.len(), 2, "{:?}", p.steps);
        assert!(
            matches!(&p.steps[0], Step::RegenerateColumn { column, .. } if column == "search_vector")
        );
        assert_eq!(p.steps[0].action(), Action::Replace);
        assert!(p.steps[0].sql().starts_with("ALTER TABLE \"products\" DROP COLUMN \"search_vector\", ADD COLUMN \"search_vector\" tsvector GENERATED ALWAYS AS ("));
        assert!(
            matches!(&p.steps[1], Step::CreateIndex { name, .. } if name == "products_search_vector_idx")
        );
    }

    #[test]
    fn removed_it_drops_what_it_made_and_loses_nothing() {
        let live = schema(Some(search(false)));
        let p = plan(None, &live);
        assert_eq!(p.steps.len(), 2, "{:?}", p.steps);
        assert!(
            matches!(&p.steps[0], Step::DropIndex { name, .. } if name == "products_search_vector_idx")
        );
        assert!(matches!(
            &p.steps[1],
            Step::DropColumn { derived: true, .. }
        ));
        assert!(p.unsafe_steps().next().is_none());
        assert!(safety::probe(&p.steps[1], &live).is_none());
        assert!(p.steps[1].describe().ends_with("(generated)"));
    }

    #[test]
    fn against_a_lock_without_it_the_code_is_told_to_build() {
        let lock = schema(None);
        let decls = products(Some(search(false)));
        let mismatches = crate::check::against_lock(
            &decls[0],
            crate::check::Locked {
                tables: &lock.tables,
                enums: &lock.enums,
            },
        );
        assert_eq!(mismatches.len(), 1, "{mismatches:?}");
        assert_eq!(
            mismatches[0].message,
            "index `products_search_vector_idx` USING gin (search_vector) on `products` is not in the locked schema"
        );
        assert!(mismatches[0].help.contains("cargo cell build"));
        // Applied, the lock agrees.
        let applied = schema(Some(search(false)));
        let none = crate::check::against_lock(
            &decls[0],
            crate::check::Locked {
                tables: &applied.tables,
                enums: &applied.enums,
            },
        );
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn a_stored_column_in_the_way_is_destructive() {
        let mut live = schema(None);
        live.tables.get_mut("products").unwrap().columns.insert(
            "search_vector".into(),
            crate::schema::Column {
                sql_type: "text".into(),
                nullable: true,
                ..Default::default()
            },
        );
        let p = plan(Some(search(false)), &live);
        assert!(matches!(
            &p.steps[0],
            Step::DropColumn { derived: false, .. }
        ));
        assert_eq!(p.unsafe_steps().count(), 1);
    }
}
