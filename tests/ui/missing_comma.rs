use trace_llm::trace_llm;

#[trace_llm(kind = "chat" provider = "openai")]
fn f() {}

fn main() {}
