use trace_llm::trace_llm;

#[trace_llm(kind = "chat", modle = "gpt-4o")]
fn f() {}

fn main() {}
