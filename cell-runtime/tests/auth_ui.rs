//! Compile tests of `#[Auth::require]` and `#[Auth::protected]` without a lock (guards by
//! role name). One compile-fail case per error, grouped by category; the pass case runs the
//! guards. Regenerate with `TRYBUILD=overwrite cargo test -p cell-runtime --test auth_ui`
//! and read the diff before keeping it.

use std::path::Path;

#[test]
fn auth_ui() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cell/auth.lock.json");
    assert!(
        !lock.exists(),
        "the cases expect no lock file, but {} exists; move it away to run them",
        lock.display()
    );
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-auth/pass/*.rs");
    t.compile_fail("tests/ui-auth/context/*.rs");
    t.compile_fail("tests/ui-auth/malformed/*.rs");
    t.compile_fail("tests/ui-auth/return-type/*.rs");
}
