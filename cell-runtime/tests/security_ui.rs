//! Compile tests of `#[Security::pii]`: personal data named in a span field, a metric label
//! or an audit's clear-text arguments is a compile error at the name, with the fix; the pass
//! case compiles every allowed form. Regenerate with
//! `TRYBUILD=overwrite cargo test -p cell-runtime --test security_ui` and read the diff.

#[test]
fn security_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-security/pass/*.rs");
    t.compile_fail("tests/ui-security/refused/*.rs");
}
