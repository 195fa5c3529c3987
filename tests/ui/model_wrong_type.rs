use trace_llm::trace_llm;

#[trace_llm(kind = "chat", model = version)]
fn f(version: u32) {}

fn main() {}
