use trace_llm::trace_llm;

#[trace_llm(kind = "chat", stream = true)]
fn f() -> Vec<u8> {
    Vec::new()
}

fn main() {}
