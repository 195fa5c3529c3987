use trace_llm::trace_llm;

#[trace_llm(kind = "chatt")]
fn f() {}

fn main() {}
