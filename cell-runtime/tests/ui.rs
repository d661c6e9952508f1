//! Compile tests of the attributes `cell_runtime` re-exports, expanded without a lock file
//! (stub mode). One compile-fail case per error, grouped by category; each `.stderr` is
//! reviewed by hand. Regenerate with `TRYBUILD=overwrite cargo test -p cell-runtime --test ui`
//! and read the diff before keeping it.

use std::path::Path;

#[test]
fn ui() {
    assert_stub_mode();
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/unknown-attribute/*.rs");
    t.compile_fail("tests/ui/malformed/*.rs");
    t.compile_fail("tests/ui/validation/*.rs");
    t.compile_fail("tests/ui/misplaced/*.rs");
    t.compile_fail("tests/ui/service/*.rs");
    t.compile_fail("tests/ui/enum/*.rs");
    t.compile_fail("tests/ui/encrypted/*.rs");
    t.pass("tests/ui/redis/pass/*.rs");
    t.compile_fail("tests/ui/redis/fail/*.rs");
    t.compile_fail("tests/ui/telemetry/*.rs");
    t.compile_fail("tests/ui/transaction/*.rs");
    t.compile_fail("tests/ui/filter/*.rs");
}

/// trybuild builds the cases in `target/tests/trybuild/`, and the macros look for `.cell/`
/// in the nearest ancestor whose `Cargo.toml` has a `[workspace]` line: with the default
/// target directory, this workspace's root. A lock there would turn every case from stub
/// mode into a check against that lock.
fn assert_stub_mode() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lock = root.join(".cell").join(cell_postgres::LOCK_FILE);
    assert!(
        !lock.exists(),
        "the ui cases expect no lock file, but {} exists; move it away to run them",
        lock.display(),
    );
}
