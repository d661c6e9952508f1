//! What the code declares: one [`TableDecl`] per `#[Postgres::table]` struct.
//!
//! This is what phase 1 records into the manifest and what the expansion generates code
//! from. [`TableDecl::to_table`] turns it into the desired [`Table`].

use serde::{Deserialize, Serialize};

use cell_search::{SearchDecl, TRIGRAM_EXTENSION, VECTOR_COLUMN};

use crate::ident;
use crate::schema::{Column, FkAction, ForeignKey, Index, Renames, Schema, Table};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDecl {
    /// The struct's name, for messages.
    pub rust_name: String,
    /// The table's name.
    pub name: String,
    /// In field order.
    pub columns: Vec<ColumnDecl>,
    /// `#[Postgres::renamed_from("old")]` on the struct: the table's previous name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Table-level indexes and unique constraints (`indexes = [...]`), single- or
    /// multi-column. Field-level `#[Postgres::index]` stays on [`ColumnDecl::index`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<TableIndexDecl>,
    /// CHECK expressions as written, on the struct or on a field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// `#[Search::index(...)]` on the struct: a generated `tsvector` column and its indexes
    /// (see [`TableDecl::to_table`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchDecl>,
}

/// An index declared on the table: `("email", unique = true)`, `("org_id", "created_at")`,
/// `("created_at", descending = true)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIndexDecl {
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// The columns (of `columns`) sorted descending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descending: Vec<String>,
}

/// A Rust enum mapped to a Postgres enum type (`#[derive(Postgres::Enum)]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumDecl {
    /// The enum's Rust name, which columns refer to.
    pub rust_name: String,
    /// The Postgres type's name.
    pub name: String,
    /// Labels in declaration order.
    pub variants: Vec<String>,
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
    /// `#[Postgres::renamed_from("old")]` on the field: the column's previous name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The Rust name of the enum this column holds (`#[derive(Postgres::Enum)]`); its
    /// `sql_type` is that enum's Postgres name once resolved. The table macro cannot see the
    /// enum, so until [`resolve_enums`] runs `sql_type` is the Rust name as a placeholder
    /// (`OrderStatus`, or `OrderStatus[]` for a `Vec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enum_type: Option<String>,
    /// `#[Postgres::encrypted]`: stored as `bytea`, AES-256-GCM under the column's data key,
    /// bound to its table, column and row (`cell_security::crypto`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
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

    /// The name of a table-level index: `{table}_{col1}_{col2}_key|_idx`.
    pub fn table_index_name(&self, index: &TableIndexDecl) -> String {
        let suffix = if index.unique { "key" } else { "idx" };
        ident::truncate(format!(
            "{}_{}_{}",
            self.name,
            index.columns.join("_"),
            suffix
        ))
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
                    generated: None,
                },
            );
            if c.primary_key {
                table.primary_key.push(c.name.clone());
            }
            // An encrypted field's index is over its blind index, in a column beside it.
            let indexed = if c.encrypted && c.index.is_some() {
                let sidecar = blind_index_column(&c.name);
                table.columns.insert(
                    sidecar.clone(),
                    Column {
                        sql_type: "bytea".into(),
                        nullable: true,
                        default: None,
                        generated: None,
                    },
                );
                sidecar
            } else {
                c.name.clone()
            };
            if let Some(ix) = c.index {
                table.indexes.insert(
                    self.index_name(&c.name, ix.unique),
                    Index {
                        columns: vec![indexed],
                        unique: ix.unique,
                        ..Index::default()
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
        for ix in &self.indexes {
            table.indexes.insert(
                self.table_index_name(ix),
                Index {
                    columns: ix.columns.clone(),
                    unique: ix.unique,
                    descending: ix.descending.clone(),
                    ..Index::default()
                },
            );
        }
        for expr in &self.checks {
            table
                .checks
                .insert(check_name(&self.name, expr), expr.clone());
        }
        if let Some(search) = &self.search {
            add_search(&mut table, &self.name, search);
        }
        table
    }

    /// The extensions this table's objects need.
    pub fn extensions(&self) -> impl Iterator<Item = &'static str> {
        self.search
            .as_ref()
            .filter(|s| s.fuzzy)
            .map(|_| TRIGRAM_EXTENSION)
            .into_iter()
    }
}

/// The column holding the blind index of encrypted field `column` (an HMAC-SHA256 of its
/// value, `cell_crypto::IndexKey`), when the field is `index` or `unique`.
pub fn blind_index_column(column: &str) -> String {
    ident::truncate(format!("{column}_bidx"))
}

/// `#[Search::index]`'s objects: the stored generated `tsvector` column, its GIN index, and
/// with `fuzzy` a trigram GIN index per field (`gin_trgm_ops`, from `pg_trgm`).
fn add_search(table: &mut Table, name: &str, search: &SearchDecl) {
    table.columns.insert(
        VECTOR_COLUMN.to_string(),
        Column {
            sql_type: "tsvector".into(),
            nullable: true,
            default: None,
            generated: Some(search.vector_sql()),
        },
    );
    table.indexes.insert(
        SearchDecl::index_name(name),
        Index {
            columns: vec![VECTOR_COLUMN.to_string()],
            using: Some("gin".into()),
            ..Index::default()
        },
    );
    if search.fuzzy {
        for field in &search.fields {
            table.indexes.insert(
                SearchDecl::trigram_index_name(name, field),
                Index {
                    columns: vec![field.clone()],
                    using: Some("gin".into()),
                    opclass: Some("gin_trgm_ops".into()),
                    ..Index::default()
                },
            );
        }
    }
}

/// A CHECK constraint's name: the table and a short hash of the expression as written, so
/// an edited expression is a new constraint (drop the old, add the new) and an unchanged
/// one is recognised without comparing Postgres' rewritten text.
pub fn check_name(table: &str, expr: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(expr.trim().as_bytes());
    let hash = hex::encode(&digest[..4]);
    ident::truncate(format!("{table}_check_{hash}"))
}

/// An enum column whose Rust type names no `#[derive(Postgres::Enum)]` enum (or more than one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedEnum {
    /// The table's name and struct.
    pub table: String,
    pub rust_struct: String,
    /// The column (= field) name.
    pub column: String,
    /// The field's type as written (`Option<OrderStatus>`).
    pub rust_type: String,
    /// The enum's Rust name (`OrderStatus`).
    pub enum_name: String,
    /// The Postgres enum types of that Rust name: empty when none, two or more when
    /// ambiguous.
    pub candidates: Vec<String>,
}

impl std::fmt::Display for UnresolvedEnum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.candidates.is_empty() {
            write!(
                f,
                "field `{}.{}` (column `{}.{}`) has type `{}`, which has no Postgres column type, and no `{}` enum derives `Postgres::Enum`",
                self.rust_struct,
                self.column,
                self.table,
                self.column,
                self.rust_type,
                self.enum_name
            )
        } else {
            write!(
                f,
                "field `{}.{}` has type `{}`, but more than one enum named `{}` derives `Postgres::Enum` (Postgres types {})",
                self.rust_struct,
                self.column,
                self.rust_type,
                self.enum_name,
                self.candidates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

impl UnresolvedEnum {
    /// How to fix it.
    pub fn help(&self) -> String {
        if self.candidates.is_empty() {
            format!(
                "add `#[derive(Postgres::Enum)]` to `enum {}`, or use a supported type: {}",
                self.enum_name,
                crate::types::supported_types()
            )
        } else {
            format!(
                "rename one of the Rust enums `{}`: columns find their enum by its Rust name",
                self.enum_name
            )
        }
    }
}

/// Points every enum column at its Postgres enum type: `sql_type` becomes the enum's
/// Postgres name (`order_status`, `order_status[]`). Idempotent. Columns whose enum is
/// unknown (no `#[derive(Postgres::Enum)]` of that Rust name was recorded) or ambiguous are
/// all returned, so the caller can report each at once.
pub fn resolve_enums(
    decls: &mut [TableDecl],
    enums: &[EnumDecl],
) -> Result<(), Vec<UnresolvedEnum>> {
    let mut unresolved = Vec::new();
    for decl in decls.iter_mut() {
        for col in &mut decl.columns {
            let Some(rust) = &col.enum_type else { continue };
            let mut candidates: Vec<&EnumDecl> =
                enums.iter().filter(|e| &e.rust_name == rust).collect();
            candidates.dedup_by(|a, b| a.name == b.name);
            match candidates.as_slice() {
                [one] => {
                    let suffix = if col.sql_type.ends_with("[]") {
                        "[]"
                    } else {
                        ""
                    };
                    col.sql_type = format!("{}{suffix}", one.name);
                }
                _ => unresolved.push(UnresolvedEnum {
                    table: decl.name.clone(),
                    rust_struct: decl.rust_name.clone(),
                    column: col.name.clone(),
                    rust_type: col.rust_type.clone(),
                    enum_name: rust.clone(),
                    candidates: candidates.iter().map(|e| e.name.clone()).collect(),
                }),
            }
        }
    }
    if unresolved.is_empty() {
        Ok(())
    } else {
        Err(unresolved)
    }
}

/// Everything the code asks of the database: the schema and the renames that lead to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub schema: Schema,
    pub renames: Renames,
}

/// The desired schema and renames of a set of declarations. Enum columns must already be
/// resolved (`sql_type` set to the enum's Postgres name).
pub fn desired(decls: &[TableDecl], enums: &[EnumDecl]) -> Desired {
    let mut out = Desired {
        schema: desired_schema(decls),
        renames: Renames::default(),
    };
    out.schema.enums = enums
        .iter()
        .map(|e| (e.name.clone(), e.variants.clone()))
        .collect();
    for d in decls {
        if let Some(old) = &d.renamed_from {
            out.renames.tables.insert(d.name.clone(), old.clone());
        }
        for c in &d.columns {
            if let Some(old) = &c.renamed_from {
                out.renames
                    .columns
                    .entry(d.name.clone())
                    .or_default()
                    .insert(c.name.clone(), old.clone());
            }
        }
    }
    out
}

/// The schema a set of declarations asks for.
pub fn desired_schema(decls: &[TableDecl]) -> Schema {
    Schema {
        tables: decls
            .iter()
            .map(|d| (d.name.clone(), d.to_table()))
            .collect(),
        enums: Default::default(),
        extensions: decls
            .iter()
            .flat_map(TableDecl::extensions)
            .map(str::to_string)
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
            renamed_from: None,
            enum_type: None,
            encrypted: false,
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
            renamed_from: None,
            indexes: Vec::new(),
            checks: Vec::new(),
            search: None,
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
            renamed_from: None,
            indexes: Vec::new(),
            checks: Vec::new(),
            search: None,
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
                unique: true,
                descending: vec![],
                opclass: None,
                using: None,
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

    fn status_enum() -> EnumDecl {
        EnumDecl {
            rust_name: "OrderStatus".into(),
            name: "order_status".into(),
            variants: vec!["pending".into(), "shipped".into()],
        }
    }

    fn orders(status: ColumnDecl) -> TableDecl {
        TableDecl {
            rust_name: "Order".into(),
            name: "orders".into(),
            columns: vec![
                ColumnDecl {
                    primary_key: true,
                    ..fixtures::column("id", "bigint")
                },
                status,
            ],
            renamed_from: None,
            indexes: vec![],
            checks: vec![],
            search: None,
        }
    }

    fn enum_column(name: &str, rust: &str, placeholder: &str) -> ColumnDecl {
        ColumnDecl {
            rust_type: rust.into(),
            enum_type: Some("OrderStatus".into()),
            encrypted: false,
            ..fixtures::column(name, placeholder)
        }
    }

    #[test]
    fn resolve_enums_sets_the_postgres_type() {
        let mut decls = vec![orders(enum_column("status", "OrderStatus", "OrderStatus"))];
        decls[0]
            .columns
            .push(enum_column("history", "Vec<OrderStatus>", "OrderStatus[]"));
        resolve_enums(&mut decls, &[status_enum()]).unwrap();
        assert_eq!(decls[0].columns[1].sql_type, "order_status");
        assert_eq!(decls[0].columns[2].sql_type, "order_status[]");
        // Plain columns are untouched, and resolving again changes nothing.
        assert_eq!(decls[0].columns[0].sql_type, "bigint");
        let before = decls.clone();
        resolve_enums(&mut decls, &[status_enum()]).unwrap();
        assert_eq!(decls, before);
        let d = desired(&decls, &[status_enum()]);
        assert_eq!(d.schema.enums["order_status"], vec!["pending", "shipped"]);
        assert_eq!(
            d.schema.tables["orders"].columns["history"].sql_type,
            "order_status[]"
        );
    }

    #[test]
    fn resolve_enums_reports_every_unknown_and_ambiguous_enum() {
        let mut decls = vec![orders(enum_column(
            "status",
            "Option<OrderStatus>",
            "OrderStatus",
        ))];
        let err = resolve_enums(&mut decls, &[]).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(
            (
                err[0].table.as_str(),
                err[0].column.as_str(),
                err[0].rust_type.as_str()
            ),
            ("orders", "status", "Option<OrderStatus>")
        );
        assert!(err[0].candidates.is_empty());
        let text = err[0].to_string();
        assert!(
            text.contains("`Order.status`") && text.contains("no `OrderStatus` enum"),
            "{text}"
        );
        assert!(err[0].help().contains("#[derive(Postgres::Enum)]"));

        let other = EnumDecl {
            name: "legacy_status".into(),
            ..status_enum()
        };
        let err = resolve_enums(&mut decls, &[status_enum(), other]).unwrap_err();
        assert_eq!(err[0].candidates, vec!["order_status", "legacy_status"]);
        assert!(err[0].to_string().contains("more than one"), "{}", err[0]);
    }

    #[test]
    fn table_level_indexes_checks_and_renames_reach_the_schema() {
        let mut decl = fixtures::users().remove(0);
        decl.renamed_from = Some("people".into());
        decl.columns[4].renamed_from = Some("nick".into());
        decl.indexes = vec![
            TableIndexDecl {
                columns: vec!["org_id".into(), "created_at".into()],
                unique: false,
                descending: vec!["created_at".into()],
            },
            TableIndexDecl {
                columns: vec!["org_id".into(), "nickname".into()],
                unique: true,
                descending: vec![],
            },
        ];
        decl.checks = vec!["length(email) > 3".into()];
        let d = desired(std::slice::from_ref(&decl), &[]);
        let users = &d.schema.tables["users"];
        assert_eq!(
            users.indexes["users_org_id_created_at_idx"].descending,
            vec!["created_at"]
        );
        assert!(users.indexes["users_org_id_nickname_key"].unique);
        assert_eq!(
            users.checks[&check_name("users", "length(email) > 3")],
            "length(email) > 3"
        );
        assert_eq!(d.renames.tables["users"], "people");
        assert_eq!(d.renames.columns["users"]["nickname"], "nick");
    }

    #[test]
    fn fingerprints_of_plain_tables_do_not_change() {
        // The new fields are skipped when empty, so a table using none of them serialises
        // (and so fingerprints) exactly as before they existed.
        let table = fixtures::users().remove(0).to_table();
        let json = serde_json::to_string(&table).unwrap();
        assert!(
            !json.contains("checks") && !json.contains("descending"),
            "{json}"
        );
        let decl = serde_json::to_string(&fixtures::users()[0]).unwrap();
        for key in ["renamed_from", "enum_type", "\"indexes\"", "checks"] {
            assert!(!decl.contains(key), "{key} in {decl}");
        }
    }

    #[test]
    fn decls_round_trip_through_json() {
        let decls = fixtures::users();
        let json = serde_json::to_string(&decls).unwrap();
        let back: Vec<TableDecl> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, decls);
    }
}
