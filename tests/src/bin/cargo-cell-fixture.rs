//! cargo-cell with one more Cell: the built-in registry plus the fixture Kv Cell
//! (`tests/fixture-cell`), for `tests/tests/fixture_cell.rs`. Run as cargo runs a
//! subcommand: `cargo-cell-fixture cell <args>`.

fn main() -> std::process::ExitCode {
    let cells: Vec<&'static dyn cell_core::LiveCell> = cargo_cell::registry::CELLS
        .iter()
        .copied()
        .chain([&cell_fixture::KvCell as &dyn cell_core::LiveCell])
        .collect();
    if let Err(e) = cargo_cell::registry::install(Box::leak(cells.into_boxed_slice())) {
        eprintln!("cargo-cell-fixture: cannot install the registry: {e:?}");
        return std::process::ExitCode::FAILURE;
    }
    cargo_cell::main()
}
