use trace_llm::trace_llm;

#[trace_llm(name = format!("step {}", id))]
fn f(id: u32) {}

fn main() {}
