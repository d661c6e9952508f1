//! The Cells this cargo-cell drives. Every command loops over [`cells()`], in order: a Cell
//! comes after the Cells it builds on ([`LiveCell::after`]). A new built-in Cell is one line
//! of [`CELLS`] (see docs/writing-a-cell.md); a program built on this library can run
//! cargo-cell with more Cells through [`install`] (the tests' fixture Cell does). Cells from
//! outside this repository join [`CELLS`] as plugins behind the Cell protocol
//! (`cell_external::discover`: `[workspace.metadata.cell.cells.<name>]`, or `cell-<name>` on
//! `PATH` for a Cell the last record step saw); every command handles them as any other.

use std::sync::OnceLock;

use cell_core::{Cell, LiveCell};

pub static CELLS: &[&dyn LiveCell] = &[
    &cell_postgres::PostgresCell,
    &cell_redis::RedisCell,
    &cell_auth::AuthCell,
    &cell_telemetry::TelemetryCell,
    &cell_ratelimit::RateLimitCell,
    &cell_audit::AuditCell,
];

static INSTALLED: OnceLock<&'static [&'static dyn LiveCell]> = OnceLock::new();

/// Runs cargo-cell with `cells` instead of [`CELLS`] (before anything else asks for them;
/// later calls are refused with `Err`).
pub fn install(cells: &'static [&'static dyn LiveCell]) -> Result<(), &'static str> {
    INSTALLED
        .set(cells)
        .map_err(|_| "the registry is in use already")
}

/// The Cells this run drives: [`CELLS`] and the workspace's external Cells, unless
/// [`install`] said otherwise.
pub fn cells() -> &'static [&'static dyn LiveCell] {
    INSTALLED.get_or_init(|| with_external(CELLS))
}

/// `builtin` and, after them, the external Cells of the command line's workspace.
fn with_external(builtin: &'static [&'static dyn LiveCell]) -> &'static [&'static dyn LiveCell] {
    let names: Vec<&str> = builtin.iter().map(|c| c.name()).collect();
    let external = cell_external::discover::cells(&names);
    if external.is_empty() {
        return builtin;
    }
    let all: Vec<&'static dyn LiveCell> = builtin
        .iter()
        .copied()
        .chain(external.into_iter().map(|c| c as &dyn LiveCell))
        .collect();
    Box::leak(all.into_boxed_slice())
}

/// The Cells' names, for the command line.
pub fn names() -> Vec<&'static str> {
    cells().iter().map(|c| c.name()).collect()
}

/// The Cell named `name`.
pub fn find(name: &str) -> Option<&'static dyn LiveCell> {
    cells().iter().copied().find(|c| c.name() == name)
}

/// The Cells as the manifest sees them.
pub fn offline() -> impl Iterator<Item = &'static dyn Cell> {
    cells().iter().map(|&c| c as &dyn Cell)
}

/// The value parser for a Cell name argument.
pub fn cell_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(names())
}

/// An empty manifest of every Cell.
pub fn empty_manifest() -> cell_core::Manifest {
    cell_core::Manifest::new(offline())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lock_files_and_variables_are_unique() {
        for f in [
            |c: &dyn LiveCell| c.name(),
            |c: &dyn LiveCell| c.lock_file(),
            |c: &dyn LiveCell| c.url_env(),
        ] {
            let mut all: Vec<&str> = CELLS.iter().map(|&c| f(c)).collect();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), CELLS.len());
        }
        for &cell in CELLS {
            assert_eq!(find(cell.name()).map(|c| c.name()), Some(cell.name()));
            assert!(cell.url_env().starts_with("CELL_") && cell.url_env().ends_with("_URL"));
        }
        assert!(find("mysql").is_none());
    }

    /// Bug: `Manifest::is_empty()` meant "no Postgres tables", so a workspace with only guards
    /// (or only caches) counted as declaring nothing.
    #[test]
    fn a_manifest_with_only_guards_is_not_empty() {
        let mut manifest = empty_manifest();
        assert!(manifest.is_empty());
        let guard = cell_core::manifest::Fragment {
            cell: "auth".into(),
            kind: "guard".into(),
            value: serde_json::json!({
                "path": "app::admin_only",
                "rule": {"kind": "any", "roles": ["admin"]}
            }),
        };
        manifest.add(guard, "app").unwrap();
        assert!(!manifest.is_empty());
        assert!(manifest.declares("auth"));
        assert!(!manifest.declares("postgres"));
        assert!(cell_postgres::section(&manifest).tables.is_empty());
        assert_eq!(manifest.summary(), "1 guarded function");
        // The bytes are those of the manifest before the registry: `postgres` always first.
        let text = String::from_utf8(manifest.to_bytes()).unwrap();
        assert!(
            text.starts_with("{\n  \"postgres\": [],\n  \"auth\": ["),
            "{text}"
        );
    }

    #[test]
    fn a_cell_comes_after_the_cells_it_builds_on() {
        for (i, cell) in CELLS.iter().enumerate() {
            for dep in cell.after() {
                let at = CELLS.iter().position(|c| c.name() == *dep);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{} builds on {dep}, which must come before it in CELLS",
                    cell.name()
                );
            }
        }
    }
}
