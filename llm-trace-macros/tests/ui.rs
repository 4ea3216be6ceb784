//! Compile-time behaviour of `#[traced_llm]`: every supported shape of function compiles
//! (without warnings) and runs; every misuse is an error that says what to write instead, and
//! all of an attribute's bad arguments show in one compile.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
