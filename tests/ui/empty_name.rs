use trace_llm::trace_llm;

#[trace_llm(name = "")]
fn f() {}

fn main() {}
