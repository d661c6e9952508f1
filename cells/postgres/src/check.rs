//! Code against lock: what the expansion reports when a struct and the locked schema
//! disagree. Pure; the macro attaches each [`Mismatch`] to the span of its field.

use crate::declare::TableDecl;
use crate::schema::Table;
use crate::types;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The field it is about (index into `TableDecl::columns`), or `None` for the struct.
    pub field: Option<usize>,
    pub message: String,
    pub help: String,
}

const HELP_BUILD: &str = "run `cargo cell build` to apply the change to the dev Cell and update the lock \
     (`cargo cell plan` previews it)";

/// Everything that would make the generated code wrong against `locked`, the lock's entry
/// for this table (`None` when the lock does not list it).
pub fn against_lock(decl: &TableDecl, locked: Option<&Table>) -> Vec<Mismatch> {
    let Some(locked) = locked else {
        return vec![Mismatch {
            field: None,
            message: format!(
                "table `{}` (struct `{}`) is not in .cell/postgres.lock.json",
                decl.name, decl.rust_name
            ),
            help: HELP_BUILD.to_string(),
        }];
    };
    let mut out = Vec::new();
    for (i, col) in decl.columns.iter().enumerate() {
        let Some(live) = locked.columns.get(&col.name) else {
            out.push(Mismatch {
                field: Some(i),
                message: format!(
                    "column `{}.{}` does not exist in the locked schema",
                    decl.name, col.name
                ),
                help: HELP_BUILD.to_string(),
            });
            continue;
        };
        if live.sql_type != col.sql_type {
            let suggestion = types::rust_for_sql(&live.sql_type)
                .map(|r| {
                    let r = if live.nullable {
                        format!("Option<{r}>")
                    } else {
                        r
                    };
                    format!("declare the field as `{r}` to match the database, or ")
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
        } else if live.nullable != col.nullable {
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
        if decl.column(name).is_none() && !live.nullable && live.default.is_none() {
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{ColumnDecl, fixtures};

    fn locked_users() -> (TableDecl, Table) {
        let decl = fixtures::users().remove(0);
        let table = decl.to_table();
        (decl, table)
    }

    #[test]
    fn matching_lock_has_no_mismatch() {
        let (decl, table) = locked_users();
        assert!(against_lock(&decl, Some(&table)).is_empty());
    }

    #[test]
    fn table_missing_from_lock() {
        let (decl, _) = locked_users();
        let m = against_lock(&decl, None);
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
        let m = against_lock(&decl, Some(&table));
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
            ..fixtures::column("email", "bigint")
        };
        let m = against_lock(&decl, Some(&table));
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
        let m = against_lock(&decl, Some(&table));
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
        let m = against_lock(&decl, Some(&table));
        assert_eq!(m.len(), 1);
        assert!(m[0].message.contains("`users.email`"), "{}", m[0].message);
        // A nullable column left behind is harmless.
        let (mut decl, table) = locked_users();
        decl.columns.retain(|c| c.name != "nickname");
        assert!(against_lock(&decl, Some(&table)).is_empty());
    }
}
