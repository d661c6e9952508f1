//! Compile tests of `#[Search::index]`: one compile-fail case per misuse; the pass cases
//! compile every form, beside `#[Redis::cache]` and in either order with the table.
//! Regenerate with `TRYBUILD=overwrite cargo test -p cell-runtime --test search_ui` and read
//! the diff before keeping it.

#[test]
fn search_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-search/pass/*.rs");
    t.compile_fail("tests/ui-search/fail/*.rs");
}
