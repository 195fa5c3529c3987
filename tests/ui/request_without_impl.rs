use trace_llm::trace_llm;

struct Prompt(String);

#[trace_llm(kind = "chat", request = prompt)]
fn f(prompt: &Prompt) {}

fn main() {}
