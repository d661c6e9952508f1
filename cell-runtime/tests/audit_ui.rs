//! Compile tests of `#[Audit::log]`: one compile-fail case per misuse, grouped by category;
//! the pass case compiles every form. Regenerate with
//! `TRYBUILD=overwrite cargo test -p cell-runtime --test audit_ui` and read the diff before
//! keeping it.

#[test]
fn audit_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-audit/pass/*.rs");
    t.compile_fail("tests/ui-audit/args/*.rs");
    t.compile_fail("tests/ui-audit/function/*.rs");
}
