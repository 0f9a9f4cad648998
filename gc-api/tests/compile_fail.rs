//! Programs that must not compile, with the errors they must give (trybuild). After a
//! deliberate change of wording, refresh the expected errors with
//! `TRYBUILD=overwrite cargo test -p gc-api --test compile_fail` and review the diff.

#[test]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
