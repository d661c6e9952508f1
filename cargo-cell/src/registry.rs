//! The Cells this cargo-cell drives. Every command loops over [`CELLS`], in this order: a
//! Cell comes after the Cells it builds on ([`LiveCell::after`]). A new built-in Cell is one
//! line here (see docs/writing-a-cell.md).

use cell_core::{Cell, LiveCell};

pub static CELLS: &[&dyn LiveCell] = &[
    &cell_postgres::PostgresCell,
    &cell_redis::RedisCell,
    &cell_auth::AuthCell,
    &cell_telemetry::TelemetryCell,
];

/// The Cells' names, for the command line.
pub fn names() -> Vec<&'static str> {
    CELLS.iter().map(|c| c.name()).collect()
}

/// The Cell named `name`.
pub fn find(name: &str) -> Option<&'static dyn LiveCell> {
    CELLS.iter().copied().find(|c| c.name() == name)
}

/// The Cells as the manifest sees them.
pub fn offline() -> impl Iterator<Item = &'static dyn Cell> {
    CELLS.iter().map(|&c| c as &dyn Cell)
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
