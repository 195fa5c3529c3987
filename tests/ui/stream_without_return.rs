use trace_llm::trace_llm;

#[trace_llm(kind = "chat", stream)]
fn f() {}

fn main() {}
