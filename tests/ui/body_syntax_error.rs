use trace_llm::trace_llm;

#[trace_llm(kind = "chat", model = "gpt-4o")]
fn f() -> u32 {
    let x = ;
    x
}

fn main() {}
