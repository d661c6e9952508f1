//! Compile tests of `#[RateLimit::...]`: one compile-fail case per misuse, grouped by
//! category; the pass case compiles every form. Regenerate with
//! `TRYBUILD=overwrite cargo test -p cell-runtime --test ratelimit_ui` and read the diff
//! before keeping it.

#[test]
fn ratelimit_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-ratelimit/pass/*.rs");
    t.compile_fail("tests/ui-ratelimit/rate/*.rs");
    t.compile_fail("tests/ui-ratelimit/context/*.rs");
    t.compile_fail("tests/ui-ratelimit/key/*.rs");
    t.compile_fail("tests/ui-ratelimit/return-type/*.rs");
}
