//! [`PostgresCell`]: the Postgres Cell as cargo-cell's registry sees it. This file is its
//! offline side (name, lock, manifest section, `cargo cell check`); the live side is in
//! `driver` (feature `live`).

use std::path::Path;

use cell_core::lockfile::LockFile as _;
use cell_core::{Cell, CellError, Checked, LockState, Manifest, Section, Workspace};

use crate::check;
use crate::declare::{self, Desired, EnumDecl, TableDecl};
use crate::error::PostgresError;
use crate::lock::Lock;
use crate::queries::{self, QUERIES_LOCK_FILE, QueriesLock};
use crate::section::PostgresSection;
use crate::{CELL_NAME, LOCK_FILE};

/// The variable a program reads the dev Cell's (or a deployment's) URL from.
pub const URL_ENV: &str = "CELL_POSTGRES_URL";

/// The Postgres Cell.
pub struct PostgresCell;

/// The Postgres section of `manifest` (empty when it has none).
pub fn section(manifest: &Manifest) -> &PostgresSection {
    static EMPTY: PostgresSection = PostgresSection {
        tables: Vec::new(),
        origins: Vec::new(),
        enums: Vec::new(),
        queries: Vec::new(),
    };
    manifest
        .section::<PostgresSection>(CELL_NAME)
        .unwrap_or(&EMPTY)
}

impl Cell for PostgresCell {
    fn name(&self) -> &'static str {
        CELL_NAME
    }

    fn lock_file(&self) -> &'static str {
        LOCK_FILE
    }

    fn url_env(&self) -> &'static str {
        URL_ENV
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(PostgresSection::default())
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        Ok(Box::new(crate::section::read(manifest)?))
    }

    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.tables.len(), "tables"))
    }

    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let section = section(manifest);
        let lock = Lock::read(&ws.lock_path(LOCK_FILE))?;
        let decls = resolve_enums(&section.tables, &section.enums)?;
        let desired = declare::desired(&decls, &section.enums);
        let n = section.tables.len();
        let used = n > 0 || lock.is_some() || !section.queries.is_empty();
        let mut problems = code_against_lock(&decls, &desired, lock.as_ref());
        if !section.queries.is_empty() {
            let queries = QueriesLock::read(&ws.lock_path(QUERIES_LOCK_FILE))?;
            let empty = Default::default();
            let tables = lock.as_ref().map_or(&empty, |l| &l.tables);
            problems.extend(queries::check_against(
                &section.queries,
                queries.as_ref(),
                tables,
            ));
        }
        let q = section.queries.len();
        Ok(Checked {
            problems,
            agreed: used.then(|| {
                format!(
                    "postgres: code and lock agree ({n} table{}{})",
                    if n == 1 { "" } else { "s" },
                    match q {
                        0 => String::new(),
                        1 => ", 1 query".to_string(),
                        q => format!(", {q} queries"),
                    }
                )
            }),
        })
    }

    fn redact(&self, text: &str) -> String {
        crate::cell::redact(text)
    }

    fn waiting(&self, ws: &Workspace, manifest: &Manifest) -> usize {
        let recorded = &section(manifest).queries;
        if recorded.is_empty() {
            return 0;
        }
        // An unreadable lock: every query is described again, and the lock rewritten.
        let lock = QueriesLock::read(&ws.lock_path(QUERIES_LOCK_FILE))
            .ok()
            .flatten();
        queries::waiting(recorded, lock.as_ref())
    }
}

/// The declarations with every enum column pointed at its Postgres enum type.
pub fn resolve_enums(
    decls: &[TableDecl],
    enums: &[EnumDecl],
) -> Result<Vec<TableDecl>, PostgresError> {
    let mut decls = decls.to_vec();
    declare::resolve_enums(&mut decls, enums).map_err(|unresolved| {
        PostgresError::UnresolvedEnums {
            details: unresolved.iter().map(|u| format!("\n  {u}")).collect(),
            help: unresolved
                .iter()
                .map(|u| u.help())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    })?;
    Ok(decls)
}

/// What differs between the declarations and the lock, for people; empty when they agree.
/// Exact when the lock records the declared fingerprint; otherwise column by column.
pub fn code_against_lock(
    decls: &[TableDecl],
    desired: &Desired,
    lock: Option<&Lock>,
) -> Vec<String> {
    let Some(lock) = lock else {
        return if decls.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "there is no .cell/postgres.lock.json, but the code declares {} table(s)",
                decls.len()
            )]
        };
    };
    let fingerprint = desired.schema.fingerprint();
    if lock.declared.as_deref() == Some(fingerprint.as_str()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for decl in decls {
        let locked = lock.tables.get(&decl.name);
        let view = check::Locked {
            tables: &lock.tables,
            enums: &lock.enums,
        };
        for m in check::against_lock(decl, view) {
            out.push(m.message);
        }
        if let (Some(locked), Some(want)) = (locked, desired.schema.tables.get(&decl.name)) {
            if locked.indexes != want.indexes {
                out.push(format!(
                    "table `{}`: indexes differ from the lock",
                    decl.name
                ));
            }
            if locked.foreign_keys != want.foreign_keys {
                out.push(format!(
                    "table `{}`: foreign keys differ from the lock",
                    decl.name
                ));
            }
            if locked.checks.keys().ne(want.checks.keys()) {
                out.push(format!(
                    "table `{}`: checks differ from the lock",
                    decl.name
                ));
            }
        }
    }
    for name in lock.tables.keys() {
        if !desired.schema.tables.contains_key(name) {
            out.push(format!(
                "table `{name}` is in the lock, but no struct declares it"
            ));
        }
    }
    if lock.enums != desired.schema.enums {
        out.push("enum types differ from the lock".into());
    }
    if out.is_empty() && lock.declared.is_some() {
        out.push(
            "the declarations changed since the lock was written (a default, most likely)".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str) -> TableDecl {
        TableDecl {
            rust_name: "T".into(),
            name: name.into(),
            columns: vec![crate::declare::ColumnDecl {
                name: "id".into(),
                rust_type: "i64".into(),
                sql_type: "bigint".into(),
                nullable: false,
                primary_key: true,
                index: None,
                default: None,
                foreign_key: None,
                renamed_from: None,
                enum_type: None,
                encrypted: false,
            }],
            renamed_from: None,
            indexes: vec![],
            checks: vec![],
            search: None,
        }
    }

    #[test]
    fn code_and_lock_agree_exactly_by_fingerprint() {
        let decls = vec![decl("a")];
        let desired = declare::desired(&decls, &[]);
        let mut lock = Lock::from_schema(desired.schema.clone());
        lock.declared = Some(desired.schema.fingerprint());
        assert!(code_against_lock(&decls, &desired, Some(&lock)).is_empty());

        let more = vec![decl("a"), decl("b")];
        let desired_more = declare::desired(&more, &[]);
        let problems = code_against_lock(&more, &desired_more, Some(&lock));
        assert_eq!(
            problems,
            ["table `b` (struct `T`) is not in .cell/postgres.lock.json"]
        );
        let problems = code_against_lock(&[], &declare::desired(&[], &[]), Some(&lock));
        assert_eq!(
            problems,
            ["table `a` is in the lock, but no struct declares it"]
        );
        assert_eq!(code_against_lock(&decls, &desired, None).len(), 1);
    }
}
