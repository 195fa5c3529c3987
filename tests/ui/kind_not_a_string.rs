use trace_llm::trace_llm;

#[trace_llm(kind = chat)]
fn f() {}

fn main() {}
