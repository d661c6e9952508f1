//! The manifest: every Cell attribute of the workspace, merged from the recorded fragments.

use std::path::Path;

use serde::{Deserialize, Serialize};

use cell_postgres::declare::{EnumDecl, TableDecl};
use cell_redis::declare::{MemoizeDecl, TableCacheDecl};
use cell_telemetry::declare::FnDecl;

use crate::error::Error;

/// One recorded item, as the macro wrote it.
#[derive(Debug, Deserialize)]
pub struct Fragment {
    pub cell: String,
    pub kind: String,
    pub value: serde_json::Value,
}

impl Fragment {
    /// Fragment files are named `<cell>.<kind>.<name>.json` and hold the item's declaration.
    pub fn parse(
        path: &Path,
        bytes: &[u8],
    ) -> Result<Fragment, Box<dyn std::error::Error + Send + Sync>> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("fragment name is not UTF-8")?;
        let mut parts = name.splitn(3, '.');
        let (Some(cell), Some(kind)) = (parts.next(), parts.next()) else {
            return Err(format!("unexpected fragment name {name}").into());
        };
        Ok(Fragment {
            cell: cell.to_string(),
            kind: kind.to_string(),
            value: serde_json::from_slice(bytes)?,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Sorted by table name; each table once.
    pub postgres: Vec<TableDecl>,
    /// Which crate declared each table (parallel to `postgres`), for messages.
    #[serde(skip)]
    pub postgres_origin: Vec<String>,
    /// `#[derive(Postgres::Enum)]` types, sorted by Postgres name; each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postgres_enums: Vec<EnumDecl>,
    /// Guarded functions (`#[Auth::require]`, `#[Auth::protected]`), sorted by path; each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth: Vec<cell_auth::rule::GuardDecl>,
    /// `#[Redis::cache]` tables and `#[Cache::memoize]` functions.
    #[serde(default, skip_serializing_if = "RedisManifest::is_empty")]
    pub redis: RedisManifest,
    /// `#[Telemetry::...]` functions, sorted by function path; each declaration once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub telemetry: Vec<FnDecl>,
}

/// The Redis Cell's items, sorted and each once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedisManifest {
    pub tables: Vec<TableCacheDecl>,
    pub functions: Vec<MemoizeDecl>,
}

impl RedisManifest {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.functions.is_empty()
    }

    fn add(&mut self, fragment: Fragment, crate_name: &str) -> Result<(), Error> {
        let err = |e: serde_json::Error| Error::Fragment {
            path: format!("{crate_name}: redis.{}", fragment.kind).into(),
            source: Box::new(e),
        };
        match fragment.kind.as_str() {
            "cache" => {
                let decl: TableCacheDecl = serde_json::from_value(fragment.value).map_err(err)?;
                if !self.tables.contains(&decl) {
                    self.tables.push(decl);
                    self.tables
                        .sort_by(|a, b| (&a.table, &a.namespace).cmp(&(&b.table, &b.namespace)));
                }
            }
            "memoize" => {
                let decl: MemoizeDecl = serde_json::from_value(fragment.value).map_err(err)?;
                if !self.functions.contains(&decl) {
                    self.functions.push(decl);
                    self.functions.sort_by(|a, b| {
                        (&a.function, &a.namespace).cmp(&(&b.function, &b.namespace))
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl Manifest {
    pub fn add(&mut self, fragment: Fragment, crate_name: &str) -> Result<(), Error> {
        match (fragment.cell.as_str(), fragment.kind.as_str()) {
            ("postgres", "table") => {
                let decl: TableDecl =
                    serde_json::from_value(fragment.value).map_err(|e| Error::Fragment {
                        path: format!("{crate_name}: postgres.table").into(),
                        source: Box::new(e),
                    })?;
                self.add_table(decl, crate_name)
            }
            ("postgres", "enum") => {
                let decl: EnumDecl =
                    serde_json::from_value(fragment.value).map_err(|e| Error::Fragment {
                        path: format!("{crate_name}: postgres.enum").into(),
                        source: Box::new(e),
                    })?;
                match self
                    .postgres_enums
                    .binary_search_by(|d| d.name.cmp(&decl.name))
                {
                    Ok(i) if self.postgres_enums[i] == decl => {}
                    Ok(i) => {
                        return Err(Error::ConflictingTables {
                            table: format!("enum type {}", decl.name),
                            first: self.postgres_enums[i].rust_name.clone(),
                            second: format!("{} in {crate_name}", decl.rust_name),
                        });
                    }
                    Err(i) => self.postgres_enums.insert(i, decl),
                }
                Ok(())
            }
            ("auth", "guard") => {
                let decl = serde_json::from_value(fragment.value).map_err(|e| Error::Fragment {
                    path: format!("{crate_name}: auth.guard").into(),
                    source: Box::new(e),
                })?;
                Ok(crate::auth::add_guard(&mut self.auth, decl, crate_name)?)
            }
            ("redis", _) => self.redis.add(fragment, crate_name),
            ("telemetry", "fn") => {
                let decl: FnDecl =
                    serde_json::from_value(fragment.value).map_err(|e| Error::Fragment {
                        path: format!("{crate_name}: telemetry.fn").into(),
                        source: Box::new(e),
                    })?;
                if !self.telemetry.contains(&decl) {
                    let at = self
                        .telemetry
                        .partition_point(|d| d.function <= decl.function);
                    self.telemetry.insert(at, decl);
                }
                Ok(())
            }
            // A fragment of a Cell this cargo-cell does not know comes from a newer macro crate.
            _ => Ok(()),
        }
    }

    fn add_table(&mut self, decl: TableDecl, origin: &str) -> Result<(), Error> {
        match self.postgres.binary_search_by(|d| d.name.cmp(&decl.name)) {
            // The same source is compiled in several units (lib, its tests): same declaration.
            Ok(i) if self.postgres[i] == decl => Ok(()),
            Ok(i) => Err(Error::ConflictingTables {
                table: decl.name.clone(),
                first: format!(
                    "{} in {}",
                    self.postgres[i].rust_name, self.postgres_origin[i]
                ),
                second: format!("{} in {origin}", decl.rust_name),
            }),
            Err(i) => {
                self.postgres.insert(i, decl);
                self.postgres_origin.insert(i, origin.to_string());
                Ok(())
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.postgres.is_empty()
    }

    pub fn summary(&self) -> String {
        let tables = match self.postgres.len() {
            0 => "no Cell attributes".to_string(),
            1 => "1 Postgres table".to_string(),
            n => format!("{n} Postgres tables"),
        };
        match (self.postgres.len(), self.auth.len()) {
            (_, 0) => tables,
            (0, 1) => "1 guarded function".to_string(),
            (0, n) => format!("{n} guarded functions"),
            (_, n) => format!(
                "{tables}, {n} guarded function{}",
                if n == 1 { "" } else { "s" }
            ),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("manifest serialises");
        bytes.push(b'\n');
        bytes
    }
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
        }
    }

    #[test]
    fn same_declaration_twice_is_one_table() {
        let mut m = Manifest::default();
        m.add_table(decl("users", "User"), "app").unwrap();
        m.add_table(decl("users", "User"), "app").unwrap();
        m.add_table(decl("orgs", "Org"), "app").unwrap();
        let names: Vec<_> = m.postgres.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["orgs", "users"]);
    }

    #[test]
    fn different_declarations_of_one_table_conflict() {
        let mut m = Manifest::default();
        m.add_table(decl("users", "User"), "app").unwrap();
        let err = m.add_table(decl("users", "Account"), "other").unwrap_err();
        assert!(
            err.to_string()
                .contains("`User in app` and by `Account in other`"),
            "{err}"
        );
    }

    #[test]
    fn redis_items_are_recorded_once_and_sorted() {
        let memo = |f: &str| Fragment {
            cell: "redis".into(),
            kind: "memoize".into(),
            value: serde_json::json!({
                "function": f, "app": "a", "namespace": "cell:a:m:00", "ttl_secs": 60
            }),
        };
        let mut m = Manifest::default();
        m.add(memo("a::z"), "a").unwrap();
        m.add(memo("a::b"), "a").unwrap();
        m.add(memo("a::z"), "a").unwrap();
        let names: Vec<_> = m
            .redis
            .functions
            .iter()
            .map(|f| f.function.as_str())
            .collect();
        assert_eq!(names, ["a::b", "a::z"]);
        assert!(m.is_empty(), "no Postgres tables");
        assert!(!m.redis.is_empty());
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(text.contains("\"redis\""), "{text}");
        assert!(
            !String::from_utf8(Manifest::default().to_bytes())
                .unwrap()
                .contains("redis")
        );
    }

    #[test]
    fn fragment_names_carry_cell_and_kind() {
        let f = Fragment::parse(Path::new("/x/postgres.table.users.json"), b"{}").unwrap();
        assert_eq!((f.cell.as_str(), f.kind.as_str()), ("postgres", "table"));
    }
}
