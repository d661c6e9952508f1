//! Compile tests of the attribute namespaces whose Cell is behind a feature of cell-runtime
//! (`Auth`: feature `auth`), in a crate that depends on cell-runtime without that feature.
//! The namespace must still exist, and each attribute must be a compile error at the
//! attribute that names the line to add (`features = ["auth"]`). Regenerate with
//! `TRYBUILD=overwrite cargo test -p cell-runtime --test features_ui` and read the diff.
//!
//! trybuild builds its cases with the features the crate under test had when this test was
//! compiled, which it reads from the fingerprint next to the test binary (the path in
//! `argv[0]`). cell-runtime's dev-dependency on itself turns on `auth` (and `axum`,
//! `telemetry`) for every test of this package, so the cases run in a child process of this
//! test whose `argv[0]` has no fingerprint beside it: trybuild then builds them with the
//! default features, as a plain `cell-runtime = { path = "..." }` dependency has them.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Set in the child process that runs the cases.
const CHILD: &str = "CELL_RUNTIME_FEATURES_UI_CHILD";

#[test]
fn namespaces_without_their_feature() {
    if std::env::var_os(CHILD).is_some() {
        let t = trybuild::TestCases::new();
        t.compile_fail("tests/ui_features/*.rs");
        return;
    }
    // The same test, by its exact name, with an argv[0] that has no `.fingerprint` folder
    // near it (and no `-<hash>` suffix). A `trybuild=<filter>` argument passes through.
    let filters = std::env::args().filter(|a| a.starts_with("trybuild="));
    let status = Command::new(std::env::current_exe().expect("the test binary"))
        .arg0("/nonexistent/cell-runtime/features_ui")
        .args(["namespaces_without_their_feature", "--exact", "--nocapture"])
        .args(["--test-threads", "1"])
        .args(filters)
        .env(CHILD, "1")
        .status()
        .expect("the test binary runs again");
    assert!(status.success(), "the compile tests failed (output above)");
}
