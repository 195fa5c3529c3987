use trace_llm::trace_llm;

#[trace_llm(kind = "chat", tool_call_id = id)]
fn f(id: &str) {}

fn main() {}
