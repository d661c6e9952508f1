//! `ExternalCell` without Docker: what `cargo cell check` and the manifest ask of it, through
//! a real plugin process (this crate's memory plugin, and broken ones).

mod common;
use common::memory_plugin;

use cell_core::manifest::Fragment;
use cell_core::{Cell, Manifest, Workspace};
use cell_external::client::ExternalCell;
use miette::Diagnostic as _;

fn manifest(cell: &ExternalCell, names: &[&str]) -> Manifest {
    let mut m = Manifest::new([cell as &dyn Cell]);
    for n in names {
        m.add(
            Fragment {
                cell: cell.name().into(),
                kind: "item".into(),
                value: serde_json::json!({ "name": n }),
            },
            "app",
        )
        .unwrap();
    }
    m
}

#[test]
fn check_asks_the_plugin_to_plan_against_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::bare(dir.path());
    let cell = ExternalCell::new("mem", vec![memory_plugin()]);
    assert_eq!(cell.url_env(), "CELL_MEM_URL");

    // Nothing declared, no lock: the workspace does not use it (the plugin is not asked).
    let none = cell.check_offline(&ws, &manifest(&cell, &[])).unwrap();
    assert!(none.problems.is_empty() && none.agreed.is_none());

    let checked = cell
        .check_offline(&ws, &manifest(&cell, &["b", "a"]))
        .unwrap();
    assert_eq!(
        checked.problems,
        [
            "mem: the code differs from .cell/mem.lock.json: 2 change(s)",
            "  + item a",
            "  + item b"
        ]
    );
    let d = cell.describe(&ws).unwrap();
    assert_eq!(d.container.secrets, ["MEMORY_SECRET"]);
    assert_eq!(
        cell.redact("memory://user:s3cret@127.0.0.1:7/"),
        "memory://user:***@127.0.0.1:7/"
    );
}

#[test]
fn a_missing_or_broken_plugin_is_a_diagnostic_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::bare(dir.path());
    let cell = ExternalCell::new("ghost", vec!["/nonexistent/cell-ghost".into()]);
    let e = cell
        .check_offline(&ws, &manifest(&cell, &["a"]))
        .unwrap_err();
    assert_eq!(e.code().unwrap().to_string(), "cell::external::spawn");
    assert!(e.to_string().contains("/nonexistent/cell-ghost"), "{e}");
    assert!(
        e.help()
            .unwrap()
            .to_string()
            .contains("cell-<name>` on PATH")
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/plugins/wrong-version");
    let cell = ExternalCell::new("wrong", vec![script.into()]);
    let e = cell.describe(&ws).unwrap_err();
    assert_eq!(e.code().unwrap().to_string(), "cell::external::version");
    assert!(
        e.to_string().contains("[99]") && e.to_string().contains("[1]"),
        "{e}"
    );
}
