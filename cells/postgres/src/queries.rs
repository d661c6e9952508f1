//! Checked queries: `query!`, `query_as!` and `#[Postgres::query]`.
//!
//! A query flows through the same stages as a table, with Postgres as the type checker:
//! the macro records a [`QueryDecl`] in phase 1 → `cargo cell build` prepares each statement
//! on the dev Cell after the schema is applied (`describe`, feature `live`) → the result,
//! with nullability worked out from the statement and the schema ([`nullability`]), goes to
//! `.cell/postgres.queries.lock.json` ([`QueriesLock`]) → the macro expands against that lock
//! with no database (`expand`, feature `macros`).
//!
//! Everything here is pure; the lock is keyed by [`statement_hash`] of the text as written,
//! so an edited statement is a different query until `cargo cell build` describes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use cell_core::lockfile::{LockError, LockFile};

#[cfg(feature = "macros")]
pub mod expand;
#[cfg(feature = "live")]
pub mod nullability;

/// The lock file's name inside `.cell/`.
pub const QUERIES_LOCK_FILE: &str = "postgres.queries.lock.json";

pub const QUERIES_LOCK_VERSION: u32 = 1;

/// What the phase-1 expansion of a `query!` not (yet) in the lock says (see
/// [`cell_core::PENDING_MARKER`]).
pub use cell_core::PENDING_MARKER;

/// One statement as the code writes it, recorded in phase 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryDecl {
    /// [`statement_hash`] of `sql`.
    pub hash: String,
    pub sql: String,
    /// Where it is written: `src/lib.rs:12` (relative to its crate), for messages.
    pub site: String,
    /// `query!`, `query_as!(Type, ..)`, `#[Postgres::query] fn name`.
    pub form: String,
}

/// The hash a query is locked under: the statement's text exactly as written.
pub fn statement_hash(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    hex::encode(&digest[..8])
}

/// `.cell/postgres.queries.lock.json`: what Postgres said of every recorded statement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueriesLock {
    pub version: u32,
    /// By [`statement_hash`].
    pub queries: BTreeMap<String, LockedQuery>,
}

impl LockFile for QueriesLock {
    const VERSION: u32 = QUERIES_LOCK_VERSION;
    const CELL: &'static str = "Postgres queries";

    fn validate(&self) -> Result<(), String> {
        for (hash, q) in &self.queries {
            if statement_hash(&q.sql) != *hash {
                return Err(format!(
                    "the query locked as `{hash}` has another text's hash (edited by hand?)"
                ));
            }
        }
        Ok(())
    }
}

/// One statement as Postgres described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedQuery {
    pub sql: String,
    /// Where the code writes it (every place, sorted).
    pub sites: Vec<String>,
    #[serde(flatten)]
    pub described: Described,
}

/// What preparing the statement gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Described {
    /// Postgres accepted it.
    Ok {
        /// `$1`, `$2`, ... in order.
        params: Vec<PgType>,
        columns: Vec<Column>,
        /// The table columns it reads (`table.column`), so a plan can tell which schema
        /// changes break it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        uses: Vec<String>,
        /// Tables it names.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tables: Vec<String>,
    },
    /// Postgres refused it: the macro turns this into a compile error at the literal.
    Rejected {
        message: String,
        /// 1-based character position in the text, as Postgres gives it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
}

/// A Postgres type as `pg_type` names it (`int8`, `timestamptz`, `_text` for `text[]`),
/// with whether it is an enum (the Rust type then comes from an override or the enum's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgType {
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_enum: bool,
}

impl PgType {
    pub fn new(name: &str) -> PgType {
        PgType {
            name: name.to_string(),
            is_enum: false,
        }
    }
}

/// One result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The name Postgres gives it, overrides included (`customers!`).
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PgType,
    pub nullable: bool,
}

/// A column name with sqlx's override syntax taken apart: `name!` (never NULL), `name?`
/// (may be NULL), `name: Type` (this Rust type), `name!: Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnName {
    pub field: String,
    pub nullable: Option<bool>,
    pub rust_type: Option<String>,
}

impl ColumnName {
    pub fn parse(name: &str) -> ColumnName {
        let (head, rust_type) = match name.split_once(':') {
            Some((h, t)) => (h.trim(), Some(t.trim().to_string())),
            None => (name.trim(), None),
        };
        let (field, nullable) = if let Some(f) = head.strip_suffix('!') {
            (f, Some(false))
        } else if let Some(f) = head.strip_suffix('?') {
            (f, Some(true))
        } else {
            (head, None)
        };
        ColumnName {
            field: field.trim().to_string(),
            nullable,
            rust_type: rust_type.filter(|t| !t.is_empty()),
        }
    }
}

/// The Rust type a Postgres type decodes to, as a path from the application's point of view
/// (`::cell_runtime::__private::` prefixes are the expansion's business); `None` for a type
/// without a mapping (an enum, a domain): the column then needs a `name: Type` override.
pub fn rust_type_of(pg: &PgType) -> Option<String> {
    if pg.is_enum {
        return None;
    }
    if let Some(elem) = pg.name.strip_prefix('_') {
        let inner = rust_type_of(&PgType::new(elem))?;
        return Some(format!("Vec<{inner}>"));
    }
    let t = match pg.name.as_str() {
        "bool" => "bool",
        "int2" => "i16",
        "int4" => "i32",
        "int8" => "i64",
        "float4" => "f32",
        "float8" => "f64",
        "text" | "varchar" | "bpchar" | "name" | "citext" => "String",
        "uuid" => "Uuid",
        "timestamptz" => "DateTime<Utc>",
        "timestamp" => "NaiveDateTime",
        "date" => "NaiveDate",
        "time" => "NaiveTime",
        "numeric" => "Decimal",
        "json" | "jsonb" => "JsonValue",
        "bytea" => "Vec<u8>",
        "oid" => "u32",
        "char" => "i8",
        _ => return None,
    };
    Some(t.to_string())
}

/// The plan's steps that would break a query the code still runs: a dropped or renamed
/// table it names, a dropped, renamed or retyped column it mentions. Each is a refusal (not
/// one `--allow-destructive` lifts: the query would fail at run time) naming the query and
/// where the code writes it. `recorded` are the code's queries now; a query whose text
/// changed is another statement, so changing it lets the plan through.
pub fn broken_by(
    steps: &[crate::plan::Step],
    lock: &QueriesLock,
    recorded: &[QueryDecl],
) -> Vec<crate::safety::Refusal> {
    use crate::plan::Step;
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        // What the step takes away: a table (`None` column) or one of its columns.
        let (what, table, column): (String, &str, Option<&str>) = match step {
            Step::DropTable { table } => (format!("dropping table `{table}`"), table, None),
            Step::RenameTable { from, to } => {
                (format!("renaming table `{from}` to `{to}`"), from, None)
            }
            Step::DropColumn { table, column, .. } => (
                format!("dropping column `{table}.{column}`"),
                table,
                Some(column),
            ),
            Step::RenameColumn { table, from, to } => (
                format!("renaming column `{table}.{from}` to `{to}`"),
                table,
                Some(from),
            ),
            Step::AlterType {
                table,
                column,
                from,
                to,
            } => (
                format!("changing the type of `{table}.{column}` from {from} to {to}"),
                table,
                Some(column),
            ),
            _ => continue,
        };
        let hit = |d: &Described| match column {
            None => names_table(d, table),
            Some(column) => uses(d, table, column),
        };
        for (hash, locked) in &lock.queries {
            if !hit(&locked.described) {
                continue;
            }
            let sites: Vec<&QueryDecl> = recorded.iter().filter(|d| d.hash == *hash).collect();
            if sites.is_empty() {
                continue;
            }
            let at = sites
                .iter()
                .map(|d| format!("{} at {}", d.form, d.site))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(crate::safety::Refusal {
                step: i,
                message: format!(
                    "{what} breaks the query {at}: `{}`",
                    abbreviate(&locked.sql)
                ),
                help: "change or remove the query first (`cargo cell build` describes it again against the new schema); then the plan goes through".into(),
                overridable: false,
            });
        }
    }
    out
}

/// How many of `recorded` the lock does not describe, or describes as refused (see
/// `Cell::waiting`).
pub fn waiting(recorded: &[QueryDecl], lock: Option<&QueriesLock>) -> usize {
    recorded
        .iter()
        .filter(|q| {
            lock.and_then(|l| l.queries.get(&q.hash))
                .is_none_or(|l| matches!(l.described, Described::Rejected { .. }))
        })
        .count()
}

/// `cargo cell check`: every query the code runs against the locks, with no database. A
/// query missing from the queries lock (new, or edited), one Postgres refused, and one
/// reading a column of a locked table that the schema lock no longer has are problems, one
/// line each.
pub fn check_against(
    recorded: &[QueryDecl],
    lock: Option<&QueriesLock>,
    tables: &BTreeMap<String, crate::schema::Table>,
) -> Vec<String> {
    let mut out = Vec::new();
    for d in recorded {
        let at = format!("{} at {}", d.form, d.site);
        match lock.and_then(|l| l.queries.get(&d.hash)) {
            None => out.push(format!(
                "{at} is not in .cell/{QUERIES_LOCK_FILE} (new, or its text changed): run `cargo cell build`"
            )),
            Some(LockedQuery {
                described: Described::Rejected { message, .. },
                ..
            }) => out.push(format!("{at}: Postgres refuses it: {message}")),
            Some(LockedQuery {
                described: Described::Ok { uses, .. },
                ..
            }) => {
                for used in uses {
                    let Some((table, column)) = used.split_once('.') else {
                        continue;
                    };
                    if let Some(t) = tables.get(table)
                        && !t.columns.contains_key(column)
                    {
                        out.push(format!(
                            "{at} uses `{used}`, which .cell/postgres.lock.json does not have"
                        ));
                    }
                }
            }
        }
    }
    out
}

fn names_table(d: &Described, table: &str) -> bool {
    matches!(d, Described::Ok { tables, .. } if tables.iter().any(|t| t == table))
}

fn uses(d: &Described, table: &str, column: &str) -> bool {
    let key = format!("{table}.{column}");
    matches!(d, Described::Ok { uses, .. } if uses.contains(&key))
}

/// The statement on one line, cut to 60 characters.
fn abbreviate(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 60 {
        one_line
    } else {
        format!("{}...", one_line.chars().take(57).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn check_finds_missing_refused_and_stale_queries() {
        let ok = "SELECT name FROM customers";
        let bad = "SELECT nmae FROM customers";
        let mut lock = QueriesLock::default();
        lock.queries.insert(
            statement_hash(ok),
            LockedQuery {
                sql: ok.into(),
                sites: vec![],
                described: Described::Ok {
                    params: vec![],
                    columns: vec![],
                    uses: vec!["customers.name".into(), "a_view.x".into()],
                    tables: vec!["customers".into()],
                },
            },
        );
        lock.queries.insert(
            statement_hash(bad),
            LockedQuery {
                sql: bad.into(),
                sites: vec![],
                described: Described::Rejected {
                    message: "column \"nmae\" does not exist".into(),
                    position: Some(8),
                    hint: None,
                },
            },
        );
        let decl = |sql: &str, line: u32| QueryDecl {
            hash: statement_hash(sql),
            sql: sql.into(),
            site: format!("src/lib.rs:{line}"),
            form: "query!".into(),
        };
        let recorded = vec![decl(ok, 1), decl(bad, 2), decl("SELECT 3", 3)];
        let mut tables = BTreeMap::new();
        tables.insert("customers".to_string(), crate::schema::Table::default());
        let problems = check_against(&recorded, Some(&lock), &tables);
        assert_eq!(
            problems,
            [
                "query! at src/lib.rs:1 uses `customers.name`, which .cell/postgres.lock.json does not have",
                "query! at src/lib.rs:2: Postgres refuses it: column \"nmae\" does not exist",
                "query! at src/lib.rs:3 is not in .cell/postgres.queries.lock.json (new, or its text changed): run `cargo cell build`",
            ]
        );
    }

    #[test]
    fn a_plan_that_breaks_a_recorded_query_is_refused_with_its_place() {
        use crate::plan::Step;
        let sql = "SELECT c.name FROM customers c WHERE c.org_id = $1";
        let mut lock = QueriesLock::default();
        lock.queries.insert(
            statement_hash(sql),
            LockedQuery {
                sql: sql.into(),
                sites: vec!["src/old.rs:1".into()],
                described: Described::Ok {
                    params: vec![PgType::new("int8")],
                    columns: vec![],
                    uses: vec!["customers.name".into(), "customers.org_id".into()],
                    tables: vec!["customers".into()],
                },
            },
        );
        let recorded = vec![QueryDecl {
            hash: statement_hash(sql),
            sql: sql.into(),
            site: "src/lib.rs:40".into(),
            form: "query!".into(),
        }];
        let steps = vec![
            Step::DropColumn {
                table: "customers".into(),
                column: "org_id".into(),
                derived: false,
            },
            Step::DropColumn {
                table: "customers".into(),
                column: "email".into(),
                derived: false,
            },
            Step::DropTable {
                table: "customers".into(),
            },
        ];
        let refused = broken_by(&steps, &lock, &recorded);
        let messages: Vec<&str> = refused.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "dropping column `customers.org_id` breaks the query query! at src/lib.rs:40: `SELECT c.name FROM customers c WHERE c.org_id = $1`",
                "dropping table `customers` breaks the query query! at src/lib.rs:40: `SELECT c.name FROM customers c WHERE c.org_id = $1`",
            ]
        );
        assert_eq!(refused[0].step, 0);
        assert!(!refused[0].overridable);
        // The query changed in the code: it is another statement, the plan goes through.
        assert!(broken_by(&steps, &lock, &[]).is_empty());
    }

    #[test]
    fn overrides_are_taken_apart() {
        assert_eq!(
            ColumnName::parse("customers!"),
            ColumnName {
                field: "customers".into(),
                nullable: Some(false),
                rust_type: None
            }
        );
        assert_eq!(ColumnName::parse("total?").nullable, Some(true));
        let c = ColumnName::parse("status!: OrderStatus");
        assert_eq!(
            (c.field.as_str(), c.nullable, c.rust_type.as_deref()),
            ("status", Some(false), Some("OrderStatus"))
        );
        let c = ColumnName::parse("slug");
        assert_eq!((c.nullable, c.rust_type), (None, None));
    }

    #[test]
    fn types_map_and_arrays_nest() {
        assert_eq!(rust_type_of(&PgType::new("int8")).as_deref(), Some("i64"));
        assert_eq!(
            rust_type_of(&PgType::new("_text")).as_deref(),
            Some("Vec<String>")
        );
        assert_eq!(rust_type_of(&PgType::new("tsvector")), None);
        let e = PgType {
            name: "order_status".into(),
            is_enum: true,
        };
        assert_eq!(rust_type_of(&e), None);
    }

    #[test]
    fn lock_round_trips_and_checks_its_hashes() {
        let sql = "SELECT 1 AS one";
        let mut lock = QueriesLock {
            version: QUERIES_LOCK_VERSION,
            queries: BTreeMap::new(),
        };
        lock.queries.insert(
            statement_hash(sql),
            LockedQuery {
                sql: sql.into(),
                sites: vec!["src/lib.rs:3".into()],
                described: Described::Ok {
                    params: vec![],
                    columns: vec![Column {
                        name: "one".into(),
                        ty: PgType::new("int4"),
                        nullable: false,
                    }],
                    uses: vec![],
                    tables: vec![],
                },
            },
        );
        let bytes = lock.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"ok\""), "{text}");
        assert_eq!(QueriesLock::parse(&bytes, Path::new("q")).unwrap(), lock);

        let edited = text.replace("SELECT 1 AS one", "SELECT 2 AS one");
        let err = QueriesLock::parse(edited.as_bytes(), Path::new("q")).unwrap_err();
        assert!(matches!(err, LockError::Inconsistent { .. }), "{err}");
    }

    #[test]
    fn the_hash_is_of_the_text_as_written() {
        assert_eq!(statement_hash("SELECT 1"), statement_hash("SELECT 1"));
        assert_ne!(statement_hash("SELECT 1"), statement_hash("SELECT  1"));
        assert_eq!(statement_hash("x").len(), 16);
    }
}
