use trace_llm::trace_llm;

#[trace_llm(attributes(5 = 1))]
fn f() {}

fn main() {}
