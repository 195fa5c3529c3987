use trace_llm::trace_llm;

#[trace_llm(kind = "chat", provider = 5)]
fn f() {}

fn main() {}
