//! What the code declares: one [`TableDecl`] per `#[Postgres::table]` struct.
//!
//! This is what phase 1 records into the manifest and what the expansion generates code
//! from. [`TableDecl::to_table`] turns it into the desired [`Table`].

use serde::{Deserialize, Serialize};

use crate::ident;
use crate::schema::{Column, FkAction, ForeignKey, Index, Schema, Table};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDecl {
    /// The struct's name, for messages.
    pub rust_name: String,
    /// The table's name.
    pub name: String,
    /// In field order.
    pub columns: Vec<ColumnDecl>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDecl {
    /// The struct field (also the column name).
    pub name: String,
    /// The field's type as written, for messages (`Option<String>`).
    pub rust_type: String,
    pub sql_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_key: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexDecl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_key: Option<ForeignKeyDecl>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDecl {
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKeyDecl {
    pub table: String,
    pub column: String,
    #[serde(default)]
    pub on_delete: FkAction,
}

impl TableDecl {
    pub fn primary_key(&self) -> Option<&ColumnDecl> {
        self.columns.iter().find(|c| c.primary_key)
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDecl> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The name of a single-column index, as `CREATE UNIQUE` constraints would name it.
    pub fn index_name(&self, column: &str, unique: bool) -> String {
        let suffix = if unique { "key" } else { "idx" };
        ident::truncate(format!("{}_{}_{}", self.name, column, suffix))
    }

    pub fn foreign_key_name(&self, column: &str) -> String {
        ident::truncate(format!("{}_{}_fkey", self.name, column))
    }

    /// The table this declaration asks for.
    pub fn to_table(&self) -> Table {
        let mut table = Table::default();
        for c in &self.columns {
            table.columns.insert(
                c.name.clone(),
                Column {
                    sql_type: c.sql_type.clone(),
                    nullable: c.nullable,
                    default: c.default.clone(),
                },
            );
            if c.primary_key {
                table.primary_key.push(c.name.clone());
            }
            if let Some(ix) = c.index {
                table.indexes.insert(
                    self.index_name(&c.name, ix.unique),
                    Index {
                        columns: vec![c.name.clone()],
                        unique: ix.unique,
                    },
                );
            }
            if let Some(fk) = &c.foreign_key {
                table.foreign_keys.insert(
                    self.foreign_key_name(&c.name),
                    ForeignKey {
                        columns: vec![c.name.clone()],
                        references: fk.table.clone(),
                        ref_columns: vec![fk.column.clone()],
                        on_delete: fk.on_delete,
                    },
                );
            }
        }
        table
    }
}

/// The schema a set of declarations asks for.
pub fn desired_schema(decls: &[TableDecl]) -> Schema {
    Schema {
        tables: decls
            .iter()
            .map(|d| (d.name.clone(), d.to_table()))
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn column(name: &str, sql_type: &str) -> ColumnDecl {
        ColumnDecl {
            name: name.into(),
            rust_type: crate::types::rust_for_sql(sql_type).unwrap_or_default(),
            sql_type: sql_type.into(),
            nullable: false,
            primary_key: false,
            index: None,
            default: None,
            foreign_key: None,
        }
    }

    /// The walking skeleton's `users` and `organizations`.
    pub fn users() -> Vec<TableDecl> {
        let orgs = TableDecl {
            rust_name: "Organization".into(),
            name: "organizations".into(),
            columns: vec![
                ColumnDecl {
                    primary_key: true,
                    ..column("id", "uuid")
                },
                column("name", "text"),
            ],
        };
        let users = TableDecl {
            rust_name: "User".into(),
            name: "users".into(),
            columns: vec![
                ColumnDecl {
                    primary_key: true,
                    ..column("id", "uuid")
                },
                ColumnDecl {
                    index: Some(IndexDecl { unique: true }),
                    ..column("email", "text")
                },
                ColumnDecl {
                    default: Some("NOW()".into()),
                    ..column("created_at", "timestamp with time zone")
                },
                ColumnDecl {
                    foreign_key: Some(ForeignKeyDecl {
                        table: "organizations".into(),
                        column: "id".into(),
                        on_delete: FkAction::Cascade,
                    }),
                    ..column("org_id", "uuid")
                },
                ColumnDecl {
                    nullable: true,
                    ..column("nickname", "text")
                },
            ],
        };
        vec![users, orgs]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_table_has_keys_indexes_and_foreign_keys() {
        let decls = fixtures::users();
        let users = decls[0].to_table();
        assert_eq!(users.primary_key, vec!["id"]);
        assert_eq!(
            users.indexes["users_email_key"],
            Index {
                columns: vec!["email".into()],
                unique: true
            }
        );
        let fk = &users.foreign_keys["users_org_id_fkey"];
        assert_eq!(fk.references, "organizations");
        assert_eq!(fk.on_delete, FkAction::Cascade);
        assert!(users.columns["nickname"].nullable);
        assert_eq!(
            users.columns["created_at"].default.as_deref(),
            Some("NOW()")
        );
    }

    #[test]
    fn decls_round_trip_through_json() {
        let decls = fixtures::users();
        let json = serde_json::to_string(&decls).unwrap();
        let back: Vec<TableDecl> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, decls);
    }
}
