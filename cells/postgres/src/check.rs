//! Code against lock: what the expansion reports when a struct and the locked schema
//! disagree. Pure; the macro attaches each [`Mismatch`] to the span of its field.

use std::collections::BTreeMap;

use crate::declare::{EnumDecl, TableDecl};
use crate::schema::{Index, Table};
use crate::types;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The field it is about (index into `TableDecl::columns`), or `None` for the struct.
    pub field: Option<usize>,
    pub message: String,
    pub help: String,
}

pub const HELP_BUILD: &str = "run `cargo cell build` to apply the change to the dev Cell and update the lock \
     (`cargo cell plan` previews it)";

/// What the lock holds.
#[derive(Debug, Clone, Copy)]
pub struct Locked<'a> {
    pub tables: &'a BTreeMap<String, Table>,
    /// Enum types by name, with their labels.
    pub enums: &'a BTreeMap<String, Vec<String>>,
}

/// Everything that would make the generated code wrong against the lock.
pub fn against_lock(decl: &TableDecl, lock: Locked<'_>) -> Vec<Mismatch> {
    let Some(locked) = lock.tables.get(&decl.name) else {
        let message = match &decl.renamed_from {
            Some(old) if lock.tables.contains_key(old) => format!(
                "table `{}` (struct `{}`) is still `{old}` in .cell/postgres.lock.json: the rename is not applied yet",
                decl.name, decl.rust_name
            ),
            _ => format!(
                "table `{}` (struct `{}`) is not in .cell/postgres.lock.json",
                decl.name, decl.rust_name
            ),
        };
        return vec![Mismatch {
            field: None,
            message,
            help: HELP_BUILD.to_string(),
        }];
    };
    let mut out = Vec::new();
    for (i, col) in decl.columns.iter().enumerate() {
        let Some(live) = locked.columns.get(&col.name) else {
            let message = match &col.renamed_from {
                Some(old) if locked.columns.contains_key(old) => format!(
                    "column `{}.{}` is still `{old}` in the locked schema: the rename is not applied yet",
                    decl.name, col.name
                ),
                _ => format!(
                    "column `{}.{}` does not exist in the locked schema",
                    decl.name, col.name
                ),
            };
            out.push(Mismatch {
                field: Some(i),
                message,
                help: HELP_BUILD.to_string(),
            });
            continue;
        };
        if let Some(rust) = &col.enum_type {
            let (base, live_array) = split_array(&live.sql_type);
            let array = col.sql_type.ends_with("[]");
            if !lock.enums.contains_key(base) {
                out.push(Mismatch {
                    field: Some(i),
                    message: format!(
                        "field `{}` has type `{}`, which has no Postgres column type, and column `{}.{}` is `{}` in the database, not an enum",
                        col.name, col.rust_type, decl.name, col.name, live.sql_type
                    ),
                    help: format!(
                        "if `{rust}` is an enum, add `#[derive(Postgres::Enum)]` to it and {HELP_BUILD}; otherwise use a supported type: {}",
                        types::supported_types()
                    ),
                });
                continue;
            }
            if live_array != array {
                out.push(Mismatch {
                    field: Some(i),
                    message: format!(
                        "type mismatch for column `{}.{}`: the database has `{}`, the field is `{}`",
                        decl.name, col.name, live.sql_type, col.rust_type
                    ),
                    help: HELP_BUILD.to_string(),
                });
                continue;
            }
        } else if live.sql_type != col.sql_type {
            // (A type mismatch is reported alone: its help says what to declare.)
            let suggestion = types::rust_for_sql(&live.sql_type)
                .map(|r| {
                    let r = if live.nullable {
                        format!("Option<{r}>")
                    } else {
                        r
                    };
                    let varchar = types::varchar_len(split_array(&live.sql_type).0)
                        .map(|n| format!(" with `#[Postgres::varchar({n})]`"))
                        .unwrap_or_default();
                    format!("declare the field as `{r}`{varchar} to match the database, or ")
                })
                .unwrap_or_default();
            out.push(Mismatch {
                field: Some(i),
                message: format!(
                    "type mismatch for column `{}.{}`: the database has `{}`, the field is `{}` (which maps to `{}`)",
                    decl.name, col.name, live.sql_type, col.rust_type, col.sql_type
                ),
                help: format!("{suggestion}{HELP_BUILD}"),
            });
            continue;
        }
        if live.nullable != col.nullable {
            let message = if live.nullable {
                format!(
                    "column `{}.{}` is nullable in the database, but field `{}` is `{}`, not an `Option`",
                    decl.name, col.name, col.name, col.rust_type
                )
            } else {
                format!(
                    "column `{}.{}` is NOT NULL in the database, but field `{}` is `{}`",
                    decl.name, col.name, col.name, col.rust_type
                )
            };
            out.push(Mismatch {
                field: Some(i),
                message,
                help: HELP_BUILD.to_string(),
            });
        }
    }
    for (name, live) in &locked.columns {
        let renamed = decl
            .columns
            .iter()
            .any(|c| c.renamed_from.as_deref() == Some(name.as_str()));
        if decl.column(name).is_none() && !renamed && !live.nullable && live.default.is_none() {
            out.push(Mismatch {
                field: None,
                message: format!(
                    "column `{}.{}` is NOT NULL without a default in the database, but struct `{}` has no field for it, so inserts would fail",
                    decl.name, name, decl.rust_name
                ),
                help: format!(
                    "add the field `{name}` back, or drop the column: {HELP_BUILD}; dropping needs `--allow-destructive`"
                ),
            });
        }
    }
    indexes_against_lock(decl, locked, &mut out);
    checks_against_lock(decl, locked, &mut out);
    out
}

/// `order_status[]` → (`order_status`, true).
fn split_array(sql_type: &str) -> (&str, bool) {
    match sql_type.strip_suffix("[]") {
        Some(base) => (base, true),
        None => (sql_type, false),
    }
}

fn describe(ix: &Index) -> String {
    format!(
        "{}{}",
        if ix.unique { "UNIQUE " } else { "" },
        ix.keys(str::to_string, false)
    )
}

fn indexes_against_lock(decl: &TableDecl, locked: &Table, out: &mut Vec<Mismatch>) {
    let declared = decl.to_table().indexes;
    // A field-level index points at its field.
    let field_of = |ix: &Index| match ix.columns.as_slice() {
        [one] if decl.indexes.iter().all(|t| t.columns != ix.columns) => {
            decl.columns.iter().position(|c| &c.name == one)
        }
        _ => None,
    };
    for (name, ix) in &declared {
        match locked.indexes.get(name) {
            None => out.push(Mismatch {
                field: field_of(ix),
                message: format!(
                    "index `{name}` {} on `{}` is not in the locked schema",
                    describe(ix),
                    decl.name
                ),
                help: HELP_BUILD.to_string(),
            }),
            Some(live) if live != ix => out.push(Mismatch {
                field: field_of(ix),
                message: format!(
                    "index `{name}` on `{}` is {} in the locked schema, but the code declares {}",
                    decl.name,
                    describe(live),
                    describe(ix)
                ),
                help: HELP_BUILD.to_string(),
            }),
            Some(_) => {}
        }
    }
    for (name, live) in &locked.indexes {
        // An index on a removed column goes with it; the column is reported already.
        let on_removed = live.columns.iter().any(|c| decl.column(c).is_none());
        if !declared.contains_key(name) && !on_removed {
            out.push(Mismatch {
                field: None,
                message: format!(
                    "the locked schema has index `{name}` {} on `{}`, which struct `{}` does not declare",
                    describe(live),
                    decl.name,
                    decl.rust_name
                ),
                help: "declare it again, or run `cargo cell build`, which drops it from the dev Cell and updates the lock".to_string(),
            });
        }
    }
}

fn checks_against_lock(decl: &TableDecl, locked: &Table, out: &mut Vec<Mismatch>) {
    let declared = decl.to_table().checks;
    for (name, expr) in &declared {
        if !locked.checks.contains_key(name) {
            out.push(Mismatch {
                field: None,
                message: format!(
                    "CHECK ({expr}) on `{}` is not in the locked schema",
                    decl.name
                ),
                help: HELP_BUILD.to_string(),
            });
        }
    }
    for (name, live) in &locked.checks {
        if !declared.contains_key(name) {
            out.push(Mismatch {
                field: None,
                message: format!(
                    "the locked schema has the constraint `{name}` {live} on `{}`, which struct `{}` does not declare",
                    decl.name, decl.rust_name
                ),
                help: "declare it again, or run `cargo cell build`, which drops it from the dev Cell and updates the lock".to_string(),
            });
        }
    }
}

/// A `#[derive(Postgres::Enum)]` against the lock's enum of its name (`None`: not locked).
pub fn enum_against_lock(decl: &EnumDecl, locked: Option<&Vec<String>>) -> Option<Mismatch> {
    let quoted = |labels: &[String]| {
        labels
            .iter()
            .map(|l| format!("'{l}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match locked {
        None => Some(Mismatch {
            field: None,
            message: format!(
                "enum type `{}` (enum `{}`) is not in .cell/postgres.lock.json",
                decl.name, decl.rust_name
            ),
            help: HELP_BUILD.to_string(),
        }),
        Some(labels) if *labels != decl.variants => Some(Mismatch {
            field: None,
            message: format!(
                "enum type `{}` has the labels ({}) in the locked schema, but enum `{}` declares ({})",
                decl.name,
                quoted(labels),
                decl.rust_name,
                quoted(&decl.variants)
            ),
            help: HELP_BUILD.to_string(),
        }),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{ColumnDecl, TableIndexDecl, check_name, fixtures};

    fn run(decl: &TableDecl, table: Option<&Table>) -> Vec<Mismatch> {
        run_with(
            decl,
            table.map(|t| (decl.name.as_str(), t)),
            &BTreeMap::new(),
        )
    }

    fn run_with(
        decl: &TableDecl,
        table: Option<(&str, &Table)>,
        enums: &BTreeMap<String, Vec<String>>,
    ) -> Vec<Mismatch> {
        let tables: BTreeMap<String, Table> = table
            .map(|(n, t)| (n.to_string(), t.clone()))
            .into_iter()
            .collect();
        against_lock(
            decl,
            Locked {
                tables: &tables,
                enums,
            },
        )
    }

    fn locked_users() -> (TableDecl, Table) {
        let decl = fixtures::users().remove(0);
        let table = decl.to_table();
        (decl, table)
    }

    #[test]
    fn matching_lock_has_no_mismatch() {
        let (decl, table) = locked_users();
        assert!(run(&decl, Some(&table)).is_empty());
    }

    #[test]
    fn table_missing_from_lock() {
        let (decl, _) = locked_users();
        let m = run(&decl, None);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].field, None);
        assert!(m[0].message.contains("`users`"), "{}", m[0].message);
    }

    #[test]
    fn new_field_points_at_the_field() {
        let (mut decl, table) = locked_users();
        decl.columns.push(ColumnDecl {
            nullable: true,
            ..fixtures::column("age", "integer")
        });
        let m = run(&decl, Some(&table));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].field, Some(5));
        assert!(
            m[0].message.contains("`users.age` does not exist"),
            "{}",
            m[0].message
        );
        assert!(m[0].help.contains("cargo cell build"));
    }

    #[test]
    fn type_change_names_both_types() {
        let (mut decl, table) = locked_users();
        decl.columns[1] = ColumnDecl {
            rust_type: "i64".into(),
            ..decl.columns[1].clone()
        };
        decl.columns[1].sql_type = "bigint".into();
        let m = run(&decl, Some(&table));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].field, Some(1));
        assert!(
            m[0].message.contains("`text`") && m[0].message.contains("`i64`"),
            "{}",
            m[0].message
        );
        assert!(m[0].help.contains("`String`"), "{}", m[0].help);
    }

    #[test]
    fn nullability_both_ways() {
        let (mut decl, table) = locked_users();
        decl.columns[4].nullable = false;
        decl.columns[1].nullable = true;
        let m = run(&decl, Some(&table));
        assert_eq!(m.len(), 2);
        assert!(
            m[0].message.contains("NOT NULL in the database"),
            "{}",
            m[0].message
        );
        assert!(
            m[1].message.contains("nullable in the database"),
            "{}",
            m[1].message
        );
    }

    #[test]
    fn removed_required_column_is_reported() {
        let (mut decl, table) = locked_users();
        decl.columns.retain(|c| c.name != "email");
        let m = run(&decl, Some(&table));
        assert_eq!(m.len(), 1);
        assert!(m[0].message.contains("`users.email`"), "{}", m[0].message);
        // A nullable column left behind is harmless.
        let (mut decl, table) = locked_users();
        decl.columns.retain(|c| c.name != "nickname");
        assert!(run(&decl, Some(&table)).is_empty());
    }

    fn status_column(rust_type: &str, placeholder: &str) -> ColumnDecl {
        ColumnDecl {
            rust_type: rust_type.into(),
            enum_type: Some("OrderStatus".into()),
            encrypted: false,
            nullable: rust_type.starts_with("Option"),
            ..fixtures::column("status", placeholder)
        }
    }

    #[test]
    fn enum_columns_match_a_locked_enum() {
        let (mut decl, mut table) = locked_users();
        decl.columns
            .push(status_column("OrderStatus", "OrderStatus"));
        let mut enums = BTreeMap::new();
        enums.insert("order_status".to_string(), vec!["a".to_string()]);
        table.columns.insert(
            "status".into(),
            crate::schema::Column {
                sql_type: "order_status".into(),
                nullable: false,
                default: None,
                generated: None,
            },
        );
        assert!(run_with(&decl, Some(("users", &table)), &enums).is_empty());

        // Nullability still counts.
        decl.columns[5] = status_column("Option<OrderStatus>", "OrderStatus");
        let m = run_with(&decl, Some(("users", &table)), &enums);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].message.contains("NOT NULL"), "{}", m[0].message);

        // An array field against a scalar column.
        decl.columns[5] = status_column("Vec<OrderStatus>", "OrderStatus[]");
        let m = run_with(&decl, Some(("users", &table)), &enums);
        assert!(m[0].message.contains("type mismatch"), "{}", m[0].message);
    }

    #[test]
    fn an_unknown_type_that_is_no_locked_enum_lists_the_supported_types() {
        let (mut decl, mut table) = locked_users();
        decl.columns.push(status_column("Money", "Money"));
        decl.columns[5].enum_type = Some("Money".into());
        table.columns.insert(
            "status".into(),
            crate::schema::Column {
                sql_type: "text".into(),
                nullable: false,
                default: None,
                generated: None,
            },
        );
        let m = run(&decl, Some(&table));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].field, Some(5));
        assert!(
            m[0].message
                .contains("`Money`, which has no Postgres column type"),
            "{}",
            m[0].message
        );
        assert!(
            m[0].help.contains("#[derive(Postgres::Enum)]"),
            "{}",
            m[0].help
        );
        assert!(m[0].help.contains("`DateTime<Utc>`"), "{}", m[0].help);
    }

    #[test]
    fn table_indexes_and_checks_are_compared_by_name_and_shape() {
        let (mut decl, _) = locked_users();
        decl.indexes.push(TableIndexDecl {
            columns: vec!["org_id".into(), "created_at".into()],
            unique: false,
            descending: vec!["created_at".into()],
        });
        decl.checks.push("length(email) > 3".into());
        let mut table = decl.to_table();
        assert!(run(&decl, Some(&table)).is_empty());

        // Postgres rewrites the expression; only the name matters.
        let name = check_name("users", "length(email) > 3");
        table
            .checks
            .insert(name.clone(), "CHECK ((length(email) > 3))".into());
        assert!(run(&decl, Some(&table)).is_empty());

        // A locked index that is not descending any more.
        let ix = table
            .indexes
            .get_mut("users_org_id_created_at_idx")
            .unwrap();
        ix.descending.clear();
        let m = run(&decl, Some(&table));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].message.contains("(org_id, created_at)")
                && m[0].message.contains("created_at DESC"),
            "{}",
            m[0].message
        );

        // Missing from the lock, and left over in it.
        let mut table = decl.to_table();
        table.checks.clear();
        table
            .checks
            .insert("users_check_0000".into(), "CHECK (true)".into());
        table.indexes.remove("users_email_key");
        let m = run(&decl, Some(&table));
        let text: Vec<&str> = m.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(m.len(), 3, "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.contains("`users_email_key` UNIQUE (email)")),
            "{text:?}"
        );
        assert_eq!(
            m.iter()
                .find(|m| m.message.contains("users_email_key"))
                .unwrap()
                .field,
            Some(1)
        );
        assert!(
            text.iter().any(|t| t.contains("CHECK (length(email) > 3)")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("`users_check_0000`")),
            "{text:?}"
        );
    }

    #[test]
    fn renames_not_yet_applied_are_named() {
        let (mut decl, table) = locked_users();
        decl.renamed_from = Some("people".into());
        let m = run_with(&decl, Some(("people", &table)), &BTreeMap::new());
        assert!(m[0].message.contains("still `people`"), "{}", m[0].message);

        let (mut decl, table) = locked_users();
        decl.columns[1].name = "mail".into();
        decl.columns[1].renamed_from = Some("email".into());
        decl.columns[1].index = None;
        let mut table = table;
        table.indexes.clear();
        let m = run(&decl, Some(&table));
        // One message at the field, not another for the old column left in the lock.
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].message.contains("still `email`"), "{}", m[0].message);
    }

    #[test]
    fn enums_against_the_lock() {
        let decl = EnumDecl {
            rust_name: "OrderStatus".into(),
            name: "order_status".into(),
            variants: vec!["pending".into(), "shipped".into()],
        };
        assert_eq!(enum_against_lock(&decl, Some(&decl.variants)), None);
        let m = enum_against_lock(&decl, None).unwrap();
        assert!(
            m.message
                .contains("`order_status` (enum `OrderStatus`) is not in"),
            "{}",
            m.message
        );
        let m = enum_against_lock(&decl, Some(&vec!["pending".into()])).unwrap();
        assert!(m.message.contains("('pending') in the locked schema, but enum `OrderStatus` declares ('pending', 'shipped')"), "{}", m.message);
        assert!(m.help.contains("cargo cell build"));
    }
}
