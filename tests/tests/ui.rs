//! Wrong macro options are compile errors pointing at the option (trybuild `.stderr` files).

#[test]
fn macro_errors_point_at_the_offending_tokens() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
