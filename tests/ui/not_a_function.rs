use trace_llm::trace_llm;

#[trace_llm(kind = "chat")]
struct Client {
    key: String,
}

fn main() {}
