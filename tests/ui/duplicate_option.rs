use trace_llm::trace_llm;

#[trace_llm(kind = "chat", provider = "openai", kind = "tool")]
fn f() {}

fn main() {}
