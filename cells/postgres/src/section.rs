//! The Postgres Cell's section of the manifest: the `#[Postgres::table]` structs (key
//! `postgres`, always written), the `#[derive(Postgres::Enum)]` types (key
//! `postgres_enums`, left out when empty), each sorted by its Postgres name and each once,
//! and the checked queries (key `postgres_queries`, left out when empty), one entry per
//! statement and place it is written.

use std::any::Any;

use cell_core::cell::{decode, insert_sorted};
use cell_core::{CellError, Section};

use crate::declare::{EnumDecl, TableDecl};
use crate::error::PostgresError;
use crate::queries::QueryDecl;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostgresSection {
    /// Sorted by table name; each table once.
    pub tables: Vec<TableDecl>,
    /// Which crate declared each table (parallel to `tables`), for messages.
    pub origins: Vec<String>,
    /// Sorted by Postgres name; each once.
    pub enums: Vec<EnumDecl>,
    /// `query!`, `query_as!`, `#[Postgres::query]`: sorted by hash and place; each once.
    pub queries: Vec<QueryDecl>,
}

impl PostgresSection {
    pub fn add_table(&mut self, decl: TableDecl, origin: &str) -> Result<(), CellError> {
        match self.tables.binary_search_by(|d| d.name.cmp(&decl.name)) {
            // The same source is compiled in several units (lib, its tests): same declaration.
            Ok(i) if self.tables[i] == decl => Ok(()),
            Ok(i) => Err(PostgresError::ConflictingTables {
                table: decl.name.clone(),
                first: format!("{} in {}", self.tables[i].rust_name, self.origins[i]),
                second: format!("{} in {origin}", decl.rust_name),
            }
            .into()),
            Err(i) => {
                self.tables.insert(i, decl);
                self.origins.insert(i, origin.to_string());
                Ok(())
            }
        }
    }

    pub fn add_enum(&mut self, decl: EnumDecl, origin: &str) -> Result<(), CellError> {
        insert_sorted(
            &mut self.enums,
            decl,
            |d| d.name.clone(),
            |first, decl| {
                PostgresError::ConflictingTables {
                    table: format!("enum type {}", decl.name),
                    first: first.rust_name.clone(),
                    second: format!("{} in {origin}", decl.rust_name),
                }
                .into()
            },
        )
    }
}

impl PostgresSection {
    pub fn add_query(&mut self, decl: QueryDecl) {
        let key = |d: &QueryDecl| (d.hash.clone(), d.site.clone());
        if let Err(i) = self.queries.binary_search_by(|d| key(d).cmp(&key(&decl))) {
            self.queries.insert(i, decl);
        }
    }
}

impl Section for PostgresSection {
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError> {
        match kind {
            "table" => self.add_table(decode(value, origin, crate::CELL_NAME, kind)?, origin),
            "enum" => self.add_enum(decode(value, origin, crate::CELL_NAME, kind)?, origin),
            "query" => {
                self.add_query(decode(value, origin, crate::CELL_NAME, kind)?);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.enums.is_empty() && self.queries.is_empty()
    }

    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        let mut out: Vec<(&'static str, &dyn erased_serde::Serialize)> =
            vec![("postgres", &self.tables)];
        if !self.enums.is_empty() {
            out.push(("postgres_enums", &self.enums));
        }
        if !self.queries.is_empty() {
            out.push(("postgres_queries", &self.queries));
        }
        out
    }

    fn summary(&self) -> Option<String> {
        let tables = match self.tables.len() {
            0 => None,
            1 => Some("1 Postgres table".to_string()),
            n => Some(format!("{n} Postgres tables")),
        };
        let queries = match self.queries.len() {
            0 => None,
            1 => Some("1 checked query".to_string()),
            n => Some(format!("{n} checked queries")),
        };
        match (tables, queries) {
            (Some(t), Some(q)) => Some(format!("{t}, {q}")),
            (t, q) => t.or(q),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The section of a manifest read from a file.
pub fn read(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<PostgresSection, serde_json::Error> {
    let get = |key: &str| {
        map.get(key)
            .cloned()
            .unwrap_or(serde_json::Value::Array(vec![]))
    };
    let tables: Vec<TableDecl> = serde_json::from_value(get("postgres"))?;
    Ok(PostgresSection {
        origins: vec![String::new(); tables.len()],
        tables,
        enums: serde_json::from_value(get("postgres_enums"))?,
        queries: serde_json::from_value(get("postgres_queries"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str, rust: &str) -> TableDecl {
        TableDecl {
            rust_name: rust.into(),
            name: name.into(),
            columns: vec![],
            renamed_from: None,
            indexes: vec![],
            checks: vec![],
            search: None,
        }
    }

    #[test]
    fn same_declaration_twice_is_one_table() {
        let mut s = PostgresSection::default();
        s.add_table(decl("users", "User"), "app").unwrap();
        s.add_table(decl("users", "User"), "app").unwrap();
        s.add_table(decl("orgs", "Org"), "app").unwrap();
        let names: Vec<_> = s.tables.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["orgs", "users"]);
        assert_eq!(s.summary().as_deref(), Some("2 Postgres tables"));
    }

    #[test]
    fn different_declarations_of_one_table_conflict() {
        let mut s = PostgresSection::default();
        s.add_table(decl("users", "User"), "app").unwrap();
        let err = s.add_table(decl("users", "Account"), "other").unwrap_err();
        assert!(
            err.to_string()
                .contains("`User in app` and by `Account in other`"),
            "{err}"
        );
    }

    #[test]
    fn queries_are_kept_once_per_place_and_round_trip() {
        let mut s = PostgresSection::default();
        let q = |site: &str| QueryDecl {
            hash: crate::queries::statement_hash("SELECT 1"),
            sql: "SELECT 1".into(),
            site: site.into(),
            form: "query!".into(),
        };
        for site in ["src/b.rs:1", "src/a.rs:9", "src/b.rs:1"] {
            s.add("query", serde_json::to_value(q(site)).unwrap(), "app")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let sites: Vec<_> = s.queries.iter().map(|d| d.site.as_str()).collect();
        assert_eq!(sites, ["src/a.rs:9", "src/b.rs:1"]);
        assert_eq!(s.summary().as_deref(), Some("2 checked queries"));
        assert!(!s.is_empty());
        let mut map = serde_json::Map::new();
        for (key, value) in s.entries() {
            map.insert(key.into(), serde_json::to_value(value).unwrap());
        }
        assert_eq!(read(&map).unwrap().queries, s.queries);
    }

    #[test]
    fn enums_only_is_not_empty_and_round_trips() {
        let mut s = PostgresSection::default();
        assert!(s.is_empty());
        s.add(
            "enum",
            serde_json::json!({"rust_name": "Mood", "name": "mood", "variants": ["happy"]}),
            "app",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.is_empty());
        assert_eq!(s.summary(), None);
    }
}
