//! The macros as users meet them: code that must compile, and one case per mistake
//! with the errors the user sees (`ui/fail/*.stderr`; regenerate with
//! `TRYBUILD=overwrite cargo test -p zlc-macros`, then read the diff).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
